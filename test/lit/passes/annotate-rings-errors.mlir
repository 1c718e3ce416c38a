// RUN: not ditto-opt %s -p 'annotate-rings{policy=fxp8}' --split-input-file 2>&1 | filecheck %s --check-prefix=UNKNOWN
// RUN: not ditto-opt %s -p 'annotate-rings{policy="%S/inputs/not-json.json"}' --split-input-file 2>&1 | filecheck %s --check-prefix=JSON
// RUN: not ditto-opt %s -p 'annotate-rings{policy="%S/inputs/bad-rule.json"}' --split-input-file 2>&1 | filecheck %s --check-prefix=RULE
// RUN: not ditto-opt %s -p 'annotate-rings{policy="%S/inputs/bad-base.json"}' --split-input-file 2>&1 | filecheck %s --check-prefix=BASE
// RUN: not ditto-opt %s -p 'annotate-rings{policy="%S/inputs/optimal-rules.json"}' --split-input-file 2>&1 | filecheck %s --check-prefix=RULES
// RUN: ditto-opt %s -p 'annotate-rings,annotate-rings' --split-input-file --verify-diagnostics | filecheck %s --check-prefix=DIAG
// RUN: not ditto-opt %s -p 'annotate-rings' --split-input-file 2>&1 | filecheck %s --check-prefix=EXIT

// UNKNOWN: ditto-opt: error: unknown ring policy 'fxp8': use fxp64, ditto, auto or a JSON policy file
// JSON: ditto-opt: error: {{.*}}not-json.json is not a ring policy file (not valid JSON
// RULE: ditto-opt: error: {{.*}}bad-rule.json: rules[0]: a rule needs a ring and an op and/or a location
// BASE: ditto-opt: error: {{.*}}bad-base.json: base must be one of fxp64, ditto
// RULES: ditto-opt: error: {{.*}}optimal-rules.json: base optimal decides every op's ring itself; it takes no ring rules

// Ring types are given once.
func.func @twice(%arg0: tensor<2x!pphlo.secret<f32>>) -> tensor<2x!pphlo.secret<f32>> {
  %0 = "pphlo.add"(%arg0, %arg0) : (tensor<2x!pphlo.secret<f32>>, tensor<2x!pphlo.secret<f32>>) -> tensor<2x!pphlo.secret<f32>>
  func.return %0 : tensor<2x!pphlo.secret<f32>>
}
// DIAG: the module already has ring types; annotate-rings runs once

// -----

// StableHLO is refused, naming the op, its location and the pass that must run first.
func.func @unlegalized(%arg0: tensor<2xf32>) -> tensor<2xf32> {
  %0 = "stablehlo.add"(%arg0, %arg0) : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32> loc("jit(f)/add"("model.py":3:9))
  func.return %0 : tensor<2xf32>
}
// DIAG: "jit(f)/add" at model.py:3:9: 'stablehlo.add' is not PPHLO: annotate-rings runs after legalize-to-pphlo
// EXIT: ditto-opt: error: "jit(f)/add" at model.py:3:9: 'stablehlo.add' is not PPHLO: annotate-rings runs after legalize-to-pphlo
// EXIT-NOT: Traceback
