// RUN: ditto-opt %s -p 'annotate-rings{policy=fxp64}' --split-input-file | filecheck %s --check-prefix=FXP64
// RUN: ditto-opt %s -p 'annotate-rings{policy=ditto}' --split-input-file | filecheck %s --check-prefix=DITTO
// RUN: ditto-opt %s -p 'annotate-rings{policy="%S/inputs/exp-small.json"}' --split-input-file | filecheck %s --check-prefix=FILE

// A linear layer, then exp. Products carry 2f fraction bits and are truncated explicitly.
// FXP64-LABEL: func.func @layer
// FXP64-SAME:    (%arg0: tensor<2x4x!pphlo.secret<!fxp.fixed<64, 18>>>, %arg1: tensor<4x3x!pphlo.secret<!fxp.fixed<64, 18>>>)
// FXP64-NEXT:    [[P:%.*]] = "pphlo.dot"(%arg0, %arg1) : ({{.*}}) -> tensor<2x3x!pphlo.secret<!fxp.fixed<64, 36>>>
// FXP64-NEXT:    [[T:%.*]] = "fxp.truncate"([[P]]) <{bits = 18 : i64}> : (tensor<2x3x!pphlo.secret<!fxp.fixed<64, 36>>>) -> tensor<2x3x!pphlo.secret<!fxp.fixed<64, 18>>>
// FXP64-NEXT:    [[E:%.*]] = "pphlo.exponential"([[T]])
// FXP64-NEXT:    [[S:%.*]] = "pphlo.add"([[E]], [[T]])
// FXP64-NEXT:    func.return [[S]] : tensor<2x3x!pphlo.secret<!fxp.fixed<64, 18>>>
// FXP64-NOT:     fxp.cast

// The Ditto policy: the matmul in the 32-bit ring, exp in the 64-bit ring. The
// upcast is made once and shared by exp and the add (which follows its widest operand).
// DITTO-LABEL: func.func @layer
// DITTO-SAME:    (%arg0: tensor<2x4x!pphlo.secret<!fxp.fixed<32, 10>>>, %arg1: tensor<4x3x!pphlo.secret<!fxp.fixed<32, 10>>>) -> tensor<2x3x!pphlo.secret<!fxp.fixed<64, 18>>>
// DITTO-NEXT:    [[P:%.*]] = "pphlo.dot"(%arg0, %arg1) : ({{.*}}) -> tensor<2x3x!pphlo.secret<!fxp.fixed<32, 20>>>
// DITTO-NEXT:    [[T:%.*]] = "fxp.truncate"([[P]]) <{bits = 10 : i64}> : (tensor<2x3x!pphlo.secret<!fxp.fixed<32, 20>>>) -> tensor<2x3x!pphlo.secret<!fxp.fixed<32, 10>>>
// DITTO-NEXT:    [[UP:%.*]] = "fxp.cast"([[T]]) : (tensor<2x3x!pphlo.secret<!fxp.fixed<32, 10>>>) -> tensor<2x3x!pphlo.secret<!fxp.fixed<64, 18>>>
// DITTO-NEXT:    [[E:%.*]] = "pphlo.exponential"([[UP]])
// DITTO-NEXT:    [[S:%.*]] = "pphlo.add"([[E]], [[UP]]) : ({{.*}}) -> tensor<2x3x!pphlo.secret<!fxp.fixed<64, 18>>>
// DITTO-NEXT:    func.return [[S]]

// A policy file can move exp into the small ring: no conversion at all.
// FILE-LABEL: func.func @layer
// FILE:         "pphlo.exponential"({{.*}}) : (tensor<2x3x!pphlo.secret<!fxp.fixed<32, 10>>>) -> tensor<2x3x!pphlo.secret<!fxp.fixed<32, 10>>>
// FILE-NOT:     fxp.cast
func.func @layer(%arg0: tensor<2x4x!pphlo.secret<f32>>, %arg1: tensor<4x3x!pphlo.secret<f32>>) -> tensor<2x3x!pphlo.secret<f32>> {
  %0 = "pphlo.dot"(%arg0, %arg1) : (tensor<2x4x!pphlo.secret<f32>>, tensor<4x3x!pphlo.secret<f32>>) -> tensor<2x3x!pphlo.secret<f32>>
  %1 = "pphlo.exponential"(%0) : (tensor<2x3x!pphlo.secret<f32>>) -> tensor<2x3x!pphlo.secret<f32>>
  %2 = "pphlo.add"(%1, %0) : (tensor<2x3x!pphlo.secret<f32>>, tensor<2x3x!pphlo.secret<f32>>) -> tensor<2x3x!pphlo.secret<f32>>
  func.return %2 : tensor<2x3x!pphlo.secret<f32>>
}

// -----

// Reductions compute in the large ring under `ditto`, region included; public
// constants are re-encoded in each ring that uses them, never cast.
// FILE-LABEL:  func.func @row_sum
// DITTO-LABEL: func.func @row_sum
// DITTO:         [[UP:%.*]] = "fxp.cast"(%arg0) : (tensor<2x3x!pphlo.secret<!fxp.fixed<32, 10>>>) -> tensor<2x3x!pphlo.secret<!fxp.fixed<64, 18>>>
// DITTO:         [[ZERO:%.*]] = "pphlo.constant"() <{value = dense<0.000000e+00> : tensor<f32>}> : () -> tensor<!fxp.fixed<64, 18>>
// DITTO-NEXT:    "pphlo.reduce"([[UP]], [[ZERO]]) <{dimensions = array<i64: 1>}> ({
// DITTO-NEXT:    ^{{.*}}(%{{.*}}: tensor<!pphlo.secret<!fxp.fixed<64, 18>>>, %{{.*}}: tensor<!pphlo.secret<!fxp.fixed<64, 18>>>):
// DITTO-NEXT:      "pphlo.add"
// DITTO-NEXT:      "pphlo.return"
// DITTO-NEXT:    }) : (tensor<2x3x!pphlo.secret<!fxp.fixed<64, 18>>>, tensor<!fxp.fixed<64, 18>>) -> tensor<2x!pphlo.secret<!fxp.fixed<64, 18>>>
// DITTO-NOT:     fxp.cast{{.*}}tensor<f32>
func.func @row_sum(%arg0: tensor<2x3x!pphlo.secret<f32>>, %w: tensor<3x3x!pphlo.secret<f32>>) -> (tensor<2x!pphlo.secret<f32>>, tensor<2x3x!pphlo.secret<f32>>) {
  %m = "pphlo.dot"(%arg0, %w) : (tensor<2x3x!pphlo.secret<f32>>, tensor<3x3x!pphlo.secret<f32>>) -> tensor<2x3x!pphlo.secret<f32>>
  %0 = "pphlo.constant"() <{value = dense<0.0> : tensor<f32>}> : () -> tensor<f32>
  %1 = "pphlo.reduce"(%arg0, %0) <{dimensions = array<i64: 1>}> ({
  ^bb0(%a: tensor<!pphlo.secret<f32>>, %b: tensor<!pphlo.secret<f32>>):
    %2 = "pphlo.add"(%a, %b) : (tensor<!pphlo.secret<f32>>, tensor<!pphlo.secret<f32>>) -> tensor<!pphlo.secret<f32>>
    "pphlo.return"(%2) : (tensor<!pphlo.secret<f32>>) -> ()
  }) : (tensor<2x3x!pphlo.secret<f32>>, tensor<f32>) -> tensor<2x!pphlo.secret<f32>>
  func.return %1, %m : tensor<2x!pphlo.secret<f32>>, tensor<2x3x!pphlo.secret<f32>>
}

// -----

// Comparisons run in the large ring; the boolean they yield is cast down to the
// ring of the values a select chooses between (a downcast is local).
// DITTO-LABEL: func.func @relu_select
// DITTO:         [[LT:%.*]] = "pphlo.less"({{.*}}) : ({{.*}}) -> tensor<4x!pphlo.secret<!fxp.int<64, 1>>>
// DITTO-NEXT:    [[DOWN:%.*]] = "fxp.cast"([[LT]]) : (tensor<4x!pphlo.secret<!fxp.int<64, 1>>>) -> tensor<4x!pphlo.secret<!fxp.int<32, 1>>>
// DITTO:         "pphlo.select"([[DOWN]], {{.*}}) : (tensor<4x!pphlo.secret<!fxp.int<32, 1>>>, tensor<4x!fxp.fixed<32, 10>>, tensor<4x!pphlo.secret<!fxp.fixed<32, 10>>>) -> tensor<4x!pphlo.secret<!fxp.fixed<32, 10>>>
func.func @relu_select(%x: tensor<4x!pphlo.secret<f32>>, %w: tensor<4x4x!pphlo.secret<f32>>) -> tensor<4x!pphlo.secret<f32>> {
  %y = "pphlo.dot"(%w, %x) : (tensor<4x4x!pphlo.secret<f32>>, tensor<4x!pphlo.secret<f32>>) -> tensor<4x!pphlo.secret<f32>>
  %zero = "pphlo.constant"() <{value = dense<0.0> : tensor<4xf32>}> : () -> tensor<4xf32>
  %lt = "pphlo.less"(%y, %zero) : (tensor<4x!pphlo.secret<f32>>, tensor<4xf32>) -> tensor<4x!pphlo.secret<i1>>
  %r = "pphlo.select"(%lt, %zero, %y) : (tensor<4x!pphlo.secret<i1>>, tensor<4xf32>, tensor<4x!pphlo.secret<f32>>) -> tensor<4x!pphlo.secret<f32>>
  func.return %r : tensor<4x!pphlo.secret<f32>>
}

// -----

// A saturated mask constant (2^22 in the 64-bit ring) is re-saturated for the
// 32-bit ring with 8 fraction bits (2^11), where 2^22 would wrap around.
// DITTO-LABEL: func.func @mask
// DITTO:         "pphlo.constant"() <{value = dense<-1.024000e+03> : tensor<2xf32>}> : () -> tensor<2x!fxp.fixed<32, 10>>
func.func @mask(%x: tensor<2x2x!pphlo.secret<f32>>, %w: tensor<2x2x!pphlo.secret<f32>>) -> tensor<2x!pphlo.secret<f32>> {
  %y = "pphlo.dot"(%x, %w) : (tensor<2x2x!pphlo.secret<f32>>, tensor<2x2x!pphlo.secret<f32>>) -> tensor<2x2x!pphlo.secret<f32>>
  %row = "pphlo.slice"(%y) <{start_indices = array<i64: 0, 0>, limit_indices = array<i64: 1, 2>, strides = array<i64: 1, 1>}> : (tensor<2x2x!pphlo.secret<f32>>) -> tensor<1x2x!pphlo.secret<f32>>
  %v = "pphlo.reshape"(%row) : (tensor<1x2x!pphlo.secret<f32>>) -> tensor<2x!pphlo.secret<f32>>
  %m = "pphlo.constant"() <{value = dense<-4194304.0> : tensor<2xf32>}> : () -> tensor<2xf32>
  %r = "pphlo.add"(%v, %m) : (tensor<2x!pphlo.secret<f32>>, tensor<2xf32>) -> tensor<2x!pphlo.secret<f32>>
  func.return %r : tensor<2x!pphlo.secret<f32>>
}

// -----

// Policy-file rules can match JAX's op names in locations (here "attention/" -> the tiny ring).
// FILE-LABEL: func.func @located
// FILE:         "pphlo.dot"(%arg0, %arg1) : ({{.*}}!fxp.fixed<32, 6>{{.*}}) -> tensor<2x2x!pphlo.secret<!fxp.fixed<32, 12>>>
// FILE-NEXT:    "fxp.truncate"({{.*}}) <{bits = 6 : i64}>
// FILE:         "pphlo.dot"({{.*}}) : ({{.*}}) -> tensor<2x2x!pphlo.secret<!fxp.fixed<32, 20>>>
func.func @located(%arg0: tensor<2x2x!pphlo.secret<f32>>, %arg1: tensor<2x2x!pphlo.secret<f32>>) -> tensor<2x2x!pphlo.secret<f32>> {
  %0 = "pphlo.dot"(%arg0, %arg1) : (tensor<2x2x!pphlo.secret<f32>>, tensor<2x2x!pphlo.secret<f32>>) -> tensor<2x2x!pphlo.secret<f32>> loc("jit(f)/attention/dot_general"("model.py":3:4))
  %1 = "pphlo.dot"(%0, %arg1) : (tensor<2x2x!pphlo.secret<f32>>, tensor<2x2x!pphlo.secret<f32>>) -> tensor<2x2x!pphlo.secret<f32>> loc("jit(f)/mlp/dot_general"("model.py":5:4))
  func.return %1 : tensor<2x2x!pphlo.secret<f32>>
}

// -----

// A factor of integers stays an integer: SPU multiplies without truncating (exact, free).
// A non-integer factor, or integers that also feed an add, are fixed point and truncated.
// FXP64-LABEL: func.func @integer_factors
// FXP64-NEXT:    [[C:%.*]] = "pphlo.constant"() <{value = dense<3> : tensor<i32>}> : () -> tensor<!fxp.int<64, 32>>
// FXP64-NEXT:    [[B:%.*]] = "pphlo.broadcast"([[C]]) {{.*}} -> tensor<4x!fxp.int<64, 32>>
// FXP64-NEXT:    [[M:%.*]] = "pphlo.multiply"(%arg0, [[B]]) : (tensor<4x!pphlo.secret<!fxp.fixed<64, 18>>>, tensor<4x!fxp.int<64, 32>>) -> tensor<4x!pphlo.secret<!fxp.fixed<64, 18>>>
// FXP64-NOT:     fxp.truncate
// FXP64:         "pphlo.multiply"(%arg0, %{{.*}}) : ({{.*}}, tensor<4x!fxp.fixed<64, 18>>) -> tensor<4x!pphlo.secret<!fxp.fixed<64, 36>>>
// FXP64-NEXT:    "fxp.truncate"
// FXP64:         "pphlo.multiply"(%arg0, %{{.*}}) : ({{.*}}, tensor<4x!fxp.fixed<64, 18>>) -> tensor<4x!pphlo.secret<!fxp.fixed<64, 36>>>
// FXP64-NEXT:    "fxp.truncate"
// FXP64:         func.return
func.func @integer_factors(%arg0: tensor<4x!pphlo.secret<f32>>) -> (tensor<4x!pphlo.secret<f32>>, tensor<4x!pphlo.secret<f32>>, tensor<4x!pphlo.secret<f32>>, tensor<4x!pphlo.secret<f32>>) {
  %c = "pphlo.constant"() <{value = dense<3.0> : tensor<f32>}> : () -> tensor<f32>
  %b = "pphlo.broadcast"(%c) <{broadcast_dimensions = array<i64>}> : (tensor<f32>) -> tensor<4xf32>
  %0 = "pphlo.multiply"(%arg0, %b) : (tensor<4x!pphlo.secret<f32>>, tensor<4xf32>) -> tensor<4x!pphlo.secret<f32>>
  %h = "pphlo.constant"() <{value = dense<1.5> : tensor<4xf32>}> : () -> tensor<4xf32>
  %1 = "pphlo.multiply"(%arg0, %h) : (tensor<4x!pphlo.secret<f32>>, tensor<4xf32>) -> tensor<4x!pphlo.secret<f32>>
  %k = "pphlo.constant"() <{value = dense<5.0> : tensor<f32>}> : () -> tensor<f32>
  %kb = "pphlo.broadcast"(%k) <{broadcast_dimensions = array<i64>}> : (tensor<f32>) -> tensor<4xf32>
  %2 = "pphlo.multiply"(%arg0, %kb) : (tensor<4x!pphlo.secret<f32>>, tensor<4xf32>) -> tensor<4x!pphlo.secret<f32>>
  %3 = "pphlo.add"(%arg0, %kb) : (tensor<4x!pphlo.secret<f32>>, tensor<4xf32>) -> tensor<4x!pphlo.secret<f32>>
  func.return %0, %1, %2, %3 : tensor<4x!pphlo.secret<f32>>, tensor<4x!pphlo.secret<f32>>, tensor<4x!pphlo.secret<f32>>, tensor<4x!pphlo.secret<f32>>
}

// -----

// An op marked ditto.precise (an exact function's expansion) computes in the policy's large ring; the same op
// unmarked follows its operands (here the matmul's small ring).
// DITTO-LABEL: func.func @precise
// DITTO:         [[T:%.*]] = "fxp.truncate"({{.*}}) <{bits = 10 : i64}> {{.*}} -> tensor<2x3x!pphlo.secret<!fxp.fixed<32, 10>>>
// DITTO:         [[UP:%.*]] = "fxp.cast"([[T]]) : (tensor<2x3x!pphlo.secret<!fxp.fixed<32, 10>>>) -> tensor<2x3x!pphlo.secret<!fxp.fixed<64, 18>>>
// DITTO-NEXT:    "pphlo.multiply"([[UP]], [[UP]]) {ditto.precise} : {{.*}} -> tensor<2x3x!pphlo.secret<!fxp.fixed<64, 36>>>
// DITTO:         "pphlo.multiply"([[T]], [[T]]) : {{.*}} -> tensor<2x3x!pphlo.secret<!fxp.fixed<32, 20>>>
func.func @precise(%arg0: tensor<2x4x!pphlo.secret<f32>>, %arg1: tensor<4x3x!pphlo.secret<f32>>) -> (tensor<2x3x!pphlo.secret<f32>>, tensor<2x3x!pphlo.secret<f32>>) {
  %0 = "pphlo.dot"(%arg0, %arg1) : (tensor<2x4x!pphlo.secret<f32>>, tensor<4x3x!pphlo.secret<f32>>) -> tensor<2x3x!pphlo.secret<f32>>
  %1 = "pphlo.multiply"(%0, %0) {ditto.precise} : (tensor<2x3x!pphlo.secret<f32>>, tensor<2x3x!pphlo.secret<f32>>) -> tensor<2x3x!pphlo.secret<f32>>
  %2 = "pphlo.multiply"(%0, %0) : (tensor<2x3x!pphlo.secret<f32>>, tensor<2x3x!pphlo.secret<f32>>) -> tensor<2x3x!pphlo.secret<f32>>
  func.return %1, %2 : tensor<2x3x!pphlo.secret<f32>>, tensor<2x3x!pphlo.secret<f32>>
}
