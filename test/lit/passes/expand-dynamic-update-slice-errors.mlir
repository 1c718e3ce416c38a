// RUN: ditto-opt %s --split-input-file --verify-diagnostics -p expand-dynamic-update-slice,legalize-to-pphlo | filecheck %s
// RUN: not ditto-opt %s --split-input-file -p expand-dynamic-update-slice 2>&1 | filecheck %s --check-prefix=EXIT

// Malformed writes are refused by the op's verifier.
// CHECK: 'stablehlo.dynamic_update_slice' update must fit in the operand
// EXIT: ditto-opt: error: 'stablehlo.dynamic_update_slice' update must fit in the operand
func.func @too_big(%x: tensor<2xf32>, %u: tensor<3xf32>, %i: tensor<i32>) -> tensor<2xf32> {
  %0 = "stablehlo.dynamic_update_slice"(%x, %u, %i) : (tensor<2xf32>, tensor<3xf32>, tensor<i32>) -> tensor<2xf32>
  func.return %0 : tensor<2xf32>
}

// -----

// CHECK: 'stablehlo.dynamic_update_slice' needs the result shaped as the operand, and an update and a start index per dimension of it
func.func @missing_start(%x: tensor<2x2xf32>, %u: tensor<1x2xf32>, %i: tensor<i32>) -> tensor<2x2xf32> {
  %0 = "stablehlo.dynamic_update_slice"(%x, %u, %i) : (tensor<2x2xf32>, tensor<1x2xf32>, tensor<i32>) -> tensor<2x2xf32>
  func.return %0 : tensor<2x2xf32>
}

// -----

// A write at a secret position would reveal it: refused at the write's location.
// CHECK: at secret-write.py:3:7: 'stablehlo.dynamic_slice' with secret start indices is not supported
func.func @secret_position(%x: tensor<4xf32>, %u: tensor<1xf32>, %i: tensor<i32>) -> tensor<4xf32> {
  %0 = "stablehlo.dynamic_update_slice"(%x, %u, %i) : (tensor<4xf32>, tensor<1xf32>, tensor<i32>) -> tensor<4xf32> loc("secret-write.py":3:7)
  func.return %0 : tensor<4xf32>
}
