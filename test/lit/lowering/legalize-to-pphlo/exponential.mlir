// RUN: ditto-opt %s -p legalize-to-pphlo --split-input-file | filecheck %s
// RUN: ditto-opt %s -p 'legalize-to-pphlo{fraction_bits=12}' --split-input-file | filecheck %s --check-prefix=F12

// Secret exp is evaluated at max(x, -(f+1) ln 2): SPU's exp breaks on very negative
// inputs (masked attention scores), and below that bound e^x is under half an LSB.
// CHECK-LABEL: func.func @secret_exp
// CHECK-NEXT:    [[C:%.*]] = "pphlo.constant"() <{value = dense<-13.169796{{[0-9]*}}> : tensor<f32>}>
// CHECK-NEXT:    [[FLOOR:%.*]] = "pphlo.broadcast"([[C]]) <{broadcast_dimensions = array<i64>}> : (tensor<f32>) -> tensor<2x2xf32>
// CHECK-NEXT:    [[X:%.*]] = "pphlo.maximum"(%arg0, [[FLOOR]]) : (tensor<2x2x!pphlo.secret<f32>>, tensor<2x2xf32>) -> tensor<2x2x!pphlo.secret<f32>>
// CHECK-NEXT:    "pphlo.exponential"([[X]]) : (tensor<2x2x!pphlo.secret<f32>>) -> tensor<2x2x!pphlo.secret<f32>>
// F12-LABEL:   func.func @secret_exp
// F12-NEXT:      "pphlo.constant"() <{value = dense<-9.0109{{[0-9]*}}> : tensor<f32>}>
func.func @secret_exp(%arg0: tensor<2x2xf32>) -> tensor<2x2xf32> {
  %0 = "stablehlo.exponential"(%arg0) : (tensor<2x2xf32>) -> tensor<2x2xf32>
  "func.return"(%0) : (tensor<2x2xf32>) -> ()
}

// -----

// Public exp is computed in the clear: no clamp.
// CHECK-LABEL: func.func @public_exp
// CHECK-NEXT:    [[E:%.*]] = "pphlo.exponential"(%arg0) : (tensor<2xf32>) -> tensor<2xf32>
// CHECK-NEXT:    func.return [[E]]
func.func @public_exp(%arg0: tensor<2xf32> {ditto.visibility = "public"}) -> tensor<2xf32> {
  %0 = "stablehlo.exponential"(%arg0) : (tensor<2xf32>) -> tensor<2xf32>
  "func.return"(%0) : (tensor<2xf32>) -> ()
}

// -----

// An input already bounded below (as approximate-nonlinear's ditto softmax writes it)
// gets no second clamp; a bound below SPU's valid range still does.
// CHECK-LABEL: func.func @bounded_exp
// CHECK:         [[LOW:%.*]] = "pphlo.less"(%arg0, {{%.*}})
// CHECK-NEXT:    [[FLOOR:%.*]] = "pphlo.constant"() <{value = dense<-1.400000e+01> : tensor<2xf32>}>
// CHECK-NEXT:    [[X:%.*]] = "pphlo.select"([[LOW]], [[FLOOR]], %arg0)
// CHECK-NEXT:    "pphlo.exponential"([[X]])
// CHECK:         [[C:%.*]] = "pphlo.constant"() <{value = dense<-1.000000e+02> : tensor<2xf32>}>
// CHECK-NEXT:    [[Y:%.*]] = "pphlo.maximum"(%arg0, [[C]])
// CHECK-NEXT:    "pphlo.constant"() <{value = dense<-13.169796{{[0-9]*}}> : tensor<f32>}>
// CHECK-NEXT:    "pphlo.broadcast"
// CHECK-NEXT:    "pphlo.maximum"([[Y]]
// CHECK-NEXT:    "pphlo.exponential"
func.func @bounded_exp(%arg0: tensor<2xf32>) -> (tensor<2xf32>, tensor<2xf32>) {
  %t = "stablehlo.constant"() <{value = dense<-1.400000e+01> : tensor<2xf32>}> : () -> tensor<2xf32>
  %low = "stablehlo.compare"(%arg0, %t) <{comparison_direction = #stablehlo<comparison_direction LT>}> : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xi1>
  %t2 = "stablehlo.constant"() <{value = dense<-1.400000e+01> : tensor<2xf32>}> : () -> tensor<2xf32>
  %x = "stablehlo.select"(%low, %t2, %arg0) : (tensor<2xi1>, tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
  %0 = "stablehlo.exponential"(%x) : (tensor<2xf32>) -> tensor<2xf32>
  %c = "stablehlo.constant"() <{value = dense<-1.000000e+02> : tensor<2xf32>}> : () -> tensor<2xf32>
  %y = "stablehlo.maximum"(%arg0, %c) : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
  %1 = "stablehlo.exponential"(%y) : (tensor<2xf32>) -> tensor<2xf32>
  "func.return"(%0, %1) : (tensor<2xf32>, tensor<2xf32>) -> ()
}
