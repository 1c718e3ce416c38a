// RUN: ditto-opt %s -p legalize-to-pphlo --split-input-file | filecheck %s

// chlo.erf: clamp to [-3, 3], then x * 16 R(t) / 16 with t = x^2 / 16, R of degree 8 (Horner); no division.
// Every op of the expansion but the clamp (exact in any ring) is marked ditto.precise: ring policies keep
// them in the large ring (annotate-rings-optimal.mlir).
// CHECK-LABEL: func.func @erf
// CHECK:         [[X:%.*]] = "pphlo.clamp"({{.*}}, %arg0, {{.*}}) : (tensor<3xf32>, tensor<3x!pphlo.secret<f32>>, tensor<3xf32>) -> tensor<3x!pphlo.secret<f32>>
// CHECK-NEXT:    [[X2:%.*]] = "pphlo.multiply"([[X]], [[X]]) {ditto.precise}
// CHECK-COUNT-8: "pphlo.add"({{.*}}) {ditto.precise}
// CHECK:         [[R:%.*]] = "pphlo.multiply"([[X]], {{.*}}) {ditto.precise}
// CHECK:         [[E:%.*]] = "pphlo.multiply"([[R]], {{.*}}) {ditto.precise}
// CHECK-NEXT:    func.return [[E]]
// CHECK-NOT:     pphlo.divide
// CHECK-NOT:     chlo.erf

func.func @erf(%arg0: tensor<3xf32>) -> tensor<3xf32> {
  %0 = "chlo.erf"(%arg0) : (tensor<3xf32>) -> tensor<3xf32>
  "func.return"(%0) : (tensor<3xf32>) -> ()
}

// -----

// chlo.erfc is 1 - erf.
// CHECK-LABEL: func.func @erfc
// CHECK:         [[ONE_SCALAR:%.*]] = "pphlo.constant"() <{value = dense<1.000000e+00> : tensor<f32>}>
// CHECK-NEXT:    [[ONE:%.*]] = "pphlo.broadcast"([[ONE_SCALAR]]) <{broadcast_dimensions = array<i64>}> : (tensor<f32>) -> tensor<3xf32>
// CHECK-NEXT:    "pphlo.subtract"([[ONE]], {{.*}}) {ditto.precise} : (tensor<3xf32>, tensor<3x!pphlo.secret<f32>>) -> tensor<3x!pphlo.secret<f32>>
func.func @erfc(%arg0: tensor<3xf32>) -> tensor<3xf32> {
  %0 = "chlo.erfc"(%arg0) : (tensor<3xf32>) -> tensor<3xf32>
  "func.return"(%0) : (tensor<3xf32>) -> ()
}
