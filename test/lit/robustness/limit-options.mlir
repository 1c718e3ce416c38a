// The element limits are options: --max-elements / --max-constant-elements, or the
// environment variables DITTO_MAX_ELEMENTS / DITTO_MAX_CONSTANT_ELEMENTS.
// RUN: ditto-opt %s | filecheck %s --check-prefix=DEFAULT
// RUN: not ditto-opt %s --max-elements 15 2>&1 | filecheck %s --check-prefix=SHAPE
// RUN: not ditto-opt %s --max-constant-elements 3 2>&1 | filecheck %s --check-prefix=CONSTANT
// RUN: env DITTO_MAX_ELEMENTS=15 not ditto-opt %s 2>&1 | filecheck %s --check-prefix=SHAPE
// RUN: env DITTO_MAX_CONSTANT_ELEMENTS=3 not ditto-opt %s 2>&1 | filecheck %s --check-prefix=CONSTANT
// RUN: env DITTO_MAX_ELEMENTS=lots not ditto-opt %s 2>&1 | filecheck %s --check-prefix=BADENV
// RUN: not ditto-opt %s --max-elements 0 2>&1 | filecheck %s --check-prefix=BADFLAG

func.func @f(%arg0: tensor<4x4xf32>) -> tensor<4x4xf32> {
  %0 = "stablehlo.constant"() {value = dense<1.0> : tensor<4xf32>} : () -> tensor<4xf32>
  func.return %arg0 : tensor<4x4xf32>
}

// DEFAULT: func.func @f
// SHAPE: ditto-opt: error: {{.*}}limit-options.mlir:11:21: type tensor<4x4x...> has 16 elements, more than the limit of 15 (--max-elements or DITTO_MAX_ELEMENTS)
// CONSTANT: ditto-opt: error: {{.*}}limit-options.mlir:12:{{[0-9]+}}: dense literal of type tensor<4x...> has 4 elements, more than the limit of 3
// BADENV: ditto-opt: error: DITTO_MAX_ELEMENTS must be a positive integer, not 'lots'
// BADFLAG: argument --max-elements: must be a positive integer, not '0'
