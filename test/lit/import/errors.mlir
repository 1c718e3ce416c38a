// Bad input is one diagnostic and a non-zero exit, never a traceback.
// RUN: not ditto-opt %s --split-input-file 2>&1 | filecheck %s
// RUN: ditto-opt %s --split-input-file --parsing-diagnostics | filecheck %s --check-prefix=DIAG

"builtin.module"() ({
  %0 = "stablehlo.not_an_op"() : () -> tensor<f32>
}) : () -> ()

// CHECK: ditto-opt: error: malformed IR:
// CHECK: Operation stablehlo.not_an_op is not registered
// CHECK-NOT: Traceback

// DIAG: errors.mlir:6:29
// DIAG: Operation stablehlo.not_an_op is not registered

// -----

"builtin.module"() ({
  %0 = "stablehlo.constant"() <{value = dense<1.0> : tensor<f32>}> : () -> tensor<f32>
  %1 = "stablehlo.add"(%0, %missing) : (tensor<f32>, tensor<f32>) -> tensor<f32>
}) : () -> ()

// DIAG: values used but not defined: [%missing]
