// RUN: ditto-opt %s -p legalize-to-pphlo --split-input-file | filecheck %s

// Shape ops keep their operand's visibility and their attributes.
// CHECK-LABEL: func.func @shapes
// CHECK:         "pphlo.broadcast"(%arg0) <{broadcast_dimensions = array<i64: 1>}> : (tensor<3x!pphlo.secret<f32>>) -> tensor<2x3x!pphlo.secret<f32>>
// CHECK:         "pphlo.transpose"({{.*}}) <{permutation = array<i64: 1, 0>}> : (tensor<2x3x!pphlo.secret<f32>>) -> tensor<3x2x!pphlo.secret<f32>>
// CHECK:         "pphlo.reshape"({{.*}}) : (tensor<3x2x!pphlo.secret<f32>>) -> tensor<6x!pphlo.secret<f32>>
// CHECK:         "pphlo.slice"({{.*}}) <{start_indices = array<i64: 1>, limit_indices = array<i64: 5>, strides = array<i64: 2>}> : (tensor<6x!pphlo.secret<f32>>) -> tensor<2x!pphlo.secret<f32>>
// CHECK:         "pphlo.concatenate"({{.*}}, %arg1) <{dimension = 0 : i64}> : (tensor<2x!pphlo.secret<f32>>, tensor<2xf32>) -> tensor<4x!pphlo.secret<f32>>
// CHECK:         "pphlo.dynamic_slice"({{.*}}, %arg2) <{slice_sizes = array<i64: 3>}> : (tensor<4x!pphlo.secret<f32>>, tensor<i32>) -> tensor<3x!pphlo.secret<f32>>
func.func @shapes(%arg0: tensor<3xf32>, %arg1: tensor<2xf32> {ditto.visibility = "public"}, %arg2: tensor<i32> {ditto.visibility = "public"}) -> tensor<3xf32> {
  %0 = "stablehlo.broadcast_in_dim"(%arg0) <{broadcast_dimensions = array<i64: 1>}> : (tensor<3xf32>) -> tensor<2x3xf32>
  %1 = "stablehlo.transpose"(%0) <{permutation = array<i64: 1, 0>}> : (tensor<2x3xf32>) -> tensor<3x2xf32>
  %2 = "stablehlo.reshape"(%1) : (tensor<3x2xf32>) -> tensor<6xf32>
  %3 = "stablehlo.slice"(%2) <{start_indices = array<i64: 1>, limit_indices = array<i64: 5>, strides = array<i64: 2>}> : (tensor<6xf32>) -> tensor<2xf32>
  %4 = "stablehlo.concatenate"(%3, %arg1) <{dimension = 0 : i64}> : (tensor<2xf32>, tensor<2xf32>) -> tensor<4xf32>
  %5 = "stablehlo.dynamic_slice"(%4, %arg2) <{slice_sizes = array<i64: 3>}> : (tensor<4xf32>, tensor<i32>) -> tensor<3xf32>
  "func.return"(%5) : (tensor<3xf32>) -> ()
}

// -----

// Broadcasting a public value stays public even next to secret data.
// CHECK-LABEL: func.func @public_broadcast
// CHECK:         "pphlo.broadcast"({{.*}}) <{broadcast_dimensions = array<i64>}> : (tensor<f32>) -> tensor<2xf32>
// CHECK:         "pphlo.add"(%arg0, {{.*}}) : (tensor<2x!pphlo.secret<f32>>, tensor<2xf32>) -> tensor<2x!pphlo.secret<f32>>
func.func @public_broadcast(%arg0: tensor<2xf32>) -> tensor<2xf32> {
  %0 = "stablehlo.constant"() <{value = dense<1.0> : tensor<f32>}> : () -> tensor<f32>
  %1 = "stablehlo.broadcast_in_dim"(%0) <{broadcast_dimensions = array<i64>}> : (tensor<f32>) -> tensor<2xf32>
  %2 = "stablehlo.add"(%arg0, %1) : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
  "func.return"(%2) : (tensor<2xf32>) -> ()
}
