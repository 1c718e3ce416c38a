"""Ring policies: which fixed-point ring each PPHLO op computes in.

A policy answers, per op, either a ring (k, f) or "inherit": pure data movement
and the elementwise arithmetic around linear layers follow their operands (the
widest ring among them), so they never force a conversion on their own.

Built in:
  * `fxp64`: everything in the 64-bit ring with 18 fraction bits (PUMA-style).
  * `ditto`: matmuls in the 32-bit ring (10 fraction bits); reductions, comparisons
    and nonlinear functions (softmax, LayerNorm, division, reciprocal, rsqrt, exp)
    in the 64-bit ring with 18 fraction bits, as in the Ditto paper. So are ops marked
    `ditto.precise` (an exact function's expansion, e.g. erf's polynomial). (Ditto's SPU
    proof of concept used 8 fraction bits, its distillation simulator 10. On the
    real all-MiniLM-L6-v2 at sequence 128, secure execution gives cosine 0.988 with
    8 and 0.9993 with 10, each as emulated; see docs/rings.md.)
A JSON policy file refines a built-in one with rules matching op names and/or
source locations, and chooses approximations per location (policy_file.py, which also loads
policies by name: `load_policy`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from xdsl.ir import Operation, SSAValue

from ..diagnostics import describe_location
from ..ring import PRECISE_ATTR, RingConfig

SMALL = RingConfig(32, 10)
LARGE = RingConfig(64, 18)

CONTRACTIONS = frozenset({"pphlo.dot", "pphlo.dot_general"})
SPU_APPROXIMATIONS = frozenset(
    {
        "pphlo.exponential", "pphlo.divide", "pphlo.reciprocal", "pphlo.rsqrt", "pphlo.sqrt",
        "pphlo.tanh", "pphlo.logistic", "pphlo.log", "pphlo.log_plus_one", "pphlo.power",
        "pphlo.sine", "pphlo.cosine",
    }
)  # fmt: skip
"""SPU's iterative kernels. In the 32-bit ring they err far beyond its resolution (measured: exp on [-13.5, 0] by
0.031 at 10 fraction bits, 30 steps; 0.001 in the 64-bit ring), which the emulator, computing them correctly
rounded, does not show: value-based policies keep them large."""
NONLINEAR = SPU_APPROXIMATIONS | {
    "pphlo.remainder", "pphlo.floor", "pphlo.ceil", "pphlo.round_nearest_afz", "pphlo.sign",
}  # fmt: skip
COMPARISONS = frozenset(
    {
        "pphlo.equal", "pphlo.not_equal", "pphlo.less", "pphlo.less_equal", "pphlo.greater",
        "pphlo.greater_equal", "pphlo.maximum", "pphlo.minimum", "pphlo.clamp",
    }
)  # fmt: skip
REDUCTIONS = frozenset({"pphlo.reduce"})


@dataclass(frozen=True)
class Rule:
    ring: RingConfig
    op: str | None = None
    location: re.Pattern[str] | None = None

    def matches(self, op: Operation) -> bool:
        if self.op is not None and op.name != self.op:
            return False
        if self.location is not None:
            where = describe_location(op.location) or ""
            if not self.location.search(where):
                return False
        return True


@dataclass(frozen=True)
class RingPolicy:
    """`ring_for(op)` is the ring `op` computes in, or None to inherit from its operands."""

    name: str
    linear: RingConfig
    nonlinear: RingConfig
    rules: tuple[Rule, ...] = field(default=())
    decided: dict[Operation | SSAValue, RingConfig] = field(default_factory=dict, compare=False, hash=False)
    """Per-op (and per entry argument) choices made for one module (the `auto` and `optimal` policies)."""

    @property
    def default(self) -> RingConfig:
        """Ring of values nothing decides for (e.g. arguments only moved around)."""
        return self.linear

    def ring_with_bits(self, field_bits: int) -> RingConfig:
        """This policy's ring of the given width (its fraction bits), for values typed only by width."""
        for ring in (self.linear, self.nonlinear):
            if ring.field_bits == field_bits:
                return ring
        return RingConfig(field_bits, LARGE.fraction_bits if field_bits >= 64 else SMALL.fraction_bits)

    def ring_for(self, op: Operation) -> RingConfig | None:
        if op in self.decided:
            return self.decided[op]
        for rule in self.rules:
            if rule.matches(op):
                return rule.ring
        if PRECISE_ATTR in op.attributes:
            return self.nonlinear
        if op.name in CONTRACTIONS:
            return self.linear
        if op.name in NONLINEAR or op.name in COMPARISONS or op.name in REDUCTIONS:
            return self.nonlinear
        return None


BUILTIN = {
    "fxp64": RingPolicy("fxp64", LARGE, LARGE),
    "ditto": RingPolicy("ditto", SMALL, LARGE),
}
