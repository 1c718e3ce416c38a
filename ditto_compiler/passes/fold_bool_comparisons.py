"""`fold-bool-comparisons`: a converted boolean compared with a constant is the boolean.

Flax builds a causal attention mask as booleans (`combine_masks`), converts it to float and
compares it with 0 (`mask > 0`) to choose each score's bias. Under MPC that is a B2A
conversion and a comparison (an A2B) per element, in every layer: GPT-2 small at 128 tokens
sends 94 MB for it in the 64-bit ring. Since convert(b) is 0 or 1, such a comparison is b,
not(b), or a constant; the first two are rewritten, on legalized PPHLO before
`annotate-rings`:

* `cmp(convert(b), c)` and `cmp(c, convert(b))` with b boolean and c a public splat constant
  -> `b` when the comparison is false at 0 and true at 1, `not(b)` when the reverse.

A comparison that holds for both values (or for neither) is left alone: its result is a
constant, but a secret one in the types, and SPU computes it for little when it is public.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import PatternRewriter, RewritePattern

from ..dialects import pphlo
from ..dialects.pphlo import is_boolean
from ..dialects.secret import base_element_type
from ..interpreter import splat_constant
from ..rewriting import rewrite_walker
from .fold_identity_products import refuse_ring_types

_COMPARISONS = {
    pphlo.GreaterOp: np.greater,
    pphlo.GreaterEqualOp: np.greater_equal,
    pphlo.LessOp: np.less,
    pphlo.LessEqualOp: np.less_equal,
    pphlo.EqualOp: np.equal,
    pphlo.NotEqualOp: np.not_equal,
}


def converted_bool(value: SSAValue) -> SSAValue | None:
    """b where `value` is convert(b) of a boolean b, else None."""
    owner = value.owner
    if not isinstance(owner, pphlo.ConvertOp):
        return None
    source = owner.operands[0]
    return source if is_boolean(base_element_type(source.type)) else None  # type: ignore[arg-type]


class FoldComparisonOfConvertedBool(RewritePattern):
    """cmp(convert(b), c) -> b or not(b), by the comparison's values at b = 0 and b = 1."""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        compare = _COMPARISONS.get(type(op))
        if compare is None:
            return
        lhs, rhs = op.operands
        for converted, constant, bool_first in ((lhs, rhs, True), (rhs, lhs, False)):
            b, c = converted_bool(converted), splat_constant(constant)
            if b is None or c is None or b.type != op.results[0].type:
                continue
            at_0, at_1 = (bool(compare(v, c) if bool_first else compare(c, v)) for v in (0.0, 1.0))
            if not at_0 and at_1:
                rewriter.replace(op, [], [b])
            elif at_0 and not at_1:
                rewriter.replace(op, pphlo.NotOp(b))
            return


@dataclass(frozen=True)
class FoldBoolComparisonsPass(ModulePass):
    name = "fold-bool-comparisons"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        refuse_ring_types(op, self.name)
        rewrite_walker(FoldComparisonOfConvertedBool()).rewrite_module(op)
