// RUN: ditto-opt %s -p row-reciprocals --split-input-file | filecheck %s
// RUN: ditto-opt %s -p row-reciprocals,legalize-to-pphlo --split-input-file | filecheck %s --check-prefix=PPHLO

// A row sum broadcast over the row: one reciprocal per row, then a multiply.
// CHECK-LABEL: func.func @divide_by_row_sum
// CHECK-NEXT:    [[ONE:%.*]] = stablehlo.constant dense<1.000000e+00> : tensor<2xf32>
// CHECK-NEXT:    [[R:%.*]] = stablehlo.divide [[ONE]], %s : tensor<2xf32>
// CHECK-NEXT:    [[RB:%.*]] = stablehlo.reshape [[R]] : (tensor<2xf32>) -> tensor<2x1xf32>
// CHECK-NEXT:    [[RBB:%.*]] = stablehlo.broadcast_in_dim [[RB]], dims = [0, 1] : (tensor<2x1xf32>) -> tensor<2x4xf32>
// CHECK-NEXT:    [[Y:%.*]] = stablehlo.multiply %x, [[RBB]] : tensor<2x4xf32>
// CHECK-NEXT:    func.return [[Y]]
// PPHLO-LABEL: func.func @divide_by_row_sum
// PPHLO:         "pphlo.reciprocal"(%s) : (tensor<2x!pphlo.secret<f32>>) -> tensor<2x!pphlo.secret<f32>>
// PPHLO-NOT:     pphlo.divide
// PPHLO:         "pphlo.multiply"
func.func @divide_by_row_sum(%x: tensor<2x4xf32>, %s: tensor<2xf32>) -> tensor<2x4xf32> {
  %0 = "stablehlo.reshape"(%s) : (tensor<2xf32>) -> tensor<2x1xf32>
  %1 = "stablehlo.broadcast_in_dim"(%0) <{broadcast_dimensions = array<i64: 0, 1>}> : (tensor<2x1xf32>) -> tensor<2x4xf32>
  %2 = "stablehlo.divide"(%x, %1) : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
  func.return %2 : tensor<2x4xf32>
}

// -----

// LayerNorm written with a division by the standard deviation: one rsqrt per row.
// CHECK-LABEL: func.func @divide_by_row_sqrt
// CHECK-NEXT:    [[R:%.*]] = stablehlo.rsqrt %v : tensor<2xf32>
// CHECK-NEXT:    [[RB:%.*]] = stablehlo.broadcast_in_dim [[R]], dims = [0] : (tensor<2xf32>) -> tensor<2x4xf32>
// CHECK-NEXT:    [[Y:%.*]] = stablehlo.multiply %x, [[RB]] : tensor<2x4xf32>
// CHECK-NEXT:    func.return [[Y]]
func.func @divide_by_row_sqrt(%x: tensor<2x4xf32>, %v: tensor<2xf32>) -> tensor<2x4xf32> {
  %0 = "stablehlo.sqrt"(%v) : (tensor<2xf32>) -> tensor<2xf32>
  %1 = "stablehlo.broadcast_in_dim"(%0) <{broadcast_dimensions = array<i64: 0>}> : (tensor<2xf32>) -> tensor<2x4xf32>
  %2 = "stablehlo.divide"(%x, %1) : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
  func.return %2 : tensor<2x4xf32>
}

// -----

// Elementwise division by a square root: an rsqrt instead of a division.
// CHECK-LABEL: func.func @divide_by_sqrt
// CHECK-NEXT:    [[R:%.*]] = stablehlo.rsqrt %v : tensor<4xf32>
// CHECK-NEXT:    [[Y:%.*]] = stablehlo.multiply %x, [[R]] : tensor<4xf32>
func.func @divide_by_sqrt(%x: tensor<4xf32>, %v: tensor<4xf32>) -> tensor<4xf32> {
  %0 = "stablehlo.sqrt"(%v) : (tensor<4xf32>) -> tensor<4xf32>
  %1 = "stablehlo.divide"(%x, %0) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  func.return %1 : tensor<4xf32>
}

// -----

// Left alone: an elementwise division (nothing to share), and a division by a
// constant (legalize-to-pphlo makes that a multiply).
// CHECK-LABEL: func.func @nothing_to_share
// CHECK-NEXT:    stablehlo.divide %x, %y
// CHECK-NEXT:    stablehlo.constant
// CHECK-NEXT:    stablehlo.broadcast_in_dim
// CHECK-NEXT:    stablehlo.divide %x
// CHECK-NOT:     stablehlo.multiply
func.func @nothing_to_share(%x: tensor<4xf32>, %y: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  %0 = "stablehlo.divide"(%x, %y) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %c = "stablehlo.constant"() <{value = dense<3.000000e+00> : tensor<f32>}> : () -> tensor<f32>
  %cb = "stablehlo.broadcast_in_dim"(%c) <{broadcast_dimensions = array<i64>}> : (tensor<f32>) -> tensor<4xf32>
  %1 = "stablehlo.divide"(%x, %cb) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  func.return %0, %1 : tensor<4xf32>, tensor<4xf32>
}
