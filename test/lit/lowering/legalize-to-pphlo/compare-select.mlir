// RUN: ditto-opt %s -p legalize-to-pphlo --split-input-file | filecheck %s

// Each comparison direction is its own PPHLO op; a secret predicate makes select secret.
// CHECK-LABEL: func.func @compare_select
// CHECK:         "pphlo.less"(%arg0, %arg1) : (tensor<4x!pphlo.secret<f32>>, tensor<4xf32>) -> tensor<4x!pphlo.secret<i1>>
// CHECK:         "pphlo.greater_equal"
// CHECK:         "pphlo.equal"
// CHECK:         "pphlo.not_equal"
// CHECK:         "pphlo.less_equal"
// CHECK:         "pphlo.greater"(%arg1, %arg1) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xi1>
// CHECK:         "pphlo.and"
// CHECK:         "pphlo.or"
// CHECK:         "pphlo.select"({{.*}}) : (tensor<4x!pphlo.secret<i1>>, tensor<4xf32>, tensor<4xf32>) -> tensor<4x!pphlo.secret<f32>>
func.func @compare_select(%arg0: tensor<4xf32>, %arg1: tensor<4xf32> {ditto.visibility = "public"}) -> tensor<4xf32> {
  %0 = "stablehlo.compare"(%arg0, %arg1) <{compare_type = #stablehlo<comparison_type FLOAT>, comparison_direction = #stablehlo<comparison_direction LT>}> : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xi1>
  %1 = "stablehlo.compare"(%arg0, %arg1) <{comparison_direction = #stablehlo<comparison_direction GE>}> : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xi1>
  %2 = "stablehlo.compare"(%arg0, %arg1) <{comparison_direction = #stablehlo<comparison_direction EQ>}> : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xi1>
  %3 = "stablehlo.compare"(%arg0, %arg1) <{comparison_direction = #stablehlo<comparison_direction NE>}> : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xi1>
  %4 = "stablehlo.compare"(%arg0, %arg1) <{comparison_direction = #stablehlo<comparison_direction LE>}> : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xi1>
  %5 = "stablehlo.compare"(%arg1, %arg1) <{comparison_direction = #stablehlo<comparison_direction GT>}> : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xi1>
  %6 = "stablehlo.and"(%0, %5) : (tensor<4xi1>, tensor<4xi1>) -> tensor<4xi1>
  %7 = "stablehlo.or"(%1, %2) : (tensor<4xi1>, tensor<4xi1>) -> tensor<4xi1>
  %8 = "stablehlo.or"(%3, %4) : (tensor<4xi1>, tensor<4xi1>) -> tensor<4xi1>
  %9 = "stablehlo.or"(%7, %8) : (tensor<4xi1>, tensor<4xi1>) -> tensor<4xi1>
  %10 = "stablehlo.and"(%6, %9) : (tensor<4xi1>, tensor<4xi1>) -> tensor<4xi1>
  %11 = "stablehlo.select"(%10, %arg1, %arg1) : (tensor<4xi1>, tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  "func.return"(%11) : (tensor<4xf32>) -> ()
}

// -----

// A public predicate choosing between secret and public values gives a secret result.
// CHECK-LABEL: func.func @public_pred
// CHECK:         "pphlo.select"(%arg1, %arg0, %arg2) : (tensor<2xi1>, tensor<2x!pphlo.secret<f32>>, tensor<2xf32>) -> tensor<2x!pphlo.secret<f32>>
func.func @public_pred(%arg0: tensor<2xf32>, %arg1: tensor<2xi1> {ditto.visibility = "public"}, %arg2: tensor<2xf32> {ditto.visibility = "public"}) -> tensor<2xf32> {
  %0 = "stablehlo.select"(%arg1, %arg0, %arg2) : (tensor<2xi1>, tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
  "func.return"(%0) : (tensor<2xf32>) -> ()
}
