"""The compiler -> runtime contract: a plan, as plain data (JSON with MLIR text inside).

SPU's runtime has one ring per runtime, so a compiled program runs as a plan:

* `rings`: the runtime configuration (width, fraction bits) of each ring it uses;
* `inputs` / `outputs`: named variables, each with the ring it enters or leaves in;
* `steps`, in order: a `Segment` is a PPHLO program one ring's runtime executes; a
  `Conversion` moves a value between two rings' runtimes (its small PPHLO programs,
  where it needs any, are part of the plan too);
* `encodings`: inputs the data owner derives from the user's inputs before sharing
  them (one-hot token ids).

A single-ring program is a one-segment plan. The compiler emits plans
(`lowering/split_rings.py`), `Program.save` writes them, `ditto party` receives them,
and the runtime only runs them: every field is validated when a plan is read, so a
malformed or hostile plan is refused with a message saying what is wrong, and a
plan is never code (no pickle).
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from .diagnostics import DittoError
from .jsonfile import read_json
from .ring import RingConfig


@cache
def spu_version() -> str:
    """The installed SPU's version, read without importing SPU (which imports JAX: a second per tool run)."""
    return metadata.version("spu")


PLAN_FORMAT = "ditto-plan/2"
READABLE_FORMATS = ("ditto-plan/1", PLAN_FORMAT)
"""Format 2 added the matmul step; a format-1 plan is a format-2 plan without one."""
MATMUL_KEYS = ("lhs", "rhs", "result")
KINDS = ("fixed", "int", "bool")
INT_WIDTHS = (8, 16, 32, 64)
MAX_ELEMENTS = 2**31
"""The most elements one variable may have (a guard against absurd shapes in a plan file)."""
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.]{0,127}")
SPU_OPTIONS: dict[str, tuple[str, ...] | range] = {
    "fxp_exp_mode": ("EXP_DEFAULT", "EXP_PADE", "EXP_TAYLOR", "EXP_PRIME"),
    "fxp_exp_iters": range(1, 65),
}
"""SPU runtime settings a plan may carry (PUMA's, for instance), and the values each may take."""


@dataclass(frozen=True)
class Variable:
    """A named value held by one ring's runtime."""

    name: str
    field_bits: int
    secret: bool
    kind: str
    """"fixed" (a real in fixed point), "int" or "bool"."""
    shape: tuple[int, ...]
    width: int = 0
    """Integer width for kind "int"."""

    @property
    def elements(self) -> int:
        return math.prod(self.shape)

    def fits(self, other: Variable) -> bool:
        """Whether a value of this variable can stand for `other`: the same but for the name."""
        return replace(self, name=other.name) == other


@dataclass(frozen=True)
class Segment:
    """A PPHLO program (MLIR generic form) run by the runtime of ring `field_bits`."""

    field_bits: int
    code: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


@dataclass(frozen=True)
class Conversion:
    """Moves `source` from its ring's runtime to `target`'s (see runtime/party.py for the protocol).

    `prepare` runs on the source ring first (source.name -> `staged`): a downcast's
    truncation of the surplus fraction bits (for `upcast="generic"`; the downcast
    protocol replaces it), an upcast's bias. `finish` runs on the target ring after
    the words are lifted (`staged` -> target.name), for the generic upcast; Ditto's
    upcast protocol replaces it.
    """

    source: Variable
    target: Variable
    prepare: str | None = None
    finish: str | None = None
    location: str | None = None
    """Where in the source the conversion is (the op that made the value)."""

    @property
    def staged(self) -> str:
        return f"{self.source.name}.to{self.target.field_bits}"

    @property
    def is_upcast(self) -> bool:
        return self.target.field_bits > self.source.field_bits


@dataclass(frozen=True)
class MatMul:
    """`result` = `lhs` @ `rhs` (batched over leading axes) for two secrets in one ring's runtime, by the
    runtime's ABY3 matmul (runtime/matmul.py) instead of SPU's kernel. The product is not truncated:
    for fixed-point operands it holds twice the runtime's fraction bits, and every program that reads
    it truncates it first (lowering/split_rings.py)."""

    lhs: Variable
    rhs: Variable
    result: Variable
    location: str | None = None

    @property
    def field_bits(self) -> int:
        return self.result.field_bits

    @property
    def send_bytes(self) -> int:
        """Its messages over the three parties: one ring word per output element and party, in one round."""
        return 3 * self.result.elements * self.field_bits // 8


Step = Segment | Conversion | MatMul


@dataclass(frozen=True)
class OneHotInput:
    """An input the data owner computes from token ids before sharing: their one-hot rows."""

    argument: int
    """The program input that takes the one-hot matrix."""
    source: int
    """The program input holding the token ids."""
    depth: int
    """Vocabulary size (the one-hot's last dimension)."""
    shape: tuple[int, ...]


@dataclass
class Plan:
    rings: dict[int, RingConfig]
    inputs: list[Variable]
    outputs: list[Variable]
    steps: list[Step] = field(default_factory=list)
    encodings: list[OneHotInput] = field(default_factory=list)
    spu_options: dict[str, str | int] = field(default_factory=dict)
    """SPU runtime settings for every ring's runtime (keys and values from `SPU_OPTIONS`); empty: SPU's defaults."""

    @property
    def user_inputs(self) -> int:
        """How many inputs the user supplies (the rest are derived by `encodings`)."""
        return len(self.inputs) - len(self.encodings)

    def renamed(self, names: dict[str, str]) -> Plan:
        """The same plan with the variables named in `names` renamed (a runtime that keeps values between
        runs gives them names of its own; the programs are positional, so only the plan's names change)."""

        def name(n: str) -> str:
            return names.get(n, n)

        def variable(v: Variable) -> Variable:
            return replace(v, name=name(v.name))

        def step(s: Step) -> Step:
            if isinstance(s, Segment):
                return replace(s, inputs=tuple(map(name, s.inputs)), outputs=tuple(map(name, s.outputs)))
            if isinstance(s, MatMul):
                return replace(s, lhs=variable(s.lhs), rhs=variable(s.rhs), result=variable(s.result))
            return replace(s, source=variable(s.source), target=variable(s.target))

        return replace(
            self,
            inputs=[variable(v) for v in self.inputs],
            outputs=[variable(v) for v in self.outputs],
            steps=[step(s) for s in self.steps],
        )

    def variable_names(self) -> set[str]:
        """Every name a run sets in a runtime: inputs, segment outputs, matmul results, conversions' staged
        and target values."""
        names = {v.name for v in self.inputs}
        for s in self.steps:
            if isinstance(s, Segment):
                names |= set(s.outputs)
            elif isinstance(s, MatMul):
                names.add(s.result.name)
            else:
                names |= {s.staged, s.target.name}
        return names

    def encode_inputs(self, flat: Sequence[np.ndarray], first: int = 0) -> list[np.ndarray]:
        """The user's flat inputs from input `first` on, followed by the encoded ones the plan takes
        (an encoding's source must be among them)."""
        encoded = list(flat)
        for e in self.encodings:
            if e.source < first:
                raise DittoError(f"input {e.source} holds token ids, so it must come with the query, not the model")
            ids = np.asarray(flat[e.source - first])
            if ids.dtype.kind not in "iu":
                raise DittoError(f"input {e.source} holds token ids but has dtype {ids.dtype}")
            if ids.size and (ids.min() < 0 or ids.max() >= e.depth):
                bad = int(ids.min() if ids.min() < 0 else ids.max())
                raise DittoError(f"input {e.source}: token id {bad} is outside the vocabulary [0, {e.depth})")
            one_hot = (ids.reshape(-1, 1) == np.arange(e.depth)).astype(np.float32)
            encoded.append(one_hot.reshape(e.shape))
        return encoded

    def check_inputs(
        self, flat: Sequence[np.ndarray], names: Sequence[str] | None = None, first: int = 0
    ) -> list[np.ndarray]:
        """`flat` (the user's inputs from input `first` on: all of them, or a client's part after the model
        owner's weights) checked against the plan: count, shape, and each value within the fixed-point range
        of the ring it enters; returned as arrays, encodings appended."""
        check_sequence(flat)
        if not 0 <= first <= self.user_inputs:
            raise DittoError(f"the program takes {self.user_inputs} inputs, so {first} of them cannot come first")
        if len(flat) != self.user_inputs - first:
            expected = self.user_inputs - first
            raise DittoError(
                f"the program takes {expected} inputs{f' after the first {first}' if first else ''}, got {len(flat)}"
            )
        if names is not None and (isinstance(names, str) or len(names) != len(flat)):
            raise DittoError(f"names must name each of the {len(flat)} inputs")
        arrays = []
        for index, (variable, value) in enumerate(zip(self.inputs[first:], flat)):
            label = names[index] if names is not None else f"input {first + index}"
            arrays.append(check_value(label, variable, value, self.rings[variable.field_bits]))
        return self.encode_inputs(arrays, first)

    def check_weights(self, weights: Sequence[np.ndarray]) -> list[np.ndarray]:
        """A model owner's part of the inputs, the first `len(weights)`, checked as `check_inputs` checks
        them; token ids (inputs that have an encoding) belong to the query, not to the model."""
        check_sequence(weights)
        if len(weights) > self.user_inputs:
            raise DittoError(f"the program takes {self.user_inputs} inputs, not {len(weights)} weights")
        for e in self.encodings:
            if e.source < len(weights):
                raise DittoError(f"input {e.source} holds token ids, so it must come with the query, not the model")
        return [
            check_value(f"weight {index}", variable, value, self.rings[variable.field_bits])
            for index, (variable, value) in enumerate(zip(self.inputs, weights))
        ]

    # -- JSON --------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {
            "format": PLAN_FORMAT,
            "spu": spu_version(),
            "rings": [{"field_bits": r.field_bits, "fraction_bits": r.fraction_bits} for r in self.rings.values()],
            "inputs": [_variable_json(v) for v in self.inputs],
            "outputs": [_variable_json(v) for v in self.outputs],
            "steps": [_step_json(s) for s in self.steps],
            "encodings": [
                {"argument": e.argument, "source": e.source, "depth": e.depth, "shape": list(e.shape)}
                for e in self.encodings
            ],
            "spu_options": dict(self.spu_options),
        }

    @classmethod
    def from_json(cls, data: Any, where: str = "plan") -> Plan:
        """A plan from its JSON form, every field checked (`where` names the source in errors)."""
        return _PlanReader(where).read(data)

    def save(self, path: str | Path) -> None:
        _check_path(path)
        try:
            Path(path).write_text(json.dumps(self.to_json()))
        except (OSError, ValueError) as e:  # ValueError: a NUL in the path
            raise DittoError(f"cannot write program {path}: {e}") from None

    @classmethod
    def load(cls, path: str | Path) -> Plan:
        _check_path(path)
        return cls.from_json(read_json(path, "ditto-compiler program file"), str(path))


def _check_path(path: Any) -> None:
    if not isinstance(path, (str, os.PathLike)) or isinstance(os.fspath(path), bytes):
        raise DittoError(f"program path must be a string or a path, not {type(path).__name__}")


def check_sequence(inputs: Any) -> None:
    """Refuse anything but a list or tuple of input values (one array is not a list of inputs)."""
    if not isinstance(inputs, (list, tuple)):
        raise DittoError(f"inputs must be a sequence of arrays (a list, one per input), not {type(inputs).__name__}")


def check_value(label: str, variable: Variable, value: Any, ring: RingConfig) -> np.ndarray:
    """`value` as an array, refused unless it fits `variable` (shape, kind, the ring's range)."""
    try:
        array = np.asarray(value)
    except Exception as e:  # noqa: BLE001 (arbitrary user objects)
        raise DittoError(f"{label} is not an array: {type(e).__name__}: {e}") from None
    if array.shape != variable.shape:
        raise DittoError(f"{label} has shape {list(array.shape)}, expected {list(variable.shape)}")
    if array.dtype.kind not in "biuf":
        raise DittoError(f"{label} has dtype {array.dtype}, which fixed point cannot encode")
    if variable.kind == "fixed":
        if array.dtype.kind != "f":
            raise DittoError(f"{label} has dtype {array.dtype}, expected a float")
        if array.size and not np.all(np.isfinite(array)):
            raise DittoError(f"{label} holds NaN or infinity, which fixed point cannot encode")
        worst = float(np.max(np.abs(array))) if array.size else 0.0
        if worst >= ring.max_magnitude:
            raise DittoError(
                f"{label} holds {worst:g}, outside the fixed-point range of the {ring.field_bits}-bit ring it "
                f"enters (|x| < 2^{ring.integer_bits} with {ring.fraction_bits} fraction bits)"
            )
        return array
    if array.dtype.kind == "f":
        raise DittoError(f"{label} has dtype {array.dtype}, expected integers")
    if variable.kind == "int" and array.size:
        low, high = -(2 ** (variable.width - 1)), 2 ** (variable.width - 1)
        if int(array.min()) < low or int(array.max()) >= high:
            raise DittoError(f"{label} holds values outside the range of i{variable.width}")
    return array


def _variable_json(v: Variable) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": v.name,
        "field_bits": v.field_bits,
        "secret": v.secret,
        "kind": v.kind,
        "shape": list(v.shape),
    }
    if v.kind == "int":
        data["width"] = v.width
    return data


def _step_json(step: Step) -> dict[str, Any]:
    if isinstance(step, Segment):
        return {
            "segment": {
                "field_bits": step.field_bits,
                "inputs": list(step.inputs),
                "outputs": list(step.outputs),
                "code": step.code,
            }
        }
    if isinstance(step, MatMul):
        return {
            "matmul": {
                "lhs": _variable_json(step.lhs),
                "rhs": _variable_json(step.rhs),
                "result": _variable_json(step.result),
                "location": step.location,
            }
        }
    return {
        "conversion": {
            "source": _variable_json(step.source),
            "target": _variable_json(step.target),
            "prepare": step.prepare,
            "finish": step.finish,
            "location": step.location,
        }
    }


class _PlanReader:
    """Reads and checks a plan's JSON: types, ranges, and that every value is defined before use."""

    def __init__(self, where: str):
        self.where = where

    def fail(self, path: str, message: str) -> DittoError:
        return DittoError(f"{self.where}: {path}: {message}")

    def field(self, obj: Any, path: str, key: str, kind: type | tuple[type, ...], optional: bool = False) -> Any:
        if not isinstance(obj, dict):
            raise self.fail(path, "must be a JSON object")
        if key not in obj:
            if optional:
                return None
            raise self.fail(path, f"missing '{key}'")
        value = obj[key]
        if optional and value is None:
            return None
        ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
        if not ok:
            names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            raise self.fail(f"{path}.{key}", f"must be {names}, got {type(value).__name__}")
        return value

    def known_keys(self, obj: dict[str, Any], path: str, keys: set[str]) -> None:
        unknown = set(obj) - keys
        if unknown:
            raise self.fail(path, f"unknown keys {sorted(unknown)}")

    def read(self, data: Any) -> Plan:
        if not isinstance(data, dict) or data.get("format") not in READABLE_FORMATS:
            raise DittoError(f"{self.where} is not a ditto-compiler program file (format {PLAN_FORMAT})")
        self.known_keys(
            data, "plan", {"format", "spu", "rings", "inputs", "outputs", "steps", "encodings", "spu_options"}
        )
        spu = self.field(data, "plan", "spu", str)
        if spu != spu_version():
            raise DittoError(f"{self.where} was compiled for SPU {spu}, this runtime is {spu_version()}")
        rings: dict[int, RingConfig] = {}
        for index, ring in enumerate(self.field(data, "plan", "rings", list)):
            path = f"rings[{index}]"
            self.known_keys(ring if isinstance(ring, dict) else {}, path, {"field_bits", "fraction_bits"})
            bits, fraction = self.field(ring, path, "field_bits", int), self.field(ring, path, "fraction_bits", int)
            if fraction < 0:
                raise self.fail(f"{path}.fraction_bits", f"a ring has at least 0 fraction bits, not {fraction}")
            if bits in rings:
                raise self.fail(path, f"a second {bits}-bit ring")
            try:
                rings[bits] = RingConfig(bits, fraction)
            except DittoError as e:
                raise self.fail(path, e.message) from None
        if not rings:
            raise self.fail("rings", "a plan needs at least one ring")
        self.rings = rings
        defined: dict[str, int] = {}  # variable name -> the ring holding it
        inputs = [self.variable(v, f"inputs[{i}]") for i, v in enumerate(self.field(data, "plan", "inputs", list))]
        for index, v in enumerate(inputs):
            self.define(defined, v.name, v.field_bits, f"inputs[{index}]")
        steps = [self.step(s, f"steps[{i}]", defined) for i, s in enumerate(self.field(data, "plan", "steps", list))]
        outputs = []
        for index, raw in enumerate(self.field(data, "plan", "outputs", list)):
            v = self.variable(raw, f"outputs[{index}]")
            self.use(defined, v.name, v.field_bits, f"outputs[{index}]")
            outputs.append(v)
        encodings = [
            self.encoding(e, f"encodings[{i}]", inputs)
            for i, e in enumerate(self.field(data, "plan", "encodings", list))
        ]
        plan = Plan(rings, inputs, outputs, steps, encodings, self.spu_options(data.get("spu_options", {})))
        for index, e in enumerate(encodings):
            if e.argument != plan.user_inputs + index:
                raise self.fail(f"encodings[{index}]", "encoded inputs must follow the user's inputs in order")
        return plan

    def spu_options(self, raw: Any) -> dict[str, str | int]:
        if not isinstance(raw, dict):
            raise self.fail("spu_options", "must be a JSON object")
        for key, value in raw.items():
            allowed = SPU_OPTIONS.get(key)
            if allowed is None:
                raise self.fail("spu_options", f"unknown SPU option {key!r}: use {', '.join(SPU_OPTIONS)}")
            if isinstance(value, bool) or value not in allowed:
                raise self.fail(f"spu_options.{key}", f"{value!r} is not one of the allowed values")
        return dict(raw)

    def variable(self, raw: Any, path: str) -> Variable:
        if isinstance(raw, dict):
            self.known_keys(raw, path, {"name", "field_bits", "secret", "kind", "shape", "width"})
        name = self.field(raw, path, "name", str)
        if not _NAME.fullmatch(name):
            raise self.fail(f"{path}.name", f"{name!r} is not a valid variable name")
        bits = self.field(raw, path, "field_bits", int)
        if bits not in self.rings:
            raise self.fail(f"{path}.field_bits", f"the plan has no {bits}-bit ring")
        secret = self.field(raw, path, "secret", bool)
        kind = self.field(raw, path, "kind", str)
        if kind not in KINDS:
            raise self.fail(f"{path}.kind", f"must be one of {', '.join(KINDS)}, not {kind!r}")
        shape = self.field(raw, path, "shape", list)
        if not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape) or len(shape) > 16:
            raise self.fail(f"{path}.shape", "must list at most 16 non-negative integers")
        if math.prod(shape) > MAX_ELEMENTS:
            raise self.fail(f"{path}.shape", f"{shape} has more than {MAX_ELEMENTS} elements")
        width = 0
        if kind != "int" and isinstance(raw, dict) and "width" in raw:
            raise self.fail(f"{path}.width", f"only an int variable has a width, not a {kind} one")
        if kind == "int":
            width = self.field(raw, path, "width", int)
            if width not in INT_WIDTHS or width > bits:
                raise self.fail(f"{path}.width", f"must be one of {INT_WIDTHS} and fit the ring, not {width}")
        return Variable(name, bits, secret, kind, tuple(shape), width)

    def define(self, defined: dict[str, int], name: Any, field_bits: int, path: str) -> None:
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise self.fail(path, f"{name!r} is not a valid variable name")
        if name in defined:
            raise self.fail(path, f"variable {name!r} is defined twice")
        defined[name] = field_bits

    def use(self, defined: dict[str, int], name: Any, field_bits: int, path: str) -> None:
        if not isinstance(name, str) or name not in defined:
            raise self.fail(path, f"uses {name!r} before any step defines it")
        if defined[name] != field_bits:
            raise self.fail(path, f"{name!r} is in the {defined[name]}-bit ring, not the {field_bits}-bit one")

    def code(self, raw: Any, path: str, key: str, optional: bool = False) -> str | None:
        text = self.field(raw, path, key, str, optional)
        if text is not None and "pphlo.version" not in text:
            raise self.fail(f"{path}.{key}", "is not a PPHLO module emitted for SPU (no pphlo.version)")
        return text

    def step(self, raw: Any, path: str, defined: dict[str, int]) -> Step:
        if not isinstance(raw, dict) or len(raw) != 1 or next(iter(raw)) not in ("segment", "conversion", "matmul"):
            raise self.fail(path, 'must be {"segment": ...}, {"conversion": ...} or {"matmul": ...}')
        if "matmul" in raw:
            return self.matmul(raw["matmul"], f"{path}.matmul", defined)
        if "segment" in raw:
            body, path = raw["segment"], f"{path}.segment"
            if isinstance(body, dict):
                self.known_keys(body, path, {"field_bits", "inputs", "outputs", "code"})
            bits = self.field(body, path, "field_bits", int)
            if bits not in self.rings:
                raise self.fail(f"{path}.field_bits", f"the plan has no {bits}-bit ring")
            inputs = self.field(body, path, "inputs", list)
            for index, name in enumerate(inputs):
                self.use(defined, name, bits, f"{path}.inputs[{index}]")
            outputs = self.field(body, path, "outputs", list)
            for index, name in enumerate(outputs):
                self.define(defined, name, bits, f"{path}.outputs[{index}]")
            code = self.code(body, path, "code")
            assert code is not None
            return Segment(bits, code, tuple(inputs), tuple(outputs))
        body, path = raw["conversion"], f"{path}.conversion"
        if isinstance(body, dict):
            self.known_keys(body, path, {"source", "target", "prepare", "finish", "location"})
        source = self.variable(self.field(body, path, "source", dict), f"{path}.source")
        target = self.variable(self.field(body, path, "target", dict), f"{path}.target")
        self.use(defined, source.name, source.field_bits, f"{path}.source")
        if source.field_bits == target.field_bits:
            raise self.fail(path, "converts a value into the ring it is already in")
        if (source.kind, source.secret, source.shape, source.width) != (
            target.kind,
            target.secret,
            target.shape,
            target.width,
        ):
            raise self.fail(path, "source and target differ in more than their ring")
        location = self.field(body, path, "location", str, optional=True)
        conversion = Conversion(
            source, target, self.code(body, path, "prepare", True), self.code(body, path, "finish", True), location
        )
        self.define(defined, target.name, target.field_bits, f"{path}.target")
        return conversion

    def matmul(self, body: Any, path: str, defined: dict[str, int]) -> MatMul:
        if isinstance(body, dict):
            self.known_keys(body, path, {"lhs", "rhs", "result", "location"})
        lhs, rhs, result = (self.variable(self.field(body, path, key, dict), f"{path}.{key}") for key in MATMUL_KEYS)
        for key, operand in zip(MATMUL_KEYS, (lhs, rhs)):
            self.use(defined, operand.name, result.field_bits, f"{path}.{key}")
        if not all(v.secret and v.kind == "fixed" for v in (lhs, rhs, result)):
            raise self.fail(path, "multiplies secret fixed-point values only")
        if lhs.field_bits != result.field_bits or rhs.field_bits != result.field_bits:
            raise self.fail(path, "operands and result must be in one ring")
        a, b, c = lhs.shape, rhs.shape, result.shape
        if not (len(a) == len(b) == len(c) in (2, 3) and a[:-2] == b[:-2] == c[:-2] and a[-1] == b[-2]) or c[-2:] != (
            a[-2],
            b[-1],
        ):
            raise self.fail(path, f"shapes {list(a)} @ {list(b)} -> {list(c)} are not a (batched) matrix product")
        step = MatMul(lhs, rhs, result, self.field(body, path, "location", str, optional=True))
        self.define(defined, result.name, result.field_bits, f"{path}.result")
        return step

    def encoding(self, raw: Any, path: str, inputs: list[Variable]) -> OneHotInput:
        if isinstance(raw, dict):
            self.known_keys(raw, path, {"argument", "source", "depth", "shape"})
        argument, source = self.field(raw, path, "argument", int), self.field(raw, path, "source", int)
        depth, shape = self.field(raw, path, "depth", int), self.field(raw, path, "shape", list)
        if not 0 <= argument < len(inputs) or not 0 <= source < len(inputs):
            raise self.fail(path, "refers to an input the plan does not have")
        if depth < 1 or tuple(shape) != inputs[argument].shape or not shape or shape[-1] != depth:
            raise self.fail(path, f"a one-hot of depth {depth} does not fit input {argument}'s shape")
        if inputs[source].kind == "fixed" or inputs[argument].kind != "fixed":
            raise self.fail(path, "one-hot rows are encoded from integer ids into a real-valued input")
        return OneHotInput(argument, source, depth, tuple(shape))
