// RUN: ditto-opt %s -p legalize-to-pphlo --split-input-file | filecheck %s
// RUN: ditto-opt %s -p 'legalize-to-pphlo{field_bits=64 fraction_bits=40}' --split-input-file | filecheck %s --check-prefix=NARROW

// Constants and iota are public. Float constants beyond the ring's range (-inf,
// float32's most negative value as JAX's masks use) saturate to +-2^15, which the 32-bit
// ring can also hold; with 40 fraction bits the bound is 2^((64-40-2)/2) = 2^11;
// NaN becomes 0. In-range values are untouched.
// CHECK-LABEL: func.func @constants
// CHECK:         "pphlo.constant"() <{value = dense<[-3.276800e+04, 3.276800e+04, 0.000000e+00, 1.500000e+00, -3.276800e+04]> : tensor<5xf32>}> : () -> tensor<5xf32>
// CHECK:         "pphlo.constant"() <{value = dense<7> : tensor<i32>}> : () -> tensor<i32>
// CHECK:         "pphlo.iota"() <{iota_dimension = 1 : i64}> : () -> tensor<2x3xi32>
// NARROW-LABEL:  func.func @constants
// NARROW:        "pphlo.constant"() <{value = dense<[-2.048000e+03, 2.048000e+03, 0.000000e+00, 1.500000e+00, -2.048000e+03]> : tensor<5xf32>}>
func.func @constants() -> (tensor<5xf32>, tensor<i32>, tensor<2x3xi32>) {
  %0 = "stablehlo.constant"() <{value = dense<[0xFF800000, 0x7F800000, 0x7FC00000, 1.5, -3.40282347E+38]> : tensor<5xf32>}> : () -> tensor<5xf32>
  %1 = "stablehlo.constant"() <{value = dense<7> : tensor<i32>}> : () -> tensor<i32>
  %2 = "stablehlo.iota"() <{iota_dimension = 1 : i64}> : () -> tensor<2x3xi32>
  "func.return"(%0, %1, %2) : (tensor<5xf32>, tensor<i32>, tensor<2x3xi32>) -> ()
}
