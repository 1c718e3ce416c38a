"""`fuse-scales`: fewer secure truncations for the same arithmetic.

Three exact rewrites on ring-typed PPHLO (floor shifts compose exactly):

* a multiplication by a public power of two, 2^-m, followed by its product's
  truncation becomes a free `fxp.rescale` by m and a truncation by m, which can
  then merge with its neighbours (attention's q.k^T / sqrt(d) for d = 64: the
  scaling costs no truncation of its own);
* a rescale after a truncation moves before it, so truncations meet;
* a chain of truncations becomes one, and a truncation feeding a fraction-lowering
  cast is absorbed into the cast (a downcast truncates anyway; Ditto's PoC pays both).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import PatternRewriter, RewritePattern, op_type_rewrite_pattern

from ..dialects import fxp, pphlo
from ..dialects.secret import is_secret, tensor_type
from ..rewriting import rewrite_walker


def _fixed(value) -> fxp.FixedType | None:
    element = fxp.ring_of(value.type)
    return element if isinstance(element, fxp.FixedType) else None


def _power_of_two_exponent(value: SSAValue) -> int | None:
    """m if `value` is the public splat 2^-m (m >= 1), encoded exactly in its ring."""
    constant, element = pphlo.splat_value(value), _fixed(value)
    if constant is None or element is None or constant <= 0:
        return None
    exponent = -math.log2(constant)
    if exponent != int(exponent) or not 1 <= exponent <= element.f:
        return None
    return int(exponent)


class FoldPowerOfTwoMultiply(RewritePattern):
    """truncate(multiply(x, 2^-m), f_c) -> truncate(rescale(x, m), m)."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: fxp.TruncateOp, rewriter: PatternRewriter) -> None:
        product = op.input.owner
        if not isinstance(product, pphlo.MulOp) or not op.input.has_one_use():
            return
        for x, c in ((product.lhs, product.rhs), (product.rhs, product.lhs)):
            m, x_type, c_type = _power_of_two_exponent(c), _fixed(x), _fixed(c)
            if m is None or x_type is None or c_type is None or op.bits.value.data != c_type.f:
                continue
            shape = x.type.get_shape()  # type: ignore[union-attr]
            relabelled = tensor_type(shape, fxp.FixedType(x_type.k, x_type.f + m), is_secret(x.type))
            rescale = fxp.RescaleOp(x, m, relabelled)
            truncate = fxp.TruncateOp(rescale.result, m, op.result.type)
            rewriter.replace(op, [rescale, truncate])
            rewriter.erase(product)
            return


class SinkRescaleBelowTruncation(RewritePattern):
    """rescale(truncate(x, a), s) -> truncate(rescale(x, s), a): relabelling commutes with shifts."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: fxp.RescaleOp, rewriter: PatternRewriter) -> None:
        inner = op.input.owner
        if not isinstance(inner, fxp.TruncateOp) or not op.input.has_one_use():
            return
        src = _fixed(inner.input)
        assert src is not None
        shift = op.shift.value.data
        if src.f + shift < 0:
            return
        relabelled = tensor_type(
            inner.input.type.get_shape(),  # type: ignore[union-attr]
            fxp.FixedType(src.k, src.f + shift),
            is_secret(inner.input.type),
        )
        rescale = fxp.RescaleOp(inner.input, shift, relabelled)
        truncate = fxp.TruncateOp(rescale.result, inner.bits.value.data, op.result.type)
        rewriter.replace(op, [rescale, truncate])
        rewriter.erase(inner)


class MergeTruncations(RewritePattern):
    """truncate(truncate(x, a), b) -> truncate(x, a + b)."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: fxp.TruncateOp, rewriter: PatternRewriter) -> None:
        inner = op.input.owner
        if not isinstance(inner, fxp.TruncateOp) or not op.input.has_one_use():
            return
        bits = inner.bits.value.data + op.bits.value.data
        rewriter.replace(op, fxp.TruncateOp(inner.input, bits, op.result.type))
        rewriter.erase(inner)


class MergeTruncationIntoCast(RewritePattern):
    """cast(truncate(x, n)) -> cast(x) when the cast lowers the fraction bits anyway."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: fxp.CastOp, rewriter: PatternRewriter) -> None:
        inner = op.input.owner
        dst = _fixed(op.result)
        if not isinstance(inner, fxp.TruncateOp) or dst is None or not op.input.has_one_use():
            return
        truncated = _fixed(inner.result)
        assert truncated is not None
        if dst.f > truncated.f:
            return  # the cast raises the fraction bits: fusing would change the rounding
        rewriter.replace(op, fxp.CastOp(inner.input, op.result.type))
        rewriter.erase(inner)


@dataclass(frozen=True)
class FuseScalesPass(ModulePass):
    name = "fuse-scales"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        rewrite_walker(
            FoldPowerOfTwoMultiply(), SinkRescaleBelowTruncation(), MergeTruncations(), MergeTruncationIntoCast()
        ).rewrite_module(op)
