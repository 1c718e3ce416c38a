// RUN: ditto-opt %s -p 'annotate-rings{policy=optimal calibration="%S/inputs/two-matrices.npz"}' --split-input-file | filecheck %s
// RUN: ditto-opt %s -p 'annotate-rings{policy=optimal calibration="%S/inputs/two-matrices.npz" objective=wan}' --split-input-file | filecheck %s --check-prefix=WAN
// RUN: ditto-opt %s -p 'annotate-rings{policy=optimal objective=bytes}' --split-input-file --verify-diagnostics | filecheck %s --check-prefix=NOCAL
// RUN: not ditto-opt %s -p 'annotate-rings{policy=optimal calibration="%S/inputs/two-matrices.npz" objective=time}' --split-input-file 2>&1 | filecheck %s --check-prefix=OBJECTIVE
// A policy file with base optimal: the same cut, in the file's rings (a small ring with 8 fraction bits).
// RUN: ditto-opt %s -p 'annotate-rings{policy="%S/inputs/optimal-small8.json" calibration="%S/inputs/two-matrices.npz"}' --split-input-file | filecheck %s --check-prefix=FILE
// RUN: not ditto-opt %s -p 'annotate-rings{policy="%S/inputs/optimal-small8.json"}' --split-input-file 2>&1 | filecheck %s --check-prefix=FILENOCAL

// NOCAL: policy optimal needs calibration inputs (annotate-rings{policy=optimal calibration=FILE})
// OBJECTIVE: ditto-opt: error: objective must be one of bytes, lan, wan, not 'time'
// FILENOCAL: ditto-opt: error: policy {{.*}}optimal-small8.json needs calibration inputs

// One matmul whose every result a reciprocal needs: the small ring would save less on
// the matmul than the upcast of its 4,096 results costs, so the cut keeps it all in 64 bits.
// CHECK-LABEL: func.func @stays_large
// WAN-LABEL: func.func @stays_large
// CHECK-NOT:     fxp.fixed<32
// CHECK:         func.return
func.func @stays_large(%x: tensor<64x64x!pphlo.secret<f32>>, %w: tensor<64x64x!pphlo.secret<f32>>) -> tensor<64x64x!pphlo.secret<f32>> {
  %0 = "pphlo.dot"(%x, %w) : (tensor<64x64x!pphlo.secret<f32>>, tensor<64x64x!pphlo.secret<f32>>) -> tensor<64x64x!pphlo.secret<f32>>
  %1 = "pphlo.reciprocal"(%0) : (tensor<64x64x!pphlo.secret<f32>>) -> tensor<64x64x!pphlo.secret<f32>>
  func.return %1 : tensor<64x64x!pphlo.secret<f32>>
}

// -----

// Two matmuls, then a row sum and its reciprocal: the matmuls go to the small ring and
// only the 64 row sums are upcast (the reciprocal cannot run in SPU's 32-bit ring).
// CHECK-LABEL: func.func @splits
// FILE-LABEL: func.func @splits
// FILE:          "pphlo.dot"{{.*}} -> tensor<64x64x!pphlo.secret<!fxp.fixed<32, 16>>>
// FILE:          "fxp.cast"({{.*}}) : (tensor<64x!pphlo.secret<!fxp.fixed<32, 8>>>) -> tensor<64x!pphlo.secret<!fxp.fixed<64, 18>>>
// CHECK:         "pphlo.dot"{{.*}} -> tensor<64x64x!pphlo.secret<!fxp.fixed<32, 20>>>
// CHECK:         "pphlo.dot"{{.*}} -> tensor<64x64x!pphlo.secret<!fxp.fixed<32, 20>>>
// CHECK:         "pphlo.reduce"
// CHECK:         "fxp.cast"({{.*}}) : (tensor<64x!pphlo.secret<!fxp.fixed<32, 10>>>) -> tensor<64x!pphlo.secret<!fxp.fixed<64, 18>>>
// CHECK-NEXT:    "pphlo.reciprocal"({{.*}}) : (tensor<64x!pphlo.secret<!fxp.fixed<64, 18>>>) -> tensor<64x!pphlo.secret<!fxp.fixed<64, 18>>>
// On the WAN the upcast's two rounds (80 ms) outweigh the bytes saved: the objective decides.
// WAN-LABEL: func.func @splits
// WAN-NOT:       fxp.fixed<32
// WAN:           func.return
func.func @splits(%x: tensor<64x64x!pphlo.secret<f32>>, %w: tensor<64x64x!pphlo.secret<f32>>) -> tensor<64x!pphlo.secret<f32>> {
  %0 = "pphlo.dot"(%x, %w) : (tensor<64x64x!pphlo.secret<f32>>, tensor<64x64x!pphlo.secret<f32>>) -> tensor<64x64x!pphlo.secret<f32>>
  %1 = "pphlo.dot"(%0, %w) : (tensor<64x64x!pphlo.secret<f32>>, tensor<64x64x!pphlo.secret<f32>>) -> tensor<64x64x!pphlo.secret<f32>>
  %z = "pphlo.constant"() <{value = dense<0.0> : tensor<f32>}> : () -> tensor<f32>
  %2 = "pphlo.reduce"(%1, %z) <{dimensions = array<i64: 1>}> ({
  ^bb0(%a: tensor<!pphlo.secret<f32>>, %b: tensor<!pphlo.secret<f32>>):
    %s = "pphlo.add"(%a, %b) : (tensor<!pphlo.secret<f32>>, tensor<!pphlo.secret<f32>>) -> tensor<!pphlo.secret<f32>>
    "pphlo.return"(%s) : (tensor<!pphlo.secret<f32>>) -> ()
  }) : (tensor<64x64x!pphlo.secret<f32>>, tensor<f32>) -> tensor<64x!pphlo.secret<f32>>
  %3 = "pphlo.reciprocal"(%2) : (tensor<64x!pphlo.secret<f32>>) -> tensor<64x!pphlo.secret<f32>>
  func.return %3 : tensor<64x!pphlo.secret<f32>>
}

// -----

// A product marked ditto.precise (an exact function's expansion) never goes to the small ring,
// although its values fit there: the row sums are upcast before it. Unmarked, it stays small.
// CHECK-LABEL: func.func @precise_stays_large
// CHECK:         "pphlo.reduce"
// CHECK:         "fxp.cast"({{.*}}) : (tensor<64x!pphlo.secret<!fxp.fixed<32, 10>>>) -> tensor<64x!pphlo.secret<!fxp.fixed<64, 18>>>
// CHECK:         "pphlo.multiply"({{.*}}) {ditto.precise} : ({{.*}}) -> tensor<64x!pphlo.secret<!fxp.fixed<64, 36>>>
// CHECK-LABEL: func.func @unmarked_stays_small
// CHECK:         "pphlo.reduce"
// CHECK-NOT:     "fxp.cast"
// CHECK:         "pphlo.multiply"({{.*}}) : ({{.*}}) -> tensor<64x!pphlo.secret<!fxp.fixed<32, 20>>>
func.func @precise_stays_large(%x: tensor<64x64x!pphlo.secret<f32>>, %w: tensor<64x64x!pphlo.secret<f32>>) -> tensor<64x!pphlo.secret<f32>> {
  %0 = "pphlo.dot"(%x, %w) : (tensor<64x64x!pphlo.secret<f32>>, tensor<64x64x!pphlo.secret<f32>>) -> tensor<64x64x!pphlo.secret<f32>>
  %1 = "pphlo.dot"(%0, %w) : (tensor<64x64x!pphlo.secret<f32>>, tensor<64x64x!pphlo.secret<f32>>) -> tensor<64x64x!pphlo.secret<f32>>
  %z = "pphlo.constant"() <{value = dense<0.0> : tensor<f32>}> : () -> tensor<f32>
  %2 = "pphlo.reduce"(%1, %z) <{dimensions = array<i64: 1>}> ({
  ^bb0(%a: tensor<!pphlo.secret<f32>>, %b: tensor<!pphlo.secret<f32>>):
    %s = "pphlo.add"(%a, %b) : (tensor<!pphlo.secret<f32>>, tensor<!pphlo.secret<f32>>) -> tensor<!pphlo.secret<f32>>
    "pphlo.return"(%s) : (tensor<!pphlo.secret<f32>>) -> ()
  }) : (tensor<64x64x!pphlo.secret<f32>>, tensor<f32>) -> tensor<64x!pphlo.secret<f32>>
  %h = "pphlo.constant"() <{value = dense<0.5> : tensor<64xf32>}> : () -> tensor<64xf32>
  %3 = "pphlo.multiply"(%2, %h) {ditto.precise} : (tensor<64x!pphlo.secret<f32>>, tensor<64xf32>) -> tensor<64x!pphlo.secret<f32>>
  func.return %3 : tensor<64x!pphlo.secret<f32>>
}

// -----

func.func @unmarked_stays_small(%x: tensor<64x64x!pphlo.secret<f32>>, %w: tensor<64x64x!pphlo.secret<f32>>) -> tensor<64x!pphlo.secret<f32>> {
  %0 = "pphlo.dot"(%x, %w) : (tensor<64x64x!pphlo.secret<f32>>, tensor<64x64x!pphlo.secret<f32>>) -> tensor<64x64x!pphlo.secret<f32>>
  %1 = "pphlo.dot"(%0, %w) : (tensor<64x64x!pphlo.secret<f32>>, tensor<64x64x!pphlo.secret<f32>>) -> tensor<64x64x!pphlo.secret<f32>>
  %z = "pphlo.constant"() <{value = dense<0.0> : tensor<f32>}> : () -> tensor<f32>
  %2 = "pphlo.reduce"(%1, %z) <{dimensions = array<i64: 1>}> ({
  ^bb0(%a: tensor<!pphlo.secret<f32>>, %b: tensor<!pphlo.secret<f32>>):
    %s = "pphlo.add"(%a, %b) : (tensor<!pphlo.secret<f32>>, tensor<!pphlo.secret<f32>>) -> tensor<!pphlo.secret<f32>>
    "pphlo.return"(%s) : (tensor<!pphlo.secret<f32>>) -> ()
  }) : (tensor<64x64x!pphlo.secret<f32>>, tensor<f32>) -> tensor<64x!pphlo.secret<f32>>
  %h = "pphlo.constant"() <{value = dense<0.5> : tensor<64xf32>}> : () -> tensor<64xf32>
  %3 = "pphlo.multiply"(%2, %h) : (tensor<64x!pphlo.secret<f32>>, tensor<64xf32>) -> tensor<64x!pphlo.secret<f32>>
  func.return %3 : tensor<64x!pphlo.secret<f32>>
}

// -----

// SPU's exp errs by 30 steps in the 32-bit ring (which the emulator would not show): it stays large
// although its input fits the small ring. (Without that rule the whole function is small.)
// CHECK-LABEL: func.func @exp_stays_large
// CHECK:         "pphlo.exponential"({{.*}}) : (tensor<64x64x!pphlo.secret<!fxp.fixed<64, 18>>>) -> tensor<64x64x!pphlo.secret<!fxp.fixed<64, 18>>>
func.func @exp_stays_large(%x: tensor<64x64x!pphlo.secret<f32>>, %w: tensor<64x64x!pphlo.secret<f32>>) -> tensor<64x64x!pphlo.secret<f32>> {
  %0 = "pphlo.dot"(%x, %w) : (tensor<64x64x!pphlo.secret<f32>>, tensor<64x64x!pphlo.secret<f32>>) -> tensor<64x64x!pphlo.secret<f32>>
  %h = "pphlo.constant"() <{value = dense<0.1> : tensor<64x64xf32>}> : () -> tensor<64x64xf32>
  %1 = "pphlo.multiply"(%0, %h) : (tensor<64x64x!pphlo.secret<f32>>, tensor<64x64xf32>) -> tensor<64x64x!pphlo.secret<f32>>
  %2 = "pphlo.exponential"(%1) : (tensor<64x64x!pphlo.secret<f32>>) -> tensor<64x64x!pphlo.secret<f32>>
  func.return %2 : tensor<64x64x!pphlo.secret<f32>>
}
