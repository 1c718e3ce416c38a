// RUN: ditto-opt %s -p bounded-exp --split-input-file --print-debuginfo | filecheck %s
// RUN: ditto-opt %s -p 'bounded-exp{tolerance=0.000000001}' --split-input-file | filecheck %s --check-prefix=TIGHT
// RUN: ditto-opt %s -p bounded-exp,annotate-rings{policy=ditto} --split-input-file | filecheck %s --check-prefix=RINGS
// RUN: ditto-opt %s -p annotate-rings,bounded-exp --split-input-file --verify-diagnostics | filecheck %s --check-prefix=DIAG
// RUN: not ditto-opt %s -p 'bounded-exp{tolerance=0.5}' 2>&1 | filecheck %s --check-prefix=TOLERANCE

// A Softmax as jax.nn.softmax exports it, floored as legalize-to-pphlo floors it:
// x - rowmax(x) <= 0 and max(., -13.17) >= -13.17, so e^x is p(x)^8 with a cubic p.
// CHECK-LABEL: func.func @softmax_exp
// CHECK:         %d = "pphlo.maximum"(%c, %fb)
// CHECK-NOT:     pphlo.exponential
// CHECK:         [[P:%.*]] = "pphlo.multiply"(%{{.*}}, %d) {ditto.precise} : (tensor<2x4xf32>, tensor<2x4x!pphlo.secret<f32>>)
// CHECK:         "pphlo.add"
// CHECK:         "pphlo.multiply"(%{{.*}}, %d) {ditto.precise}
// CHECK:         "pphlo.add"
// CHECK:         "pphlo.multiply"(%{{.*}}, %d) {ditto.precise}
// CHECK:         [[Q:%.*]] = "pphlo.add"
// CHECK-NEXT:    [[S1:%.*]] = "pphlo.multiply"([[Q]], [[Q]]) {ditto.precise} : {{.*}} loc("jit(f)/softmax/exp"("model.py":3:9))
// CHECK-NEXT:    [[S2:%.*]] = "pphlo.multiply"([[S1]], [[S1]]) {ditto.precise}
// CHECK-NEXT:    [[S3:%.*]] = "pphlo.multiply"([[S2]], [[S2]]) {ditto.precise}
// CHECK-NEXT:    func.return [[S3]] : tensor<2x4x!pphlo.secret<f32>>
// TIGHT-LABEL: func.func @softmax_exp
// TIGHT:         "pphlo.exponential"
// The polynomial is precise: under `ditto` it stays in the 64-bit ring, as SPU's exp did.
// RINGS-LABEL: func.func @softmax_exp
// RINGS-NOT:     pphlo.exponential
// RINGS-NOT:     fxp.fixed<32
// RINGS:         "pphlo.multiply"([[R:%.*]], [[R]]) {ditto.precise} : (tensor<2x4x!pphlo.secret<!fxp.fixed<64, 18>>>, tensor<2x4x!pphlo.secret<!fxp.fixed<64, 18>>>)
// DIAG: 'pphlo.constant' has a ring type: bounded-exp runs before annotate-rings
// TOLERANCE: bounded-exp: tolerance must be between 1e-9 and 0.1, not 0.5
func.func @softmax_exp(%x: tensor<2x4x!pphlo.secret<f32>>) -> tensor<2x4x!pphlo.secret<f32>> {
  %init = "pphlo.constant"() <{value = dense<-32768.0> : tensor<f32>}> : () -> tensor<f32>
  %m = "pphlo.reduce"(%x, %init) <{dimensions = array<i64: 1>}> ({
  ^bb0(%a: tensor<!pphlo.secret<f32>>, %b: tensor<!pphlo.secret<f32>>):
    %r = "pphlo.maximum"(%a, %b) : (tensor<!pphlo.secret<f32>>, tensor<!pphlo.secret<f32>>) -> tensor<!pphlo.secret<f32>>
    "pphlo.return"(%r) : (tensor<!pphlo.secret<f32>>) -> ()
  }) : (tensor<2x4x!pphlo.secret<f32>>, tensor<f32>) -> tensor<2x!pphlo.secret<f32>>
  %seed = "pphlo.broadcast"(%init) <{broadcast_dimensions = array<i64>}> : (tensor<f32>) -> tensor<2xf32>
  %ms = "pphlo.maximum"(%seed, %m) : (tensor<2xf32>, tensor<2x!pphlo.secret<f32>>) -> tensor<2x!pphlo.secret<f32>>
  %m1 = "pphlo.reshape"(%ms) : (tensor<2x!pphlo.secret<f32>>) -> tensor<2x1x!pphlo.secret<f32>>
  %mb = "pphlo.broadcast"(%m1) <{broadcast_dimensions = array<i64: 0, 1>}> : (tensor<2x1x!pphlo.secret<f32>>) -> tensor<2x4x!pphlo.secret<f32>>
  %c = "pphlo.subtract"(%x, %mb) : (tensor<2x4x!pphlo.secret<f32>>, tensor<2x4x!pphlo.secret<f32>>) -> tensor<2x4x!pphlo.secret<f32>>
  %f = "pphlo.constant"() <{value = dense<-13.169796> : tensor<f32>}> : () -> tensor<f32>
  %fb = "pphlo.broadcast"(%f) <{broadcast_dimensions = array<i64>}> : (tensor<f32>) -> tensor<2x4xf32>
  %d = "pphlo.maximum"(%c, %fb) : (tensor<2x4x!pphlo.secret<f32>>, tensor<2x4xf32>) -> tensor<2x4x!pphlo.secret<f32>>
  %e = "pphlo.exponential"(%d) : (tensor<2x4x!pphlo.secret<f32>>) -> tensor<2x4x!pphlo.secret<f32>> loc("jit(f)/softmax/exp"("model.py":3:9))
  func.return %e : tensor<2x4x!pphlo.secret<f32>>
}

// -----

// Ditto's softmax floors with select(x < -14, -14, x); a last-axis max of a rank-3 value.
// CHECK-LABEL: func.func @select_floor
// CHECK-NOT:     pphlo.exponential
// CHECK:         func.return
func.func @select_floor(%x: tensor<2x3x4x!pphlo.secret<f32>>) -> tensor<2x3x4x!pphlo.secret<f32>> {
  %init = "pphlo.constant"() <{value = dense<-32768.0> : tensor<f32>}> : () -> tensor<f32>
  %m = "pphlo.reduce"(%x, %init) <{dimensions = array<i64: 2>}> ({
  ^bb0(%a: tensor<!pphlo.secret<f32>>, %b: tensor<!pphlo.secret<f32>>):
    %r = "pphlo.maximum"(%b, %a) : (tensor<!pphlo.secret<f32>>, tensor<!pphlo.secret<f32>>) -> tensor<!pphlo.secret<f32>>
    "pphlo.return"(%r) : (tensor<!pphlo.secret<f32>>) -> ()
  }) : (tensor<2x3x4x!pphlo.secret<f32>>, tensor<f32>) -> tensor<2x3x!pphlo.secret<f32>>
  %mb = "pphlo.broadcast"(%m) <{broadcast_dimensions = array<i64: 0, 1>}> : (tensor<2x3x!pphlo.secret<f32>>) -> tensor<2x3x4x!pphlo.secret<f32>>
  %c = "pphlo.subtract"(%x, %mb) : (tensor<2x3x4x!pphlo.secret<f32>>, tensor<2x3x4x!pphlo.secret<f32>>) -> tensor<2x3x4x!pphlo.secret<f32>>
  %f = "pphlo.constant"() <{value = dense<-14.0> : tensor<f32>}> : () -> tensor<f32>
  %fb = "pphlo.broadcast"(%f) <{broadcast_dimensions = array<i64>}> : (tensor<f32>) -> tensor<2x3x4xf32>
  %low = "pphlo.less"(%c, %fb) : (tensor<2x3x4x!pphlo.secret<f32>>, tensor<2x3x4xf32>) -> tensor<2x3x4x!pphlo.secret<i1>>
  %d = "pphlo.select"(%low, %fb, %c) : (tensor<2x3x4x!pphlo.secret<i1>>, tensor<2x3x4xf32>, tensor<2x3x4x!pphlo.secret<f32>>) -> tensor<2x3x4x!pphlo.secret<f32>>
  %e = "pphlo.exponential"(%d) : (tensor<2x3x4x!pphlo.secret<f32>>) -> tensor<2x3x4x!pphlo.secret<f32>>
  func.return %e : tensor<2x3x4x!pphlo.secret<f32>>
}

// -----

// Left alone, each for want of a proof:
// - %a: floored but not bounded above (x itself may be positive);
// - %b: bounded above (x - rowmax) but not floored;
// - %c: floored far below any fit (-100);
// - %d: the row maximum broadcast along the wrong dimension (m[j] is not row j's maximum of x[i, j]);
// - %e: a public exp (no MPC cost).
// CHECK-LABEL: func.func @unproved
// CHECK-COUNT-5: "pphlo.exponential"
func.func @unproved(%x: tensor<4x4x!pphlo.secret<f32>>, %p: tensor<4x4xf32>) -> (tensor<4x4x!pphlo.secret<f32>>, tensor<4x4x!pphlo.secret<f32>>, tensor<4x4x!pphlo.secret<f32>>, tensor<4x4x!pphlo.secret<f32>>, tensor<4x4xf32>) {
  %init = "pphlo.constant"() <{value = dense<-32768.0> : tensor<f32>}> : () -> tensor<f32>
  %m = "pphlo.reduce"(%x, %init) <{dimensions = array<i64: 1>}> ({
  ^bb0(%l: tensor<!pphlo.secret<f32>>, %r: tensor<!pphlo.secret<f32>>):
    %mx = "pphlo.maximum"(%l, %r) : (tensor<!pphlo.secret<f32>>, tensor<!pphlo.secret<f32>>) -> tensor<!pphlo.secret<f32>>
    "pphlo.return"(%mx) : (tensor<!pphlo.secret<f32>>) -> ()
  }) : (tensor<4x4x!pphlo.secret<f32>>, tensor<f32>) -> tensor<4x!pphlo.secret<f32>>
  %rows = "pphlo.broadcast"(%m) <{broadcast_dimensions = array<i64: 0>}> : (tensor<4x!pphlo.secret<f32>>) -> tensor<4x4x!pphlo.secret<f32>>
  %cols = "pphlo.broadcast"(%m) <{broadcast_dimensions = array<i64: 1>}> : (tensor<4x!pphlo.secret<f32>>) -> tensor<4x4x!pphlo.secret<f32>>
  %f = "pphlo.constant"() <{value = dense<-13.0> : tensor<f32>}> : () -> tensor<f32>
  %fb = "pphlo.broadcast"(%f) <{broadcast_dimensions = array<i64>}> : (tensor<f32>) -> tensor<4x4xf32>
  %far = "pphlo.constant"() <{value = dense<-100.0> : tensor<f32>}> : () -> tensor<f32>
  %farb = "pphlo.broadcast"(%far) <{broadcast_dimensions = array<i64>}> : (tensor<f32>) -> tensor<4x4xf32>
  %centred = "pphlo.subtract"(%x, %rows) : (tensor<4x4x!pphlo.secret<f32>>, tensor<4x4x!pphlo.secret<f32>>) -> tensor<4x4x!pphlo.secret<f32>>
  %skewed = "pphlo.subtract"(%x, %cols) : (tensor<4x4x!pphlo.secret<f32>>, tensor<4x4x!pphlo.secret<f32>>) -> tensor<4x4x!pphlo.secret<f32>>
  %xa = "pphlo.maximum"(%x, %fb) : (tensor<4x4x!pphlo.secret<f32>>, tensor<4x4xf32>) -> tensor<4x4x!pphlo.secret<f32>>
  %xc = "pphlo.maximum"(%centred, %farb) : (tensor<4x4x!pphlo.secret<f32>>, tensor<4x4xf32>) -> tensor<4x4x!pphlo.secret<f32>>
  %xd = "pphlo.maximum"(%skewed, %fb) : (tensor<4x4x!pphlo.secret<f32>>, tensor<4x4xf32>) -> tensor<4x4x!pphlo.secret<f32>>
  %pe = "pphlo.maximum"(%p, %fb) : (tensor<4x4xf32>, tensor<4x4xf32>) -> tensor<4x4xf32>
  %a = "pphlo.exponential"(%xa) : (tensor<4x4x!pphlo.secret<f32>>) -> tensor<4x4x!pphlo.secret<f32>>
  %b = "pphlo.exponential"(%centred) : (tensor<4x4x!pphlo.secret<f32>>) -> tensor<4x4x!pphlo.secret<f32>>
  %c = "pphlo.exponential"(%xc) : (tensor<4x4x!pphlo.secret<f32>>) -> tensor<4x4x!pphlo.secret<f32>>
  %d = "pphlo.exponential"(%xd) : (tensor<4x4x!pphlo.secret<f32>>) -> tensor<4x4x!pphlo.secret<f32>>
  %e = "pphlo.exponential"(%pe) : (tensor<4x4xf32>) -> tensor<4x4xf32>
  func.return %a, %b, %c, %d, %e : tensor<4x4x!pphlo.secret<f32>>, tensor<4x4x!pphlo.secret<f32>>, tensor<4x4x!pphlo.secret<f32>>, tensor<4x4x!pphlo.secret<f32>>, tensor<4x4xf32>
}
