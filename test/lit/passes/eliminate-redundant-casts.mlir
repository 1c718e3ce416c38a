// RUN: ditto-opt %s -p eliminate-redundant-casts --split-input-file | filecheck %s

// An exact upcast followed by a downcast back to the same type vanishes.
// CHECK-LABEL: func.func @round_trip
// CHECK-NEXT:    func.return %arg0
func.func @round_trip(%arg0: tensor<4x!pphlo.secret<!fxp.fixed<32, 8>>>) -> tensor<4x!pphlo.secret<!fxp.fixed<32, 8>>> {
  %0 = "fxp.cast"(%arg0) : (tensor<4x!pphlo.secret<!fxp.fixed<32, 8>>>) -> tensor<4x!pphlo.secret<!fxp.fixed<64, 18>>>
  %1 = "fxp.cast"(%0) : (tensor<4x!pphlo.secret<!fxp.fixed<64, 18>>>) -> tensor<4x!pphlo.secret<!fxp.fixed<32, 8>>>
  func.return %1 : tensor<4x!pphlo.secret<!fxp.fixed<32, 8>>>
}

// -----

// Exact-then-anything chains fold into one cast.
// CHECK-LABEL: func.func @chain
// CHECK-NEXT:    [[C:%.*]] = "fxp.cast"(%arg0) : (tensor<4x!pphlo.secret<!fxp.fixed<32, 8>>>) -> tensor<4x!pphlo.secret<!fxp.fixed<64, 12>>>
// CHECK-NEXT:    func.return [[C]]
func.func @chain(%arg0: tensor<4x!pphlo.secret<!fxp.fixed<32, 8>>>) -> tensor<4x!pphlo.secret<!fxp.fixed<64, 12>>> {
  %0 = "fxp.cast"(%arg0) : (tensor<4x!pphlo.secret<!fxp.fixed<32, 8>>>) -> tensor<4x!pphlo.secret<!fxp.fixed<64, 18>>>
  %1 = "fxp.cast"(%0) : (tensor<4x!pphlo.secret<!fxp.fixed<64, 18>>>) -> tensor<4x!pphlo.secret<!fxp.fixed<64, 12>>>
  func.return %1 : tensor<4x!pphlo.secret<!fxp.fixed<64, 12>>>
}

// -----

// A lossy first cast (a downcast) must stay: skipping it would change the rounding.
// CHECK-LABEL: func.func @lossy_chain
// CHECK-NEXT:    "fxp.cast"(%arg0) : ({{.*}}!fxp.fixed<64, 18>{{.*}}) -> tensor<4x!pphlo.secret<!fxp.fixed<32, 8>>>
// CHECK-NEXT:    "fxp.cast"({{.*}}) : ({{.*}}!fxp.fixed<32, 8>{{.*}}) -> tensor<4x!pphlo.secret<!fxp.fixed<64, 18>>>
func.func @lossy_chain(%arg0: tensor<4x!pphlo.secret<!fxp.fixed<64, 18>>>) -> tensor<4x!pphlo.secret<!fxp.fixed<64, 18>>> {
  %0 = "fxp.cast"(%arg0) : (tensor<4x!pphlo.secret<!fxp.fixed<64, 18>>>) -> tensor<4x!pphlo.secret<!fxp.fixed<32, 8>>>
  %1 = "fxp.cast"(%0) : (tensor<4x!pphlo.secret<!fxp.fixed<32, 8>>>) -> tensor<4x!pphlo.secret<!fxp.fixed<64, 18>>>
  func.return %1 : tensor<4x!pphlo.secret<!fxp.fixed<64, 18>>>
}

// -----

// Convert before broadcasting (8 elements, not 64); share identical casts; fold constants.
// CHECK-LABEL: func.func @broadcast_share_constant
// CHECK-NEXT:    [[UP:%.*]] = "fxp.cast"(%arg0) : (tensor<8x!pphlo.secret<!fxp.fixed<32, 8>>>) -> tensor<8x!pphlo.secret<!fxp.fixed<64, 18>>>
// CHECK-NEXT:    [[B:%.*]] = "pphlo.broadcast"([[UP]]) <{broadcast_dimensions = array<i64: 1>}> : (tensor<8x!pphlo.secret<!fxp.fixed<64, 18>>>) -> tensor<8x8x!pphlo.secret<!fxp.fixed<64, 18>>>
// CHECK-NEXT:    [[C:%.*]] = "pphlo.constant"() <{value = dense<2.500000e-01> : tensor<8x8xf32>}> : () -> tensor<8x8x!fxp.fixed<64, 18>>
// CHECK-NEXT:    [[S:%.*]] = "pphlo.add"([[B]], [[C]])
// CHECK-NEXT:    "pphlo.add"([[S]], [[B]])
// CHECK-NOT:     fxp.cast
func.func @broadcast_share_constant(%arg0: tensor<8x!pphlo.secret<!fxp.fixed<32, 8>>>) -> tensor<8x8x!pphlo.secret<!fxp.fixed<64, 18>>> {
  %0 = "pphlo.broadcast"(%arg0) <{broadcast_dimensions = array<i64: 1>}> : (tensor<8x!pphlo.secret<!fxp.fixed<32, 8>>>) -> tensor<8x8x!pphlo.secret<!fxp.fixed<32, 8>>>
  %1 = "fxp.cast"(%0) : (tensor<8x8x!pphlo.secret<!fxp.fixed<32, 8>>>) -> tensor<8x8x!pphlo.secret<!fxp.fixed<64, 18>>>
  %c = "pphlo.constant"() <{value = dense<2.500000e-01> : tensor<8x8xf32>}> : () -> tensor<8x8x!fxp.fixed<32, 8>>
  %2 = "fxp.cast"(%c) : (tensor<8x8x!fxp.fixed<32, 8>>) -> tensor<8x8x!fxp.fixed<64, 18>>
  %3 = "pphlo.add"(%1, %2) : (tensor<8x8x!pphlo.secret<!fxp.fixed<64, 18>>>, tensor<8x8x!fxp.fixed<64, 18>>) -> tensor<8x8x!pphlo.secret<!fxp.fixed<64, 18>>>
  %4 = "fxp.cast"(%0) : (tensor<8x8x!pphlo.secret<!fxp.fixed<32, 8>>>) -> tensor<8x8x!pphlo.secret<!fxp.fixed<64, 18>>>
  %5 = "pphlo.add"(%3, %4) : (tensor<8x8x!pphlo.secret<!fxp.fixed<64, 18>>>, tensor<8x8x!pphlo.secret<!fxp.fixed<64, 18>>>) -> tensor<8x8x!pphlo.secret<!fxp.fixed<64, 18>>>
  func.return %5 : tensor<8x8x!pphlo.secret<!fxp.fixed<64, 18>>>
}

// -----

// Convert only the slice that is kept.
// CHECK-LABEL: func.func @slice
// CHECK-NEXT:    [[S:%.*]] = "pphlo.slice"(%arg0) {{.*}} : (tensor<16x!pphlo.secret<!fxp.fixed<64, 18>>>) -> tensor<2x!pphlo.secret<!fxp.fixed<64, 18>>>
// CHECK-NEXT:    "fxp.cast"([[S]]) : (tensor<2x!pphlo.secret<!fxp.fixed<64, 18>>>) -> tensor<2x!pphlo.secret<!fxp.fixed<32, 8>>>
func.func @slice(%arg0: tensor<16x!pphlo.secret<!fxp.fixed<64, 18>>>) -> tensor<2x!pphlo.secret<!fxp.fixed<32, 8>>> {
  %0 = "fxp.cast"(%arg0) : (tensor<16x!pphlo.secret<!fxp.fixed<64, 18>>>) -> tensor<16x!pphlo.secret<!fxp.fixed<32, 8>>>
  %1 = "pphlo.slice"(%0) <{start_indices = array<i64: 0>, limit_indices = array<i64: 2>, strides = array<i64: 1>}> : (tensor<16x!pphlo.secret<!fxp.fixed<32, 8>>>) -> tensor<2x!pphlo.secret<!fxp.fixed<32, 8>>>
  func.return %1 : tensor<2x!pphlo.secret<!fxp.fixed<32, 8>>>
}

// -----

// Nothing redundant: unchanged.
// CHECK-LABEL: func.func @needed
// CHECK-NEXT:    "fxp.cast"(%arg0)
// CHECK-NEXT:    "pphlo.exponential"
func.func @needed(%arg0: tensor<4x!pphlo.secret<!fxp.fixed<32, 8>>>) -> tensor<4x!pphlo.secret<!fxp.fixed<64, 18>>> {
  %0 = "fxp.cast"(%arg0) : (tensor<4x!pphlo.secret<!fxp.fixed<32, 8>>>) -> tensor<4x!pphlo.secret<!fxp.fixed<64, 18>>>
  %1 = "pphlo.exponential"(%0) : (tensor<4x!pphlo.secret<!fxp.fixed<64, 18>>>) -> tensor<4x!pphlo.secret<!fxp.fixed<64, 18>>>
  func.return %1 : tensor<4x!pphlo.secret<!fxp.fixed<64, 18>>>
}
