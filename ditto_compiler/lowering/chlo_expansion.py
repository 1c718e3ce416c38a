"""Expand `chlo.erf` / `chlo.erfc` into StableHLO arithmetic that MPC can run.

erf uses XLA's f32 rational approximation (clamp to [-4, 4], then
x * P(x^2) / Q(x^2); max error 7e-8 in float). The polynomials are evaluated in
t = x^2 / 16 with both normalised so Q(0) = 1, which keeps every coefficient and
intermediate well inside a fixed-point ring's precision. erfc(x) = 1 - erf(x).
"""

from __future__ import annotations

from collections.abc import Sequence

from xdsl.dialects.builtin import AnyFloat, TensorType
from xdsl.ir import Operation, SSAValue
from xdsl.pattern_rewriter import PatternRewriter, RewritePattern, op_type_rewrite_pattern
from xdsl_jax.dialects import stablehlo as shlo

from ..diagnostics import op_error
from ..dialects import chlo
from ..dialects.secret import base_element_type
from ..dialects.stablehlo import splat

_XLA_ERF_ALPHA = (
    -2.72614225801306e-10,
    2.77068142495902e-08,
    -2.10102402082508e-06,
    -5.69250639462346e-05,
    -7.34990630326855e-04,
    -2.95459980854025e-03,
    -1.60960333262415e-02,
)
_XLA_ERF_BETA = (
    -1.45660718464996e-05,
    -2.13374055278905e-04,
    -1.68282697438203e-03,
    -7.37332916720468e-03,
    -1.42647390514189e-02,
)
_CLAMP = 4.0
_T_SCALE = _CLAMP * _CLAMP


def _rescaled(coefficients: Sequence[float]) -> list[float]:
    """Coefficients (highest degree first) of the same polynomial in t = x^2/16, over Q(0)."""
    degree = len(coefficients) - 1
    return [c * _T_SCALE ** (degree - k) / _XLA_ERF_BETA[-1] for k, c in enumerate(coefficients)]


ERF_NUMERATOR = _rescaled(_XLA_ERF_ALPHA)
ERF_DENOMINATOR = _rescaled(_XLA_ERF_BETA)


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

    def emit(op: Operation) -> SSAValue:
        ops.append(op)
        return op.results[0]

    def horner(t: SSAValue, coefficients: Sequence[float]) -> SSAValue:
        acc = const(coefficients[0])
        for c in coefficients[1:]:
            acc = emit(shlo.AddOp(emit(shlo.MultiplyOp(acc, t, type_)), const(c), type_))
        return acc

    clamped = emit(shlo.ClampOp.create(operands=[const(-_CLAMP), x, const(_CLAMP)], result_types=[type_]))
    t = emit(shlo.MultiplyOp(emit(shlo.MultiplyOp(clamped, clamped, type_)), const(1.0 / _T_SCALE), type_))
    numerator = emit(shlo.MultiplyOp(clamped, horner(t, ERF_NUMERATOR), type_))
    result = emit(shlo.DivideOp(numerator, horner(t, ERF_DENOMINATOR), type_))
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
        rewriter.replace(op, [*ops, *one, result])
