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
source locations (JAX op names such as "jit(f)/.../dot_general"):

    {"base": "ditto",
     "rings": {"small": [32, 10], "large": [64, 18]},
     "rules": [{"op": "pphlo.exponential", "ring": "large"},
               {"location": "layer_1/", "ring": [64, 18]}]}

Rules apply in order; the first whose every given key matches wins ("op" is an
exact op name, "location" a regular expression searched in the op's location).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from xdsl.ir import Operation, SSAValue

from ..diagnostics import DittoError, describe_location
from ..jsonfile import read_json
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


def _ring(spec: object, named: dict[str, RingConfig], where: str) -> RingConfig:
    if isinstance(spec, str) and spec in named:
        return named[spec]
    if isinstance(spec, list) and len(spec) == 2 and all(isinstance(x, int) and not isinstance(x, bool) for x in spec):
        if spec[1] < 0:
            raise DittoError(f"{where}: a ring has at least 0 fraction bits, not {spec[1]}")
        try:
            return RingConfig(spec[0], spec[1])
        except DittoError as e:
            raise DittoError(f"{where}: {e.message}") from None
    raise DittoError(f"{where}: ring must be [bits, fraction_bits] or one of {sorted(named)}, got {spec!r}")


def load_policy(spec: str) -> RingPolicy:
    """A built-in policy by name, or a JSON policy file (`auto` needs calibration: see annotate-rings)."""
    if spec in BUILTIN:
        return BUILTIN[spec]
    path = Path(spec)
    if not path.is_file():
        raise DittoError(f"unknown ring policy '{spec}': use {', '.join(BUILTIN)}, auto or a JSON policy file")
    data = read_json(path, "ring policy file")
    if not isinstance(data, dict):
        raise DittoError(f"{spec}: a policy file holds a JSON object")
    unknown = set(data) - {"base", "rings", "rules"}
    if unknown:
        raise DittoError(f"{spec}: unknown keys {sorted(unknown)}; expected base, rings, rules")
    base_name = data.get("base", "fxp64")
    base = BUILTIN.get(base_name) if isinstance(base_name, str) else None
    if base is None:
        raise DittoError(f"{spec}: base must be one of {', '.join(BUILTIN)}, not {base_name!r}")
    rings = data.get("rings", {})
    if not isinstance(rings, dict):
        raise DittoError(f"{spec}: rings must map names to [bits, fraction_bits]")
    named = {"small": base.linear, "large": base.nonlinear}
    named.update({name: _ring(value, {}, f"{spec}: rings.{name}") for name, value in rings.items()})
    rules = []
    if not isinstance(data.get("rules", []), list):
        raise DittoError(f"{spec}: rules must be a list of rules, not {type(data['rules']).__name__}")
    for index, rule in enumerate(data.get("rules", [])):
        where = f"{spec}: rules[{index}]"
        if not isinstance(rule, dict) or "ring" not in rule or not ({"op", "location"} & set(rule)):
            raise DittoError(f"{where}: a rule needs a ring and an op and/or a location")
        if set(rule) - {"op", "location", "ring"}:
            raise DittoError(f"{where}: unknown keys {sorted(set(rule) - {'op', 'location', 'ring'})}")
        for key in ("op", "location"):
            if key in rule and not isinstance(rule[key], str):
                raise DittoError(f"{where}: {key} must be a string, not {rule[key]!r}")
        try:
            location = re.compile(rule["location"]) if "location" in rule else None
        except re.error as e:
            raise DittoError(f"{where}: bad location pattern: {e}") from None
        rules.append(Rule(_ring(rule["ring"], named, where), rule.get("op"), location))
    return RingPolicy(f"file:{path.name}", named["small"], named["large"], tuple(rules))
