"""`expand-dynamic-update-slice`: a write at public positions as local data movement and a public select.

A KV cache is written with `stablehlo.dynamic_update_slice(cache, new, starts)` at the
(public) position of the tokens it holds. SPU has no such op at the PPHLO level this
compiler emits; it is expanded into ops that cost nothing under MPC when the starts
are public:

    starts      clamped to [0, D - u] per dimension, as StableHLO does (public integers)
    padded      the update between two fillers of D - u copies of its first slice, per
                dimension it does not fill (the fillers are never selected: they only keep
                every operand of the concatenation as secret as the update)
    placed      dynamic_slice(padded, D - u - start): the update at its place
    window      start <= iota < start + u in every such dimension (public booleans)
    result      select(window, placed, operand)

An update that fills the whole operand is the result. Secret starts are refused
where the dynamic_slice is legalized (legalize-to-pphlo), at this op's location.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import DenseArrayBase, DenseIntOrFPElementsAttr, IntegerAttr, ModuleOp, TensorType, i1, i64
from xdsl.ir import Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import PatternRewriter, RewritePattern, op_type_rewrite_pattern
from xdsl_jax.dialects import stablehlo as shlo
from xdsl_jax.dialects.stablehlo.attributes import ComparisonDirection, ComparisonDirectionAttr

from ..dialects.stablehlo import CompareOp, DynamicUpdateSliceOp
from ..rewriting import rewrite_walker


class _Ops:
    """StableHLO ops built in order, to be inserted before the rewritten op."""

    def __init__(self) -> None:
        self.ops: list[Operation] = []

    def add(self, op: Operation) -> SSAValue:
        self.ops.append(op)
        return op.results[0]

    def constant(self, value: int, type_: TensorType) -> SSAValue:
        return self.add(shlo.ConstantOp(DenseIntOrFPElementsAttr.from_list(type_, [value])))

    def binary(self, kind: type[Operation], lhs: SSAValue, rhs: SSAValue) -> SSAValue:
        return self.add(kind.create(operands=[lhs, rhs], result_types=[lhs.type]))

    def broadcast(self, scalar: SSAValue, shape: list[int]) -> SSAValue:
        element = scalar.type.element_type  # type: ignore[attr-defined]
        return self.add(
            shlo.BroadcastInDimOp.create(
                operands=[scalar],
                result_types=[TensorType(element, shape)],
                properties={"broadcast_dimensions": DenseArrayBase.from_list(i64, [])},
            )
        )

    def compare(self, direction: ComparisonDirection, lhs: SSAValue, rhs: SSAValue) -> SSAValue:
        shape = lhs.type.get_shape()  # type: ignore[attr-defined]
        return self.add(
            CompareOp.create(
                operands=[lhs, rhs],
                result_types=[TensorType(i1, shape)],
                properties={"comparison_direction": ComparisonDirectionAttr(direction)},
            )
        )


def _shape(value: SSAValue) -> list[int]:
    assert isinstance(value.type, TensorType)
    return list(value.type.get_shape())


def _pad_with_first_slice(ops: _Ops, value: SSAValue, dim: int, amount: int) -> SSAValue:
    """`value` with `amount` copies of its first slice along `dim` before and after it."""
    shape = _shape(value)
    element = value.type.element_type  # type: ignore[attr-defined]
    limit = [*shape[:dim], 1, *shape[dim + 1 :]]
    first = ops.add(
        shlo.SliceOp.create(
            operands=[value],
            result_types=[TensorType(element, limit)],
            properties={
                "start_indices": DenseArrayBase.from_list(i64, [0] * len(shape)),
                "limit_indices": DenseArrayBase.from_list(i64, limit),
                "strides": DenseArrayBase.from_list(i64, [1] * len(shape)),
            },
        )
    )
    filler = ops.add(
        shlo.BroadcastInDimOp.create(
            operands=[first],
            result_types=[TensorType(element, [*shape[:dim], amount, *shape[dim + 1 :]])],
            properties={"broadcast_dimensions": DenseArrayBase.from_list(i64, list(range(len(shape))))},
        )
    )
    padded = [*shape[:dim], shape[dim] + 2 * amount, *shape[dim + 1 :]]
    return ops.add(
        shlo.ConcatenateOp(
            operands=[[filler, value, filler]],
            result_types=[TensorType(element, padded)],
            properties={"dimension": IntegerAttr(dim, i64)},
        )
    )


class ExpandDynamicUpdateSlice(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: DynamicUpdateSliceOp, rewriter: PatternRewriter) -> None:
        shape, update_shape = _shape(op.operand), _shape(op.update)
        if shape == update_shape:
            rewriter.replace(op, [], [op.update])
            return
        ops = _Ops()
        index_type = op.start_indices[0].type
        assert isinstance(index_type, TensorType)
        padded, slice_starts, window = op.update, [], None
        for dim, (size, written, start) in enumerate(zip(shape, update_shape, op.start_indices)):
            if written == size:
                slice_starts.append(ops.constant(0, index_type))
                continue
            spare = ops.constant(size - written, index_type)
            start = ops.binary(shlo.MaximumOp, start, ops.constant(0, index_type))
            start = ops.binary(shlo.MinimumOp, start, spare)
            padded = _pad_with_first_slice(ops, padded, dim, size - written)
            slice_starts.append(ops.binary(shlo.SubtractOp, spare, start))
            end = ops.binary(shlo.AddOp, start, ops.constant(written, index_type))
            iota = ops.add(
                shlo.IotaOp.create(
                    result_types=[TensorType(index_type.element_type, shape)],
                    properties={"iota_dimension": IntegerAttr(dim, i64)},
                )
            )
            inside = ops.binary(
                shlo.AndOp,
                ops.compare(ComparisonDirection.GE, iota, ops.broadcast(start, shape)),
                ops.compare(ComparisonDirection.LT, iota, ops.broadcast(end, shape)),
            )
            window = inside if window is None else ops.binary(shlo.AndOp, window, inside)
        placed = ops.add(
            shlo.DynamicSliceOp(
                operands=[padded, slice_starts],
                result_types=[op.operand.type],
                properties={"slice_sizes": DenseArrayBase.from_list(i64, shape)},
            )
        )
        select = shlo.SelectOp.create(operands=[window, placed, op.operand], result_types=[op.result.type])
        rewriter.replace(op, [*ops.ops, select])


@dataclass(frozen=True)
class ExpandDynamicUpdateSlicePass(ModulePass):
    name = "expand-dynamic-update-slice"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        rewrite_walker(ExpandDynamicUpdateSlice(), apply_recursively=False).rewrite_module(op)
