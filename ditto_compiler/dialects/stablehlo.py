"""StableHLO as xdsl-jax defines it, with corrections and one missing op.

xdsl-jax 0.6.0 names `stablehlo.compare`'s optional property `comparison_type`,
but StableHLO (and JAX's output) call it `compare_type`; JAX's text would not
verify. `CompareOp` here is the op with StableHLO's property name. xdsl-jax has no
`stablehlo.dynamic_update_slice` (HF's KV caches write with it): `DynamicUpdateSliceOp`.
`stablehlo.constant` also checks that its value has the result type, and its
custom syntax refuses a value that is not a dense elements attribute.
"""

from __future__ import annotations

from xdsl.dialects.builtin import AnyTensorType, ArrayAttr, DenseArrayBase, DenseIntOrFPElementsAttr, TensorType, i64
from xdsl.ir import Dialect, Operation
from xdsl.irdl import (
    IRDLOperation,
    irdl_op_definition,
    operand_def,
    opt_prop_def,
    prop_def,
    result_def,
    traits_def,
    var_operand_def,
)
from xdsl.irdl.declarative_assembly_format import ParsingState
from xdsl.parser import Parser
from xdsl.traits import NoMemoryEffect
from xdsl.utils.exceptions import VerifyException
from xdsl_jax.dialects import stablehlo as xdsl_jax_stablehlo
from xdsl_jax.dialects.stablehlo import ComparisonDirectionAttr, ComparisonTypeAttr
from xdsl_jax.dialects.stablehlo.custom_directives import ConstantOpValue


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


@irdl_op_definition
class DynamicUpdateSliceOp(IRDLOperation):
    """`operand` with `update` written at `start_indices` (scalars, clamped so the update fits)."""

    name = "stablehlo.dynamic_update_slice"
    operand = operand_def(AnyTensorType)
    update = operand_def(AnyTensorType)
    start_indices = var_operand_def(AnyTensorType)
    result = result_def(AnyTensorType)
    traits = traits_def(NoMemoryEffect())

    def verify_(self) -> None:
        shapes = [v.type.get_shape() for v in (self.operand, self.update, self.result)]  # type: ignore[attr-defined]
        operand, update, result = shapes
        if result != operand or len(update) != len(operand) or len(self.start_indices) != len(operand):
            raise VerifyException(
                "'stablehlo.dynamic_update_slice' needs the result shaped as the operand, and an update and a "
                "start index per dimension of it"
            )
        if any(u > d for u, d in zip(update, operand)):
            raise VerifyException("'stablehlo.dynamic_update_slice' update must fit in the operand")
        if any(v.type.get_shape() for v in self.start_indices):  # type: ignore[attr-defined]
            raise VerifyException("'stablehlo.dynamic_update_slice' start indices must be scalars")


def int_list(attr: ArrayAttr) -> list[int]:
    """The values of an ArrayAttr of IntegerAttr, as StableHLO's dimension attributes hold them."""
    return [x.value.data for x in attr.data]  # type: ignore[attr-defined]


def splat(value: float, type_: TensorType) -> list[Operation]:
    """A scalar constant and its broadcast to `type_` (the last op's result is the value), as JAX
    writes them: shape-sized constant data would cost memory and time in every later pass."""
    scalar = xdsl_jax_stablehlo.ConstantOp(
        DenseIntOrFPElementsAttr.from_list(TensorType(type_.element_type, []), [value])
    )
    if not type_.get_shape():
        return [scalar]
    broadcast = xdsl_jax_stablehlo.BroadcastInDimOp.create(
        operands=[scalar.results[0]],
        result_types=[type_],
        properties={"broadcast_dimensions": DenseArrayBase.from_list(i64, [])},
    )
    return [scalar, broadcast]


def is_row_lookup(op: xdsl_jax_stablehlo.GatherOp) -> bool:
    """Whether `op` is `jnp.take(table, ids, axis=0)`: whole rows of the table, one index per
    row in a trailing dimension of 1, the rows' own dimensions last in the result."""
    values = (op.operand, op.start_indices, op.results[0])
    if not all(isinstance(v.type, TensorType) for v in values):
        return False
    table, ids, out = (v.type.get_shape() for v in values)  # type: ignore[attr-defined]
    dn = op.dimension_numbers
    batch = len(ids) - 1
    return (
        int_list(dn.collapsed_slice_dims) == [0]
        and int_list(dn.start_index_map) == [0]
        and dn.index_vector_dim.value.data == batch
        and ids[-1] == 1
        and list(op.slice_sizes.get_values()) == [1, *table[1:]]
        and int_list(dn.offset_dims) == list(range(batch, len(out)))
        and not int_list(dn.operand_batching_dims)
    )


_verify_constant_definition = xdsl_jax_stablehlo.ConstantOp.verify_


def _verify_constant(op: xdsl_jax_stablehlo.ConstantOp) -> None:
    _verify_constant_definition(op)
    # StableHLO requires it; xdsl-jax's ConstantOp does not check it, and passes that
    # evaluate constants read the value in the result's shape.
    if op.value.type != op.output.type:
        raise VerifyException(f"'stablehlo.constant' value of type {op.value.type} must have the result type")


xdsl_jax_stablehlo.ConstantOp.verify_ = _verify_constant


def _parse_constant_value(self: ConstantOpValue, parser: Parser, state: ParsingState) -> None:
    # xdsl-jax's version reads `.type` of whatever attribute follows `stablehlo.constant`.
    start = parser.pos
    attr = parser.parse_attribute()
    if not isinstance(attr, DenseIntOrFPElementsAttr):
        parser.raise_error("'stablehlo.constant' expects a dense elements attribute", start, parser.pos)
    self.value.set(state, attr)
    self.result_type.set(state, (attr.type,))


ConstantOpValue.parse = _parse_constant_value

StableHLO = Dialect(
    "stablehlo",
    [
        *(CompareOp if op.name == "stablehlo.compare" else op for op in xdsl_jax_stablehlo.StableHLO.operations),
        DynamicUpdateSliceOp,
    ],
    list(xdsl_jax_stablehlo.StableHLO.attributes),
)
