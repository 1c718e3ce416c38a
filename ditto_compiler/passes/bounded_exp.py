"""`bounded-exp`: e^x on a known range [lo, 0] as a polynomial raised to a power of two.

SPU's fixed-point exp is (1 + x/2^n)^(2^n) with n = 8 in the 64-bit ring: 444 bytes and
23 rounds per element, and an error of up to 1.2e-3 (at x = -1.8; measured). After a
Softmax subtracts its row maximum and legalization floors it (`max(x, lo)`), the exp's
input is known to lie in [lo, 0], and a fitted form does better on that range:

    e^x = (e^(x / 2^k))^(2^k) ~ p(x)^(2^k),   p of degree d fitted to e^(x / 2^k) on [lo, 0].

Horner's rule costs one public and d - 1 secret products, then k squarings. With d = 3,
k = 3 on [-13.2, 0] the fit errs by 4.9e-5, secure execution by 9e-5 (the truncations'
LSBs grow 2^k times), at 288 bytes and 15 rounds per element. The fit minimises the
largest error of the result, not of p, so it is accurate where e^x is large and p^(2^k)
still vanishes at the floor (masked attention scores). The cheapest (d, k) whose fit
error is within `tolerance` wins; if none is, SPU's exp stays.

Bounds are proved from the IR, never assumed: the upper bound 0 from `x - m` where m is
x's own maximum over some dimensions broadcast back along them (what `jax.nn.softmax`
exports), the lower bound from `max(x, c)` or `select(x < c, c, x)` with a constant c.
The polynomial's ops are marked precise (ring policies keep them in the large ring,
like SPU's exp and the erf expansion); they are plain products, which the emulator and
the cost model follow exactly.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp, TensorType, UnitAttr
from xdsl.ir import Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import PatternRewriter, RewritePattern, op_type_rewrite_pattern

from ..bounds import lower_bound, upper_bound
from ..diagnostics import DittoError
from ..dialects import pphlo
from ..dialects.secret import base_element_type, is_secret
from ..fitting import lawson
from ..rewriting import rewrite_walker
from ..ring import PRECISE_ATTR
from .fold_identity_products import refuse_ring_types

FORMS = ((3, 3), (2, 4), (4, 3), (3, 4), (2, 5), (4, 4))
"""(degree, squarings), cheapest first: 28 + 52 (d - 1) + 52 k bytes per element in the
64-bit ring (cost_model.json), from 288 to 392; SPU's exp costs 444."""

LOWEST = -64.0
"""Ranges reaching below this are not fitted (e^-64 is far below any ring's LSB)."""


@functools.cache
def fit(lo: float, degree: int, squarings: int, vanishing: bool = False) -> tuple[tuple[float, ...], float]:
    """Coefficients of p (highest degree first) with p(x)^(2^squarings) ~ e^x on [lo, 0], and the largest
    error of that form there (near-minimax in the result's error). `vanishing`: p(lo) = 0 exactly, p being
    (x - lo) times a fitted polynomial, so that what is floored at lo weighs nothing."""
    x = np.linspace(lo, 0.0, 2001)
    power = 2**squarings
    # d(p^N) = N p^(N-1) dp: an error in p counts as much as it moves the result.
    sensitivity = power * np.exp(x * (1.0 - 1.0 / power))
    root = np.array([1.0, -lo]) if vanishing else np.array([1.0])
    basis = np.vander(x, degree + 2 - len(root)) * np.polyval(root, x)[:, None]

    def result_error(fitted: np.ndarray) -> np.ndarray:
        return np.abs(np.polyval(np.polymul(root, fitted), x) ** power - np.exp(x))

    fitted = lawson(basis * sensitivity[:, None], np.exp(x / power) * sensitivity, 60, result_error)
    error = result_error(fitted)
    return tuple(float(c) for c in np.polymul(root, fitted)), float(error.max())


def cheapest_form(lo: float, tolerance: float) -> tuple[tuple[float, ...], int] | None:
    """The cheapest fitted (coefficients, squarings) for [lo, 0] within `tolerance`, if any."""
    if not LOWEST <= lo < 0:
        return None
    for degree, squarings in FORMS:
        coefficients, error = fit(round(lo, 6), degree, squarings)
        if error <= tolerance:
            return coefficients, squarings
    return None


# -- the rewrite ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PolynomialExp(RewritePattern):
    """exp(x), x secret in [lo, 0] -> p(x)^(2^k) by Horner's rule and k squarings."""

    tolerance: float

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: pphlo.ExpOp, rewriter: PatternRewriter) -> None:
        x, result_type = op.operand, op.result.type
        if not is_secret(x.type) or op.operand.type != result_type:
            return
        lo, hi = lower_bound(x), upper_bound(x)
        if lo is None or hi is None or hi > 0 or (form := cheapest_form(lo, self.tolerance)) is None:
            return
        coefficients, squarings = form
        public = TensorType(base_element_type(result_type), result_type.get_shape())  # type: ignore[union-attr]
        ops: list[Operation] = []

        def constant(c: float) -> SSAValue:
            ops.extend(pphlo.public_splat(c, public))
            return ops[-1].results[0]

        def emit(new: Operation) -> SSAValue:
            new.attributes[PRECISE_ATTR] = UnitAttr()
            ops.append(new)
            return new.results[0]

        acc = emit(pphlo.MulOp(constant(coefficients[0]), x, result_type))
        for c in coefficients[1:-1]:
            acc = emit(pphlo.MulOp(emit(pphlo.AddOp(acc, constant(c), result_type)), x, result_type))
        acc = emit(pphlo.AddOp(acc, constant(coefficients[-1]), result_type))
        for _ in range(squarings):
            acc = emit(pphlo.MulOp(acc, acc, result_type))
        rewriter.replace(op, ops, [acc])


@dataclass(frozen=True)
class BoundedExpPass(ModulePass):
    name = "bounded-exp"

    tolerance: float = 1e-4
    """Largest error of the fitted form on its range (the secure result errs about twice that)."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        if not isinstance(self.tolerance, (int, float)) or not 1e-9 <= self.tolerance <= 0.1:
            raise DittoError(f"bounded-exp: tolerance must be between 1e-9 and 0.1, not {self.tolerance!r}")
        refuse_ring_types(op, self.name)
        rewrite_walker(PolynomialExp(float(self.tolerance))).rewrite_module(op)
