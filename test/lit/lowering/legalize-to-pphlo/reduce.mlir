// RUN: ditto-opt %s -p legalize-to-pphlo --split-input-file | filecheck %s

// The body's arguments take the result's visibility; stablehlo.return becomes pphlo.return.
// CHECK-LABEL: func.func @row_max
// CHECK:         [[INIT:%.*]] = "pphlo.constant"() <{value = dense<-3.276800e+04> : tensor<f32>}>
// CHECK:         "pphlo.reduce"(%arg0, [[INIT]]) <{dimensions = array<i64: 1>}> ({
// CHECK-NEXT:    ^{{.*}}(%[[A:.*]]: tensor<!pphlo.secret<f32>>, %[[B:.*]]: tensor<!pphlo.secret<f32>>):
// CHECK-NEXT:      [[M:%.*]] = "pphlo.maximum"(%[[A]], %[[B]]) : (tensor<!pphlo.secret<f32>>, tensor<!pphlo.secret<f32>>) -> tensor<!pphlo.secret<f32>>
// CHECK-NEXT:      "pphlo.return"([[M]]) : (tensor<!pphlo.secret<f32>>) -> ()
// CHECK-NEXT:    }) : (tensor<2x3x!pphlo.secret<f32>>, tensor<f32>) -> tensor<2x!pphlo.secret<f32>>
func.func @row_max(%arg0: tensor<2x3xf32>) -> tensor<2xf32> {
  %0 = "stablehlo.constant"() <{value = dense<0xFF800000> : tensor<f32>}> : () -> tensor<f32>
  %1 = "stablehlo.reduce"(%arg0, %0) <{dimensions = array<i64: 1>}> ({
  ^bb0(%a: tensor<f32>, %b: tensor<f32>):
    %2 = "stablehlo.maximum"(%a, %b) : (tensor<f32>, tensor<f32>) -> tensor<f32>
    "stablehlo.return"(%2) : (tensor<f32>) -> ()
  }) : (tensor<2x3xf32>, tensor<f32>) -> tensor<2xf32>
  "func.return"(%1) : (tensor<2xf32>) -> ()
}

// -----

// A reduction of public data stays public, region included.
// CHECK-LABEL: func.func @public_sum
// CHECK:         "pphlo.reduce"
// CHECK:         "pphlo.add"({{.*}}) : (tensor<f32>, tensor<f32>) -> tensor<f32>
// CHECK:         }) : (tensor<4xf32>, tensor<f32>) -> tensor<f32>
func.func @public_sum(%arg0: tensor<4xf32> {ditto.visibility = "public"}) -> tensor<f32> {
  %0 = "stablehlo.constant"() <{value = dense<0.0> : tensor<f32>}> : () -> tensor<f32>
  %1 = "stablehlo.reduce"(%arg0, %0) <{dimensions = array<i64: 0>}> ({
  ^bb0(%a: tensor<f32>, %b: tensor<f32>):
    %2 = "stablehlo.add"(%a, %b) : (tensor<f32>, tensor<f32>) -> tensor<f32>
    "stablehlo.return"(%2) : (tensor<f32>) -> ()
  }) : (tensor<4xf32>, tensor<f32>) -> tensor<f32>
  "func.return"(%1) : (tensor<f32>) -> ()
}
