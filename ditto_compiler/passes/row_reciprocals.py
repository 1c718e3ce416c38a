"""`row-reciprocals`: divide by a broadcast row once per row, not once per element.

Softmax divides every element by its row's sum broadcast to the full shape; a
secure division costs a reciprocal (tens of rounds of Goldschmidt iteration) per
element. Taking the reciprocal of the row and broadcasting it makes that one per
row, plus one multiply per element. A divisor that is a square root becomes one
rsqrt (LayerNorm written as (x - mean) / sqrt(var + eps)). Every policy gets these:
the result differs only in rounding.

    a / broadcast(s)        ->  a * broadcast(1 / s)
    a / broadcast(sqrt(v))  ->  a * broadcast(rsqrt(v))
    a / sqrt(v)             ->  a * rsqrt(v)

`1 / s` is a StableHLO divide with a splat numerator of one; legalize-to-pphlo
emits it as `pphlo.reciprocal`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import DenseIntOrFPElementsAttr, ModuleOp, TensorType
from xdsl.ir import Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import PatternRewriter, RewritePattern, op_type_rewrite_pattern
from xdsl_jax.dialects import stablehlo as shlo

from ..rewriting import rewrite_walker

_DATA_MOVEMENT = (shlo.BroadcastInDimOp, shlo.ReshapeOp)


def _size(value: SSAValue) -> int:
    assert isinstance(value.type, TensorType)
    return math.prod(value.type.get_shape())


def _is_constant(value: SSAValue) -> bool:
    while isinstance(value.owner, _DATA_MOVEMENT):
        value = value.owner.operand
    return isinstance(value.owner, shlo.ConstantOp)


class DivideByBroadcastRow(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: shlo.DivideOp, rewriter: PatternRewriter) -> None:
        if _is_constant(op.rhs):
            return  # legalize-to-pphlo turns it into a multiply by the constant's reciprocal
        chain: list[Operation] = []
        row = op.rhs
        while isinstance(row.owner, _DATA_MOVEMENT):
            chain.append(row.owner)
            row = row.owner.operand
        root = row.owner
        if isinstance(root, shlo.SqrtOp):
            inverse: Operation = shlo.RsqrtOp(root.operand)
        elif _size(row) < _size(op.rhs):
            one = shlo.ConstantOp(DenseIntOrFPElementsAttr.from_list(row.type, [1.0]))  # type: ignore[arg-type]
            rewriter.insert(one)
            inverse = shlo.DivideOp(one.output, row, row.type)
        else:
            return
        rewriter.insert(inverse)
        value = inverse.results[0]
        for movement in reversed(chain):
            clone = movement.clone(value_mapper={movement.operands[0]: value})
            rewriter.insert(clone)
            value = clone.results[0]
        rewriter.replace(op, shlo.MultiplyOp(op.lhs, value, op.result.type))
        for dead in [*chain, root]:  # the old divisor, unless something else uses it
            if isinstance(dead, Operation) and not any(result.uses for result in dead.results):
                rewriter.erase(dead)
            else:
                break


@dataclass(frozen=True)
class RowReciprocalsPass(ModulePass):
    name = "row-reciprocals"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        rewrite_walker(DivideByBroadcastRow(), apply_recursively=False).rewrite_module(op)
