"""`fold-identity-products`: products with a public all-ones operand are data movement.

Under MPC a product by a public constant is not free of error: SPU truncates it, and
this wheel's ABY3 truncation (TruncAPr2) adds exactly one LSB to every element when
the public factor's encoding has no low fraction bits (1.0 = 2^f; docs/accuracy.md).
Flax BERT multiplies its attention probabilities by a default `head_mask` of ones
(a contraction of length 1), which thus shifted every probability by 2^-f. Folding
such products away before ring assignment removes both the error and the
truncation's cost.

Two rewrites on legalized PPHLO, before `annotate-rings`:

* `multiply(x, ones)` -> `x`;
* a canonical contraction with contracted length 1 and an all-ones operand,
  `(B, M, 1) x (B, 1, N)` or `(M, 1) x (1, N)`, -> the other operand, broadcast
  where the ones side has free length above 1.

"All ones" is a public constant seen through shape ops and `pphlo.convert`.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import PatternRewriter, RewritePattern, op_type_rewrite_pattern

from ..diagnostics import op_error
from ..dialects import fxp, pphlo
from ..dialects.secret import base_element_type
from ..interpreter import splat_constant
from ..rewriting import rewrite_walker


def is_all_ones(value: SSAValue) -> bool:
    """`value` is a public constant whose every element is exactly 1."""
    return splat_constant(value, through_converts=True) == 1.0


def _same_element(a: SSAValue, b: SSAValue) -> bool:
    return base_element_type(a.type) == base_element_type(b.type)  # type: ignore[arg-type]


class FoldMultiplyByOnes(RewritePattern):
    """multiply(x, ones) -> x."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: pphlo.MulOp, rewriter: PatternRewriter) -> None:
        for x, ones in ((op.lhs, op.rhs), (op.rhs, op.lhs)):
            if x.type == op.result.type and is_all_ones(ones):
                rewriter.replace(op, [], [x])
                return


class FoldContractionWithOnes(RewritePattern):
    """(.., M, 1) x (.., 1, N) with an all-ones side -> the other side broadcast to (.., M, N)."""

    def match_and_rewrite(self, op, rewriter: PatternRewriter) -> None:
        if isinstance(op, pphlo.DotGeneralOp):
            numbers = op.dot_dimension_numbers
            canonical = [
                list(numbers.dims(f"{side}_{kind}_dimensions"))
                for side in ("lhs", "rhs")
                for kind in ("batching", "contracting")
            ] == [[0], [2], [0], [1]]
            if not canonical:
                return
        elif not isinstance(op, pphlo.DotOp):
            return
        lhs, rhs = op.operands
        if lhs.type.get_shape()[-1] != 1:  # type: ignore[union-attr]
            return
        for kept, ones in ((rhs, lhs), (lhs, rhs)):
            if not _same_element(kept, op.results[0]) or not is_all_ones(ones):
                continue
            if kept.type == op.results[0].type:  # M = 1 (or N = 1): the product is the other side
                rewriter.replace(op, [], [kept])
                return
            rank = len(kept.type.get_shape())  # type: ignore[union-attr]
            rewriter.replace(op, pphlo.BroadcastOp(kept, list(range(rank)), op.results[0].type))
            return


def refuse_ring_types(module: ModuleOp, pass_name: str) -> None:
    """A diagnostic for the first ring-typed op: `pass_name` rewrites legalized PPHLO before annotate-rings."""
    for op in module.walk():
        for result in op.results:
            if fxp.ring_of(result.type) is not None:
                raise op_error(op, f"has a ring type: {pass_name} runs before annotate-rings")


@dataclass(frozen=True)
class FoldIdentityProductsPass(ModulePass):
    name = "fold-identity-products"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        refuse_ring_types(op, self.name)
        rewrite_walker(FoldMultiplyByOnes(), FoldContractionWithOnes()).rewrite_module(op)
