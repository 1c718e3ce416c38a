// RUN: ditto-opt %s -p legalize-to-pphlo --split-input-file | filecheck %s

// A secret operand makes the result secret; public operands stay public.
// CHECK-LABEL: func.func @binary
// CHECK-SAME:    (%arg0: tensor<4x!pphlo.secret<f32>>, %arg1: tensor<4xf32> {ditto.visibility = "public"})
// CHECK-SAME:    -> (tensor<4x!pphlo.secret<f32>>, tensor<4xf32>)
// CHECK:         "pphlo.add"(%arg0, %arg1) : (tensor<4x!pphlo.secret<f32>>, tensor<4xf32>) -> tensor<4x!pphlo.secret<f32>>
// CHECK:         "pphlo.subtract"({{.*}}) : ({{.*}}) -> tensor<4x!pphlo.secret<f32>>
// CHECK:         "pphlo.multiply"({{.*}}) : ({{.*}}) -> tensor<4x!pphlo.secret<f32>>
// CHECK:         "pphlo.divide"({{.*}}) : ({{.*}}) -> tensor<4x!pphlo.secret<f32>>
// CHECK:         "pphlo.maximum"({{.*}}) : ({{.*}}) -> tensor<4x!pphlo.secret<f32>>
// CHECK:         "pphlo.minimum"(%arg1, %arg1) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
func.func @binary(%arg0: tensor<4xf32>, %arg1: tensor<4xf32> {ditto.visibility = "public"}) -> (tensor<4xf32>, tensor<4xf32>) {
  %0 = "stablehlo.add"(%arg0, %arg1) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %1 = "stablehlo.subtract"(%0, %arg1) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %2 = "stablehlo.multiply"(%1, %1) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %3 = "stablehlo.divide"(%2, %arg1) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %4 = "stablehlo.maximum"(%3, %arg1) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %5 = "stablehlo.minimum"(%arg1, %arg1) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  "func.return"(%4, %5) : (tensor<4xf32>, tensor<4xf32>) -> ()
}

// -----

// CHECK-LABEL: func.func @unary
// CHECK:         "pphlo.negate"(%arg0) : (tensor<2x!pphlo.secret<f32>>) -> tensor<2x!pphlo.secret<f32>>
// CHECK:         "pphlo.rsqrt"
// CHECK:         "pphlo.sqrt"
// CHECK:         "pphlo.tanh"
// CHECK:         "pphlo.logistic"
// CHECK:         "pphlo.abs"
// CHECK:         "pphlo.convert"({{.*}}) : (tensor<2x!pphlo.secret<f32>>) -> tensor<2x!pphlo.secret<i32>>
func.func @unary(%arg0: tensor<2xf32>) -> tensor<2xi32> {
  %0 = "stablehlo.negate"(%arg0) : (tensor<2xf32>) -> tensor<2xf32>
  %1 = "stablehlo.rsqrt"(%0) : (tensor<2xf32>) -> tensor<2xf32>
  %2 = "stablehlo.sqrt"(%1) : (tensor<2xf32>) -> tensor<2xf32>
  %3 = "stablehlo.tanh"(%2) : (tensor<2xf32>) -> tensor<2xf32>
  %4 = "stablehlo.logistic"(%3) : (tensor<2xf32>) -> tensor<2xf32>
  %5 = "stablehlo.abs"(%4) : (tensor<2xf32>) -> tensor<2xf32>
  %6 = "stablehlo.convert"(%5) : (tensor<2xf32>) -> tensor<2xi32>
  "func.return"(%6) : (tensor<2xi32>) -> ()
}

// -----

// A public-only function is left entirely public.
// CHECK-LABEL: func.func @all_public
// CHECK-SAME:    -> tensor<3xf32>
// CHECK:         "pphlo.add"(%arg0, %arg0) : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
// CHECK-NOT:     !pphlo.secret
func.func @all_public(%arg0: tensor<3xf32> {ditto.visibility = "public"}) -> tensor<3xf32> {
  %0 = "stablehlo.add"(%arg0, %arg0) : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  "func.return"(%0) : (tensor<3xf32>) -> ()
}

// -----

// Division by a public constant is a multiplication by its reciprocal; division by a
// secret stays a division.
// CHECK-LABEL: func.func @divide
// CHECK:         [[C:%.*]] = "pphlo.constant"() <{value = dense<2.500000e-01> : tensor<f32>}>
// CHECK-NEXT:    [[R:%.*]] = "pphlo.broadcast"([[C]]) <{broadcast_dimensions = array<i64>}> : (tensor<f32>) -> tensor<4xf32>
// CHECK-NEXT:    [[Q:%.*]] = "pphlo.multiply"(%arg0, [[R]]) : (tensor<4x!pphlo.secret<f32>>, tensor<4xf32>) -> tensor<4x!pphlo.secret<f32>>
// CHECK-NEXT:    "pphlo.divide"([[Q]], %arg0)
func.func @divide(%arg0: tensor<4xf32>) -> tensor<4xf32> {
  %c = "stablehlo.constant"() <{value = dense<4.0> : tensor<f32>}> : () -> tensor<f32>
  %b = "stablehlo.broadcast_in_dim"(%c) <{broadcast_dimensions = array<i64>}> : (tensor<f32>) -> tensor<4xf32>
  %0 = "stablehlo.divide"(%arg0, %b) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %1 = "stablehlo.divide"(%0, %arg0) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  "func.return"(%1) : (tensor<4xf32>) -> ()
}
