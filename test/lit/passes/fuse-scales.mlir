// RUN: ditto-opt %s -p fuse-scales --split-input-file | filecheck %s

// x * 2^-3 after a matmul: the multiply and its truncation become a free rescale,
// and the two truncations (the dot's and the multiply's) become one.
// CHECK-LABEL: func.func @scaled_scores
// CHECK-NEXT:    [[P:%.*]] = "pphlo.dot"(%arg0, %arg1)
// CHECK-NEXT:    [[R:%.*]] = "fxp.rescale"([[P]]) <{shift = 3 : i64}> : (tensor<2x2x!pphlo.secret<!fxp.fixed<64, 36>>>) -> tensor<2x2x!pphlo.secret<!fxp.fixed<64, 39>>>
// CHECK-NEXT:    [[T:%.*]] = "fxp.truncate"([[R]]) <{bits = 21 : i64}> : (tensor<2x2x!pphlo.secret<!fxp.fixed<64, 39>>>) -> tensor<2x2x!pphlo.secret<!fxp.fixed<64, 18>>>
// CHECK-NEXT:    func.return [[T]]
func.func @scaled_scores(%arg0: tensor<2x2x!pphlo.secret<!fxp.fixed<64, 18>>>, %arg1: tensor<2x2x!pphlo.secret<!fxp.fixed<64, 18>>>) -> tensor<2x2x!pphlo.secret<!fxp.fixed<64, 18>>> {
  %0 = "pphlo.dot"(%arg0, %arg1) : (tensor<2x2x!pphlo.secret<!fxp.fixed<64, 18>>>, tensor<2x2x!pphlo.secret<!fxp.fixed<64, 18>>>) -> tensor<2x2x!pphlo.secret<!fxp.fixed<64, 36>>>
  %1 = "fxp.truncate"(%0) <{bits = 18 : i64}> : (tensor<2x2x!pphlo.secret<!fxp.fixed<64, 36>>>) -> tensor<2x2x!pphlo.secret<!fxp.fixed<64, 18>>>
  %c = "pphlo.constant"() <{value = dense<1.250000e-01> : tensor<2x2xf32>}> : () -> tensor<2x2x!fxp.fixed<64, 18>>
  %2 = "pphlo.multiply"(%1, %c) : (tensor<2x2x!pphlo.secret<!fxp.fixed<64, 18>>>, tensor<2x2x!fxp.fixed<64, 18>>) -> tensor<2x2x!pphlo.secret<!fxp.fixed<64, 36>>>
  %3 = "fxp.truncate"(%2) <{bits = 18 : i64}> : (tensor<2x2x!pphlo.secret<!fxp.fixed<64, 36>>>) -> tensor<2x2x!pphlo.secret<!fxp.fixed<64, 18>>>
  func.return %3 : tensor<2x2x!pphlo.secret<!fxp.fixed<64, 18>>>
}

// -----

// A truncation feeding a downcast is absorbed: the downcast truncates by 28 at once.
// CHECK-LABEL: func.func @truncate_then_downcast
// CHECK-NEXT:    [[P:%.*]] = "pphlo.multiply"(%arg0, %arg0)
// CHECK-NEXT:    [[D:%.*]] = "fxp.cast"([[P]]) : (tensor<4x!pphlo.secret<!fxp.fixed<64, 36>>>) -> tensor<4x!pphlo.secret<!fxp.fixed<32, 8>>>
// CHECK-NEXT:    func.return [[D]]
func.func @truncate_then_downcast(%arg0: tensor<4x!pphlo.secret<!fxp.fixed<64, 18>>>) -> tensor<4x!pphlo.secret<!fxp.fixed<32, 8>>> {
  %0 = "pphlo.multiply"(%arg0, %arg0) : (tensor<4x!pphlo.secret<!fxp.fixed<64, 18>>>, tensor<4x!pphlo.secret<!fxp.fixed<64, 18>>>) -> tensor<4x!pphlo.secret<!fxp.fixed<64, 36>>>
  %1 = "fxp.truncate"(%0) <{bits = 18 : i64}> : (tensor<4x!pphlo.secret<!fxp.fixed<64, 36>>>) -> tensor<4x!pphlo.secret<!fxp.fixed<64, 18>>>
  %2 = "fxp.cast"(%1) : (tensor<4x!pphlo.secret<!fxp.fixed<64, 18>>>) -> tensor<4x!pphlo.secret<!fxp.fixed<32, 8>>>
  func.return %2 : tensor<4x!pphlo.secret<!fxp.fixed<32, 8>>>
}

// -----

// Chains of truncations merge.
// CHECK-LABEL: func.func @chain
// CHECK-NEXT:    [[T:%.*]] = "fxp.truncate"(%arg0) <{bits = 7 : i64}> : (tensor<4x!fxp.fixed<64, 30>>) -> tensor<4x!fxp.fixed<64, 23>>
// CHECK-NEXT:    func.return [[T]]
func.func @chain(%arg0: tensor<4x!fxp.fixed<64, 30>>) -> tensor<4x!fxp.fixed<64, 23>> {
  %0 = "fxp.truncate"(%arg0) <{bits = 3 : i64}> : (tensor<4x!fxp.fixed<64, 30>>) -> tensor<4x!fxp.fixed<64, 27>>
  %1 = "fxp.truncate"(%0) <{bits = 4 : i64}> : (tensor<4x!fxp.fixed<64, 27>>) -> tensor<4x!fxp.fixed<64, 23>>
  func.return %1 : tensor<4x!fxp.fixed<64, 23>>
}

// -----

// Not a power of two: nothing to fold.
// CHECK-LABEL: func.func @not_power_of_two
// CHECK:         "pphlo.multiply"
// CHECK-NEXT:    "fxp.truncate"({{.*}}) <{bits = 18 : i64}>
// CHECK-NOT:     fxp.rescale
func.func @not_power_of_two(%arg0: tensor<4x!pphlo.secret<!fxp.fixed<64, 18>>>) -> tensor<4x!pphlo.secret<!fxp.fixed<64, 18>>> {
  %c = "pphlo.constant"() <{value = dense<3.000000e-01> : tensor<4xf32>}> : () -> tensor<4x!fxp.fixed<64, 18>>
  %0 = "pphlo.multiply"(%arg0, %c) : (tensor<4x!pphlo.secret<!fxp.fixed<64, 18>>>, tensor<4x!fxp.fixed<64, 18>>) -> tensor<4x!pphlo.secret<!fxp.fixed<64, 36>>>
  %1 = "fxp.truncate"(%0) <{bits = 18 : i64}> : (tensor<4x!pphlo.secret<!fxp.fixed<64, 36>>>) -> tensor<4x!pphlo.secret<!fxp.fixed<64, 18>>>
  func.return %1 : tensor<4x!pphlo.secret<!fxp.fixed<64, 18>>>
}

// -----

// A truncated value with several users keeps its truncation; a cast that raises the
// fraction bits is not fused (that would change the rounding).
// CHECK-LABEL: func.func @must_not_fuse
// CHECK:         "fxp.truncate"(%arg0) <{bits = 4 : i64}>
// CHECK-NEXT:    "fxp.truncate"({{.*}}) <{bits = 4 : i64}>
// CHECK-NEXT:    "fxp.cast"({{.*}}) : (tensor<4x!fxp.fixed<64, 22>>) -> tensor<4x!fxp.fixed<64, 24>>
func.func @must_not_fuse(%arg0: tensor<4x!fxp.fixed<64, 30>>) -> (tensor<4x!fxp.fixed<64, 26>>, tensor<4x!fxp.fixed<64, 22>>, tensor<4x!fxp.fixed<64, 24>>) {
  %0 = "fxp.truncate"(%arg0) <{bits = 4 : i64}> : (tensor<4x!fxp.fixed<64, 30>>) -> tensor<4x!fxp.fixed<64, 26>>
  %1 = "fxp.truncate"(%0) <{bits = 4 : i64}> : (tensor<4x!fxp.fixed<64, 26>>) -> tensor<4x!fxp.fixed<64, 22>>
  %2 = "fxp.cast"(%1) : (tensor<4x!fxp.fixed<64, 22>>) -> tensor<4x!fxp.fixed<64, 24>>
  func.return %0, %1, %2 : tensor<4x!fxp.fixed<64, 26>>, tensor<4x!fxp.fixed<64, 22>>, tensor<4x!fxp.fixed<64, 24>>
}

// -----

// JAX writes scalars as a broadcast constant; the fold sees through the broadcast.
// CHECK-LABEL: func.func @broadcast_power_of_two
// CHECK:         "fxp.rescale"(%arg0) <{shift = 2 : i64}>
// CHECK-NEXT:    "fxp.truncate"({{.*}}) <{bits = 2 : i64}>
// CHECK-NOT:     "pphlo.multiply"
func.func @broadcast_power_of_two(%arg0: tensor<4x!pphlo.secret<!fxp.fixed<32, 8>>>) -> tensor<4x!pphlo.secret<!fxp.fixed<32, 8>>> {
  %c = "pphlo.constant"() <{value = dense<2.500000e-01> : tensor<f32>}> : () -> tensor<!fxp.fixed<32, 8>>
  %b = "pphlo.broadcast"(%c) <{broadcast_dimensions = array<i64>}> : (tensor<!fxp.fixed<32, 8>>) -> tensor<4x!fxp.fixed<32, 8>>
  %0 = "pphlo.multiply"(%arg0, %b) : (tensor<4x!pphlo.secret<!fxp.fixed<32, 8>>>, tensor<4x!fxp.fixed<32, 8>>) -> tensor<4x!pphlo.secret<!fxp.fixed<32, 16>>>
  %1 = "fxp.truncate"(%0) <{bits = 8 : i64}> : (tensor<4x!pphlo.secret<!fxp.fixed<32, 16>>>) -> tensor<4x!pphlo.secret<!fxp.fixed<32, 8>>>
  func.return %1 : tensor<4x!pphlo.secret<!fxp.fixed<32, 8>>>
}
