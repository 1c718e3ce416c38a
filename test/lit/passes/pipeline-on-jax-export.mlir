// The passes run on StableHLO exactly as JAX exports it (generic form, outlined
// helpers, hex floats, location aliases).
// RUN: ditto-opt %S/inputs/jax-layer.mlir -p 'inline-private-functions,legalize-to-pphlo,annotate-rings{policy=ditto},fuse-scales,eliminate-redundant-casts' | filecheck %s
// RUN: ditto-opt %S/inputs/jax-layer.mlir -p 'ditto-pipeline{policy=fxp64}' | filecheck %s --check-prefix=FXP64

// CHECK-LABEL: func.func public @main
// CHECK-SAME:    tensor<3x8x!pphlo.secret<!fxp.fixed<32, 10>>>
// CHECK:         "pphlo.dot"{{.*}} -> tensor<3x16x!pphlo.secret<!fxp.fixed<32, 20>>>
// CHECK:         "fxp.cast"{{.*}}!fxp.fixed<32, 10>{{.*}} -> tensor<3x16x!pphlo.secret<!fxp.fixed<64, 18>>>
// The exact GeLU's erf: a clamp and a polynomial, no division; its final 1/16 becomes a rescale.
// CHECK:         "pphlo.clamp"
// CHECK-NOT:     "pphlo.divide"
// CHECK:         "fxp.rescale"({{.*}}) <{shift = 4 : i64}>
// The softmax's division by 4 is a multiplication by 2^-2: a free rescale, and no truncation of its own.
// CHECK:         "fxp.rescale"({{.*}}) <{shift = 2 : i64}>
// CHECK:         "pphlo.exponential"{{.*}}!fxp.fixed<64, 18>
// CHECK-NOT:     stablehlo.
// CHECK-NOT:     chlo.
// The softmax's exp, on its proved range [-13.2, 0], is a polynomial and squarings (bounded-exp).
// FXP64-NOT:     fxp.cast
// FXP64-NOT:     "pphlo.exponential"
// FXP64:         "pphlo.multiply"([[P:%.*]], [[P]]) {ditto.precise} : (tensor<{{.*}}!fxp.fixed<64, 18>>>
// FXP64-NOT:     "pphlo.exponential"
// FXP64:         func.return
