// Types xDSL cannot store or parse reliably are refused before parsing, naming the position.
// RUN: ditto-opt %s --split-input-file --verify-diagnostics --parsing-diagnostics | filecheck %s
// RUN: not ditto-opt %s --split-input-file 2>&1 | filecheck %s --check-prefix=EXIT
// EXIT: ditto-opt: error: {{.*}}unsupported-types.mlir:9:75: integer type i0 must have 1 to 64 bits
// EXIT-NOT: Traceback

// i0 made xDSL divide by zero in a dense array's verifier.
func.func @zero_width(%arg0: tensor<2xf32>) -> tensor<2xf32> {
  %0 = "stablehlo.broadcast_in_dim"(%arg0) <{broadcast_dimensions = array<i0: 0>}> : (tensor<2xf32>) -> tensor<2xf32>
  func.return %0 : tensor<2xf32>
}
// CHECK: unsupported-types.mlir:9:75: integer type i0 must have 1 to 64 bits

// -----

// A real literal for a complex type failed an assertion in xDSL's parser.
func.func @complex() -> tensor<complex<f32>> {
  %0 = "stablehlo.constant"() <{value = dense<0.0> : tensor<complex<f32>>}> : () -> tensor<complex<f32>>
  func.return %0 : tensor<complex<f32>>
}
// CHECK: unsupported-types.mlir:17:32: complex types are not supported

// -----

// An integer out of its type's range was a ValueError inside xDSL's parser; now a parse error at the literal.
func.func @out_of_range() -> tensor<2xi32> {
  %0 = "stablehlo.constant"() <{value = dense<99999999999> : tensor<2xi32>}> : () -> tensor<2xi32>
  func.return %0 : tensor<2xi32>
}
// CHECK: unsupported-types.mlir:27:75
// CHECK: Integer value 99999999999 is out of range for type i32
