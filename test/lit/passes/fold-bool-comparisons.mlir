// RUN: ditto-opt %s -p fold-bool-comparisons --split-input-file --print-debuginfo | filecheck %s
// RUN: ditto-opt %s -p annotate-rings,fold-bool-comparisons --split-input-file --verify-diagnostics | filecheck %s --check-prefix=ERR
// RUN: not ditto-opt %s -p annotate-rings,fold-bool-comparisons --split-input-file 2>&1 | filecheck %s --check-prefix=EXIT

// Flax's causal mask: a boolean, converted to float, compared with 0. The comparison is
// the boolean itself: no B2A, no comparison under MPC; its location stays on the select.
// CHECK-LABEL: func.func @causal_mask
// CHECK-NOT:     pphlo.greater
// CHECK-NOT:     pphlo.convert
// CHECK:         %[[S:.*]] = "pphlo.select"(%b, %{{.*}}, %x) {{.*}} loc("select"("model.py":8:2))
// CHECK-NEXT:    func.return %[[S]]
// ERR: 'pphlo.convert' has a ring type: fold-bool-comparisons runs before annotate-rings
// EXIT: ditto-opt: error: {{.*}}'pphlo.convert' has a ring type: fold-bool-comparisons runs before annotate-rings
func.func @causal_mask(%b: tensor<2x4x!pphlo.secret<i1>>, %x: tensor<2x4x!pphlo.secret<f32>>) -> tensor<2x4x!pphlo.secret<f32>> {
  %f = "pphlo.convert"(%b) : (tensor<2x4x!pphlo.secret<i1>>) -> tensor<2x4x!pphlo.secret<f32>>
  %zero = "pphlo.constant"() <{value = dense<0.0> : tensor<f32>}> : () -> tensor<f32>
  %z = "pphlo.broadcast"(%zero) <{broadcast_dimensions = array<i64>}> : (tensor<f32>) -> tensor<2x4xf32>
  %keep = "pphlo.greater"(%f, %z) : (tensor<2x4x!pphlo.secret<f32>>, tensor<2x4xf32>) -> tensor<2x4x!pphlo.secret<i1>> loc("mask > 0"("model.py":7:2))
  %low = "pphlo.constant"() <{value = dense<-1.0e4> : tensor<2x4xf32>}> : () -> tensor<2x4xf32>
  %r = "pphlo.select"(%keep, %low, %x) : (tensor<2x4x!pphlo.secret<i1>>, tensor<2x4xf32>, tensor<2x4x!pphlo.secret<f32>>) -> tensor<2x4x!pphlo.secret<f32>> loc("select"("model.py":8:2))
  func.return %r : tensor<2x4x!pphlo.secret<f32>>
}

// -----

// Every direction, either operand order, an integer conversion: b, or not(b), which keeps
// the comparison's location.
// CHECK-LABEL: func.func @directions
// CHECK-NEXT:    %[[N1:.*]] = "pphlo.not"(%b) {{.*}} loc("0.5 > f"("model.py":20:2))
// CHECK-NEXT:    %[[N2:.*]] = "pphlo.not"(%b) {{.*}} loc("i == 0"("model.py":21:2))
// CHECK-NEXT:    func.return %b, %b, %b, %[[N1]], %[[N2]], %b
func.func @directions(%b: tensor<4x!pphlo.secret<i1>>) -> (tensor<4x!pphlo.secret<i1>>, tensor<4x!pphlo.secret<i1>>, tensor<4x!pphlo.secret<i1>>, tensor<4x!pphlo.secret<i1>>, tensor<4x!pphlo.secret<i1>>, tensor<4x!pphlo.secret<i1>>) {
  %f = "pphlo.convert"(%b) : (tensor<4x!pphlo.secret<i1>>) -> tensor<4x!pphlo.secret<f32>>
  %i = "pphlo.convert"(%b) : (tensor<4x!pphlo.secret<i1>>) -> tensor<4x!pphlo.secret<i32>>
  %half = "pphlo.constant"() <{value = dense<0.5> : tensor<4xf32>}> : () -> tensor<4xf32>
  %one = "pphlo.constant"() <{value = dense<1.0> : tensor<4xf32>}> : () -> tensor<4xf32>
  %izero = "pphlo.constant"() <{value = dense<0> : tensor<4xi32>}> : () -> tensor<4xi32>
  %0 = "pphlo.greater_equal"(%f, %one) : (tensor<4x!pphlo.secret<f32>>, tensor<4xf32>) -> tensor<4x!pphlo.secret<i1>>
  %1 = "pphlo.less"(%half, %f) : (tensor<4xf32>, tensor<4x!pphlo.secret<f32>>) -> tensor<4x!pphlo.secret<i1>>
  %2 = "pphlo.not_equal"(%i, %izero) : (tensor<4x!pphlo.secret<i32>>, tensor<4xi32>) -> tensor<4x!pphlo.secret<i1>>
  %3 = "pphlo.greater"(%half, %f) : (tensor<4xf32>, tensor<4x!pphlo.secret<f32>>) -> tensor<4x!pphlo.secret<i1>> loc("0.5 > f"("model.py":20:2))
  %4 = "pphlo.equal"(%i, %izero) : (tensor<4x!pphlo.secret<i32>>, tensor<4xi32>) -> tensor<4x!pphlo.secret<i1>> loc("i == 0"("model.py":21:2))
  %5 = "pphlo.less_equal"(%one, %f) : (tensor<4xf32>, tensor<4x!pphlo.secret<f32>>) -> tensor<4x!pphlo.secret<i1>>
  func.return %0, %1, %2, %3, %4, %5 : tensor<4x!pphlo.secret<i1>>, tensor<4x!pphlo.secret<i1>>, tensor<4x!pphlo.secret<i1>>, tensor<4x!pphlo.secret<i1>>, tensor<4x!pphlo.secret<i1>>, tensor<4x!pphlo.secret<i1>>
}

// -----

// Left alone: a comparison true at both 0 and 1 (a constant), a non-splat constant, a
// converted non-boolean, a secret other side, and a broadcast boolean (another shape).
// CHECK-LABEL: func.func @not_folded
// CHECK:         "pphlo.greater"(%f, %{{.*}})
// CHECK:         "pphlo.greater"(%f, %{{.*}})
// CHECK:         "pphlo.greater"(%{{.*}}, %{{.*}})
// CHECK:         "pphlo.greater"(%f, %y)
// CHECK:         "pphlo.greater"(%{{.*}}, %{{.*}})
// CHECK:         func.return
func.func @not_folded(%b: tensor<4x!pphlo.secret<i1>>, %n: tensor<4x!pphlo.secret<i32>>, %y: tensor<4x!pphlo.secret<f32>>, %s: tensor<1x!pphlo.secret<i1>>) -> (tensor<4x!pphlo.secret<i1>>, tensor<4x!pphlo.secret<i1>>, tensor<4x!pphlo.secret<i1>>, tensor<4x!pphlo.secret<i1>>, tensor<4x!pphlo.secret<i1>>) {
  %f = "pphlo.convert"(%b) : (tensor<4x!pphlo.secret<i1>>) -> tensor<4x!pphlo.secret<f32>>
  %minus = "pphlo.constant"() <{value = dense<-1.0> : tensor<4xf32>}> : () -> tensor<4xf32>
  %0 = "pphlo.greater"(%f, %minus) : (tensor<4x!pphlo.secret<f32>>, tensor<4xf32>) -> tensor<4x!pphlo.secret<i1>>
  %mixed = "pphlo.constant"() <{value = dense<[0.0, 0.5, 2.0, 0.0]> : tensor<4xf32>}> : () -> tensor<4xf32>
  %1 = "pphlo.greater"(%f, %mixed) : (tensor<4x!pphlo.secret<f32>>, tensor<4xf32>) -> tensor<4x!pphlo.secret<i1>>
  %nf = "pphlo.convert"(%n) : (tensor<4x!pphlo.secret<i32>>) -> tensor<4x!pphlo.secret<f32>>
  %zero = "pphlo.constant"() <{value = dense<0.0> : tensor<4xf32>}> : () -> tensor<4xf32>
  %2 = "pphlo.greater"(%nf, %zero) : (tensor<4x!pphlo.secret<f32>>, tensor<4xf32>) -> tensor<4x!pphlo.secret<i1>>
  %3 = "pphlo.greater"(%f, %y) : (tensor<4x!pphlo.secret<f32>>, tensor<4x!pphlo.secret<f32>>) -> tensor<4x!pphlo.secret<i1>>
  %sf = "pphlo.convert"(%s) : (tensor<1x!pphlo.secret<i1>>) -> tensor<1x!pphlo.secret<f32>>
  %wide = "pphlo.broadcast"(%sf) <{broadcast_dimensions = array<i64: 0>}> : (tensor<1x!pphlo.secret<f32>>) -> tensor<4x!pphlo.secret<f32>>
  %4 = "pphlo.greater"(%wide, %zero) : (tensor<4x!pphlo.secret<f32>>, tensor<4xf32>) -> tensor<4x!pphlo.secret<i1>>
  func.return %0, %1, %2, %3, %4 : tensor<4x!pphlo.secret<i1>>, tensor<4x!pphlo.secret<i1>>, tensor<4x!pphlo.secret<i1>>, tensor<4x!pphlo.secret<i1>>, tensor<4x!pphlo.secret<i1>>
}
