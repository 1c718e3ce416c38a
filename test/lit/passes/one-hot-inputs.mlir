// RUN: ditto-opt %s -p one-hot-inputs --split-input-file | filecheck %s

// jnp.take(table, ids, axis=0) as JAX emits it (negative ids wrapped, then a gather):
// the ids' owner supplies their one-hot rows as a new input, and the lookup is a matmul.
// CHECK-LABEL: func.func @take
// CHECK-SAME:    (%table: tensor<5x3xf32>, %ids: tensor<1x2xi32>, [[ONE_HOT:%.*]]: tensor<1x2x5xf32> {ditto.one_hot_of = 1 : i64})
// CHECK-NOT:     stablehlo.gather
// CHECK:         [[ROWS:%.*]] = stablehlo.dot_general [[ONE_HOT]], %table, contracting_dims = [2] x [0] : (tensor<1x2x5xf32>, tensor<5x3xf32>) -> tensor<1x2x3xf32>
// CHECK:         stablehlo.select {{%.*}}, [[ROWS]]
func.func @take(%table: tensor<5x3xf32>, %ids: tensor<1x2xi32>) -> tensor<1x2x3xf32> {
  %0 = "stablehlo.constant"() <{value = dense<0> : tensor<1x2xi32>}> : () -> tensor<1x2xi32>
  %neg = "stablehlo.compare"(%ids, %0) <{compare_type = #stablehlo<comparison_type SIGNED>, comparison_direction = #stablehlo<comparison_direction LT>}> : (tensor<1x2xi32>, tensor<1x2xi32>) -> tensor<1x2xi1>
  %1 = "stablehlo.constant"() <{value = dense<5> : tensor<1x2xi32>}> : () -> tensor<1x2xi32>
  %wrapped = "stablehlo.add"(%ids, %1) : (tensor<1x2xi32>, tensor<1x2xi32>) -> tensor<1x2xi32>
  %2 = "stablehlo.select"(%neg, %wrapped, %ids) : (tensor<1x2xi1>, tensor<1x2xi32>, tensor<1x2xi32>) -> tensor<1x2xi32>
  %3 = "stablehlo.broadcast_in_dim"(%2) <{broadcast_dimensions = array<i64: 0, 1>}> : (tensor<1x2xi32>) -> tensor<1x2x1xi32>
  %4 = "stablehlo.gather"(%table, %3) <{dimension_numbers = #stablehlo.gather<offset_dims = [2], collapsed_slice_dims = [0], start_index_map = [0], index_vector_dim = 2>, indices_are_sorted = false, slice_sizes = array<i64: 1, 3>}> : (tensor<5x3xf32>, tensor<1x2x1xi32>) -> tensor<1x2x3xf32>
  %valid = "stablehlo.constant"() <{value = dense<true> : tensor<1x2x3xi1>}> : () -> tensor<1x2x3xi1>
  %nan = "stablehlo.constant"() <{value = dense<0x7FC00000> : tensor<1x2x3xf32>}> : () -> tensor<1x2x3xf32>
  %5 = "stablehlo.select"(%valid, %4, %nan) : (tensor<1x2x3xi1>, tensor<1x2x3xf32>, tensor<1x2x3xf32>) -> tensor<1x2x3xf32>
  func.return %5 : tensor<1x2x3xf32>
}

// -----

// Ids used as they come: the same.
// CHECK-LABEL: func.func @direct_ids
// CHECK-SAME:    ({{.*}}, [[ONE_HOT:%.*]]: tensor<2x5xf32> {ditto.one_hot_of = 1 : i64})
// CHECK-NEXT:    stablehlo.dot_general [[ONE_HOT]], %table, contracting_dims = [1] x [0]
func.func @direct_ids(%table: tensor<5x3xf32>, %ids: tensor<2x1xi32>) -> tensor<2x3xf32> {
  %0 = "stablehlo.gather"(%table, %ids) <{dimension_numbers = #stablehlo.gather<offset_dims = [1], collapsed_slice_dims = [0], start_index_map = [0], index_vector_dim = 1>, indices_are_sorted = false, slice_sizes = array<i64: 1, 3>}> : (tensor<5x3xf32>, tensor<2x1xi32>) -> tensor<2x3xf32>
  func.return %0 : tensor<2x3xf32>
}

// -----

// Public ids stay a gather (legalize-to-pphlo makes it a local spu.gather).
// CHECK-LABEL: func.func @public_ids
// CHECK-SAME:    (%table: tensor<5x3xf32>, %ids: tensor<2x1xi32> {ditto.visibility = "public"}) -> tensor<2x3xf32>
// CHECK:         stablehlo.gather
func.func @public_ids(%table: tensor<5x3xf32>, %ids: tensor<2x1xi32> {ditto.visibility = "public"}) -> tensor<2x3xf32> {
  %0 = "stablehlo.gather"(%table, %ids) <{dimension_numbers = #stablehlo.gather<offset_dims = [1], collapsed_slice_dims = [0], start_index_map = [0], index_vector_dim = 1>, indices_are_sorted = false, slice_sizes = array<i64: 1, 3>}> : (tensor<5x3xf32>, tensor<2x1xi32>) -> tensor<2x3xf32>
  func.return %0 : tensor<2x3xf32>
}

// -----

// Ids computed from secrets the owner of %ids does not hold (here: shifted by another
// input), or mapped by a function that is not the identity (ids + 1), stay under MPC.
// CHECK-LABEL: func.func @computed_ids
// CHECK-SAME:    (%table: tensor<5x3xf32>, %ids: tensor<2x1xi32>, %shift: tensor<2x1xi32>) -> (tensor<2x3xf32>, tensor<2x3xf32>)
// CHECK-COUNT-2: stablehlo.gather
func.func @computed_ids(%table: tensor<5x3xf32>, %ids: tensor<2x1xi32>, %shift: tensor<2x1xi32>) -> (tensor<2x3xf32>, tensor<2x3xf32>) {
  %0 = "stablehlo.add"(%ids, %shift) : (tensor<2x1xi32>, tensor<2x1xi32>) -> tensor<2x1xi32>
  %1 = "stablehlo.gather"(%table, %0) <{dimension_numbers = #stablehlo.gather<offset_dims = [1], collapsed_slice_dims = [0], start_index_map = [0], index_vector_dim = 1>, indices_are_sorted = false, slice_sizes = array<i64: 1, 3>}> : (tensor<5x3xf32>, tensor<2x1xi32>) -> tensor<2x3xf32>
  %c = "stablehlo.constant"() <{value = dense<1> : tensor<2x1xi32>}> : () -> tensor<2x1xi32>
  %2 = "stablehlo.add"(%ids, %c) : (tensor<2x1xi32>, tensor<2x1xi32>) -> tensor<2x1xi32>
  %3 = "stablehlo.gather"(%table, %2) <{dimension_numbers = #stablehlo.gather<offset_dims = [1], collapsed_slice_dims = [0], start_index_map = [0], index_vector_dim = 1>, indices_are_sorted = false, slice_sizes = array<i64: 1, 3>}> : (tensor<5x3xf32>, tensor<2x1xi32>) -> tensor<2x3xf32>
  func.return %1, %3 : tensor<2x3xf32>, tensor<2x3xf32>
}
