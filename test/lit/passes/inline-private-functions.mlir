// RUN: ditto-opt %s -p inline-private-functions --split-input-file --verify-diagnostics | filecheck %s

// JAX outlines helpers as private functions; they are inlined and then dropped.
// CHECK-LABEL: func.func public @main
// CHECK-NEXT:    [[ZERO:%.*]] = stablehlo.constant dense<0.000000e+00> : tensor<4xf32>
// CHECK-NEXT:    [[RELU:%.*]] = stablehlo.maximum %arg0, [[ZERO]] : tensor<4xf32>
// CHECK-NEXT:    [[SUM:%.*]] = stablehlo.add [[RELU]], %arg0 : tensor<4xf32>
// CHECK-NEXT:    func.return [[SUM]] : tensor<4xf32>
// CHECK-NOT:   func.func private @relu
func.func public @main(%arg0: tensor<4xf32>) -> tensor<4xf32> {
  %0 = func.call @relu(%arg0) : (tensor<4xf32>) -> tensor<4xf32>
  %1 = func.call @identity(%0, %arg0) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  func.return %1 : tensor<4xf32>
}
func.func private @relu(%x: tensor<4xf32>) -> tensor<4xf32> {
  %zero = "stablehlo.constant"() <{value = dense<0.0> : tensor<4xf32>}> : () -> tensor<4xf32>
  %0 = "stablehlo.maximum"(%x, %zero) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  func.return %0 : tensor<4xf32>
}
// A callee that returns its own argument and calls another private function.
func.func private @identity(%a: tensor<4xf32>, %b: tensor<4xf32>) -> tensor<4xf32> {
  %0 = func.call @add(%a, %b) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  func.return %0 : tensor<4xf32>
}
func.func private @add(%a: tensor<4xf32>, %b: tensor<4xf32>) -> tensor<4xf32> {
  %0 = "stablehlo.add"(%a, %b) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  func.return %0 : tensor<4xf32>
}

// -----

// Nothing to inline: the module is unchanged.
// CHECK-LABEL: func.func @no_calls
// CHECK-NEXT:    %0 = stablehlo.negate %arg0 : tensor<2xf32>
// CHECK-NEXT:    func.return %0 : tensor<2xf32>
func.func @no_calls(%arg0: tensor<2xf32>) -> tensor<2xf32> {
  %0 = "stablehlo.negate"(%arg0) : (tensor<2xf32>) -> tensor<2xf32>
  func.return %0 : tensor<2xf32>
}

// -----

// A call to a body-less declaration cannot be inlined.
func.func @main(%arg0: tensor<2xf32>) -> tensor<2xf32> {
  %0 = func.call @external(%arg0) : (tensor<2xf32>) -> tensor<2xf32>
  func.return %0 : tensor<2xf32>
}
func.func private @external(tensor<2xf32>) -> tensor<2xf32>

// CHECK: 'func.call' calls @external, which has no body to inline
