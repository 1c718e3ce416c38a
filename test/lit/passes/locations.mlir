// Source locations survive the whole pipeline: ops a rewrite creates (expansions,
// approximations, ring casts, truncations, rescales) inherit the location of what they
// replace, so diagnostics, JSON policy "location" rules and plans can name the place.
// RUN: ditto-opt %S/inputs/jax-layer.mlir -p 'ditto-pipeline{policy=ditto gelu=quad softmax=ditto}' --print-debuginfo | filecheck %s
// RUN: ditto-opt %S/inputs/jax-layer.mlir -p 'inline-private-functions,legalize-to-pphlo' --print-debuginfo | filecheck %s --check-prefix=LEGAL
// RUN: ditto-opt %S/inputs/jax-layer.mlir -p 'ditto-pipeline{policy=ditto gelu=puma softmax=ditto}' --print-debuginfo | filecheck %s --check-prefix=ALL

// CHECK-LABEL: func.func public @main
// CHECK:         "pphlo.dot"{{.*}} loc("jit(layer)/dot_general"("<stdin>":3:20))
// CHECK-NEXT:    "fxp.truncate"{{.*}} loc("jit(layer)/dot_general"("<stdin>":3:20))
// Quad GeLU replaces the erfc form; its ops are where the GeLU was.
// CHECK:         "pphlo.multiply"{{.*}} loc("jit(layer)/mul"("<stdin>":3:8))
// CHECK:         "pphlo.dot"{{.*}} loc("jit(layer)/dot_general"("<stdin>":4:24))
// The scaling by 1/4 became a free rescale; it and its truncation stay where the division was.
// CHECK-NEXT:    "fxp.rescale"{{.*}} loc("jit(layer)/div"("<stdin>":4:23))
// CHECK-NEXT:    "fxp.truncate"{{.*}} loc("jit(layer)/div"("<stdin>":4:23))
// The upcast is where its value is made.
// CHECK-NEXT:    "fxp.cast"{{.*}} loc("jit(layer)/div"("<stdin>":4:23))
// Ditto's softmax replaces jax.nn.softmax; its ops are where the softmax's division was.
// CHECK:         "pphlo.less"{{.*}} loc("jit(layer)/div"("<stdin>":4:8))
// CHECK:         "pphlo.multiply"{{.*}} {ditto.precise} {{.*}} loc("jit(layer)/div"("<stdin>":4:8))
// CHECK:         "pphlo.reciprocal"{{.*}} loc("jit(layer)/div"("<stdin>":4:8))

// Every op keeps a location; the only ones without are constants that JAX itself
// printed without a location.
// ALL-NOT:       = "{{(pphlo|fxp)}}.{{(?!constant)[a-z_]+}}"({{.*}} loc(unknown)
// LEGAL-LABEL: func.func public @main
// LEGAL:         "pphlo.dot"{{.*}} loc("jit(layer)/dot_general"("<stdin>":3:20))
// LEGAL:         "pphlo.clamp"{{.*}} loc("jit(layer)/erfc"("<stdin>":3:8))
// LEGAL:         "pphlo.multiply"{{.*}} {ditto.precise}{{.*}} loc("jit(layer)/erfc"("<stdin>":3:8))
