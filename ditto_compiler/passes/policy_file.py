"""Policy files: a JSON file that says how to compile one model (what `ditto tune` writes).

Version 1 (no "version" key) refines a built-in ring policy with ring rules:

    {"base": "ditto",
     "rings": {"small": [32, 10], "large": [64, 18]},
     "rules": [{"op": "pphlo.exponential", "ring": "large"},
               {"location": "layer_1/", "ring": [64, 18]}]}

Version 2 adds the approximations, per location, and the `optimal` base (the
cost-optimal ring cut, made at compile time on the calibration inputs):

    {"version": 2,
     "base": "optimal", "objective": "bytes",
     "rings": {"small": [32, 8], "large": [64, 18]},
     "gelu": "exact", "softmax": "exact", "silu": "exact",
     "approximations": [{"location": "layer/0/", "gelu": "puma"},
                        {"location": "layer/[0-2]/attention", "softmax": "ditto"}],
     "tuned": {...}}

Ring rules apply in order, the first whose every given key matches wins ("op" an
exact op name, "location" a regular expression searched in the op's location, as
in `"jit(f)/.../dot_general" at file:line`); `optimal` decides every op itself
and takes no ring rules. An approximation rule gives `gelu`, `softmax` and/or `silu`
for the recognised GeLUs / Softmaxes / SiLUs whose location matches; the first rule naming
the function wins, else the file's default. "tuned" records how `ditto tune`
chose the file and is not read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..diagnostics import DittoError
from ..jsonfile import read_json, write_json
from ..ring import RingConfig
from .optimal_rings import OBJECTIVES
from .ring_policy import BUILTIN, RingPolicy, Rule

VERSIONS = (1, 2)
BASES = (*BUILTIN, "optimal")
GELU_MODES = ("exact", "quad", "puma", "relu-fit")
SOFTMAX_MODES = ("exact", "2quad", "ditto", "exp-fit")
SILU_MODES = ("exact", "relu-fit")
MODES = {"gelu": GELU_MODES, "softmax": SOFTMAX_MODES, "silu": SILU_MODES}


@dataclass(frozen=True)
class ApproximationRule:
    """The approximation of the recognised functions whose location matches `location`."""

    location: str
    gelu: str | None = None
    softmax: str | None = None
    silu: str | None = None

    def matches(self, where: str) -> bool:
        return re.search(self.location, where) is not None

    def as_json(self) -> dict[str, str]:
        return {"location": self.location} | {k: v for k in MODES if (v := getattr(self, k)) is not None}


@dataclass(frozen=True)
class Approximations:
    """Which approximation each recognised GeLU, Softmax and SiLU gets (see approximate_nonlinear)."""

    gelu: str = "exact"
    softmax: str = "exact"
    silu: str = "exact"
    rules: tuple[ApproximationRule, ...] = ()

    def mode_for(self, function: str, where: str) -> str:
        """The mode of the `function` ("gelu", "softmax" or "silu") recognised at location `where`."""
        for rule in self.rules:
            mode = getattr(rule, function)
            if mode is not None and rule.matches(where):
                return mode
        return getattr(self, function)


@dataclass(frozen=True)
class PolicyFile:
    version: int = 2
    base: str = "fxp64"
    small: RingConfig = BUILTIN["fxp64"].linear
    """The ring of linear work (for base fxp64 the 64-bit one, unless the file says otherwise)."""
    large: RingConfig = BUILTIN["fxp64"].nonlinear
    objective: str = "bytes"
    rules: tuple[Rule, ...] = ()
    approximations: Approximations = Approximations()
    tuned: dict[str, Any] = field(default_factory=dict, compare=False)
    path: str = ""
    """The file it was read from (what approximate-nonlinear reads again)."""

    @property
    def name(self) -> str:
        return Path(self.path).name or "policy"

    @property
    def calibrated(self) -> bool:
        """Whether the rings are decided at compile time from calibration inputs (base `optimal`)."""
        return self.base == "optimal"

    def ring_policy(self) -> RingPolicy:
        """The ring policy of a file whose base is built in (an `optimal` one needs calibration)."""
        if self.calibrated:
            raise DittoError(
                f"{self.name}: base optimal decides rings from calibration inputs; compile with it "
                "(ditto_compiler.compile) or give annotate-rings calibration inputs"
            )
        return RingPolicy(f"file:{self.name}", self.small, self.large, self.rules)

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"version": 2, "base": self.base}
        if self.calibrated:
            data["objective"] = self.objective
        data["rings"] = {
            "small": [self.small.field_bits, self.small.fraction_bits],
            "large": [self.large.field_bits, self.large.fraction_bits],
        }
        if self.rules:
            raise DittoError("writing ring rules is not supported; write them by hand")
        data |= {f: getattr(self.approximations, f) for f in MODES}
        data["approximations"] = [r.as_json() for r in self.approximations.rules]
        if self.tuned:
            data["tuned"] = self.tuned
        return data

    def save(self, path: str | Path) -> None:
        write_json(path, self.as_json(), "policy file")


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


def _pattern(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise DittoError(f"{where}: location must be a string, not {value!r}")
    try:
        re.compile(value)
    except re.error as e:
        raise DittoError(f"{where}: bad location pattern: {e}") from None
    return value


def _mode(function: str, value: object, where: str) -> str:
    if not isinstance(value, str) or value not in MODES[function]:
        raise DittoError(f"{where}: {function} must be one of {', '.join(MODES[function])}, not {value!r}")
    return value


def _list(data: dict[str, Any], key: str, what: str, spec: str) -> list[Any]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise DittoError(f"{spec}: {key} must be a list of {what}, not {type(value).__name__}")
    return value


def _ring_rules(data: dict[str, Any], named: dict[str, RingConfig], spec: str) -> tuple[Rule, ...]:
    rules = []
    for index, rule in enumerate(_list(data, "rules", "rules", spec)):
        where = f"{spec}: rules[{index}]"
        if not isinstance(rule, dict) or "ring" not in rule or not ({"op", "location"} & set(rule)):
            raise DittoError(f"{where}: a rule needs a ring and an op and/or a location")
        if set(rule) - {"op", "location", "ring"}:
            raise DittoError(f"{where}: unknown keys {sorted(set(rule) - {'op', 'location', 'ring'})}")
        if "op" in rule and not isinstance(rule["op"], str):
            raise DittoError(f"{where}: op must be a string, not {rule['op']!r}")
        location = re.compile(_pattern(rule["location"], where)) if "location" in rule else None
        rules.append(Rule(_ring(rule["ring"], named, where), rule.get("op"), location))
    return tuple(rules)


def _approximations(data: dict[str, Any], spec: str) -> Approximations:
    defaults = {f: _mode(f, data.get(f, "exact"), spec) for f in MODES}
    rules = []
    for index, rule in enumerate(_list(data, "approximations", "approximation rules", spec)):
        where = f"{spec}: approximations[{index}]"
        if not isinstance(rule, dict) or "location" not in rule or not (set(MODES) & set(rule)):
            raise DittoError(f"{where}: an approximation rule needs a location and a gelu, softmax and/or silu")
        if set(rule) - {"location", *MODES}:
            raise DittoError(f"{where}: unknown keys {sorted(set(rule) - {'location', *MODES})}")
        modes = {f: _mode(f, rule[f], where) for f in MODES if f in rule}
        rules.append(ApproximationRule(_pattern(rule["location"], where), **modes))
    return Approximations(**defaults, rules=tuple(rules))


def is_policy_file(spec: str) -> bool:
    """Whether `spec` names a policy file rather than a policy (`fxp64`, `ditto`, `auto`, `optimal`)."""
    return spec not in (*BUILTIN, "auto", "optimal") and Path(spec).is_file()


def load_policy(spec: str) -> RingPolicy:
    """A built-in ring policy by name, or a JSON policy file's (`auto`, `optimal` and files with base optimal need
    calibration: see annotate-rings and compile)."""
    if spec in BUILTIN:
        return BUILTIN[spec]
    if not is_policy_file(spec):
        raise DittoError(f"unknown ring policy '{spec}': use {', '.join(BUILTIN)}, auto or a JSON policy file")
    return load_policy_file(spec).ring_policy()


def load_policy_file(spec: str | Path) -> PolicyFile:
    """A JSON policy file, validated; every problem is a DittoError naming the file and the key."""
    path = Path(spec)
    if not path.is_file():
        raise DittoError(f"policy file {spec} does not exist")
    data = read_json(path, "ring policy file")
    if not isinstance(data, dict):
        raise DittoError(f"{spec}: a policy file holds a JSON object")
    version = data.get("version", 1)
    if version not in VERSIONS or isinstance(version, bool):
        raise DittoError(f"{spec}: version must be one of {', '.join(map(str, VERSIONS))}, not {version!r}")
    keys = {"base", "rings", "rules"} | (
        {"version", "objective", *MODES, "approximations", "tuned"} if version == 2 else set()
    )
    unknown = set(data) - keys
    if unknown:
        hint = ' (per-location approximations need "version": 2)' if version == 1 else ""
        raise DittoError(f"{spec}: unknown keys {sorted(unknown)}; expected {', '.join(sorted(keys))}{hint}")
    base = data.get("base", "fxp64")
    bases = BASES if version == 2 else tuple(BUILTIN)
    if not isinstance(base, str) or base not in bases:
        raise DittoError(f"{spec}: base must be one of {', '.join(bases)}, not {base!r}")
    rings = data.get("rings", {})
    if not isinstance(rings, dict):
        raise DittoError(f"{spec}: rings must map names to [bits, fraction_bits]")
    builtin = BUILTIN.get(base, BUILTIN["ditto"])
    named = {"small": builtin.linear, "large": builtin.nonlinear}
    named.update({name: _ring(value, {}, f"{spec}: rings.{name}") for name, value in rings.items()})
    if base == "optimal":
        if named["small"].field_bits >= named["large"].field_bits:
            raise DittoError(f"{spec}: base optimal needs a small ring narrower than the large one")
        if data.get("rules"):
            raise DittoError(f"{spec}: base optimal decides every op's ring itself; it takes no ring rules")
    objective = data.get("objective", "bytes")
    if objective not in OBJECTIVES:
        raise DittoError(f"{spec}: objective must be one of {', '.join(OBJECTIVES)}, not {objective!r}")
    tuned = data.get("tuned", {})
    if not isinstance(tuned, dict):
        raise DittoError(f"{spec}: tuned must be a JSON object")
    return PolicyFile(
        version=version,
        base=base,
        small=named["small"],
        large=named["large"],
        objective=objective,
        rules=_ring_rules(data, named, spec),
        approximations=_approximations(data, spec),
        tuned=tuned,
        path=str(path),
    )
