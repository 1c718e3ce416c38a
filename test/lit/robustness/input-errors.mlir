// Input the importer cannot read is a user error naming the position, not an internal error.
// RUN: ditto-opt %s --split-input-file --verify-diagnostics | filecheck %s
// RUN: not ditto-opt %s.does-not-exist 2>&1 | filecheck %s --check-prefix=MISSING
// RUN: not ditto-opt %S 2>&1 | filecheck %s --check-prefix=DIRECTORY
// RUN: ditto-opt --version | filecheck %s --check-prefix=VERSION

// MISSING: ditto-opt: error: cannot read {{.*}}input-errors.mlir.does-not-exist: No such file or directory
// DIRECTORY: ditto-opt: error: cannot read {{.*}}robustness: Is a directory
// VERSION: ditto-opt (ditto-compiler) {{[0-9]+\.[0-9]+}}

// A hex float literal wider than its type used to be an OverflowError.
func.func @hex_float_too_wide() -> tensor<f32> {
  %0 = "stablehlo.constant"() {value = dense<0xFFFFFFFFFF> : tensor<f32>} : () -> tensor<f32>
  // CHECK: input-errors.mlir:13:{{[0-9]+}}: hexadecimal f32 literal 0xFFFFFFFFFF has more than 32 bits
  func.return %0 : tensor<f32>
}

// -----

func.func @hex_float_count() -> tensor<3xf32> {
  %0 = "stablehlo.constant"() {value = dense<[0x3F800000, 0x3F800000]> : tensor<3xf32>} : () -> tensor<3xf32>
  // CHECK: input-errors.mlir:21:{{[0-9]+}}: dense literal has 2 values for 3 elements
  func.return %0 : tensor<3xf32>
}

// -----

func.func @undefined_alias(%arg0: tensor<f32>) -> tensor<f32> {
  func.return %arg0 : tensor<f32> loc(#loc7)
  // CHECK: input-errors.mlir:29:{{[0-9]+}}: undefined location alias #loc7
}

// -----

func.func @cyclic_alias(%arg0: tensor<f32>) -> tensor<f32> {
  func.return %arg0 : tensor<f32> loc(#loc1)
  // CHECK: input-errors.mlir:36:{{[0-9]+}}: location alias #loc1 refers to itself
}
#loc1 = loc(callsite(#loc2 at "f.py":1:2))
#loc2 = loc("name"(#loc1))

// -----

func.func @unbalanced_location(%arg0: tensor<f32>) -> tensor<f32> {
  func.return %arg0 : tensor<f32> loc(callsite("a.py":1:2 at "b.py":3:4)
  // CHECK: input-errors.mlir:45:{{[0-9]+}}: unbalanced parentheses in a location
}
