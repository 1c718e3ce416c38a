// RUN: ditto-opt %s -p legalize-to-pphlo --split-input-file | filecheck %s
// RUN: ditto-opt %s -p 'legalize-to-pphlo{fraction_bits=16}' --split-input-file | filecheck %s --check-prefix=F16

// SPU's rsqrt is right only below 2^f: a secret input is first scaled below 2^(f-1) by tiers
// (one batched comparison, a select per tier), and the result scaled back. The comparison
// is marked a range guard, for drop-range-guards.
// CHECK-LABEL: func.func @secret_rsqrt
// CHECK:         %[[BOUNDS:.*]] = "pphlo.constant"() <{value = dense<[1.310720e+05, 8.58993459e+09]> : tensor<2xf32>}>
// CHECK:         %[[ABOVE:.*]] = "pphlo.greater_equal"(%{{.*}}, %{{.*}}) {ditto.precise, ditto.range_guard} : (tensor<2x4x!pphlo.secret<f32>>, tensor<2x4xf32>) -> tensor<2x4x!pphlo.secret<i1>>
// CHECK-COUNT-2: "pphlo.select"
// CHECK:         "pphlo.rsqrt"(%{{.*}}) {ditto.precise} : (tensor<4x!pphlo.secret<f32>>) -> tensor<4x!pphlo.secret<f32>>
// CHECK-COUNT-2: "pphlo.select"
// CHECK-NOT:     "pphlo.rsqrt"
// CHECK:         func.return
// F16-LABEL: func.func @secret_rsqrt
// F16:         "pphlo.constant"() <{value = dense<[3.276800e+04, {{.*}}, 8.79609302e+12]> : tensor<3xf32>}>
// F16-COUNT-3: "pphlo.select"
// F16:         "pphlo.rsqrt"
// F16-COUNT-3: "pphlo.select"
func.func @secret_rsqrt(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = "stablehlo.rsqrt"(%x) : (tensor<4xf32>) -> tensor<4xf32>
  func.return %0 : tensor<4xf32>
}

// -----

// A public rsqrt is computed in the clear: no tiers.
// CHECK-LABEL: func.func @public_rsqrt
// CHECK-NEXT:    %0 = "pphlo.rsqrt"(%x) : (tensor<4xf32>) -> tensor<4xf32>
// CHECK-NEXT:    func.return %0
// F16-LABEL: func.func @public_rsqrt
// F16-NOT:     pphlo.select
func.func @public_rsqrt(%x: tensor<4xf32> {ditto.visibility = "public"}) -> tensor<4xf32> {
  %0 = "stablehlo.rsqrt"(%x) : (tensor<4xf32>) -> tensor<4xf32>
  func.return %0 : tensor<4xf32>
}
