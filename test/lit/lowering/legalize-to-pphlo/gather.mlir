// RUN: ditto-opt %s -p legalize-to-pphlo --split-input-file | filecheck %s

// Public ids (e.g. position ids): SPU's local spu.gather intrinsic.
// CHECK-LABEL: func.func @public_ids
// CHECK:         "pphlo.custom_call"(%arg0, %arg1) <{call_target_name = "spu.gather"}> {pphlo.attributes = {slice_sizes = array<i64: 1, 4>, offset_dims = array<i64: 2>, collapsed_slice_dims = array<i64: 0>, index_vector_dim = 2 : i64, start_index_map = array<i64: 0>}} : (tensor<10x4x!pphlo.secret<f32>>, tensor<1x3x1xi32>) -> tensor<1x3x4x!pphlo.secret<f32>>
func.func @public_ids(%arg0: tensor<10x4xf32>, %arg1: tensor<1x3x1xi32> {ditto.visibility = "public"}) -> tensor<1x3x4xf32> {
  %0 = "stablehlo.gather"(%arg0, %arg1) <{dimension_numbers = #stablehlo.gather<offset_dims = [2], collapsed_slice_dims = [0], start_index_map = [0], index_vector_dim = 2>, indices_are_sorted = false, slice_sizes = array<i64: 1, 4>}> : (tensor<10x4xf32>, tensor<1x3x1xi32>) -> tensor<1x3x4xf32>
  "func.return"(%0) : (tensor<1x3x4xf32>) -> ()
}

// -----

// Secret token ids: one comparison against iota gives a one-hot matrix (turned into
// arithmetic shares by a select, cheaper than convert), and one matmul does the lookup.
// CHECK-LABEL: func.func @secret_ids
// CHECK:         [[IDS:%.*]] = "pphlo.reshape"(%arg1) : (tensor<1x3x1x!pphlo.secret<i32>>) -> tensor<1x3x!pphlo.secret<i32>>
// CHECK-NEXT:    [[B:%.*]] = "pphlo.broadcast"([[IDS]]) <{broadcast_dimensions = array<i64: 0, 1>}> : (tensor<1x3x!pphlo.secret<i32>>) -> tensor<1x3x10x!pphlo.secret<i32>>
// CHECK-NEXT:    [[IOTA:%.*]] = "pphlo.iota"() <{iota_dimension = 2 : i64}> : () -> tensor<1x3x10xi32>
// CHECK-NEXT:    [[HIT:%.*]] = "pphlo.equal"([[B]], [[IOTA]]) : (tensor<1x3x10x!pphlo.secret<i32>>, tensor<1x3x10xi32>) -> tensor<1x3x10x!pphlo.secret<i1>>
// Constants are scalars broadcast: no shape-sized data.
// CHECK-NEXT:    [[C1:%.*]] = "pphlo.constant"() <{value = dense<1.000000e+00> : tensor<f32>}>
// CHECK-NEXT:    [[ONE:%.*]] = "pphlo.broadcast"([[C1]]) <{broadcast_dimensions = array<i64>}> : (tensor<f32>) -> tensor<1x3x10xf32>
// CHECK-NEXT:    [[C0:%.*]] = "pphlo.constant"() <{value = dense<0.000000e+00> : tensor<f32>}>
// CHECK-NEXT:    [[ZERO:%.*]] = "pphlo.broadcast"([[C0]]) <{broadcast_dimensions = array<i64>}> : (tensor<f32>) -> tensor<1x3x10xf32>
// CHECK-NEXT:    [[ONEHOT:%.*]] = "pphlo.select"([[HIT]], [[ONE]], [[ZERO]]) : (tensor<1x3x10x!pphlo.secret<i1>>, tensor<1x3x10xf32>, tensor<1x3x10xf32>) -> tensor<1x3x10x!pphlo.secret<f32>>
// CHECK-NEXT:    [[ROWS:%.*]] = "pphlo.reshape"([[ONEHOT]]) : (tensor<1x3x10x!pphlo.secret<f32>>) -> tensor<3x10x!pphlo.secret<f32>>
// CHECK-NEXT:    [[LOOKUP:%.*]] = "pphlo.dot"([[ROWS]], %arg0) : (tensor<3x10x!pphlo.secret<f32>>, tensor<10x4x!pphlo.secret<f32>>) -> tensor<3x4x!pphlo.secret<f32>>
// CHECK-NEXT:    "pphlo.reshape"([[LOOKUP]]) : (tensor<3x4x!pphlo.secret<f32>>) -> tensor<1x3x4x!pphlo.secret<f32>>
func.func @secret_ids(%arg0: tensor<10x4xf32>, %arg1: tensor<1x3x1xi32>) -> tensor<1x3x4xf32> {
  %0 = "stablehlo.gather"(%arg0, %arg1) <{dimension_numbers = #stablehlo.gather<offset_dims = [2], collapsed_slice_dims = [0], start_index_map = [0], index_vector_dim = 2>, indices_are_sorted = false, slice_sizes = array<i64: 1, 4>}> : (tensor<10x4xf32>, tensor<1x3x1xi32>) -> tensor<1x3x4xf32>
  "func.return"(%0) : (tensor<1x3x4xf32>) -> ()
}

// -----

// A table with more than one feature dimension is flattened for the matmul.
// CHECK-LABEL: func.func @secret_ids_3d_table
// CHECK:         [[TABLE:%.*]] = "pphlo.reshape"(%arg0) : (tensor<10x2x3x!pphlo.secret<f32>>) -> tensor<10x6x!pphlo.secret<f32>>
// CHECK-NEXT:    [[LOOKUP:%.*]] = "pphlo.dot"({{.*}}, [[TABLE]]) : (tensor<4x10x!pphlo.secret<f32>>, tensor<10x6x!pphlo.secret<f32>>) -> tensor<4x6x!pphlo.secret<f32>>
// CHECK-NEXT:    "pphlo.reshape"([[LOOKUP]]) : (tensor<4x6x!pphlo.secret<f32>>) -> tensor<4x2x3x!pphlo.secret<f32>>
func.func @secret_ids_3d_table(%arg0: tensor<10x2x3xf32>, %arg1: tensor<4x1xi32>) -> tensor<4x2x3xf32> {
  %0 = "stablehlo.gather"(%arg0, %arg1) <{dimension_numbers = #stablehlo.gather<offset_dims = [1, 2], collapsed_slice_dims = [0], start_index_map = [0], index_vector_dim = 1>, indices_are_sorted = false, slice_sizes = array<i64: 1, 2, 3>}> : (tensor<10x2x3xf32>, tensor<4x1xi32>) -> tensor<4x2x3xf32>
  "func.return"(%0) : (tensor<4x2x3xf32>) -> ()
}
