// RUN: ditto-opt %s -p 'approximate-nonlinear{silu="relu-fit"}' --split-input-file | filecheck %s --check-prefix=FIT
// RUN: ditto-opt %s -p 'approximate-nonlinear{gelu="relu-fit" softmax="exp-fit"}' --split-input-file | filecheck %s --check-prefix=EXACT
// RUN: not ditto-opt %s -p 'approximate-nonlinear{silu="cubic"}' 2>&1 | filecheck %s --check-prefix=MODE

// MODE: ditto-opt: error: approximate-nonlinear: silu must be one of exact, relu-fit, not 'cubic'

// SiLU as jax.nn.silu exports it (LLaMA's MLP gate): x * 1 / (1 + exp(-x)).
// FIT-LABEL: func.func @silu_jax
// FIT:         [[S:%.*]] = stablehlo.multiply %x, {{%.*}} : tensor<4xf32>
// FIT-NEXT:    [[A:%.*]] = stablehlo.abs [[S]]
// FIT:         stablehlo.minimum [[A]]
// FIT-NOT:     stablehlo.exponential
// FIT-NOT:     stablehlo.divide
// FIT:         stablehlo.add [[S]], [[A]]
// FIT:         [[R:%.*]] = stablehlo.add
// FIT-NEXT:    func.return [[R]]
// Other functions' settings leave SiLU alone.
// EXACT-LABEL: func.func @silu_jax
// EXACT:         stablehlo.exponential
// EXACT:         stablehlo.divide
func.func @silu_jax(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = stablehlo.negate %x : tensor<4xf32>
  %1 = stablehlo.exponential %0 : tensor<4xf32>
  %cst = stablehlo.constant dense<1.000000e+00> : tensor<f32>
  %2 = stablehlo.broadcast_in_dim %cst, dims = [] : (tensor<f32>) -> tensor<4xf32>
  %3 = stablehlo.add %2, %1 : tensor<4xf32>
  %4 = stablehlo.divide %2, %3 : tensor<4xf32>
  %5 = stablehlo.multiply %x, %4 : tensor<4xf32>
  func.return %5 : tensor<4xf32>
}

// -----

// The logistic form, operands swapped: the same function, recognised.
// FIT-LABEL: func.func @silu_logistic
// FIT-NOT:     stablehlo.logistic
// FIT:         stablehlo.abs
// FIT:         func.return
func.func @silu_logistic(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %0 = stablehlo.logistic %x : tensor<2x3xf32>
  %1 = stablehlo.multiply %0, %x : tensor<2x3xf32>
  func.return %1 : tensor<2x3xf32>
}

// -----

// Look-alikes are left alone: x * sigmoid(2x) is not SiLU, nor is a bare sigmoid.
// FIT-LABEL: func.func @not_silu
// FIT:         stablehlo.logistic
// FIT:         stablehlo.logistic
// FIT-NOT:     stablehlo.abs
func.func @not_silu(%x: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  %cst = stablehlo.constant dense<2.000000e+00> : tensor<4xf32>
  %0 = stablehlo.multiply %x, %cst : tensor<4xf32>
  %1 = stablehlo.logistic %0 : tensor<4xf32>
  %2 = stablehlo.multiply %x, %1 : tensor<4xf32>
  %3 = stablehlo.logistic %x : tensor<4xf32>
  func.return %2, %3 : tensor<4xf32>, tensor<4xf32>
}
