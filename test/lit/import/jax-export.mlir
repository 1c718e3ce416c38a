// Text as `jax.jit(f).lower(x).compiler_ir("stablehlo").operation.get_asm(print_generic_op_form=True,
// enable_debug_info=True)` prints it for `f = lambda x: jnp.max(x, axis=1)`: a hex float (-inf),
// location aliases after the module, and JAX's module attributes.
// RUN: ditto-opt %s --print-op-generic | filecheck %s
// RUN: ditto-opt %s | ditto-opt | filecheck %s --check-prefix=ROUNDTRIP
// RUN: ditto-opt %s --print-debuginfo | filecheck %s --check-prefix=LOC

"builtin.module"() <{sym_name = "jit__lambda_"}> ({
  "func.func"() <{arg_attrs = [{}], function_type = (tensor<2x3xf32>) -> tensor<2xf32>, res_attrs = [{jax.result_info = "result"}], sym_name = "main", sym_visibility = "public"}> ({
  ^bb0(%arg0: tensor<2x3xf32> loc("x")):
    %0 = "stablehlo.constant"() <{value = dense<0xFF800000> : tensor<f32>}> : () -> tensor<f32> loc(#loc3)
    %1 = "stablehlo.reduce"(%arg0, %0) <{dimensions = array<i64: 1>}> ({
    ^bb0(%arg1: tensor<f32> loc(#loc3), %arg2: tensor<f32> loc(#loc3)):
      %2 = "stablehlo.maximum"(%arg1, %arg2) : (tensor<f32>, tensor<f32>) -> tensor<f32> loc(#loc3)
      "stablehlo.return"(%2) : (tensor<f32>) -> () loc(#loc3)
    }) : (tensor<2x3xf32>, tensor<f32>) -> tensor<2xf32> loc(#loc3)
    "func.return"(%1) : (tensor<2xf32>) -> () loc(#loc)
  }) : () -> () loc(#loc)
}) {mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32} : () -> () loc(#loc)
#loc = loc(unknown)
#loc1 = loc("/home/user/model.py":12:11 to :28)
#loc2 = loc("<lambda>"(#loc1))
#loc3 = loc("jit(<lambda>)/reduce_max"(#loc2))

// CHECK:      "stablehlo.constant"() <{value = dense<0xff800000> : tensor<f32>}>
// CHECK:      "stablehlo.reduce"(%{{.*}}, %{{.*}}) <{dimensions = array<i64: 1>}>
// CHECK:        "stablehlo.maximum"
// CHECK:        "stablehlo.return"
// CHECK:      "func.return"

// ROUNDTRIP:      func.func public @main(%arg0: tensor<2x3xf32>) -> (tensor<2xf32> {jax.result_info = "result"})
// ROUNDTRIP-NEXT:   %0 = stablehlo.constant dense<0xff800000> : tensor<f32>

// LOC: stablehlo.constant {{.*}} loc("jit(<lambda>)/reduce_max"("/home/user/model.py":12:11))
