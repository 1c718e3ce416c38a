// RUN: not ditto-opt %s -p 'approximate-nonlinear{gelu="cubic"}' 2>&1 | filecheck %s --check-prefix=GELU
// RUN: not ditto-opt %s -p 'approximate-nonlinear{softmax="taylor"}' 2>&1 | filecheck %s --check-prefix=SOFTMAX
// RUN: not ditto-opt %s -p 'ditto-pipeline{softmax="2quad\""}' 2>&1 | filecheck %s --check-prefix=QUOTE

// GELU: ditto-opt: error: approximate-nonlinear: gelu must be one of exact, quad, puma, relu-fit, not 'cubic'
// SOFTMAX: ditto-opt: error: approximate-nonlinear: softmax must be one of exact, 2quad, ditto, exp-fit, not 'taylor'
// QUOTE: ditto-opt: error:

func.func @f(%arg0: tensor<2xf32>) -> tensor<2xf32> {
  %0 = "stablehlo.exponential"(%arg0) : (tensor<2xf32>) -> tensor<2xf32>
  func.return %0 : tensor<2xf32>
}
