"""StableHLO as xdsl-jax defines it, with one correction.

xdsl-jax 0.6.0 names `stablehlo.compare`'s optional property `comparison_type`,
but StableHLO (and JAX's output) call it `compare_type`; JAX's text would not
verify. `CompareOp` here is the op with StableHLO's property name.
"""

from __future__ import annotations

from xdsl.dialects.builtin import AnyTensorType, TensorType
from xdsl.ir import Dialect
from xdsl.irdl import IRDLOperation, irdl_op_definition, operand_def, opt_prop_def, prop_def, result_def, traits_def
from xdsl.traits import NoMemoryEffect
from xdsl_jax.dialects import stablehlo as xdsl_jax_stablehlo
from xdsl_jax.dialects.stablehlo import ComparisonDirectionAttr, ComparisonTypeAttr


@irdl_op_definition
class CompareOp(IRDLOperation):
    """Elementwise comparison `lhs <direction> rhs` producing i1."""

    name = "stablehlo.compare"
    lhs = operand_def(AnyTensorType)
    rhs = operand_def(AnyTensorType)
    result = result_def(AnyTensorType)
    comparison_direction = prop_def(ComparisonDirectionAttr)
    compare_type = opt_prop_def(ComparisonTypeAttr)
    traits = traits_def(NoMemoryEffect())


def is_row_lookup(op: xdsl_jax_stablehlo.GatherOp) -> bool:
    """Whether `op` is `jnp.take(table, ids, axis=0)`: whole rows of the table, one index per
    row in a trailing dimension of 1, the rows' own dimensions last in the result."""
    values = (op.operand, op.start_indices, op.results[0])
    if not all(isinstance(v.type, TensorType) for v in values):
        return False
    table, ids, out = (v.type.get_shape() for v in values)  # type: ignore[attr-defined]
    dn = op.dimension_numbers
    batch = len(ids) - 1

    def ints(attr) -> list[int]:  # noqa: ANN001 (an ArrayAttr of IntegerAttr)
        return [x.value.data for x in attr.data]

    return (
        ints(dn.collapsed_slice_dims) == [0]
        and ints(dn.start_index_map) == [0]
        and dn.index_vector_dim.value.data == batch
        and ids[-1] == 1
        and list(op.slice_sizes.get_values()) == [1, *table[1:]]
        and ints(dn.offset_dims) == list(range(batch, len(out)))
        and not ints(dn.operand_batching_dims)
    )


StableHLO = Dialect(
    "stablehlo",
    [CompareOp if op.name == "stablehlo.compare" else op for op in xdsl_jax_stablehlo.StableHLO.operations],
    list(xdsl_jax_stablehlo.StableHLO.attributes),
)
