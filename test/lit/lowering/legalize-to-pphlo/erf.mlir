// RUN: ditto-opt %s -p legalize-to-pphlo --split-input-file | filecheck %s

// chlo.erf: clamp to [-4, 4], then x * P(t) / Q(t) with t = x^2/16 (XLA's f32 rational form).
// CHECK-LABEL: func.func @erf
// CHECK:         [[X:%.*]] = "pphlo.clamp"({{.*}}, %arg0, {{.*}}) : (tensor<3xf32>, tensor<3x!pphlo.secret<f32>>, tensor<3xf32>) -> tensor<3x!pphlo.secret<f32>>
// CHECK-NEXT:    [[X2:%.*]] = "pphlo.multiply"([[X]], [[X]])
// CHECK:         [[P:%.*]] = "pphlo.multiply"([[X]], {{.*}})
// CHECK:         "pphlo.divide"([[P]], {{.*}}) : (tensor<3x!pphlo.secret<f32>>, tensor<3x!pphlo.secret<f32>>) -> tensor<3x!pphlo.secret<f32>>
// CHECK-NOT:     chlo.erf
func.func @erf(%arg0: tensor<3xf32>) -> tensor<3xf32> {
  %0 = "chlo.erf"(%arg0) : (tensor<3xf32>) -> tensor<3xf32>
  "func.return"(%0) : (tensor<3xf32>) -> ()
}

// -----

// chlo.erfc is 1 - erf.
// CHECK-LABEL: func.func @erfc
// CHECK:         [[E:%.*]] = "pphlo.divide"
// CHECK-NEXT:    [[ONE_SCALAR:%.*]] = "pphlo.constant"() <{value = dense<1.000000e+00> : tensor<f32>}>
// CHECK-NEXT:    [[ONE:%.*]] = "pphlo.broadcast"([[ONE_SCALAR]]) <{broadcast_dimensions = array<i64>}> : (tensor<f32>) -> tensor<3xf32>
// CHECK-NEXT:    "pphlo.subtract"([[ONE]], [[E]]) : (tensor<3xf32>, tensor<3x!pphlo.secret<f32>>) -> tensor<3x!pphlo.secret<f32>>
func.func @erfc(%arg0: tensor<3xf32>) -> tensor<3xf32> {
  %0 = "chlo.erfc"(%arg0) : (tensor<3xf32>) -> tensor<3xf32>
  "func.return"(%0) : (tensor<3xf32>) -> ()
}
