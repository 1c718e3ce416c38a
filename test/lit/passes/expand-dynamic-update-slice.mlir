// RUN: ditto-opt %s -p expand-dynamic-update-slice --split-input-file | filecheck %s
// RUN: ditto-opt %s -p expand-dynamic-update-slice,legalize-to-pphlo --split-input-file | filecheck %s --check-prefix=PPHLO

// A KV cache row written at a public position: the update padded with copies of
// itself, sliced into place, and selected inside the window [pos, pos + 1).
// CHECK-LABEL: func.func @one_row
// CHECK:         [[SPARE:%.*]] = stablehlo.constant dense<3> : tensor<i32>
// CHECK:         [[LOW:%.*]] = stablehlo.maximum %pos, {{%.*}} : tensor<i32>
// CHECK:         [[START:%.*]] = stablehlo.minimum [[LOW]], [[SPARE]] : tensor<i32>
// CHECK:         [[FIRST:%.*]] = stablehlo.slice %new [0:1, 0:1, 0:2]
// CHECK:         [[FILL:%.*]] = stablehlo.broadcast_in_dim [[FIRST]], dims = [0, 1, 2] : (tensor<1x1x2xf32>) -> tensor<1x3x2xf32>
// CHECK:         [[PAD:%.*]] = stablehlo.concatenate [[FILL]], %new, [[FILL]], dim = 1 : {{.*}} -> tensor<1x7x2xf32>
// CHECK:         [[SHIFT:%.*]] = stablehlo.subtract [[SPARE]], [[START]] : tensor<i32>
// CHECK:         [[IOTA:%.*]] = stablehlo.iota dim = 1 : tensor<1x4x2xi32>
// CHECK:         comparison_direction GE
// CHECK:         comparison_direction LT
// CHECK:         [[WINDOW:%.*]] = stablehlo.and
// CHECK:         [[PLACED:%.*]] = stablehlo.dynamic_slice [[PAD]], {{%.*}}, [[SHIFT]], {{%.*}}, sizes = [1, 4, 2]
// CHECK-NEXT:    [[R:%.*]] = stablehlo.select [[WINDOW]], [[PLACED]], %cache
// CHECK-NEXT:    func.return [[R]]
// CHECK-NOT:     dynamic_update_slice
// Under MPC: a public window, a dynamic slice at public starts, one select (no secret comparison).
// PPHLO-LABEL: func.func @one_row
// PPHLO:         "pphlo.iota"() {{.*}} -> tensor<1x4x2xi32>
// PPHLO:         "pphlo.greater_equal"({{.*}}) : (tensor<1x4x2xi32>, tensor<1x4x2xi32>) -> tensor<1x4x2xi1>
// PPHLO:         "pphlo.dynamic_slice"({{.*}}) <{slice_sizes = array<i64: 1, 4, 2>}> : (tensor<1x7x2x!pphlo.secret<f32>>, tensor<i32>, tensor<i32>, tensor<i32>) -> tensor<1x4x2x!pphlo.secret<f32>>
// PPHLO:         "pphlo.select"({{.*}}) : (tensor<1x4x2xi1>, tensor<1x4x2x!pphlo.secret<f32>>, tensor<1x4x2x!pphlo.secret<f32>>)
func.func @one_row(%cache: tensor<1x4x2xf32>, %new: tensor<1x1x2xf32>, %pos: tensor<i32> {ditto.visibility = "public"}) -> tensor<1x4x2xf32> {
  %c0 = stablehlo.constant dense<0> : tensor<i32>
  %0 = "stablehlo.dynamic_update_slice"(%cache, %new, %c0, %pos, %c0) : (tensor<1x4x2xf32>, tensor<1x1x2xf32>, tensor<i32>, tensor<i32>, tensor<i32>) -> tensor<1x4x2xf32>
  func.return %0 : tensor<1x4x2xf32>
}

// -----

// An update that fills the operand is the result.
// CHECK-LABEL: func.func @whole
// CHECK-NEXT:    func.return %new
func.func @whole(%cache: tensor<2x3xf32>, %new: tensor<2x3xf32>, %i: tensor<i32>) -> tensor<2x3xf32> {
  %0 = "stablehlo.dynamic_update_slice"(%cache, %new, %i, %i) : (tensor<2x3xf32>, tensor<2x3xf32>, tensor<i32>, tensor<i32>) -> tensor<2x3xf32>
  func.return %0 : tensor<2x3xf32>
}

// -----

// A block in two dimensions: padded in both, one window per dimension, and-ed.
// CHECK-LABEL: func.func @block
// CHECK:         stablehlo.concatenate {{.*}} dim = 0 : {{.*}} -> tensor<6x2xf32>
// CHECK:         stablehlo.iota dim = 0 : tensor<4x5xi64>
// CHECK:         stablehlo.concatenate {{.*}} dim = 1 : {{.*}} -> tensor<6x8xf32>
// CHECK:         stablehlo.iota dim = 1 : tensor<4x5xi64>
// CHECK:         [[INSIDE1:%.*]] = stablehlo.and {{%.*}}, {{%.*}} : tensor<4x5xi1>
// CHECK-NEXT:    [[BOTH:%.*]] = stablehlo.and {{%.*}}, [[INSIDE1]] : tensor<4x5xi1>
// CHECK:         stablehlo.dynamic_slice {{.*}} sizes = [4, 5] : (tensor<6x8xf32>, tensor<i64>, tensor<i64>) -> tensor<4x5xf32>
// CHECK-NEXT:    stablehlo.select [[BOTH]]
func.func @block(%x: tensor<4x5xf32>, %u: tensor<2x2xf32>, %i: tensor<i64> {ditto.visibility = "public"}, %j: tensor<i64> {ditto.visibility = "public"}) -> tensor<4x5xf32> {
  %0 = "stablehlo.dynamic_update_slice"(%x, %u, %i, %j) : (tensor<4x5xf32>, tensor<2x2xf32>, tensor<i64>, tensor<i64>) -> tensor<4x5xf32>
  func.return %0 : tensor<4x5xf32>
}
