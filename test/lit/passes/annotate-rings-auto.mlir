// RUN: ditto-opt %s -p 'annotate-rings{policy=auto calibration="%S/inputs/auto-small.npz" report="%t.json"}' | filecheck %s --check-prefix=SMALL
// RUN: cat %t.json | filecheck %s --check-prefix=REPORT
// RUN: ditto-opt %s -p 'annotate-rings{policy=auto calibration="%S/inputs/auto-large.npz"}' | filecheck %s --check-prefix=LARGE
// RUN: not ditto-opt %s -p 'annotate-rings{policy=auto}' 2>&1 | filecheck %s --check-prefix=NOCAL

// Calibrated on values of 0.5, the matmul fits the 32-bit ring; on values of 500 its
// products (250,000 x 4) would not (2^10 / margin), so it stays in the 64-bit ring.
// SMALL-LABEL: func.func @auto
// SMALL:         "pphlo.dot"{{.*}} -> tensor<2x4x!pphlo.secret<!fxp.fixed<32, 20>>>
// SMALL:         "pphlo.exponential"{{.*}} -> tensor<2x4x!pphlo.secret<!fxp.fixed<64, 18>>>
// REPORT:        "op": "pphlo.dot"
// REPORT:        "ring": [
// REPORT-NEXT:     32,
// REPORT:        "max_abs": 1.0
// LARGE-LABEL: func.func @auto
// LARGE:         "pphlo.dot"{{.*}} -> tensor<2x4x!pphlo.secret<!fxp.fixed<64, 36>>>
// LARGE-NOT:     fxp.cast
// NOCAL: ditto-opt: error: policy auto needs calibration inputs (annotate-rings{policy=auto calibration=FILE})
func.func @auto(%x: tensor<2x4x!pphlo.secret<f32>>, %w: tensor<4x4x!pphlo.secret<f32>>) -> tensor<2x4x!pphlo.secret<f32>> {
  %0 = "pphlo.dot"(%x, %w) : (tensor<2x4x!pphlo.secret<f32>>, tensor<4x4x!pphlo.secret<f32>>) -> tensor<2x4x!pphlo.secret<f32>>
  %1 = "pphlo.exponential"(%0) : (tensor<2x4x!pphlo.secret<f32>>) -> tensor<2x4x!pphlo.secret<f32>>
  func.return %1 : tensor<2x4x!pphlo.secret<f32>>
}
