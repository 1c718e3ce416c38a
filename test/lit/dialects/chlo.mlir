// RUN: ditto-opt %s --split-input-file --verify-diagnostics | filecheck %s

// CHECK-LABEL: func.func @erf
// CHECK:         "chlo.erf"(%arg0) : (tensor<3xf32>) -> tensor<3xf32>
// CHECK:         "chlo.erfc"
func.func @erf(%arg0: tensor<3xf32>) -> tensor<3xf32> {
  %0 = "chlo.erf"(%arg0) : (tensor<3xf32>) -> tensor<3xf32>
  %1 = "chlo.erfc"(%0) : (tensor<3xf32>) -> tensor<3xf32>
  func.return %1 : tensor<3xf32>
}

// -----

func.func @mismatch(%arg0: tensor<3xf32>) -> tensor<4xf32> {
  %0 = "chlo.erf"(%arg0) : (tensor<3xf32>) -> tensor<4xf32>
  func.return %0 : tensor<4xf32>
}
// CHECK: 'chlo.erf' operand and result types must match
