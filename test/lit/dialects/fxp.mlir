// RUN: ditto-opt %s --split-input-file --verify-diagnostics | filecheck %s

// Ring types are PPHLO element types, public or secret; casts and truncations are explicit.
// CHECK-LABEL: func.func @valid
// CHECK-SAME:    (%arg0: tensor<4x!pphlo.secret<!fxp.fixed<32, 8>>>, %arg1: tensor<4x!fxp.int<64, 1>>)
// CHECK:         %{{.*}} = "fxp.cast"(%arg0) : (tensor<4x!pphlo.secret<!fxp.fixed<32, 8>>>) -> tensor<4x!pphlo.secret<!fxp.fixed<64, 18>>>
// CHECK:         %{{.*}} = "fxp.truncate"(%{{.*}}) <{bits = 18 : i64}> : (tensor<4x!pphlo.secret<!fxp.fixed<64, 36>>>) -> tensor<4x!pphlo.secret<!fxp.fixed<64, 18>>>
// CHECK:         %{{.*}} = "fxp.cast"(%{{.*}}) : (tensor<4x!pphlo.secret<!fxp.fixed<64, 18>>>) -> tensor<4x!pphlo.secret<!fxp.fixed<32, 8>>>
// CHECK:         %{{.*}} = "fxp.cast"(%arg1) : (tensor<4x!fxp.int<64, 1>>) -> tensor<4x!fxp.int<32, 1>>
func.func @valid(%arg0: tensor<4x!pphlo.secret<!fxp.fixed<32, 8>>>, %arg1: tensor<4x!fxp.int<64, 1>>) -> (tensor<4x!pphlo.secret<!fxp.fixed<32, 8>>>, tensor<4x!fxp.int<32, 1>>) {
  %0 = "fxp.cast"(%arg0) : (tensor<4x!pphlo.secret<!fxp.fixed<32, 8>>>) -> tensor<4x!pphlo.secret<!fxp.fixed<64, 18>>>
  %1 = "pphlo.multiply"(%0, %0) : (tensor<4x!pphlo.secret<!fxp.fixed<64, 18>>>, tensor<4x!pphlo.secret<!fxp.fixed<64, 18>>>) -> tensor<4x!pphlo.secret<!fxp.fixed<64, 36>>>
  %2 = "fxp.truncate"(%1) <{bits = 18 : i64}> : (tensor<4x!pphlo.secret<!fxp.fixed<64, 36>>>) -> tensor<4x!pphlo.secret<!fxp.fixed<64, 18>>>
  %3 = "fxp.cast"(%2) : (tensor<4x!pphlo.secret<!fxp.fixed<64, 18>>>) -> tensor<4x!pphlo.secret<!fxp.fixed<32, 8>>>
  %4 = "fxp.cast"(%arg1) : (tensor<4x!fxp.int<64, 1>>) -> tensor<4x!fxp.int<32, 1>>
  func.return %3, %4 : tensor<4x!pphlo.secret<!fxp.fixed<32, 8>>>, tensor<4x!fxp.int<32, 1>>
}

// -----

func.func @bad_ring(%arg0: tensor<4x!fxp.fixed<48, 8>>) -> tensor<4x!fxp.fixed<48, 8>> {
  func.return %arg0 : tensor<4x!fxp.fixed<48, 8>>
}
// CHECK: !fxp.fixed ring width must be one of (32, 64, 128), got 48

// -----

func.func @no_integer_bits(%arg0: tensor<4x!fxp.fixed<32, 30>>) -> tensor<4x!fxp.fixed<32, 30>> {
  func.return %arg0 : tensor<4x!fxp.fixed<32, 30>>
}
// CHECK: !fxp.fixed<32, 30> leaves no integer bits

// -----

func.func @wide_int(%arg0: tensor<4x!fxp.int<32, 64>>) -> tensor<4x!fxp.int<32, 64>> {
  func.return %arg0 : tensor<4x!fxp.int<32, 64>>
}
// CHECK: !fxp.int<32, 64>: width must be one of (1, 8, 16, 32, 64) and fit the ring

// -----

func.func @cast_to_itself(%arg0: tensor<4x!fxp.fixed<32, 8>>) -> tensor<4x!fxp.fixed<32, 8>> {
  %0 = "fxp.cast"(%arg0) : (tensor<4x!fxp.fixed<32, 8>>) -> tensor<4x!fxp.fixed<32, 8>>
  func.return %0 : tensor<4x!fxp.fixed<32, 8>>
}
// CHECK: 'fxp.cast' from !fxp.fixed<32, 8> to itself

// -----

func.func @cast_kind(%arg0: tensor<4x!fxp.fixed<32, 8>>) -> tensor<4x!fxp.int<64, 32>> {
  %0 = "fxp.cast"(%arg0) : (tensor<4x!fxp.fixed<32, 8>>) -> tensor<4x!fxp.int<64, 32>>
  func.return %0 : tensor<4x!fxp.int<64, 32>>
}
// CHECK: 'fxp.cast' cannot turn !fxp.fixed<32, 8> into !fxp.int<64, 32>

// -----

func.func @cast_reveals(%arg0: tensor<4x!pphlo.secret<!fxp.fixed<32, 8>>>) -> tensor<4x!fxp.fixed<64, 18>> {
  %0 = "fxp.cast"(%arg0) : (tensor<4x!pphlo.secret<!fxp.fixed<32, 8>>>) -> tensor<4x!fxp.fixed<64, 18>>
  func.return %0 : tensor<4x!fxp.fixed<64, 18>>
}
// CHECK: 'fxp.cast' must not change visibility

// -----

func.func @truncate_mismatch(%arg0: tensor<4x!fxp.fixed<64, 36>>) -> tensor<4x!fxp.fixed<64, 20>> {
  %0 = "fxp.truncate"(%arg0) <{bits = 18 : i64}> : (tensor<4x!fxp.fixed<64, 36>>) -> tensor<4x!fxp.fixed<64, 20>>
  func.return %0 : tensor<4x!fxp.fixed<64, 20>>
}
// CHECK: 'fxp.truncate' by 18 bits turns !fxp.fixed<64, 36> into !fxp.fixed<64, 18>, not !fxp.fixed<64, 20>

// -----

func.func @truncate_ring(%arg0: tensor<4x!fxp.fixed<64, 36>>) -> tensor<4x!fxp.fixed<32, 18>> {
  %0 = "fxp.truncate"(%arg0) <{bits = 18 : i64}> : (tensor<4x!fxp.fixed<64, 36>>) -> tensor<4x!fxp.fixed<32, 18>>
  func.return %0 : tensor<4x!fxp.fixed<32, 18>>
}
// CHECK: 'fxp.truncate' by 18 bits turns !fxp.fixed<64, 36> into !fxp.fixed<64, 18>, not !fxp.fixed<32, 18>

// -----

// CHECK-LABEL: func.func @rescale
// CHECK:         "fxp.rescale"(%arg0) <{shift = 3 : i64}> : (tensor<4x!pphlo.secret<!fxp.fixed<64, 36>>>) -> tensor<4x!pphlo.secret<!fxp.fixed<64, 39>>>
func.func @rescale(%arg0: tensor<4x!pphlo.secret<!fxp.fixed<64, 36>>>) -> tensor<4x!pphlo.secret<!fxp.fixed<64, 39>>> {
  %0 = "fxp.rescale"(%arg0) <{shift = 3 : i64}> : (tensor<4x!pphlo.secret<!fxp.fixed<64, 36>>>) -> tensor<4x!pphlo.secret<!fxp.fixed<64, 39>>>
  func.return %0 : tensor<4x!pphlo.secret<!fxp.fixed<64, 39>>>
}

// -----

func.func @bad_rescale(%arg0: tensor<4x!fxp.fixed<64, 18>>) -> tensor<4x!fxp.fixed<64, 18>> {
  %0 = "fxp.rescale"(%arg0) <{shift = 3 : i64}> : (tensor<4x!fxp.fixed<64, 18>>) -> tensor<4x!fxp.fixed<64, 18>>
  func.return %0 : tensor<4x!fxp.fixed<64, 18>>
}
// CHECK: 'fxp.rescale' by 3 turns !fxp.fixed<64, 18> into !fxp.fixed<64, 21>, not !fxp.fixed<64, 18>
