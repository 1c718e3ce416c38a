// RUN: ditto-opt %s -p legalize-to-pphlo --split-input-file | filecheck %s

// A plain matmul becomes pphlo.dot.
// CHECK-LABEL: func.func @matmul
// CHECK-NEXT:    [[R:%.*]] = "pphlo.dot"(%arg0, %arg1) : (tensor<4x8x!pphlo.secret<f32>>, tensor<8x3x!pphlo.secret<f32>>) -> tensor<4x3x!pphlo.secret<f32>>
// CHECK-NEXT:    func.return [[R]]
func.func @matmul(%arg0: tensor<4x8xf32>, %arg1: tensor<8x3xf32>) -> tensor<4x3xf32> {
  %0 = "stablehlo.dot_general"(%arg0, %arg1) <{dot_dimension_numbers = #stablehlo.dot<lhs_contracting_dimensions = [1], rhs_contracting_dimensions = [0]>}> : (tensor<4x8xf32>, tensor<8x3xf32>) -> tensor<4x3xf32>
  "func.return"(%0) : (tensor<4x3xf32>) -> ()
}

// -----

// A dense layer on a 3-D activation: flattened to 2-D, then reshaped back.
// CHECK-LABEL: func.func @dense_3d
// CHECK-NEXT:    [[X:%.*]] = "pphlo.reshape"(%arg0) : (tensor<2x5x8x!pphlo.secret<f32>>) -> tensor<10x8x!pphlo.secret<f32>>
// CHECK-NEXT:    [[Y:%.*]] = "pphlo.dot"([[X]], %arg1) : (tensor<10x8x!pphlo.secret<f32>>, tensor<8x3xf32>) -> tensor<10x3x!pphlo.secret<f32>>
// CHECK-NEXT:    "pphlo.reshape"([[Y]]) : (tensor<10x3x!pphlo.secret<f32>>) -> tensor<2x5x3x!pphlo.secret<f32>>
func.func @dense_3d(%arg0: tensor<2x5x8xf32>, %arg1: tensor<8x3xf32> {ditto.visibility = "public"}) -> tensor<2x5x3xf32> {
  %0 = "stablehlo.dot_general"(%arg0, %arg1) <{dot_dimension_numbers = #stablehlo.dot<lhs_contracting_dimensions = [2], rhs_contracting_dimensions = [0]>}> : (tensor<2x5x8xf32>, tensor<8x3xf32>) -> tensor<2x5x3xf32>
  "func.return"(%0) : (tensor<2x5x3xf32>) -> ()
}

// -----

// Attention scores q.k^T over (batch, heads): batch dims first, contraction
// last on the lhs and first on the rhs, as SPU's runtime requires (B, M, K) x (B, K, N).
// CHECK-LABEL: func.func @attention_scores
// CHECK-NEXT:    [[Q:%.*]] = "pphlo.reshape"(%arg0) : (tensor<2x4x5x8x!pphlo.secret<f32>>) -> tensor<8x5x8x!pphlo.secret<f32>>
// CHECK-NEXT:    [[KT:%.*]] = "pphlo.transpose"(%arg1) <{permutation = array<i64: 0, 1, 3, 2>}> : (tensor<2x4x5x8x!pphlo.secret<f32>>) -> tensor<2x4x8x5x!pphlo.secret<f32>>
// CHECK-NEXT:    [[K:%.*]] = "pphlo.reshape"([[KT]]) : (tensor<2x4x8x5x!pphlo.secret<f32>>) -> tensor<8x8x5x!pphlo.secret<f32>>
// CHECK-NEXT:    [[S:%.*]] = "pphlo.dot_general"([[Q]], [[K]]) <{dot_dimension_numbers = #pphlo.dot<lhs_batching_dimensions = [0], rhs_batching_dimensions = [0], lhs_contracting_dimensions = [2], rhs_contracting_dimensions = [1]>}> : (tensor<8x5x8x!pphlo.secret<f32>>, tensor<8x8x5x!pphlo.secret<f32>>) -> tensor<8x5x5x!pphlo.secret<f32>>
// CHECK-NEXT:    "pphlo.reshape"([[S]]) : (tensor<8x5x5x!pphlo.secret<f32>>) -> tensor<2x4x5x5x!pphlo.secret<f32>>
func.func @attention_scores(%arg0: tensor<2x4x5x8xf32>, %arg1: tensor<2x4x5x8xf32>) -> tensor<2x4x5x5xf32> {
  %0 = "stablehlo.dot_general"(%arg0, %arg1) <{dot_dimension_numbers = #stablehlo.dot<lhs_batching_dimensions = [0, 1], rhs_batching_dimensions = [0, 1], lhs_contracting_dimensions = [3], rhs_contracting_dimensions = [3]>}> : (tensor<2x4x5x8xf32>, tensor<2x4x5x8xf32>) -> tensor<2x4x5x5xf32>
  "func.return"(%0) : (tensor<2x4x5x5xf32>) -> ()
}

// -----

// Batch dims need not come first in StableHLO (einsum "qhd,khd->hqk").
// CHECK-LABEL: func.func @batch_in_middle
// CHECK:         "pphlo.transpose"(%arg0) <{permutation = array<i64: 1, 0, 2>}>
// CHECK:         "pphlo.transpose"(%arg1) <{permutation = array<i64: 1, 2, 0>}>
// CHECK:         "pphlo.dot_general"{{.*}} : (tensor<2x3x4x!pphlo.secret<f32>>, tensor<2x4x6x!pphlo.secret<f32>>) -> tensor<2x3x6x!pphlo.secret<f32>>
// CHECK-NOT:     "pphlo.reshape"
func.func @batch_in_middle(%arg0: tensor<3x2x4xf32>, %arg1: tensor<6x2x4xf32>) -> tensor<2x3x6xf32> {
  %0 = "stablehlo.dot_general"(%arg0, %arg1) <{dot_dimension_numbers = #stablehlo.dot<lhs_batching_dimensions = [1], rhs_batching_dimensions = [1], lhs_contracting_dimensions = [2], rhs_contracting_dimensions = [2]>}> : (tensor<3x2x4xf32>, tensor<6x2x4xf32>) -> tensor<2x3x6xf32>
  "func.return"(%0) : (tensor<2x3x6xf32>) -> ()
}
