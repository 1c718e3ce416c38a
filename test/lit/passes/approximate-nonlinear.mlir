// RUN: ditto-opt %s -p 'approximate-nonlinear{gelu="quad" softmax="ditto"}' --split-input-file | filecheck %s --check-prefix=DITTO
// RUN: ditto-opt %s -p 'approximate-nonlinear{gelu="puma" softmax="2quad"}' --split-input-file | filecheck %s --check-prefix=PUMA
// RUN: ditto-opt %s -p 'approximate-nonlinear' --split-input-file | filecheck %s --check-prefix=EXACT
// RUN: ditto-opt %s -p 'approximate-nonlinear{gelu="relu-fit" softmax="exp-fit"}' --split-input-file | filecheck %s --check-prefix=FIT

// GeLU as jax.nn.gelu(approximate=False) emits it: 0.5 x erfc(-x / sqrt 2).
// DITTO-LABEL: func.func @gelu_erfc
// DITTO-NEXT:    [[A:%.*]] = stablehlo.constant dense<1.250000e-01> : tensor<f32>
// DITTO-NEXT:    [[AB:%.*]] = stablehlo.broadcast_in_dim [[A]], dims = [] : (tensor<f32>) -> tensor<4xf32>
// DITTO-NEXT:    [[B:%.*]] = stablehlo.multiply [[AB]], %x
// DITTO-NEXT:    [[C:%.*]] = stablehlo.constant dense<2.500000e-01>
// DITTO-NEXT:    [[CB:%.*]] = stablehlo.broadcast_in_dim [[C]]
// DITTO-NEXT:    [[D:%.*]] = stablehlo.add [[B]], [[CB]]
// DITTO-NEXT:    [[E:%.*]] = stablehlo.multiply [[D]], %x
// DITTO-NEXT:    [[F:%.*]] = stablehlo.constant dense<5.000000e-01>
// DITTO-NEXT:    [[FB:%.*]] = stablehlo.broadcast_in_dim [[F]]
// DITTO-NEXT:    [[G:%.*]] = stablehlo.add [[E]], [[FB]]
// DITTO-NEXT:    func.return [[G]]
// PUMA-LABEL: func.func @gelu_erfc
// PUMA-NOT:      chlo.erfc
// PUMA-COUNT-3:  "stablehlo.compare"
// PUMA-COUNT-3:  stablehlo.select
// PUMA-NEXT:     func.return
// EXACT-LABEL: func.func @gelu_erfc
// EXACT:         chlo.erfc
// relu-fit: p(v) = -m(g v) with m monic of degree 4, s = x g / 3.2; (s + |s|) c - (-m(min(|s|, g))):
// three products, none by a constant inside the polynomial.
// FIT-LABEL: func.func @gelu_erfc
// FIT-NOT:       chlo.erfc
// FIT:           [[S:%.*]] = stablehlo.multiply %x, {{%.*}}
// FIT-NEXT:      [[A:%.*]] = stablehlo.abs [[S]]
// FIT:           [[V:%.*]] = stablehlo.minimum [[A]], {{%.*}}
// FIT:           stablehlo.add [[V]], {{%.*}}
// FIT-COUNT-3:   stablehlo.multiply {{%.*}}, [[V]]
// FIT:           [[M:%.*]] = stablehlo.add {{%.*}}, {{%.*}}
// FIT-NEXT:      [[R:%.*]] = stablehlo.add [[S]], [[A]]
// FIT:           [[H:%.*]] = stablehlo.multiply [[R]], {{%.*}}
// FIT-NEXT:      stablehlo.add [[H]], [[M]]
// FIT-NEXT:      func.return
func.func @gelu_erfc(%x: tensor<4xf32>) -> tensor<4xf32> {
  %half = "stablehlo.constant"() <{value = dense<5.000000e-01> : tensor<4xf32>}> : () -> tensor<4xf32>
  %0 = "stablehlo.multiply"(%half, %x) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %1 = "stablehlo.negate"(%x) : (tensor<4xf32>) -> tensor<4xf32>
  %c = "stablehlo.constant"() <{value = dense<0.707106769> : tensor<4xf32>}> : () -> tensor<4xf32>
  %2 = "stablehlo.multiply"(%1, %c) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %3 = "chlo.erfc"(%2) : (tensor<4xf32>) -> tensor<4xf32>
  %4 = "stablehlo.multiply"(%0, %3) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  func.return %4 : tensor<4xf32>
}

// -----

// The tanh form in another op order: x * (0.5 + 0.5 tanh(c (x + 0.044715 x^3))), with
// broadcast scalar constants. The GeLU's input is itself computed (a bias add).
// DITTO-LABEL: func.func @gelu_tanh_reordered
// DITTO:         [[X:%.*]] = stablehlo.add %arg0, %arg1
// DITTO-NOT:     stablehlo.tanh
// DITTO:         stablehlo.multiply {{.*}}, [[X]]
// DITTO-NOT:     stablehlo.tanh
// DITTO:         func.return
// EXACT-LABEL: func.func @gelu_tanh_reordered
// EXACT:         stablehlo.tanh
func.func @gelu_tanh_reordered(%arg0: tensor<2x3xf32>, %arg1: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %x = "stablehlo.add"(%arg0, %arg1) : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  %s = "stablehlo.constant"() <{value = dense<4.471500e-02> : tensor<f32>}> : () -> tensor<f32>
  %sb = "stablehlo.broadcast_in_dim"(%s) <{broadcast_dimensions = array<i64>}> : (tensor<f32>) -> tensor<2x3xf32>
  %x2 = "stablehlo.multiply"(%x, %x) : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  %x3 = "stablehlo.multiply"(%x, %x2) : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  %t0 = "stablehlo.multiply"(%x3, %sb) : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  %t1 = "stablehlo.add"(%t0, %x) : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  %k = "stablehlo.constant"() <{value = dense<0.797884583> : tensor<f32>}> : () -> tensor<f32>
  %kb = "stablehlo.broadcast_in_dim"(%k) <{broadcast_dimensions = array<i64>}> : (tensor<f32>) -> tensor<2x3xf32>
  %t2 = "stablehlo.multiply"(%kb, %t1) : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  %t3 = "stablehlo.tanh"(%t2) : (tensor<2x3xf32>) -> tensor<2x3xf32>
  %h = "stablehlo.constant"() <{value = dense<5.000000e-01> : tensor<2x3xf32>}> : () -> tensor<2x3xf32>
  %t4 = "stablehlo.multiply"(%t3, %h) : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  %t5 = "stablehlo.add"(%h, %t4) : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  %y = "stablehlo.multiply"(%t5, %x) : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  func.return %y : tensor<2x3xf32>
}

// -----

// Not a GeLU: erf(x) without the 1/sqrt(2) is a different function; left alone.
// DITTO-LABEL: func.func @not_gelu
// DITTO:         chlo.erf
// PUMA-LABEL: func.func @not_gelu
// PUMA-NOT:      "stablehlo.compare"
// PUMA:          chlo.erf
func.func @not_gelu(%x: tensor<4xf32>) -> tensor<4xf32> {
  %half = "stablehlo.constant"() <{value = dense<5.000000e-01> : tensor<4xf32>}> : () -> tensor<4xf32>
  %one = "stablehlo.constant"() <{value = dense<1.000000e+00> : tensor<4xf32>}> : () -> tensor<4xf32>
  %0 = "chlo.erf"(%x) : (tensor<4xf32>) -> tensor<4xf32>
  %1 = "stablehlo.add"(%one, %0) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %2 = "stablehlo.multiply"(%half, %x) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %3 = "stablehlo.multiply"(%2, %1) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  func.return %3 : tensor<4xf32>
}

// -----

// Softmax as jax.nn.softmax emits it (max subtraction, keepdims broadcasts).
// DITTO-LABEL: func.func @softmax_jax
// DITTO:         [[M:%.*]] = stablehlo.reduce(%x init: {{%.*}}) across dimensions = [1]
// DITTO:           stablehlo.maximum
// DITTO:         [[MB:%.*]] = stablehlo.broadcast_in_dim [[M]], dims = [0]
// DITTO-NEXT:    [[D:%.*]] = stablehlo.subtract %x, [[MB]]
// DITTO-NEXT:    stablehlo.constant dense<-1.400000e+01>
// DITTO-NEXT:    [[FLOOR:%.*]] = stablehlo.broadcast_in_dim
// DITTO-NEXT:    [[LOW:%.*]] = "stablehlo.compare"([[D]], [[FLOOR]]) <{comparison_direction = #stablehlo<comparison_direction LT>}>
// DITTO-NEXT:    stablehlo.constant dense<-1.400000e+01>
// DITTO-NEXT:    [[FLOOR2:%.*]] = stablehlo.broadcast_in_dim
// DITTO-NEXT:    [[IN:%.*]] = stablehlo.select [[LOW]], [[FLOOR2]], [[D]]
// DITTO-NEXT:    [[E:%.*]] = stablehlo.exponential [[IN]]
// DITTO-NEXT:    stablehlo.constant dense<0.000000e+00>
// DITTO-NEXT:    [[ZERO:%.*]] = stablehlo.broadcast_in_dim
// DITTO-NEXT:    [[KEPT:%.*]] = stablehlo.select [[LOW]], [[ZERO]], [[E]]
// DITTO:         [[S:%.*]] = stablehlo.reduce([[KEPT]] init: {{%.*}}) across dimensions = [1]
// DITTO:           stablehlo.add
// DITTO:         [[SB:%.*]] = stablehlo.broadcast_in_dim [[S]], dims = [0]
// DITTO-NEXT:    [[Y:%.*]] = stablehlo.divide [[KEPT]], [[SB]]
// DITTO-NEXT:    func.return [[Y]]
// PUMA-LABEL: func.func @softmax_jax
// PUMA-NOT:      stablehlo.exponential
// PUMA:          stablehlo.constant dense<5.000000e+00>
// PUMA-NEXT:     [[C:%.*]] = stablehlo.broadcast_in_dim
// PUMA-NEXT:     [[T:%.*]] = stablehlo.add %x, [[C]]
// PUMA-NEXT:     stablehlo.constant dense<0.000000e+00>
// PUMA-NEXT:     [[Z:%.*]] = stablehlo.broadcast_in_dim
// PUMA-NEXT:     [[R:%.*]] = stablehlo.maximum [[T]], [[Z]]
// PUMA-NEXT:     [[Q:%.*]] = stablehlo.multiply [[R]], [[R]]
// PUMA:          stablehlo.reduce([[Q]] init: {{%.*}}) across dimensions = [1]
// PUMA:            stablehlo.add
// PUMA-NOT:      stablehlo.exponential
// PUMA:          stablehlo.divide [[Q]]
// EXACT-LABEL: func.func @softmax_jax
// EXACT:         stablehlo.exponential
// exp-fit: the max-subtracted input floored at -6 and scaled, then m(t)^2 for a monic cubic m: no exp, no
// comparison but the floor, no product by a constant but the scale.
// FIT-LABEL: func.func @softmax_jax
// FIT-NOT:       stablehlo.exponential
// FIT:           [[D:%.*]] = stablehlo.subtract %x
// FIT-NEXT:      stablehlo.constant dense<-6.000000e+00>
// FIT-NEXT:      [[FB:%.*]] = stablehlo.broadcast_in_dim
// FIT-NEXT:      [[F:%.*]] = stablehlo.maximum [[D]], [[FB]]
// FIT:           [[T:%.*]] = stablehlo.multiply [[F]], {{%.*}}
// FIT:           stablehlo.add [[T]], {{%.*}}
// FIT-COUNT-2:   stablehlo.multiply {{%.*}}, [[T]]
// FIT:           [[Q:%.*]] = stablehlo.add
// FIT-NEXT:      [[Q2:%.*]] = stablehlo.multiply [[Q]], [[Q]]
// FIT-NOT:       stablehlo.compare
// FIT:           stablehlo.divide [[Q2]]
func.func @softmax_jax(%x: tensor<2x4xf32>) -> tensor<2x4xf32> {
  %ninf = "stablehlo.constant"() <{value = dense<0xFF800000> : tensor<f32>}> : () -> tensor<f32>
  %0 = "stablehlo.reduce"(%x, %ninf) <{dimensions = array<i64: 1>}> ({
  ^bb0(%a: tensor<f32>, %b: tensor<f32>):
    %m = "stablehlo.maximum"(%a, %b) : (tensor<f32>, tensor<f32>) -> tensor<f32>
    "stablehlo.return"(%m) : (tensor<f32>) -> ()
  }) : (tensor<2x4xf32>, tensor<f32>) -> tensor<2xf32>
  %1 = "stablehlo.broadcast_in_dim"(%0) <{broadcast_dimensions = array<i64: 0>}> : (tensor<2xf32>) -> tensor<2x1xf32>
  %2 = "stablehlo.broadcast_in_dim"(%1) <{broadcast_dimensions = array<i64: 0, 1>}> : (tensor<2x1xf32>) -> tensor<2x4xf32>
  %3 = "stablehlo.subtract"(%x, %2) : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
  %4 = "stablehlo.exponential"(%3) : (tensor<2x4xf32>) -> tensor<2x4xf32>
  %zero = "stablehlo.constant"() <{value = dense<0.000000e+00> : tensor<f32>}> : () -> tensor<f32>
  %5 = "stablehlo.reduce"(%4, %zero) <{dimensions = array<i64: 1>}> ({
  ^bb0(%a: tensor<f32>, %b: tensor<f32>):
    %s = "stablehlo.add"(%a, %b) : (tensor<f32>, tensor<f32>) -> tensor<f32>
    "stablehlo.return"(%s) : (tensor<f32>) -> ()
  }) : (tensor<2x4xf32>, tensor<f32>) -> tensor<2xf32>
  %6 = "stablehlo.reshape"(%5) : (tensor<2xf32>) -> tensor<2x1xf32>
  %7 = "stablehlo.broadcast_in_dim"(%6) <{broadcast_dimensions = array<i64: 0, 1>}> : (tensor<2x1xf32>) -> tensor<2x4xf32>
  %8 = "stablehlo.divide"(%4, %7) : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
  func.return %8 : tensor<2x4xf32>
}

// -----

// A hand-written softmax over the first axis, without max subtraction.
// DITTO-LABEL: func.func @softmax_by_hand
// DITTO:         stablehlo.reduce(%x init: {{%.*}}) across dimensions = [0]
// DITTO:           stablehlo.maximum
// DITTO:         comparison_direction LT
// DITTO:         stablehlo.reduce({{%.*}} init: {{%.*}}) across dimensions = [0]
// DITTO:           stablehlo.add
func.func @softmax_by_hand(%x: tensor<3x2xf32>) -> tensor<3x2xf32> {
  %e = "stablehlo.exponential"(%x) : (tensor<3x2xf32>) -> tensor<3x2xf32>
  %zero = "stablehlo.constant"() <{value = dense<0.000000e+00> : tensor<f32>}> : () -> tensor<f32>
  %s = "stablehlo.reduce"(%e, %zero) <{dimensions = array<i64: 0>}> ({
  ^bb0(%a: tensor<f32>, %b: tensor<f32>):
    %r = "stablehlo.add"(%a, %b) : (tensor<f32>, tensor<f32>) -> tensor<f32>
    "stablehlo.return"(%r) : (tensor<f32>) -> ()
  }) : (tensor<3x2xf32>, tensor<f32>) -> tensor<2xf32>
  %sb = "stablehlo.broadcast_in_dim"(%s) <{broadcast_dimensions = array<i64: 1>}> : (tensor<2xf32>) -> tensor<3x2xf32>
  %y = "stablehlo.divide"(%e, %sb) : (tensor<3x2xf32>, tensor<3x2xf32>) -> tensor<3x2xf32>
  func.return %y : tensor<3x2xf32>
}

// -----

// Not a softmax: the row sum is shifted by one. Left alone.
// DITTO-LABEL: func.func @not_softmax
// DITTO-NOT:     "stablehlo.compare"
// DITTO:         stablehlo.exponential %x
// PUMA-LABEL: func.func @not_softmax
// PUMA:          stablehlo.exponential %x
func.func @not_softmax(%x: tensor<3x2xf32>) -> tensor<3x2xf32> {
  %e = "stablehlo.exponential"(%x) : (tensor<3x2xf32>) -> tensor<3x2xf32>
  %zero = "stablehlo.constant"() <{value = dense<0.000000e+00> : tensor<f32>}> : () -> tensor<f32>
  %s = "stablehlo.reduce"(%e, %zero) <{dimensions = array<i64: 0>}> ({
  ^bb0(%a: tensor<f32>, %b: tensor<f32>):
    %r = "stablehlo.add"(%a, %b) : (tensor<f32>, tensor<f32>) -> tensor<f32>
    "stablehlo.return"(%r) : (tensor<f32>) -> ()
  }) : (tensor<3x2xf32>, tensor<f32>) -> tensor<2xf32>
  %one = "stablehlo.constant"() <{value = dense<1.000000e+00> : tensor<2xf32>}> : () -> tensor<2xf32>
  %s1 = "stablehlo.add"(%s, %one) : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
  %sb = "stablehlo.broadcast_in_dim"(%s1) <{broadcast_dimensions = array<i64: 1>}> : (tensor<2xf32>) -> tensor<3x2xf32>
  %y = "stablehlo.divide"(%e, %sb) : (tensor<3x2xf32>, tensor<3x2xf32>) -> tensor<3x2xf32>
  func.return %y : tensor<3x2xf32>
}
