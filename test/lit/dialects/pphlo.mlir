// RUN: ditto-opt %s --split-input-file --verify-diagnostics | filecheck %s

// Well-formed PPHLO round-trips (generic form, as SPU reads it).
// CHECK-LABEL: func.func @valid
// CHECK:         "pphlo.dot_general"(%arg0, %arg1) <{dot_dimension_numbers = #pphlo.dot<lhs_batching_dimensions = [0], rhs_batching_dimensions = [0], lhs_contracting_dimensions = [2], rhs_contracting_dimensions = [1]>}>
// CHECK:         "pphlo.add"
func.func @valid(%arg0: tensor<2x3x4x!pphlo.secret<f32>>, %arg1: tensor<2x4x5xf32>) -> tensor<2x3x5x!pphlo.secret<f32>> {
  %0 = "pphlo.dot_general"(%arg0, %arg1) <{dot_dimension_numbers = #pphlo.dot<lhs_batching_dimensions = [0], rhs_batching_dimensions = [0], lhs_contracting_dimensions = [2], rhs_contracting_dimensions = [1]>}> : (tensor<2x3x4x!pphlo.secret<f32>>, tensor<2x4x5xf32>) -> tensor<2x3x5x!pphlo.secret<f32>>
  %1 = "pphlo.add"(%0, %0) : (tensor<2x3x5x!pphlo.secret<f32>>, tensor<2x3x5x!pphlo.secret<f32>>) -> tensor<2x3x5x!pphlo.secret<f32>>
  func.return %1 : tensor<2x3x5x!pphlo.secret<f32>>
}

// -----

// A secret operand cannot give a public result: that would reveal it.
func.func @leak(%arg0: tensor<4x!pphlo.secret<f32>>) -> tensor<4xf32> {
  %0 = "pphlo.negate"(%arg0) : (tensor<4x!pphlo.secret<f32>>) -> tensor<4xf32>
  func.return %0 : tensor<4xf32>
}
// CHECK: 'pphlo.negate' result must be secret: tensor<4xf32>

// -----

func.func @over_secret(%arg0: tensor<4xf32>) -> tensor<4x!pphlo.secret<f32>> {
  %0 = "pphlo.add"(%arg0, %arg0) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4x!pphlo.secret<f32>>
  func.return %0 : tensor<4x!pphlo.secret<f32>>
}
// CHECK: 'pphlo.add' result must be public: tensor<4x!pphlo.secret<f32>>

// -----

func.func @shape_mismatch(%arg0: tensor<4xf32>, %arg1: tensor<3xf32>) -> tensor<4xf32> {
  %0 = "pphlo.multiply"(%arg0, %arg1) : (tensor<4xf32>, tensor<3xf32>) -> tensor<4xf32>
  func.return %0 : tensor<4xf32>
}
// CHECK: 'pphlo.multiply' operand shape [3] does not match result shape [4]

// -----

func.func @compare_type(%arg0: tensor<4xf32>) -> tensor<4xf32> {
  %0 = "pphlo.less"(%arg0, %arg0) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  func.return %0 : tensor<4xf32>
}
// CHECK: 'pphlo.less' must produce a boolean, got tensor<4xf32>

// -----

func.func @bad_dot(%arg0: tensor<2x3xf32>, %arg1: tensor<4x5xf32>) -> tensor<2x5xf32> {
  %0 = "pphlo.dot"(%arg0, %arg1) : (tensor<2x3xf32>, tensor<4x5xf32>) -> tensor<2x5xf32>
  func.return %0 : tensor<2x5xf32>
}
// CHECK: 'pphlo.dot' cannot contract [2, 3] with [4, 5]

// -----

func.func @bad_dot_general(%arg0: tensor<2x3x4xf32>, %arg1: tensor<2x4x5xf32>) -> tensor<2x3x6xf32> {
  %0 = "pphlo.dot_general"(%arg0, %arg1) <{dot_dimension_numbers = #pphlo.dot<lhs_batching_dimensions = [0], rhs_batching_dimensions = [0], lhs_contracting_dimensions = [2], rhs_contracting_dimensions = [1]>}> : (tensor<2x3x4xf32>, tensor<2x4x5xf32>) -> tensor<2x3x6xf32>
  func.return %0 : tensor<2x3x6xf32>
}
// CHECK: 'pphlo.dot_general' result shape must be [2, 3, 5]

// -----

func.func @secret_constant() -> tensor<2x!pphlo.secret<f32>> {
  %0 = "pphlo.constant"() <{value = dense<1.0> : tensor<2xf32>}> : () -> tensor<2x!pphlo.secret<f32>>
  func.return %0 : tensor<2x!pphlo.secret<f32>>
}
// CHECK: 'pphlo.constant' must be public

// -----

func.func @bad_transpose(%arg0: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %0 = "pphlo.transpose"(%arg0) <{permutation = array<i64: 1, 0>}> : (tensor<2x3xf32>) -> tensor<2x3xf32>
  func.return %0 : tensor<2x3xf32>
}
// CHECK: 'pphlo.transpose' result shape does not match the permutation

// -----

func.func @bad_slice(%arg0: tensor<6xf32>) -> tensor<3xf32> {
  %0 = "pphlo.slice"(%arg0) <{start_indices = array<i64: 1>, limit_indices = array<i64: 5>, strides = array<i64: 2>}> : (tensor<6xf32>) -> tensor<3xf32>
  func.return %0 : tensor<3xf32>
}
// CHECK: 'pphlo.slice' result shape must be [2]

// -----

func.func @bad_reshape(%arg0: tensor<6xf32>) -> tensor<4xf32> {
  %0 = "pphlo.reshape"(%arg0) : (tensor<6xf32>) -> tensor<4xf32>
  func.return %0 : tensor<4xf32>
}
// CHECK: 'pphlo.reshape' must preserve the number of elements

// -----

func.func @bad_broadcast(%arg0: tensor<3xf32>) -> tensor<2x4xf32> {
  %0 = "pphlo.broadcast"(%arg0) <{broadcast_dimensions = array<i64: 1>}> : (tensor<3xf32>) -> tensor<2x4xf32>
  func.return %0 : tensor<2x4xf32>
}
// CHECK: 'pphlo.broadcast' operand dimension 0 cannot map to result dimension 1

// -----

func.func @reduce_region(%arg0: tensor<4x!pphlo.secret<f32>>, %arg1: tensor<f32>) -> tensor<!pphlo.secret<f32>> {
  %0 = "pphlo.reduce"(%arg0, %arg1) <{dimensions = array<i64: 0>}> ({
  ^bb0(%a: tensor<f32>, %b: tensor<f32>):
    %1 = "pphlo.add"(%a, %b) : (tensor<f32>, tensor<f32>) -> tensor<f32>
    "pphlo.return"(%1) : (tensor<f32>) -> ()
  }) : (tensor<4x!pphlo.secret<f32>>, tensor<f32>) -> tensor<!pphlo.secret<f32>>
  func.return %0 : tensor<!pphlo.secret<f32>>
}
// CHECK: 'pphlo.reduce' body argument visibility must match the result's

// -----

// bitcast_convert exposes a fixed-point value's raw ring element (and back): ring conversions use it.
// CHECK-LABEL: func.func @raw
// CHECK:         "pphlo.bitcast_convert"(%arg0) : (tensor<3x!pphlo.secret<f32>>) -> tensor<3x!pphlo.secret<i32>>
func.func @raw(%arg0: tensor<3x!pphlo.secret<f32>>) -> tensor<3x!pphlo.secret<i32>> {
  %0 = "pphlo.bitcast_convert"(%arg0) : (tensor<3x!pphlo.secret<f32>>) -> tensor<3x!pphlo.secret<i32>>
  func.return %0 : tensor<3x!pphlo.secret<i32>>
}

// -----

func.func @raw_reshaped(%arg0: tensor<3x!pphlo.secret<f32>>) -> tensor<1x3x!pphlo.secret<i32>> {
  %0 = "pphlo.bitcast_convert"(%arg0) : (tensor<3x!pphlo.secret<f32>>) -> tensor<1x3x!pphlo.secret<i32>>
  func.return %0 : tensor<1x3x!pphlo.secret<i32>>
}
// CHECK: 'pphlo.bitcast_convert' must not change the shape

// -----

func.func @raw_revealed(%arg0: tensor<3x!pphlo.secret<f32>>) -> tensor<3xi32> {
  %0 = "pphlo.bitcast_convert"(%arg0) : (tensor<3x!pphlo.secret<f32>>) -> tensor<3xi32>
  func.return %0 : tensor<3xi32>
}
// CHECK: 'pphlo.bitcast_convert' result must be secret: tensor<3xi32>
