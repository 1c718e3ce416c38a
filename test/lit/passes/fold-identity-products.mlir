// RUN: ditto-opt %s -p fold-identity-products --split-input-file | filecheck %s
// RUN: ditto-opt %s -p fold-identity-products,annotate-rings{policy=ditto} --split-input-file | filecheck %s --check-prefix=RINGS
// RUN: ditto-opt %s -p annotate-rings,fold-identity-products --split-input-file --verify-diagnostics | filecheck %s --check-prefix=ERR
// RUN: not ditto-opt %s -p annotate-rings,fold-identity-products --split-input-file 2>&1 | filecheck %s --check-prefix=EXIT

// Flax BERT's default head_mask: int ones, converted, contracted with length 1.
// The contraction becomes a broadcast: no product, so no truncation under MPC.
// CHECK-LABEL: func.func @head_mask
// CHECK-NOT:     pphlo.dot_general
// CHECK-NEXT:    func.return %p
// RINGS-LABEL: func.func @head_mask
// RINGS-NOT:     fxp.truncate
// RINGS-NOT:     pphlo.dot_general
// RINGS:         func.return
// ERR: 'pphlo.constant' has a ring type: fold-identity-products runs before annotate-rings
// EXIT: ditto-opt: error: {{.*}}'pphlo.constant' has a ring type: fold-identity-products runs before annotate-rings
func.func @head_mask(%p: tensor<2x1x64x!pphlo.secret<f32>>) -> tensor<2x1x64x!pphlo.secret<f32>> {
  %c = "pphlo.constant"() <{value = dense<1> : tensor<2xi32>}> : () -> tensor<2xi32>
  %f = "pphlo.convert"(%c) : (tensor<2xi32>) -> tensor<2xf32>
  %r = "pphlo.reshape"(%f) : (tensor<2xf32>) -> tensor<2x1x1xf32>
  %0 = "pphlo.dot_general"(%r, %p) <{dot_dimension_numbers = #pphlo.dot<lhs_batching_dimensions = [0], rhs_batching_dimensions = [0], lhs_contracting_dimensions = [2], rhs_contracting_dimensions = [1]>}> : (tensor<2x1x1xf32>, tensor<2x1x64x!pphlo.secret<f32>>) -> tensor<2x1x64x!pphlo.secret<f32>>
  func.return %0 : tensor<2x1x64x!pphlo.secret<f32>>
}

// -----

// An outer product with a row of ones, on either side.
// CHECK-LABEL: func.func @outer_product_with_ones
// RINGS-LABEL: func.func @outer_product_with_ones
// CHECK-NEXT:    %[[A:.*]] = "pphlo.broadcast"(%x) <{broadcast_dimensions = array<i64: 0, 1>}> : (tensor<4x1x!pphlo.secret<f32>>) -> tensor<4x3x!pphlo.secret<f32>>
// CHECK-NEXT:    %[[B:.*]] = "pphlo.broadcast"(%y) <{broadcast_dimensions = array<i64: 0, 1>}> : (tensor<1x3x!pphlo.secret<f32>>) -> tensor<4x3x!pphlo.secret<f32>>
// CHECK-NEXT:    func.return %[[A]], %[[B]]
func.func @outer_product_with_ones(%x: tensor<4x1x!pphlo.secret<f32>>, %y: tensor<1x3x!pphlo.secret<f32>>) -> (tensor<4x3x!pphlo.secret<f32>>, tensor<4x3x!pphlo.secret<f32>>) {
  %ones = "pphlo.constant"() <{value = dense<1.0> : tensor<f32>}> : () -> tensor<f32>
  %r = "pphlo.broadcast"(%ones) <{broadcast_dimensions = array<i64>}> : (tensor<f32>) -> tensor<1x3xf32>
  %l = "pphlo.broadcast"(%ones) <{broadcast_dimensions = array<i64>}> : (tensor<f32>) -> tensor<4x1xf32>
  %0 = "pphlo.dot"(%x, %r) : (tensor<4x1x!pphlo.secret<f32>>, tensor<1x3xf32>) -> tensor<4x3x!pphlo.secret<f32>>
  %1 = "pphlo.dot"(%l, %y) : (tensor<4x1xf32>, tensor<1x3x!pphlo.secret<f32>>) -> tensor<4x3x!pphlo.secret<f32>>
  func.return %0, %1 : tensor<4x3x!pphlo.secret<f32>>, tensor<4x3x!pphlo.secret<f32>>
}

// -----

// x * 1.0 is x.
// CHECK-LABEL: func.func @multiply_by_one
// CHECK-NOT:     pphlo.multiply
// CHECK:         func.return %x
func.func @multiply_by_one(%x: tensor<4x!pphlo.secret<f32>>) -> tensor<4x!pphlo.secret<f32>> {
  %one = "pphlo.constant"() <{value = dense<1.0> : tensor<f32>}> : () -> tensor<f32>
  %b = "pphlo.broadcast"(%one) <{broadcast_dimensions = array<i64>}> : (tensor<f32>) -> tensor<4xf32>
  %0 = "pphlo.multiply"(%b, %x) : (tensor<4xf32>, tensor<4x!pphlo.secret<f32>>) -> tensor<4x!pphlo.secret<f32>>
  func.return %0 : tensor<4x!pphlo.secret<f32>>
}

// -----

// Left alone: a factor that is not all ones, a contraction of length 2 with ones
// (a sum), and ones that are secret (an input, not a constant).
// CHECK-LABEL: func.func @not_identities
// CHECK:         "pphlo.multiply"(%x, %{{.*}})
// CHECK:         "pphlo.dot"(%m, %{{.*}})
// CHECK:         "pphlo.multiply"(%x, %s)
// CHECK:         func.return
func.func @not_identities(%x: tensor<2x!pphlo.secret<f32>>, %m: tensor<4x2x!pphlo.secret<f32>>, %s: tensor<2x!pphlo.secret<f32>>) -> (tensor<2x!pphlo.secret<f32>>, tensor<4x3x!pphlo.secret<f32>>, tensor<2x!pphlo.secret<f32>>) {
  %c = "pphlo.constant"() <{value = dense<[1.0, 2.0]> : tensor<2xf32>}> : () -> tensor<2xf32>
  %0 = "pphlo.multiply"(%x, %c) : (tensor<2x!pphlo.secret<f32>>, tensor<2xf32>) -> tensor<2x!pphlo.secret<f32>>
  %ones = "pphlo.constant"() <{value = dense<1.0> : tensor<2x3xf32>}> : () -> tensor<2x3xf32>
  %1 = "pphlo.dot"(%m, %ones) : (tensor<4x2x!pphlo.secret<f32>>, tensor<2x3xf32>) -> tensor<4x3x!pphlo.secret<f32>>
  %2 = "pphlo.multiply"(%x, %s) : (tensor<2x!pphlo.secret<f32>>, tensor<2x!pphlo.secret<f32>>) -> tensor<2x!pphlo.secret<f32>>
  func.return %0, %1, %2 : tensor<2x!pphlo.secret<f32>>, tensor<4x3x!pphlo.secret<f32>>, tensor<2x!pphlo.secret<f32>>
}
