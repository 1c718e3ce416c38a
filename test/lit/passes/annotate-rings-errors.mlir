// RUN: not ditto-opt %s -p 'annotate-rings{policy=fxp8}' 2>&1 | filecheck %s --check-prefix=UNKNOWN
// RUN: not ditto-opt %s -p 'annotate-rings{policy="%S/inputs/not-json.json"}' 2>&1 | filecheck %s --check-prefix=JSON
// RUN: not ditto-opt %s -p 'annotate-rings{policy="%S/inputs/bad-rule.json"}' 2>&1 | filecheck %s --check-prefix=RULE
// RUN: not ditto-opt %s -p 'annotate-rings{policy="%S/inputs/bad-base.json"}' 2>&1 | filecheck %s --check-prefix=BASE
// RUN: not ditto-opt %s -p 'annotate-rings,annotate-rings' 2>&1 | filecheck %s --check-prefix=TWICE

// UNKNOWN: ditto-opt: error: unknown ring policy 'fxp8': use fxp64, ditto, auto or a JSON policy file
// JSON: ditto-opt: error: {{.*}}not-json.json: not valid JSON
// RULE: ditto-opt: error: {{.*}}bad-rule.json: rules[0]: a rule needs a ring and an op and/or a location
// BASE: ditto-opt: error: {{.*}}bad-base.json: base must be one of fxp64, ditto
// TWICE: ditto-opt: error: the module already has ring types; annotate-rings runs once

func.func @f(%arg0: tensor<2xf32>) -> tensor<2xf32> {
  %0 = "stablehlo.add"(%arg0, %arg0) : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
  func.return %0 : tensor<2xf32>
}
