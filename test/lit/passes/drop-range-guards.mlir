// RUN: ditto-opt %s -p 'legalize-to-pphlo,drop-range-guards{calibration="%S/inputs/rsqrt-small.npz"}' --split-input-file | filecheck %s --check-prefix=DROP
// RUN: ditto-opt %s -p 'legalize-to-pphlo,drop-range-guards{calibration="%S/inputs/rsqrt-40000.npz"}' --split-input-file | filecheck %s --check-prefix=KEEP
// RUN: ditto-opt %s -p 'legalize-to-pphlo,drop-range-guards{calibration="%S/inputs/rsqrt-40000.npz" margin=2.0}' --split-input-file | filecheck %s --check-prefix=DROP
// RUN: ditto-opt %s -p 'legalize-to-pphlo,drop-range-guards{calibration="%S/inputs/rsqrt-small.npz"}' --split-input-file --print-debuginfo | filecheck %s --check-prefix=LOC

// rsqrt's tiers (RsqrtToPPHLO) compare x with 2^17 and 2^33. On calibration values up to
// 400 (x 4 = 1,600 < 2^17) no tier is ever taken: only the kernel stays. Up to 40,000,
// 160,000 is beyond the first bound at margin 4, so the guard stays; at margin 2 it goes.
// DROP-LABEL: func.func @norm
// DROP-NEXT:    %0 = "pphlo.rsqrt"(%x) {ditto.precise} : (tensor<4x!pphlo.secret<f32>>) -> tensor<4x!pphlo.secret<f32>>
// DROP-NEXT:    func.return %0
// KEEP-LABEL: func.func @norm
// KEEP:         "pphlo.greater_equal"{{.*}} {ditto.precise, ditto.range_guard}
// KEEP-COUNT-2: "pphlo.select"
// KEEP:         "pphlo.rsqrt"
// KEEP-COUNT-2: "pphlo.select"
// LOC-LABEL:    func.func @norm
// LOC:          "pphlo.rsqrt"{{.*}} loc("norm"("model.py":4:2))
func.func @norm(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = "stablehlo.rsqrt"(%x) : (tensor<4xf32>) -> tensor<4xf32> loc("norm"("model.py":4:2))
  func.return %0 : tensor<4xf32>
}

// -----

// Only guards go: a comparison the model computes itself is never touched.
// DROP-LABEL: func.func @model_comparison
// DROP:         "pphlo.greater_equal"
// DROP-NOT:     ditto.range_guard
// DROP:         "pphlo.select"
func.func @model_comparison(%x: tensor<4xf32>) -> tensor<4xf32> {
  %big = "stablehlo.constant"() {value = dense<1.0e6> : tensor<4xf32>} : () -> tensor<4xf32>
  %flag = "stablehlo.compare"(%x, %big) {comparison_direction = #stablehlo<comparison_direction GE>} : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xi1>
  %0 = "stablehlo.select"(%flag, %big, %x) : (tensor<4xi1>, tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  func.return %0 : tensor<4xf32>
}
