"""Expand `chlo.erf` / `chlo.erfc` into StableHLO arithmetic that MPC can run.

erf is odd and flat beyond 3, so it is clamped to [-3, 3] and taken as x * R(t),
t = x^2 / 16 (a power of two: fuse-scales folds it into the square's truncation),
with R a degree-8 minimax polynomial that reaches exactly 1 at the clamp
(`tools/fit_erf.py`). Max error 2.4e-5 for erf; GeLU's, x/2 times it, stays below
4.7e-5 for every x (an endpoint error would grow with |x|). That is a twentieth of
SPU's own exp kernel's error in the same 64-bit ring, and real MiniLM's cosine
does not move (0.999999 emulated under `fxp64`). No division: a secure division
(SPU's reciprocal iteration) costs as much as 27 multiplications in the 64-bit
ring, and XLA's rational form x P(t) / Q(t), used before, needed one per
element: 1.6 GB of real MiniLM's 4.2 GB at 128 tokens. erfc(x) = 1 - erf(x).

The expansion's arithmetic (all but the clamp, exact in any ring) is marked
`ditto.precise`: its chained truncations cost a few steps of the ring, harmless
at 18 fraction bits but about 0.03 at 10, which value ranges alone would not
show; ring policies keep such ops in their large ring.
"""

from __future__ import annotations

from collections.abc import Sequence

from xdsl.dialects.builtin import AnyFloat, TensorType, UnitAttr
from xdsl.ir import Operation, SSAValue
from xdsl.pattern_rewriter import PatternRewriter, RewritePattern, op_type_rewrite_pattern
from xdsl_jax.dialects import stablehlo as shlo

from ..diagnostics import op_error
from ..dialects import chlo
from ..dialects.secret import base_element_type
from ..dialects.stablehlo import splat
from ..ring import PRECISE_ATTR

ERF_CLAMP = 3.0
ERF_POLYNOMIAL = (
    1.1283883010408988,
    -6.012231125658752,
    28.58250738055503,
    -104.24960898763092,
    285.25873771430076,
    -559.8818326685691,
    732.3173166405264,
    -564.201270386501,
    191.95920992163164,
)
"""R, lowest degree first: erf(x) ~ x * R(x^2 / 16) on [-ERF_CLAMP, ERF_CLAMP], exactly 1 at ERF_CLAMP."""
ERF_SCALE = 16.0
"""R is evaluated as ERF_SCALE * R: each truncation's error (one step of the ring, always downwards) is then
ERF_SCALE times smaller against the result, for one more truncation (the final division, a rescale)."""


def _erf_ops(op: Operation) -> tuple[list[Operation], SSAValue]:
    x = op.operands[0]
    if not isinstance(x.type, TensorType) or not isinstance(base_element_type(x.type), AnyFloat):
        raise op_error(op, f"takes a tensor of floats, not {x.type}")
    # StableHLO types carry no visibility; legalization decides it afterwards.
    type_ = TensorType(base_element_type(x.type), x.type.get_shape())
    ops: list[Operation] = []

    def const(value: float) -> SSAValue:
        ops.extend(splat(value, type_))
        return ops[-1].results[0]

    def emit(op: Operation, precise: bool = True) -> SSAValue:
        if precise:
            op.attributes[PRECISE_ATTR] = UnitAttr()
        ops.append(op)
        return op.results[0]

    def horner(t: SSAValue, coefficients: Sequence[float]) -> SSAValue:
        """Highest degree first."""
        acc = const(coefficients[0])
        for c in coefficients[1:]:
            acc = emit(shlo.AddOp(emit(shlo.MultiplyOp(acc, t, type_)), const(c), type_))
        return acc

    # A clamp is exact in any ring that holds x: the policy may place it.
    clamp = shlo.ClampOp.create(operands=[const(-ERF_CLAMP), x, const(ERF_CLAMP)], result_types=[type_])
    clamped = emit(clamp, precise=False)
    t = emit(shlo.MultiplyOp(emit(shlo.MultiplyOp(clamped, clamped, type_)), const(1.0 / 16.0), type_))
    scaled = horner(t, [c * ERF_SCALE for c in reversed(ERF_POLYNOMIAL)])
    result = emit(shlo.MultiplyOp(emit(shlo.MultiplyOp(clamped, scaled, type_)), const(1.0 / ERF_SCALE), type_))
    return ops, result


class ExpandErf(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: chlo.ErfOp, rewriter: PatternRewriter) -> None:
        ops, result = _erf_ops(op)
        rewriter.replace(op, ops, [result])


class ExpandErfc(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: chlo.ErfcOp, rewriter: PatternRewriter) -> None:
        ops, erf = _erf_ops(op)
        one = splat(1.0, erf.type)  # type: ignore[arg-type]
        result = shlo.SubtractOp(one[-1].results[0], erf, erf.type)
        result.attributes[PRECISE_ATTR] = UnitAttr()
        rewriter.replace(op, [*ops, *one, result])
