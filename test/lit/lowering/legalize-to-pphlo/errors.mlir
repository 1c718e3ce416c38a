// RUN: ditto-opt %s -p legalize-to-pphlo --split-input-file --verify-diagnostics | filecheck %s
// RUN: not ditto-opt %s -p legalize-to-pphlo --split-input-file 2>&1 | filecheck %s --check-prefix=EXIT
// RUN: not ditto-opt %s -p 'legalize-to-pphlo{fraction_bits=60}' --split-input-file 2>&1 | filecheck %s --check-prefix=RING
// RUN: not ditto-opt %s -p 'legalize-to-pphlo{field_bits=48}' --split-input-file 2>&1 | filecheck %s --check-prefix=RING48

// RING: ditto-opt: error: a 64-bit ring cannot hold 60 fraction bits
// RING48: ditto-opt: error: unsupported ring width 48; use 32, 64 or 128

// An op with no PPHLO lowering is named, with its JAX location.
func.func @unsupported(%arg0: tensor<4xf32>) -> tensor<4xf32> {
  %0 = "stablehlo.cbrt"(%arg0) : (tensor<4xf32>) -> tensor<4xf32> loc("jit(f)/cbrt"("model.py":7:4))
  "func.return"(%0) : (tensor<4xf32>) -> ()
}

// CHECK: "jit(f)/cbrt" at model.py:7:4: 'stablehlo.cbrt' is not supported by legalize-to-pphlo
// EXIT: ditto-opt: error: "jit(f)/cbrt" at model.py:7:4: 'stablehlo.cbrt' is not supported by legalize-to-pphlo
// EXIT-NOT: Traceback

// -----

// Control flow is not supported yet.
func.func @loop(%arg0: tensor<i32>) -> tensor<i32> {
  %0 = "stablehlo.while"(%arg0) ({
  ^bb0(%a: tensor<i32>):
    %c = "stablehlo.compare"(%a, %a) <{comparison_direction = #stablehlo<comparison_direction LT>}> : (tensor<i32>, tensor<i32>) -> tensor<i1>
    "stablehlo.return"(%c) : (tensor<i1>) -> ()
  }, {
  ^bb0(%a: tensor<i32>):
    "stablehlo.return"(%a) : (tensor<i32>) -> ()
  }) : (tensor<i32>) -> tensor<i32>
  "func.return"(%0) : (tensor<i32>) -> ()
}

// CHECK: 'stablehlo.while' is not supported by legalize-to-pphlo

// -----

// MPC needs static shapes.
func.func @dynamic(%arg0: tensor<?x4xf32>) -> tensor<?x4xf32> {
  "func.return"(%arg0) : (tensor<?x4xf32>) -> ()
}

// CHECK: argument 0 of @dynamic has a dynamic shape tensor<?x4xf32>; only static shapes can run under MPC

// -----

// Legalization wants one function body: calls must be inlined first.
func.func @main(%arg0: tensor<2xf32>) -> tensor<2xf32> {
  %0 = func.call @helper(%arg0) : (tensor<2xf32>) -> tensor<2xf32>
  func.return %0 : tensor<2xf32>
}
func.func private @helper(%arg0: tensor<2xf32>) -> tensor<2xf32> {
  func.return %arg0 : tensor<2xf32>
}

// CHECK: @main contains func.call; run inline-private-functions first

// -----

// Only row lookups (jnp.take(table, ids, axis=0)) are supported as gathers.
func.func @column_gather(%arg0: tensor<4x10xf32>, %arg1: tensor<3x1xi32>) -> tensor<3x4xf32> {
  %0 = "stablehlo.gather"(%arg0, %arg1) <{dimension_numbers = #stablehlo.gather<offset_dims = [1], collapsed_slice_dims = [1], start_index_map = [1], index_vector_dim = 1>, indices_are_sorted = false, slice_sizes = array<i64: 4, 1>}> : (tensor<4x10xf32>, tensor<3x1xi32>) -> tensor<3x4xf32>
  "func.return"(%0) : (tensor<3x4xf32>) -> ()
}

// CHECK: 'stablehlo.gather' is only supported as a row lookup (jnp.take(table, ids, axis=0))

// -----

// A secret offset would reveal which elements are read.
func.func @secret_offset(%arg0: tensor<4xf32>, %arg1: tensor<i32>) -> tensor<2xf32> {
  %0 = "stablehlo.dynamic_slice"(%arg0, %arg1) <{slice_sizes = array<i64: 2>}> : (tensor<4xf32>, tensor<i32>) -> tensor<2xf32>
  "func.return"(%0) : (tensor<2xf32>) -> ()
}

// CHECK: 'stablehlo.dynamic_slice' with secret start indices is not supported

// -----

func.func @bad_visibility(%arg0: tensor<2xf32> {ditto.visibility = "private"}) -> tensor<2xf32> {
  "func.return"(%arg0) : (tensor<2xf32>) -> ()
}

// CHECK: argument 0 of @bad_visibility: ditto.visibility must be "public" or "secret"
