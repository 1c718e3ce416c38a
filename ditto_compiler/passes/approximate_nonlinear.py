"""`approximate-nonlinear{gelu=..., softmax=..., silu=...}`: MPC-friendly GeLU, Softmax and SiLU, in StableHLO.

GeLU (erf or tanh form), Softmax and SiLU (x * sigmoid(x), LLaMA's gate) are found by
what they compute (see nonlinear_recognition) and replaced by:

  gelu=exact     unchanged
  gelu=quad      0.125 x^2 + 0.25 x + 0.5 (MPCFormer's Quad, used by Ditto): one secure multiply
  gelu=puma      PUMA's piecewise polynomial: 0 below -4, a cubic on [-4, -1.95),
                 a degree-6 polynomial on [-1.95, 3], x above 3 (max error 0.02)
  gelu=relu-fit  relu(x) - h(|x|) with h(u) = u Phi(-u) (exact), h fitted by a degree-4
                 polynomial in min(|x| / 3.2, 1): one abs, one clamp, three secure products
                 (max error 1.7e-3, below the 32-bit ring's own resolution at 10-12 fraction
                 bits; cheaper than PUMA's three comparisons and two polynomials)
  softmax=exact     unchanged
  softmax=2quad     (x + c)^2 normalised by its row sum, c = 5 (MPCFormer); entries below -c
                    count as 0, so masked entries (the most negative float) are dropped
                    instead of dominating the row
  softmax=ditto     max-subtracted exp, entries more than 14 below the row max zeroed
  softmax=exp-fit   max-subtracted, floored at -6, e^x as q(x / 6)^2 with a fitted cubic q
                    that vanishes at the floor (error 3.5e-3, 40% of PUMA's Taylor exp's;
                    entries at or below the floor weigh nothing): three secure products,
                    and, unlike bounded-exp's exact form, in whichever ring the policy picks
  silu=exact        unchanged (SPU's exp and reciprocal)
  silu=relu-fit     relu(x) - h(|x|) with h(u) = u sigmoid(-u) (exact), h fitted by a degree-6
                    polynomial in min(|x| / 8, 1): one abs, one clamp, five secure products, no
                    exp or division (max error 2.7e-3, h(8))

With `policy=FILE` a policy file (version 2) chooses per location instead, each
recognised function's location matched against its approximation rules
(policy_file.py); `sites` lists the recognised functions a policy can name.

Runs after inline-private-functions and before legalize-to-pphlo. The rewrites
are plain StableHLO, so the ring policy places them like any other arithmetic
(quad GeLU is ring arithmetic and stays in the small ring under `ditto`).
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import special
from xdsl.context import Context
from xdsl.dialects.builtin import DenseArrayBase, ModuleOp, TensorType, i1, i64
from xdsl.ir import Attribute, Block, Operation, Region, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint, Rewriter
from xdsl_jax.dialects import stablehlo as shlo
from xdsl_jax.dialects.stablehlo.attributes import ComparisonDirection, ComparisonDirectionAttr

from ..diagnostics import DittoError, describe_location
from ..dialects import chlo
from ..dialects.stablehlo import CompareOp, splat
from ..fitting import lawson
from ..rewriting import inherit_location
from .bounded_exp import fit
from .nonlinear_recognition import Match, match_gelu, match_silu, match_softmax, shape_of
from .policy_file import MODES, Approximations, load_policy_file

QUAD = (0.5, 0.25, 0.125)
"""MPCFormer's Quad GeLU, lowest degree first."""
PUMA_LOW = (-0.5054031199708174, -0.42226581151983866, -0.11807612951181953, -0.011034134030615728)
"""PUMA's GeLU on [-4, -1.95): a cubic, lowest degree first."""
PUMA_MID = (0.008526321541038084, 0.5, 0.3603292692789629, 0.0, -0.037688200365904236, 0.0, 0.0018067462606141187)
"""PUMA's GeLU on [-1.95, 3]: a degree-6 polynomial, lowest degree first."""
RELU_FIT_CLAMP = 3.2
"""relu-fit's h(u) = u Phi(-u) is taken as h(3.2) (2.2e-3) beyond |x| = 3.2: for degree 4 the clamp
where the tail's error and the fit's (1.7e-3) balance (test_approximations checks it)."""
RELU_FIT_DEGREE = 4
SILU_FIT_CLAMP = 8.0
"""silu relu-fit's h(u) = u sigmoid(-u) is taken as h(8) (2.7e-3) beyond |x| = 8."""
SILU_FIT_DEGREE = 6
TWO_QUAD_SHIFT = 5.0
EXP_FIT_FLOOR = -6.0
EXP_FIT_FORM = (3, 1)
"""exp-fit's (degree, squarings): q(x)^2 for a cubic q with q(-6) = 0 (bounded_exp.fit, vanishing). One
squaring, not three, so the truncations' errors are doubled, not multiplied by 8. The root at the floor keeps
what is floored (masked scores, and the many far below the row max) at zero: a fit worth even one LSB there
can add a hundred LSBs to a row's sum, since SPU's truncation errs by one low-order bit."""
DITTO_EXP_FLOOR = -14.0


class _Builder:
    """StableHLO ops inserted before one op, all with the element type and the location of the value they replace."""

    def __init__(self, before: Operation, element: Attribute):
        self.at = InsertPoint.before(before)
        self.element = element
        self.location = before.location

    def _insert(self, op: Operation) -> SSAValue:
        Rewriter.insert_op(op, self.at)
        inherit_location(op, self.location)
        return op.results[0]

    def _type(self, shape: tuple[int, ...], element: Attribute | None = None) -> TensorType:
        return TensorType(element or self.element, shape)

    def constant(self, value: float, shape: tuple[int, ...]) -> SSAValue:
        return [self._insert(op) for op in splat(value, self._type(shape))][-1]

    def binary(self, kind: type[Operation], lhs: SSAValue, rhs: SSAValue) -> SSAValue:
        return self._insert(kind(lhs, rhs, lhs.type))  # type: ignore[call-arg]

    def add(self, lhs: SSAValue, rhs: SSAValue) -> SSAValue:
        return self.binary(shlo.AddOp, lhs, rhs)

    def mul(self, lhs: SSAValue, rhs: SSAValue) -> SSAValue:
        return self.binary(shlo.MultiplyOp, lhs, rhs)

    def scalar(self, kind: type[Operation], x: SSAValue, value: float) -> SSAValue:
        return self.binary(kind, x, self.constant(value, shape_of(x)))

    def compare(self, direction: ComparisonDirection, x: SSAValue, value: float) -> SSAValue:
        op = CompareOp.create(
            operands=[x, self.constant(value, shape_of(x))],
            result_types=[self._type(shape_of(x), i1)],
            properties={"comparison_direction": ComparisonDirectionAttr(direction)},
        )
        return self._insert(op)

    def less(self, x: SSAValue, value: float) -> SSAValue:
        return self.compare(ComparisonDirection.LT, x, value)

    def select(self, predicate: SSAValue, on_true: SSAValue, on_false: SSAValue) -> SSAValue:
        return self._insert(shlo.SelectOp.create(operands=[predicate, on_true, on_false], result_types=[on_true.type]))

    def polynomial(self, x: SSAValue, coefficients: tuple[float, ...]) -> SSAValue:
        """Horner's rule: degree-many secure multiplies."""
        *rest, last = coefficients
        acc = self.constant(last, shape_of(x))
        for c in reversed(rest):
            acc = self.mul(acc, x)
            if c:
                acc = self.scalar(shlo.AddOp, acc, c)
        return acc

    def monic_polynomial(self, w: SSAValue, lower: tuple[float, ...]) -> SSAValue:
        """w^d + lower[d-1] w^(d-1) + ... + lower[0] by Horner's rule: d - 1 secure multiplies, none by a constant."""
        acc = self.scalar(shlo.AddOp, w, lower[-1])
        for c in reversed(lower[:-1]):
            acc = self.scalar(shlo.AddOp, self.mul(acc, w), c)
        return acc

    def even_polynomial(self, x: SSAValue, coefficients: tuple[float, ...]) -> SSAValue:
        """c0 + c1 x + sum of even powers, evaluated in x^2 (half the secure multiplies)."""
        c0, c1, *higher = coefficients
        assert all(c == 0 for c in higher[1::2]), "odd powers above 1 are not supported"
        square = self.mul(x, x)
        even = self.polynomial(square, (0.0, *higher[0::2]))  # c2 x^2 + c4 x^4 + ...
        return self.add(even, self.add(self.scalar(shlo.MultiplyOp, x, c1), self.constant(c0, shape_of(x))))

    def reduce(self, kind: type[Operation], x: SSAValue, axes: tuple[int, ...], init: float) -> SSAValue:
        """Reduce `x` over `axes` with `kind` (add or maximum), then broadcast back to x's shape."""
        shape = shape_of(x)
        kept = [d for d in range(len(shape)) if d not in axes]
        scalar = self._type(())
        body = Block(arg_types=[scalar, scalar])
        combined = kind(body.args[0], body.args[1], scalar)  # type: ignore[call-arg]
        body.add_ops([combined, shlo.ReturnOp([combined.results[0]])])
        reduced = self._insert(
            shlo.ReduceOp.create(
                operands=[x, self.constant(init, ())],
                result_types=[self._type(tuple(shape[d] for d in kept))],
                properties={"dimensions": DenseArrayBase.from_list(i64, list(axes))},
                regions=[Region(body)],
            )
        )
        return self._insert(
            shlo.BroadcastInDimOp.create(
                operands=[reduced],
                result_types=[x.type],
                properties={"broadcast_dimensions": DenseArrayBase.from_list(i64, kept)},
            )
        )


def quad_gelu(b: _Builder, x: SSAValue) -> SSAValue:
    return b.polynomial(x, QUAD)


def puma_gelu(b: _Builder, x: SSAValue) -> SSAValue:
    low = b.polynomial(x, PUMA_LOW)
    mid = b.even_polynomial(x, PUMA_MID)
    below_minus_4, below_minus_195 = b.less(x, -4.0), b.less(x, -1.95)
    above_3 = b.compare(ComparisonDirection.GT, x, 3.0)
    left = b.select(below_minus_4, b.constant(0.0, shape_of(x)), low)
    return b.select(above_3, x, b.select(below_minus_195, left, mid))


def _fit_on_unit(h: Callable[[np.ndarray], np.ndarray], clamp: float, degree: int) -> tuple[float, ...]:
    """p, lowest degree first, with p(v) ~ h(clamp v) on [0, 1] (near-minimax)."""
    v = np.linspace(0.0, 1.0, 4001)
    coefficients = lawson(np.vander(v, degree + 1, increasing=True), h(clamp * v), 100)
    return tuple(float(c) for c in coefficients)


@functools.cache
def relu_fit_coefficients() -> tuple[float, ...]:
    """GeLU's correction h(u) = u Phi(-u), fitted on [0, 4]."""
    return _fit_on_unit(lambda u: u * 0.5 * special.erfc(u / math.sqrt(2.0)), RELU_FIT_CLAMP, RELU_FIT_DEGREE)


@functools.cache
def silu_fit_coefficients() -> tuple[float, ...]:
    """SiLU's correction h(u) = u sigmoid(-u), fitted on [0, 8]."""
    return _fit_on_unit(lambda u: u * special.expit(-u), SILU_FIT_CLAMP, SILU_FIT_DEGREE)


@functools.cache
def exp_fit_coefficients() -> tuple[float, ...]:
    """q, lowest degree first, with q(t)^(2^k) ~ e^(6 t) on [-1, 0]: bounded_exp's fit, in t = x / 6."""
    highest_first, _ = fit(EXP_FIT_FLOOR, *EXP_FIT_FORM, vanishing=True)
    scale = -EXP_FIT_FLOOR
    return tuple(c * scale**k for k, c in enumerate(reversed(highest_first)))


@dataclass(frozen=True)
class Monic:
    """p(v) = sign m(gain v), m monic: p's leading coefficient moves into the scale of v, which the caller
    multiplies by a constant anyway, so Horner's rule needs no product by a constant."""

    gain: float
    sign: float
    lower: tuple[float, ...]
    """m's coefficients below the leading 1, lowest degree first."""

    @classmethod
    def of(cls, coefficients: tuple[float, ...]) -> Monic:
        """`coefficients` lowest degree first, the last non-zero."""
        *lower, leading = coefficients
        gain, sign = abs(leading) ** (1.0 / len(lower)), math.copysign(1.0, leading)
        return cls(gain, sign, tuple(sign * c / gain**k for k, c in enumerate(lower)))


def relu_minus_fit(b: _Builder, x: SSAValue, clamp: float, coefficients: tuple[float, ...]) -> SSAValue:
    """relu(x) - p(min(|x| / clamp, 1)): x f(x) for a sigmoid-like f with f(-u) = 1 - f(u), which is
    relu(x) - |x| f(-|x|) exactly; only the smooth, vanishing second term is fitted. With p = sign m(gain v)
    the scale is s = x gain / clamp, and p(min(|x| / clamp, 1)) = sign m(min(|s|, gain))."""
    p = Monic.of(coefficients)
    scaled = b.scalar(shlo.MultiplyOp, x, p.gain / clamp)
    magnitude = b._insert(shlo.AbsOp(scaled))
    correction = b.monic_polynomial(b.scalar(shlo.MinimumOp, magnitude, p.gain), p.lower)
    relu = b.scalar(shlo.MultiplyOp, b.add(scaled, magnitude), clamp / (2 * p.gain))  # (x + |x|) / 2
    return b.binary(shlo.SubtractOp if p.sign > 0 else shlo.AddOp, relu, correction)


def relu_fit_gelu(b: _Builder, x: SSAValue) -> SSAValue:
    return relu_minus_fit(b, x, RELU_FIT_CLAMP, relu_fit_coefficients())


def relu_fit_silu(b: _Builder, x: SSAValue) -> SSAValue:
    return relu_minus_fit(b, x, SILU_FIT_CLAMP, silu_fit_coefficients())


def max_subtracted(b: _Builder, x: SSAValue, axes: tuple[int, ...]) -> SSAValue:
    """x minus its maximum over `axes`: at most 0, and the softmax unchanged."""
    return b.binary(shlo.SubtractOp, x, b.reduce(shlo.MaximumOp, x, axes, float("-inf")))


def two_quad_softmax(b: _Builder, x: SSAValue, axes: tuple[int, ...]) -> SSAValue:
    shifted = b.scalar(shlo.MaximumOp, b.scalar(shlo.AddOp, x, TWO_QUAD_SHIFT), 0.0)
    square = b.mul(shifted, shifted)
    return b.binary(shlo.DivideOp, square, b.reduce(shlo.AddOp, square, axes, 0.0))


def ditto_softmax(b: _Builder, x: SSAValue, axes: tuple[int, ...]) -> SSAValue:
    centred = max_subtracted(b, x, axes)
    negligible = b.less(centred, DITTO_EXP_FLOOR)
    # The exp sees at least the floor (SPU's exp is wrong far below it); one comparison serves both selects.
    exp = b._insert(shlo.ExponentialOp(b.select(negligible, b.constant(DITTO_EXP_FLOOR, shape_of(x)), centred)))
    kept = b.select(negligible, b.constant(0.0, shape_of(x)), exp)
    return b.binary(shlo.DivideOp, kept, b.reduce(shlo.AddOp, kept, axes, 0.0))


_GELU = {"quad": quad_gelu, "puma": puma_gelu, "relu-fit": relu_fit_gelu}


def exp_fit_softmax(b: _Builder, x: SSAValue, axes: tuple[int, ...]) -> SSAValue:
    centred = max_subtracted(b, x, axes)
    floored = b.scalar(shlo.MaximumOp, centred, EXP_FIT_FLOOR)
    # q in t = x / 6, in [-1, 0], so its coefficients are about 1, not 0.008, and keep their digits in any
    # ring; q = sign m(gain t), and the squaring drops the sign.
    q = Monic.of(exp_fit_coefficients())
    exp = b.monic_polynomial(b.scalar(shlo.MultiplyOp, floored, -q.gain / EXP_FIT_FLOOR), q.lower)
    for _ in range(EXP_FIT_FORM[1]):
        exp = b.mul(exp, exp)
    return b.binary(shlo.DivideOp, exp, b.reduce(shlo.AddOp, exp, axes, 0.0))


_SOFTMAX = {"2quad": two_quad_softmax, "ditto": ditto_softmax, "exp-fit": exp_fit_softmax}
_SILU = {"relu-fit": relu_fit_silu}


def _replace(match: Match, new: SSAValue) -> None:
    match.output.replace_all_uses_with(new)
    for op in reversed(match.ops):  # what only the old form used
        if all(not result.uses for result in op.results):
            Rewriter.erase_op(op)


@dataclass(frozen=True)
class Site:
    """One recognised GeLU, Softmax or SiLU: `name` is its JAX op name, what a policy's location rule matches."""

    function: str
    name: str
    location: str

    @property
    def pattern(self) -> str:
        """A policy rule's location pattern that matches this op name exactly (locations quote it)."""
        return re.escape(f'"{self.name}"')


_ANCHORS = (chlo.ErfOp, chlo.ErfcOp, shlo.TanhOp, shlo.ExponentialOp, shlo.LogisticOp)


def _anchors(module: ModuleOp) -> list[Operation]:
    return [o for o in module.walk() if isinstance(o, _ANCHORS)]


def _recognise(anchor: Operation) -> tuple[str, Match] | None:
    """The GeLU, Softmax or SiLU `anchor` (an erf, erfc, tanh, exp or logistic) is the heart of, if any."""
    if anchor.parent is None:  # erased by an earlier rewrite
        return None
    if isinstance(anchor, shlo.ExponentialOp) and (match := match_softmax(anchor)) is not None:
        return "softmax", match
    if isinstance(anchor, (shlo.ExponentialOp, shlo.LogisticOp)):
        match = match_silu(anchor)
        return None if match is None else ("silu", match)
    match = match_gelu(anchor)
    return None if match is None else ("gelu", match)


def _where(match: Match) -> str:
    owner = match.output.owner
    assert isinstance(owner, Operation)
    return describe_location(owner.location) or ""


def sites(module: ModuleOp) -> list[Site]:
    """The recognised GeLUs, Softmaxes and SiLUs of the (inlined) StableHLO `module`, in program order."""
    result = []
    for function, match in filter(None, map(_recognise, _anchors(module))):
        where = _where(match)
        name = where.split('"')[1] if where.count('"') >= 2 else where
        result.append(Site(function, name, where))
    return result


@dataclass(frozen=True)
class ApproximateNonlinearPass(ModulePass):
    name = "approximate-nonlinear"

    gelu: str = "exact"
    """exact | quad | puma | relu-fit"""
    softmax: str = "exact"
    """exact | 2quad | ditto | exp-fit"""
    silu: str = "exact"
    """exact | relu-fit"""
    policy: str = ""
    """A policy file choosing per location (then gelu, softmax and silu stay exact here)."""

    def approximations(self) -> Approximations:
        given = {function: getattr(self, function) for function in MODES}
        for function, value in given.items():
            if value not in MODES[function]:
                modes = ", ".join(MODES[function])
                raise DittoError(f"approximate-nonlinear: {function} must be one of {modes}, not {value!r}")
        if not self.policy:
            return Approximations(**given)
        if set(given.values()) != {"exact"}:
            raise DittoError("approximate-nonlinear: give gelu, softmax and silu in the policy file or here, not both")
        return load_policy_file(self.policy).approximations

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        choices = self.approximations()
        for anchor in _anchors(op):  # matched one at a time: a rewrite replaces values later matches use
            if (found := _recognise(anchor)) is None:
                continue
            function, match = found
            mode = choices.mode_for(function, _where(match))
            if mode == "exact":
                continue
            if function == "softmax":
                self._rewrite(match, lambda b, m, mode=mode: _SOFTMAX[mode](b, m.input, m.axes))
            else:
                elementwise = _GELU if function == "gelu" else _SILU
                self._rewrite(match, lambda b, m, mode=mode, f=elementwise: f[mode](b, m.input))

    @staticmethod
    def _rewrite(match: Match, build) -> None:  # noqa: ANN001
        output = match.output.owner
        assert isinstance(output, Operation)
        element = match.output.type.get_element_type()  # type: ignore[attr-defined]
        _replace(match, build(_Builder(output, element), match))
