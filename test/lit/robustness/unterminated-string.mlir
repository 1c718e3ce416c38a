// An unterminated string literal: xDSL's lexer regex backtracked exponentially on it
// (this 40-character one took hours); now it fails at once.
// RUN: not ditto-opt %s 2>&1 | filecheck %s
// CHECK: ditto-opt: error: malformed IR:
// CHECK: unterminated-string.mlir:8:1
// CHECK: End of file reached before closing string literal.
// CHECK-NOT: Traceback
"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
