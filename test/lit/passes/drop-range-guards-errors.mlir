// RUN: ditto-opt %s -p 'drop-range-guards{calibration="%S/inputs/rsqrt-small.npz"}' --split-input-file --verify-diagnostics | filecheck %s --check-prefix=DIAG
// RUN: not ditto-opt %s -p 'drop-range-guards{calibration="%S/inputs/rsqrt-small.npz"}' --split-input-file 2>&1 | filecheck %s --check-prefix=EXIT
// RUN: not ditto-opt %s -p 'drop-range-guards' --split-input-file 2>&1 | filecheck %s --check-prefix=NOCAL
// RUN: not ditto-opt %s -p 'drop-range-guards{calibration="%S/inputs/missing.npz"}' --split-input-file 2>&1 | filecheck %s --check-prefix=NOFILE

// NOCAL: ditto-opt: error: drop-range-guards needs calibration inputs (drop-range-guards{calibration=FILE})
// NOFILE: ditto-opt: error: cannot read calibration inputs from {{.*}}missing.npz

// A range guard is a comparison with public bounds; anything else so marked is refused, by location.
func.func @not_a_guard(%x: tensor<4x!pphlo.secret<f32>>) -> tensor<4x!pphlo.secret<f32>> {
  %0 = "pphlo.add"(%x, %x) {ditto.range_guard} : (tensor<4x!pphlo.secret<f32>>, tensor<4x!pphlo.secret<f32>>) -> tensor<4x!pphlo.secret<f32>> loc("norm"("model.py":7:3))
  func.return %0 : tensor<4x!pphlo.secret<f32>>
}
// DIAG: "norm" at model.py:7:3: 'pphlo.add' is marked ditto.range_guard but is not a comparison x >= public constant bounds
// EXIT: ditto-opt: error: "norm" at model.py:7:3: 'pphlo.add' is marked ditto.range_guard

// -----

// It runs before ring assignment, on legalized PPHLO.
func.func @typed(%x: tensor<4x!pphlo.secret<!fxp.fixed<64, 18>>>) -> tensor<4x!pphlo.secret<!fxp.fixed<64, 18>>> {
  %0 = "pphlo.add"(%x, %x) : (tensor<4x!pphlo.secret<!fxp.fixed<64, 18>>>, tensor<4x!pphlo.secret<!fxp.fixed<64, 18>>>) -> tensor<4x!pphlo.secret<!fxp.fixed<64, 18>>>
  func.return %0 : tensor<4x!pphlo.secret<!fxp.fixed<64, 18>>>
}
// DIAG: 'pphlo.add' has a ring type: drop-range-guards runs before annotate-rings
