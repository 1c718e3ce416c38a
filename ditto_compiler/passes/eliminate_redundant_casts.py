"""`eliminate-redundant-casts`: fewer and smaller ring conversions, same values.

* A cast of a cast folds into one when the first is exact (it widens the ring and
  keeps or adds fraction bits); a round trip back to the original type vanishes.
* Casts of one value to one type are shared by all users.
* A cast of a public constant is the constant encoded in the target ring.
* Casts move across pure data movement to the side with fewer elements: before a
  broadcast, after a slice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from xdsl.context import Context
from xdsl.dialects.builtin import DenseIntOrFPElementsAttr, ModuleOp, TensorType
from xdsl.ir import SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import PatternRewriter, RewritePattern, op_type_rewrite_pattern

from ..dialects import fxp, pphlo
from ..dialects.secret import is_secret, tensor_type
from ..lowering.legalize_to_pphlo import saturated_constant
from ..rewriting import rewrite_walker
from ..ring import RingConfig


def _exact(src: fxp.FixedType | fxp.IntType, dst: fxp.FixedType | fxp.IntType) -> bool:
    """Whether converting src -> dst loses nothing (wider or equal ring, no fewer fraction bits)."""
    if dst.k < src.k:
        return False
    if isinstance(src, fxp.FixedType) and isinstance(dst, fxp.FixedType):
        return dst.f >= src.f
    return True


def _ring(value: SSAValue) -> fxp.FixedType | fxp.IntType:
    element = fxp.ring_of(value.type)
    assert element is not None
    return element


def _elements(value: SSAValue) -> int:
    assert isinstance(value.type, TensorType)
    return math.prod(value.type.get_shape())


class FoldCastChain(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: fxp.CastOp, rewriter: PatternRewriter) -> None:
        inner = op.input.owner
        if not isinstance(inner, fxp.CastOp) or not _exact(_ring(inner.input), _ring(inner.result)):
            return
        if inner.input.type == op.result.type:
            rewriter.replace(op, [], [inner.input])
        else:
            rewriter.replace(op, fxp.CastOp(inner.input, op.result.type))


class ShareCasts(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: fxp.CastOp, rewriter: PatternRewriter) -> None:
        for use in op.input.uses:
            other = use.operation
            if other is op or not isinstance(other, fxp.CastOp) or other.result.type != op.result.type:
                continue
            if other.parent_block() is op.parent_block() and other.is_before_in_block(op):
                rewriter.replace(op, [], [other.result])
                return


def _cast_values(values: np.ndarray, src: fxp.FixedType, dst: fxp.FixedType) -> np.ndarray:
    """The reals a cast src -> dst yields for constants encoded in src (as SPU encodes them)."""
    raw = np.trunc(values * 2.0**src.f)
    raw = np.floor(raw / 2.0 ** (src.f - dst.f)) if dst.f < src.f else raw * 2.0 ** (dst.f - src.f)
    return raw / 2.0**dst.f


class FoldConstantCast(RewritePattern):
    """cast(constant) -> the constant the cast would produce, encoded in the target ring."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: fxp.CastOp, rewriter: PatternRewriter) -> None:
        constant = op.input.owner
        if not isinstance(constant, pphlo.ConstantOp):
            return
        src, dst = _ring(op.input), _ring(op.result)
        value = constant.value
        if isinstance(src, fxp.FixedType) and isinstance(dst, fxp.FixedType):
            encoded = saturated_constant(value, RingConfig(src.k, src.f))
            reals = _cast_values(np.asarray(encoded.get_values(), dtype=np.float64), src, dst)
            value = DenseIntOrFPElementsAttr.from_list(value.type, reals.tolist())
        rewriter.replace(op, pphlo.ConstantOp(value, op.result.type))


class CastBeforeBroadcast(RewritePattern):
    """cast(broadcast(x)) -> broadcast(cast(x)): convert the smaller tensor."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: fxp.CastOp, rewriter: PatternRewriter) -> None:
        broadcast = op.input.owner
        if not isinstance(broadcast, pphlo.BroadcastOp) or not op.input.has_one_use():
            return
        source = broadcast.operand
        if _elements(source) >= _elements(op.input):
            return
        cast = fxp.CastOp(source, _retyped(source, _ring(op.result)))
        moved = pphlo.BroadcastOp(cast.result, broadcast.broadcast_dimensions.get_values(), op.result.type)
        rewriter.replace(op, [cast, moved])
        rewriter.erase(broadcast)


class CastAfterSlice(RewritePattern):
    """slice(cast(x)) -> cast(slice(x)): convert only what is kept."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: pphlo.SliceOp, rewriter: PatternRewriter) -> None:
        cast = op.operand.owner
        if not isinstance(cast, fxp.CastOp) or not op.operand.has_one_use():
            return
        source = cast.input
        sliced = pphlo.SliceOp(
            source,
            op.start_indices.get_values(),
            op.limit_indices.get_values(),
            op.strides.get_values(),
            _retyped(op.result, _ring(source)),
        )
        rewriter.replace(op, [sliced, fxp.CastOp(sliced.result, op.result.type)])
        rewriter.erase(cast)


def _retyped(value: SSAValue, element: fxp.FixedType | fxp.IntType) -> TensorType:
    assert isinstance(value.type, TensorType)
    return tensor_type(value.type.get_shape(), element, is_secret(value.type))


@dataclass(frozen=True)
class EliminateRedundantCastsPass(ModulePass):
    name = "eliminate-redundant-casts"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        rewrite_walker(
            FoldConstantCast(), FoldCastChain(), CastBeforeBroadcast(), CastAfterSlice(), ShareCasts()
        ).rewrite_module(op)
