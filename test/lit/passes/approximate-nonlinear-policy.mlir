// RUN: ditto-opt %s -p 'approximate-nonlinear{policy="%S/inputs/per-layer.json"}' --print-debuginfo | filecheck %s
// RUN: ditto-opt %s -p 'approximate-nonlinear' | filecheck %s --check-prefix=EXACT
// RUN: not ditto-opt %s -p 'approximate-nonlinear{policy="%S/inputs/bad-mode.json"}' 2>&1 | filecheck %s --check-prefix=MODE
// RUN: not ditto-opt %s -p 'approximate-nonlinear{policy="%S/inputs/per-layer.json" gelu="quad"}' 2>&1 | filecheck %s --check-prefix=BOTH
// RUN: not ditto-opt %s -p 'approximate-nonlinear{policy="%S/inputs/missing.json"}' 2>&1 | filecheck %s --check-prefix=MISSING

// A policy file chooses per location: layer 0's GeLU becomes Quad (two multiplies, no comparison),
// layer 1's PUMA's piecewise polynomial (three comparisons), and a GeLU no rule names keeps its erf.
// CHECK-LABEL: func.func @three_layers
// CHECK:         stablehlo.multiply {{.*}}"layer/0/mlp/gelu"
// CHECK-NOT:     stablehlo.compare
// CHECK:         stablehlo.add {{.*}}"layer/0/mlp/gelu"
// CHECK-NOT:     chlo.erfc
// CHECK-COUNT-3: "stablehlo.compare"{{.*}}"layer/1/mlp/gelu"
// CHECK:         "chlo.erfc"{{.*}}"layer/2/mlp/erfc"
// CHECK:         func.return
// EXACT-LABEL: func.func @three_layers
// EXACT-COUNT-3: chlo.erfc

// (More policy-file errors: test_tune.py, test_policy_file_errors_name_the_file_and_the_key.)
// MODE: ditto-opt: error: {{.*}}bad-mode.json: approximations[0]: gelu must be one of exact, quad, puma, relu-fit, not 'cubic'
// BOTH: ditto-opt: error: approximate-nonlinear: give gelu, softmax and silu in the policy file or here, not both
// MISSING: ditto-opt: error: policy file {{.*}}missing.json does not exist

func.func @three_layers(%x: tensor<4xf32>) -> tensor<4xf32> {
  %ah = "stablehlo.constant"() <{value = dense<5.000000e-01> : tensor<4xf32>}> : () -> tensor<4xf32>
  %ac = "stablehlo.constant"() <{value = dense<0.707106769> : tensor<4xf32>}> : () -> tensor<4xf32>
  %a0 = "stablehlo.multiply"(%ah, %x) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %a1 = "stablehlo.negate"(%x) : (tensor<4xf32>) -> tensor<4xf32>
  %a2 = "stablehlo.multiply"(%a1, %ac) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %a3 = "chlo.erfc"(%a2) : (tensor<4xf32>) -> tensor<4xf32> loc("layer/0/mlp/erfc"("model.py":0:1))
  %a4 = "stablehlo.multiply"(%a0, %a3) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32> loc("layer/0/mlp/gelu"("model.py":0:1))
  %bh = "stablehlo.constant"() <{value = dense<5.000000e-01> : tensor<4xf32>}> : () -> tensor<4xf32>
  %bc = "stablehlo.constant"() <{value = dense<0.707106769> : tensor<4xf32>}> : () -> tensor<4xf32>
  %b0 = "stablehlo.multiply"(%bh, %a4) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %b1 = "stablehlo.negate"(%a4) : (tensor<4xf32>) -> tensor<4xf32>
  %b2 = "stablehlo.multiply"(%b1, %bc) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %b3 = "chlo.erfc"(%b2) : (tensor<4xf32>) -> tensor<4xf32> loc("layer/1/mlp/erfc"("model.py":1:1))
  %b4 = "stablehlo.multiply"(%b0, %b3) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32> loc("layer/1/mlp/gelu"("model.py":1:1))
  %ch = "stablehlo.constant"() <{value = dense<5.000000e-01> : tensor<4xf32>}> : () -> tensor<4xf32>
  %cc = "stablehlo.constant"() <{value = dense<0.707106769> : tensor<4xf32>}> : () -> tensor<4xf32>
  %c0 = "stablehlo.multiply"(%ch, %b4) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %c1 = "stablehlo.negate"(%b4) : (tensor<4xf32>) -> tensor<4xf32>
  %c2 = "stablehlo.multiply"(%c1, %cc) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %c3 = "chlo.erfc"(%c2) : (tensor<4xf32>) -> tensor<4xf32> loc("layer/2/mlp/erfc"("model.py":2:1))
  %c4 = "stablehlo.multiply"(%c0, %c3) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32> loc("layer/2/mlp/gelu"("model.py":2:1))
  func.return %c4 : tensor<4xf32>
}
