"""Calibrate ditto_compiler/data/cost_model.json: every PPHLO op kind measured alone under SPU's ABY3.

    python tools/calibrate_costs.py [--output PATH] [--no-coverage] [--no-validate] [--conversions-only]

Each op kind (name, operands' visibility and element class; see cost_model.signature)
runs alone, in a one-segment plan on the project's own executor (threads), in the
32-bit ring (10 fraction bits) and the 64-bit ring (18), at three sizes. Its bytes,
send actions and seconds come from SPU's per-op profile (`Cost.by_op`), and are fitted
as per_call * calls + per_element * elements (cost_model.py). Booleans an op consumes
are made by a comparison first, as in compiled programs (SPU holds them as XOR-shared
bits, not as inputs' arithmetic shares). Bytes and actions are deterministic: the fit
must reproduce every measurement, and the tool says where it does not. Every kind is
also run once with other fraction bits, to check that they change nothing.

Ring conversions are measured on two-ring plans (Ditto's upcast protocol included).
`--conversions-only` re-measures just them (after a change to the upcast protocol) and
keeps the shipped model's op tables.
Then, unless told not to, the tool compiles tiny Flax BERT and GPT-2 under the
fxp64 and ditto policies with every gelu and softmax approximation, checks that
every op kind they contain was measured (coverage), and compares the model with
four measured runs (validation). Both results are stored with the model.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import math
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from spu import libspu  # noqa: E402
from spu import version as spu_version  # noqa: E402
from xdsl.ir import SSAValue  # noqa: E402

from ditto_compiler.cost_model import (  # noqa: E402
    MODEL_FORMAT,
    CostModel,
    Signature,
    default_path,
    parse_program,
    signature,
)
from ditto_compiler.diagnostics import DittoError  # noqa: E402
from ditto_compiler.dialects.secret import is_secret  # noqa: E402
from ditto_compiler.lowering.conversions import conversion_programs  # noqa: E402
from ditto_compiler.lowering.spu_text import spu_module_text  # noqa: E402
from ditto_compiler.plan import Conversion, Plan, Segment, Variable  # noqa: E402
from ditto_compiler.ring import RingConfig  # noqa: E402
from ditto_compiler.runtime.cost import CONVERSION_PROTOCOL  # noqa: E402
from ditto_compiler.runtime.executor import execute  # noqa: E402

RINGS = (RingConfig(32, 10), RingConfig(64, 18))
OTHER_FRACTIONS = {32: (8, 12), 64: (14, 24)}
"""Fraction bits the check runs every op kind with (they must not change bytes or actions)."""
ELEMENT = {"f": "f32", "i": "i32", "b": "i1"}
KIND = {"f": ("fixed", 0), "i": ("int", 32), "b": ("bool", 0)}
SIZES = (3, 40, 600)
DOT_SIZES = ((1, 3, 2), (4, 8, 5), (16, 24, 20), (2, 50, 3), (7, 2, 9))
BATCHED_SIZES = ((1, 2, 3, 2), (2, 4, 8, 5), (3, 8, 6, 10), (5, 1, 7, 2), (2, 9, 2, 6))
REDUCE_SIZES = ((1, 2), (3, 7), (5, 100), (2, 16), (4, 33))
"""Contractions and reductions have up to four coefficients to fit (cost_model.Linear): five sizes check them."""
CONVERSION_SIZES = (3, 40, 600)
TOLERANCE = 0.02
"""The worst relative miss of a bytes or actions fit the tool accepts (SPU's costs are exactly linear except
for a few rare kinds on boolean-shared numbers, whose bit width follows the fraction bits)."""

# -- programs ---------------------------------------------------------------------------------


def tensor(shape: Sequence[int], code: str, element: str | None = None) -> str:
    """The PPHLO type of a value with operand code `code` ('sf', 'xb', 'pi', ...), its element type
    `element` when not the class's usual one."""
    element = element or ELEMENT[code[1]]
    return f"tensor<{''.join(f'{d}x' for d in shape)}{f'!pphlo.secret<{element}>' if code[0] != 'p' else element}>"


@dataclass
class Program:
    """A one-function PPHLO program built line by line; its inputs become the plan's inputs."""

    inputs: list[tuple[tuple[int, ...], str]] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    types: dict[str, str] = field(default_factory=dict)
    forms: dict[str, str] = field(default_factory=dict)
    """Value name (without '%') -> how SPU holds it, as built."""
    outputs: list[tuple[str, tuple[int, ...], str]] = field(default_factory=list)
    counter: int = 0

    def argument(self, shape: Sequence[int], code: str) -> str:
        name = f"%a{len(self.inputs)}"
        self.inputs.append((tuple(shape), code))
        self.types[name] = tensor(shape, code)
        self.forms[name[1:]] = code[0]
        return name

    def operand(self, shape: Sequence[int], code: str, target: str) -> str:
        """A value of `code`, made as programs make it: an input for 'p' and 's' numbers; a comparison's bits
        for 'xb', converted to a number for 'xf' / 'xi'; a converted integer for 'sb'; a rounding for 'wf' and
        a bitwise op on an arithmetic integer for 'wi' (a helper of another name than `target`, whose cost
        SPU's profile lists apart)."""
        if code in ("sf", "si", "pf", "pi", "pb"):
            return self.argument(shape, code)
        if code == "sb":
            return self.op("pphlo.convert", [self.argument(shape, "si")], shape, code)
        if code == "wf":
            rounding = "pphlo.ceil" if target == "pphlo.floor" else "pphlo.floor"
            return self.op(rounding, [self.argument(shape, "sf")], shape, code)
        if code == "wi":
            x = self.argument(shape, "si")
            y = self.argument(shape, "pi") if target != "pphlo.xor" else x
            return self.op("pphlo.xor" if target != "pphlo.xor" else "pphlo.and", [x, y], shape, code)
        compare = "pphlo.greater" if target == "pphlo.less" else "pphlo.less"
        x, y = self.argument(shape, "sf"), self.argument(shape, "pf")
        bits = self.op(compare, [x, y], shape, "xb")
        return bits if code[1] == "b" else self.op("pphlo.convert", [bits], shape, code)

    def op(
        self, name: str, operands: Sequence[str], shape: Sequence[int], code: str, attrs: str = "", element: str = ""
    ) -> str:
        self.counter += 1
        result = f"%v{self.counter}"
        self.types[result] = tensor(shape, code, element or None)
        self.forms[result[1:]] = code[0]
        signature = f"({', '.join(self.types[v] for v in operands)}) -> {self.types[result]}"
        self.lines.append(f'{result} = "{name}"({", ".join(operands)}){attrs} : {signature}')
        return result

    def output(self, value: str, shape: Sequence[int], code: str) -> None:
        self.outputs.append((value, tuple(shape), code))

    def width(self, value: str) -> int:
        """The integer width of `value`'s elements (0 for others)."""
        element = self.types[value].rsplit("x", 1)[-1].removeprefix("!pphlo.secret<").rstrip(">")
        return int(element[1:]) if element.startswith("i") and element != "i1" else 0

    def form(self, value: SSAValue) -> str:
        """How SPU holds a value of the parsed program (its name says which)."""
        return self.forms[value.name_hint] if is_secret(value.type) else "p"  # type: ignore[index]

    def text(self) -> str:
        args = [tensor(s, c) for s, c in self.inputs]
        results = [self.types[v] for v, _, _ in self.outputs]
        head = ", ".join(f"%a{i}: {t}" for i, t in enumerate(args))
        body = "\n".join(f"    {line}" for line in self.lines)
        returned = ", ".join(v for v, _, _ in self.outputs)
        function_type = f"({', '.join(args)}) -> ({', '.join(results)})"
        return (
            '"builtin.module"() ({\n'
            f'  "func.func"() <{{sym_name = "main", function_type = {function_type}}}> ({{\n'
            f"  ^bb0({head}):\n{body}\n"
            f'    "func.return"({returned}) : ({", ".join(results)}) -> ()\n'
            "  }) : () -> ()\n"
            "}) : () -> ()\n"
        )


@dataclass(frozen=True)
class Variant:
    """One op kind: `build(size)` makes a program whose last `target` op is the one measured."""

    target: str
    label: str
    build: Callable[[int], Program]
    sizes: int = len(SIZES)


COMPARISONS = ("equal", "not_equal", "less", "less_equal", "greater", "greater_equal")
LOGICAL = ("and", "or", "xor")


def _result_class(name: str, codes: Sequence[str]) -> str:
    short = name.removeprefix("pphlo.")
    if short in COMPARISONS:
        return "b"
    if short in ("select", "clamp"):
        return codes[1][1]
    return codes[0][1]


def elementwise(name: str, codes: Sequence[str], result_class: str | None = None) -> Variant:
    result = ("s" if any(c[0] != "p" for c in codes) else "p") + (result_class or _result_class(name, codes))

    def build(size: int) -> Program:
        shape = (SIZES[size],)
        p = Program()
        operands = [p.operand(shape, c, name) for c in codes]
        p.output(p.op(name, operands, shape, result), shape, result)
        return p

    return Variant(name, f"{name}({','.join(codes)})", build)


def square(code: str) -> Variant:
    def build(size: int) -> Program:
        shape = (SIZES[size],)
        p = Program()
        x = p.operand(shape, code, "pphlo.multiply")
        p.output(p.op("pphlo.multiply", [x, x], shape, "s" + code[1]), shape, "s" + code[1])
        return p

    return Variant("pphlo.multiply", f"square {code}", build)


def convert(source: str, target: str, element: str = "") -> Variant:
    def build(size: int) -> Program:
        shape = (SIZES[size],)
        p = Program()
        x = p.operand(shape, source, "pphlo.convert")
        p.output(p.op("pphlo.convert", [x], shape, "s" + target, element=element), shape, "s" + target)
        return p

    return Variant("pphlo.convert", f"convert {source}->{target}{element}", build)


def contraction(name: str, codes: Sequence[str]) -> Variant:
    result = "s" + codes[0][1]

    def build(size: int) -> Program:
        p = Program()
        if name == "pphlo.dot":
            m, k, n = DOT_SIZES[size]
            lhs, rhs, out, attrs = (m, k), (k, n), (m, n), ""
        else:
            b, m, k, n = BATCHED_SIZES[size]
            lhs, rhs, out = (b, m, k), (b, k, n), (b, m, n)
            attrs = (
                " <{dot_dimension_numbers = #pphlo.dot<lhs_batching_dimensions = [0], rhs_batching_dimensions = [0], "
                "lhs_contracting_dimensions = [2], rhs_contracting_dimensions = [1]>}>"
            )
        x, y = p.operand(lhs, codes[0], name), p.operand(rhs, codes[1], name)
        p.output(p.op(name, [x, y], out, result, attrs), out, result)
        return p

    return Variant(name, f"{name}({','.join(codes)})", build, len(DOT_SIZES))


def reduce(body: str, code: str) -> Variant:
    def build(size: int) -> Program:
        rows, length = REDUCE_SIZES[size]
        p = Program()
        x = p.operand((rows, length), code, "pphlo.reduce")
        init = p.argument((), "p" + code[1])
        scalar = tensor((), "s" + code[1])
        p.counter += 1
        result = f"%v{p.counter}"
        p.lines += [
            f'{result} = "pphlo.reduce"({x}, {init}) <{{dimensions = array<i64: 1>}}> ({{',
            f"^bb0(%x: {scalar}, %y: {scalar}):",
            f'  %m = "{body}"(%x, %y) : ({scalar}, {scalar}) -> {scalar}',
            f'  "pphlo.return"(%m) : ({scalar}) -> ()',
            f"}}) : ({p.types[x]}, {p.types[init]}) -> {tensor((rows,), code)}",
        ]
        p.types[result] = tensor((rows,), code)
        p.forms[result[1:]] = code[0]
        p.output(result, (rows,), code)
        return p

    return Variant("pphlo.reduce", f"reduce[{body}]({code})", build, len(REDUCE_SIZES))


def _secret(cls: str) -> tuple[str, ...]:
    """The forms a secret of class `cls` comes in (cost_model.FORMS): booleans are bits, never wide."""
    return ("s", "x") if cls == "b" else ("s", "x", "w")


def _operands(cls: str, count: int) -> list[list[str]]:
    """Every combination of `count` operand codes of class `cls` with at least one secret."""
    forms = ("p", *_secret(cls))
    return [[f + cls for f in combo] for combo in itertools.product(forms, repeat=count) if combo != ("p",) * count]


def variants() -> list[Variant]:
    """Every op kind the calibration measures."""
    out: list[Variant] = []
    unary = {
        "f": (
            "exponential", "reciprocal", "rsqrt", "sqrt", "tanh", "logistic", "log", "log_plus_one", "sine",
            "cosine", "floor", "ceil", "round_nearest_afz", "sign", "abs",
        ),
        "i": ("abs", "sign", "not"),
        "b": ("not",),
    }  # fmt: skip
    for cls, names in unary.items():
        out += [elementwise(f"pphlo.{name}", [f + cls]) for name in names for f in _secret(cls)]
    out += [elementwise("pphlo.negate", [f + cls]) for cls in "fi" for f in "xw"]
    for source_class, target_class in itertools.product("fib", repeat=2):
        for form in _secret(source_class):
            if source_class == target_class == "i":
                out.append(convert(form + "i", "i", "i16"))
            elif not source_class == target_class == "b":
                out.append(convert(form + source_class, target_class))
    binary = {
        "f": ("add", "subtract", "multiply", "divide", "maximum", "minimum", "power", "remainder", *COMPARISONS),
        "i": (
            "add", "subtract", "multiply", "divide", "maximum", "minimum", "power", "remainder", *COMPARISONS,
            *LOGICAL, "shift_left", "shift_right_arithmetic", "shift_right_logical",
        ),
        "b": (*LOGICAL, "equal", "not_equal"),
    }  # fmt: skip
    for cls, names in binary.items():
        for name, codes in itertools.product(names, _operands(cls, 2)):
            if name in ("add", "subtract") and not {codes[0][0], codes[1][0]} & {"x", "w"}:
                continue  # local by rule
            out.append(elementwise(f"pphlo.{name}", codes))
    out += [square(f + cls) for cls in "fi" for f in _secret(cls)]
    for cls in "fib":
        for pred, values in itertools.product(("xb", "sb", "pb"), _operands(cls, 2) + [["p" + cls, "p" + cls]]):
            if pred != "pb" or values != ["p" + cls, "p" + cls]:
                out.append(elementwise("pphlo.select", [pred, *values]))
    for cls in "fi":
        out += [elementwise("pphlo.clamp", codes) for codes in _operands(cls, 3)]
    for name, cls in itertools.product(("pphlo.dot", "pphlo.dot_general"), "fi"):
        # Not measured: integer products of one narrow and one wide boolean-shared operand (SPU converts them
        # unevenly: not linear in the sizes).
        out += [contraction(name, c) for c in _operands(cls, 2) if cls == "f" or {c[0][0], c[1][0]} != {"x", "w"}]
    bodies = {
        "f": ("add", "multiply", "maximum", "minimum"),
        "i": ("add", "multiply", "maximum", "minimum"),  # bitwise: A2B once, then cheap: not linear in calls
        "b": LOGICAL,
    }
    for cls, names in bodies.items():
        # Not measured: logical reductions of arithmetic booleans (converted once, then cheap: not linear in
        # the calls; the model sums their body ops instead).
        out += [reduce(f"pphlo.{body}", f + cls) for body in names for f in _secret(cls) if f + cls != "sb"]
    return out


# -- measuring --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    size: Signature
    send_bytes: int
    actions: int
    seconds: float
    result: str = "s"
    """How SPU held the result: 'p', 's' (arithmetic shares) or 'x' (boolean shares)."""


@contextmanager
def result_storage() -> Iterator[list[str]]:
    """The storage type of party 0's first output of each threads-mode run while inside (SPU says how it
    holds a value only in the share's metadata, which `execute` does not return)."""
    from ditto_compiler.runtime import threads

    original, seen = threads.reconstruct, []

    def spy(plan: Plan, outputs: Sequence[Sequence[libspu.Share]]) -> list[np.ndarray]:
        meta = libspu.ValueMeta()
        meta.ParseFromString(outputs[0][0].meta)
        seen.append(meta.storage_type)
        return original(plan, outputs)

    threads.reconstruct = spy
    try:
        yield seen
    finally:
        threads.reconstruct = original


def _form_of(storage: str, operands: Sequence[str], boolean: bool) -> str:
    """The form (cost_model.FORMS) of a result SPU stores as `storage`: boolean shares are 'x' when they hold
    a boolean or one bit, or are made from 'x' operands only (a converted comparison), and 'w' (wide)
    otherwise."""
    if storage.startswith("aby3.AShr"):
        return "s"
    if not storage.startswith("aby3.BShr"):
        return "p"
    bits = int(storage.rstrip(">").rsplit(",", 1)[-1])
    secret = [c[0] for c in operands if c[0] != "p"]
    return "x" if boolean or bits == 1 or all(f == "x" for f in secret) else "w"


def _values(program: Program, rng: np.random.Generator) -> list[np.ndarray]:
    values = []
    for shape, code in program.inputs:
        if code[1] == "f":
            values.append(rng.uniform(0.5, 2.0, size=shape).astype(np.float32))
        elif code[1] == "b":
            values.append(rng.integers(0, 2, size=shape).astype(np.bool_))
        else:
            values.append(rng.integers(1, 5, size=shape).astype(np.int32))
    return values


def _variable(name: str, bits: int, shape: tuple[int, ...], code: str, width: int = 0) -> Variable:
    kind, default = KIND[code[1]]
    return Variable(name, bits, code[0] == "s", kind, shape, width or default)


def measure(variant: Variant, size: int, ring: RingConfig) -> Sample | str:
    """One run of `variant` at `size` in `ring`: the target op's figures, or why SPU failed."""
    program = variant.build(size)
    module = parse_program(program.text())
    module.verify()
    body = next(iter(module.ops)).body.block  # type: ignore[attr-defined]
    target = [op for op in body.ops if op.name == variant.target][-1]
    sig = signature(target, program.form)
    if sig is None:
        raise SystemExit(f"{variant.label} is local by rule: it needs no calibration")
    bits = ring.field_bits
    inputs = [_variable(f"a{i}", bits, s, c) for i, (s, c) in enumerate(program.inputs)]
    outputs = [_variable(f"r{i}", bits, s, c, program.width(v)) for i, (v, s, c) in enumerate(program.outputs)]
    code = spu_module_text(module)
    plan = Plan({bits: ring}, inputs, outputs, [Segment(bits, code, tuple(v.name for v in inputs), ("r0",))])
    try:
        with result_storage() as storage:
            _, cost = execute(plan, _values(program, np.random.default_rng(size)))
    except DittoError as e:
        return str(e).split(": ", 1)[-1][:200]
    figures = cost.by_op.get(variant.target)
    if figures is None:
        return "SPU's profile has no line for the op"
    codes = sig.key.split("(", 1)[1].split(")")[0].split(",")
    form = _form_of(storage[-1], codes, program.outputs[0][2][1] == "b")
    return Sample(sig, figures.send_bytes, figures.send_actions, figures.seconds / 3, form)


def _clean(value: float) -> float | int:
    """An integral coefficient as an int, and no negative zeros in the file."""
    return int(value) if float(value).is_integer() else value + 0.0


def fit(samples: Sequence[Sample]) -> tuple[dict[str, list[float]], float]:
    """Least-squares [once, per_call, per_element, per_converted] for bytes, actions and seconds, and the worst
    relative miss of the bytes and actions fits (0 when they reproduce every sample)."""
    features = np.array([[1, s.size.calls, s.size.elements, s.size.converted] for s in samples], dtype=np.float64)
    result: dict[str, list[float]] = {}
    worst = 0.0
    for name, values in (
        ("bytes", [s.send_bytes for s in samples]),
        ("actions", [s.actions for s in samples]),
        ("seconds", [s.seconds for s in samples]),
    ):
        y = np.array(values, dtype=np.float64)
        coef, *_ = np.linalg.lstsq(features, y, rcond=None)
        if name == "seconds":
            result[name] = [_clean(float(f"{max(c, 0.0):.4g}")) for c in coef]
            continue
        coef = np.where(np.abs(coef - np.round(coef)) < 1e-6, np.round(coef), coef)
        result[name] = [_clean(round(float(c), 6)) for c in coef]
        miss = np.abs(features @ np.array(result[name]) - y)
        worst = max(worst, float(np.max(miss / np.maximum(np.abs(y), 1.0))))
    return result, worst


def _short(error: str) -> str:
    """SPU's error without its source prefix: "libspu/core/encoding.cc:106: integer encoding failed, ..."."""
    error = error.replace("[Enforce fail at external/spulib~/", "").replace("] ", ": ", 1)
    return error[:160]


def _fraction_slopes(variant: Variant, ring: RingConfig, base: dict[str, list[float]]) -> tuple[dict, float]:
    """Per fraction bit, how much the bytes and actions coefficients change (for kinds that depend on them),
    and the worst miss of that linear dependence over the fraction bits measured."""
    points = {ring.fraction_bits: base}
    for fraction in OTHER_FRACTIONS[ring.field_bits]:
        runs = [measure(variant, size, RingConfig(ring.field_bits, fraction)) for size in range(variant.sizes)]
        if not all(isinstance(r, Sample) for r in runs):
            return {}, math.inf
        points[fraction] = fit(runs)[0]  # type: ignore[arg-type]
    fractions = np.array(sorted(points), dtype=np.float64) - ring.fraction_bits
    slopes: dict[str, list[float]] = {}
    worst = 0.0
    for name in ("bytes", "actions"):
        values = np.array([points[f][name] for f in sorted(points)])  # (fractions, 4)
        design = np.stack([np.ones_like(fractions), fractions], axis=1)
        coef, *_ = np.linalg.lstsq(design, values, rcond=None)
        slope = np.where(np.abs(coef[1] - np.round(coef[1])) < 1e-6, np.round(coef[1]), coef[1])
        slopes[name] = [_clean(round(float(c), 6)) for c in slope]
        predicted = np.array(base[name])[None, :] + fractions[:, None] * np.array(slopes[name])[None, :]
        worst = max(worst, float(np.max(np.abs(predicted - values) / np.maximum(np.abs(values), 1.0))))
    return slopes, worst


def calibrate_ops(log: Callable[[str], None]) -> tuple[dict[str, dict], dict]:
    """Every variant in both rings: the per-ring tables and the checks' findings."""
    tables: dict[str, dict] = {}
    inexact: list[str] = []
    value_dependent: list[str] = []
    fraction_dependent: list[str] = []
    compared, worst_miss = 0, 0.0
    for ring in RINGS:
        bits = ring.field_bits
        table: dict[str, dict] = {}
        for variant in variants():
            results = [measure(variant, size, ring) for size in range(variant.sizes)]
            samples = [r for r in results if isinstance(r, Sample)]
            errors = [r for r in results if isinstance(r, str)]
            keys = {r.size.key for r in samples} or {_key_of(variant)}
            if len(keys) > 1:
                raise SystemExit(f"{variant.label}: sizes give different op keys {sorted(keys)}")
            key = keys.pop()
            if key in table:
                raise SystemExit(f"{variant.label}: op key {key} is measured twice")
            if errors:
                some = "" if len(errors) == variant.sizes else f" (at {len(errors)} of {variant.sizes} sizes)"
                reason = _short(errors[0]) + some
                table[key] = {"unsupported": reason}
                log(f"  {bits}-bit {key}: cannot run: {reason}")
                continue
            entry, worst = fit(samples)
            worst_miss = max(worst_miss, worst)
            if worst > 1e-9:
                inexact.append(f"{bits}-bit {key}: worst miss {worst:.3%}")
            results = {r.result for r in samples}
            if len(results) > 1:  # SPU narrows a bitwise and to its public mask's bits: the values decide
                value_dependent.append(f"{bits}-bit {key}: the result is held as {sorted(results)}")
            entry["result"] = "w" if len(results) > 1 else samples[0].result
            compared += 1
            others = [measure(variant, 1, RingConfig(bits, f)) for f in OTHER_FRACTIONS[bits]]
            if any(
                not isinstance(o, Sample) or (o.send_bytes, o.actions) != (samples[1].send_bytes, samples[1].actions)
                for o in others
            ):
                slopes, worst = _fraction_slopes(variant, ring, entry)
                worst_miss = max(worst_miss, worst)
                if worst > 1e-9:
                    inexact.append(f"{bits}-bit {key}: not linear in the fraction bits (worst miss {worst:.3%})")
                entry["per_fraction_bit"] = slopes
                fraction_dependent.append(f"{bits}-bit {key}")
            table[key] = entry
            log(f"  {bits}-bit {key}: bytes {entry['bytes']} actions {entry['actions']} result {entry['result']}")
        tables[str(bits)] = {"fraction_bits": ring.fraction_bits, "ops": dict(sorted(table.items()))}
    checks = {
        "worst_miss": worst_miss,
        "inexact_fits": inexact,
        "result_form_depends_on_values": value_dependent,
        "fraction_bits": {
            "kinds_compared": compared,
            "other_fraction_bits": {str(k): list(v) for k, v in OTHER_FRACTIONS.items()},
            "dependent": fraction_dependent,
        },
    }
    return tables, checks


def _key_of(variant: Variant) -> str:
    """The op key of `variant`, read from its program (for a kind SPU cannot run)."""
    program = variant.build(0)
    module = parse_program(program.text())
    body = next(iter(module.ops)).body.block  # type: ignore[attr-defined]
    sig = signature([op for op in body.ops if op.name == variant.target][-1], program.form)
    assert sig is not None
    return sig.key


def calibrate_conversions(log: Callable[[str], None]) -> dict[str, dict]:
    """Upcast and downcast (the protocols) of secret fixed-point values, 32 <-> 64 bits."""
    rings = {r.field_bits: r for r in RINGS}
    out: dict[str, dict] = {}
    for src_bits, dst_bits in ((32, 64), (64, 32)):
        totals, protocol = [], []
        for n in CONVERSION_SIZES:
            source = Variable("x", src_bits, True, "fixed", (n,))
            target = Variable("y", dst_bits, True, "fixed", (n,))
            prepare, finish = conversion_programs(source, target, rings)
            plan = Plan(dict(rings), [source], [target], [Conversion(source, target, prepare, finish)])
            values = np.random.default_rng(n).uniform(-2, 2, size=(n,)).astype(np.float32)
            _, cost = execute(plan, [values], upcast="ditto")
            part = cost.by_ring["conversions"]
            totals.append(Sample(Signature("", n), part.send_bytes, part.send_actions, part.seconds))
            op = cost.by_op.get(CONVERSION_PROTOCOL)
            if op is not None:
                protocol.append(Sample(Signature("", n), op.send_bytes, op.send_actions, part.seconds))
        key = f"{src_bits}->{dst_bits}"
        out[key], worst = fit(totals)
        log(f"  conversion {key}: {out[key]} (worst miss {worst:.2%})")
        if protocol:
            out[f"protocol {key}"], worst = fit(protocol)
            log(f"  protocol {key}: {out[f'protocol {key}']} (worst miss {worst:.2%})")
    return out


# -- coverage and validation ------------------------------------------------------------------

GELUS = ("exact", "quad", "puma")
SOFTMAXES = ("exact", "ditto", "2quad")


def _cases():  # noqa: ANN202 (transformers' model cases)
    from ditto_compiler.models.hf import bert_case, gpt2_case

    return {"bert": bert_case("tiny", 16), "gpt2": gpt2_case("tiny", 16)}


def coverage(model: CostModel, log: Callable[[str], None]) -> dict:
    """Every op of tiny BERT and GPT-2 under fxp64 / ditto and every gelu / softmax approximation has a cost."""
    import ditto_compiler

    missing: set[str] = set()
    programs = 0
    for (family, case), policy, gelu, softmax in itertools.product(
        _cases().items(), ("fxp64", "ditto"), GELUS, SOFTMAXES
    ):
        prog = ditto_compiler.compile(case.forward, *case.args, policy=policy, gelu=gelu, softmax=softmax)
        programs += 1
        for step in prog.plan.steps:
            texts = [(step.field_bits, step.code)] if isinstance(step, Segment) else []
            if isinstance(step, Conversion) and step.prepare:
                texts.append((step.source.field_bits, step.prepare))
            for bits, text in texts:
                for op in parse_program(text).walk():
                    if op.dialect_name() != "pphlo" or op.parent_op().name == "pphlo.reduce":  # type: ignore[union-attr]
                        continue
                    try:
                        model.op(op, RingConfig(bits, 10 if bits == 32 else 18))
                    except DittoError as e:
                        missing.add(f"{bits}-bit {e.message}")
    for line in sorted(missing):
        log(f"  missing: {line}")
    log(f"  coverage: {programs} programs, {len(missing)} op kinds missing")
    return {"programs": programs, "missing": sorted(missing)}


def validate(model: CostModel, log: Callable[[str], None]) -> list[dict]:
    """Modelled against measured cost of tiny BERT and GPT-2 (sequence 16) under fxp64 and ditto."""
    import ditto_compiler

    rows: list[dict] = []
    for (family, case), policy in itertools.product(_cases().items(), ("fxp64", "ditto")):
        prog = ditto_compiler.compile(case.forward, *case.args, policy=policy)
        prog.run(*case.args)
        assert prog.cost is not None
        try:
            estimate = model.plan(prog.plan)
        except DittoError as e:
            rows.append({"program": f"{family} tiny seq 16 {policy}", "error": str(e)})
            log(f"  {rows[-1]['program']}: {e}")
            continue
        row = {
            "program": f"{family} tiny seq 16 {policy}",
            "send_bytes": prog.cost.send_bytes,
            "modelled_send_bytes": _clean(estimate.send_bytes),
            "rounds": prog.cost.rounds,
            "modelled_rounds": round(estimate.rounds, 3),
            "bytes_error": _clean(round(estimate.send_bytes / prog.cost.send_bytes - 1, 6)),
            "rounds_error": _clean(round(estimate.rounds / prog.cost.rounds - 1, 6)),
        }
        rows.append(row)
        log(f"  {row['program']}: bytes {row['bytes_error']:+.4%}, rounds {row['rounds_error']:+.4%}")
    return rows


def dumps(value: object, depth: int = 0) -> str:
    """JSON with one op kind (or check) per line: readable, and diffs of a recalibration stay small."""
    if depth >= 4 or not isinstance(value, (dict, list)) or not value:
        return json.dumps(value)
    pad = " " * (depth + 1)
    if isinstance(value, dict):
        items = [f"{pad}{json.dumps(k)}: {dumps(v, depth + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + " " * depth + "}"
    return "[\n" + ",\n".join(f"{pad}{dumps(v, depth + 1)}" for v in value) + "\n" + " " * depth + "]"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default=str(default_path()), help="where to write the model (JSON)")
    parser.add_argument("--no-coverage", action="store_true", help="skip compiling the model programs")
    parser.add_argument("--no-validate", action="store_true", help="skip the measured model runs")
    parser.add_argument(
        "--conversions-only", action="store_true", help="re-measure the ring conversions, keep the op tables"
    )
    args = parser.parse_args(argv)

    def log(line: str) -> None:
        print(line, flush=True)

    start = time.perf_counter()
    if args.conversions_only:
        shipped = json.loads(default_path().read_text())
        tables, checks = shipped["rings"], shipped["checks"]
    else:
        log("ops:")
        tables, checks = calibrate_ops(log)
    log("conversions:")
    conversions = calibrate_conversions(log)
    command = " ".join(["python tools/calibrate_costs.py", *(argv if argv is not None else sys.argv[1:])])
    if args.conversions_only:
        first = shipped["command"].split("; ")[0]  # the op tables' own calibration
        command = f"{first}; {command} (on {datetime.date.today().isoformat()})"
    data = {
        "format": MODEL_FORMAT,
        "spu": spu_version.__version__,
        "date": datetime.date.today().isoformat(),
        "command": command,
        "model": (
            "per op kind and ring: bytes, actions, seconds = [once, per_call, per_element, per_converted] "
            "(ditto_compiler/cost_model.py); rounds = actions / 3; result: how SPU holds the result"
        ),
        "measured_rings": {str(r.field_bits): r.fraction_bits for r in RINGS},
        "checks": checks,
        "rings": tables,
        "conversions": conversions,
    }
    model = CostModel.from_json(data, "the calibration")
    if not args.no_coverage:
        log("coverage:")
        checks["coverage"] = coverage(model, log)
    if not args.no_validate:
        log("validation:")
        checks["validation"] = validate(model, log)
    data["calibration_seconds"] = round(time.perf_counter() - start, 1)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(dumps(data) + "\n")
    log(f"wrote {args.output} in {data['calibration_seconds']} s")
    failed = any("error" in row or abs(row["bytes_error"]) > TOLERANCE for row in checks.get("validation", []))
    if failed or checks["worst_miss"] > TOLERANCE or checks.get("coverage", {}).get("missing"):
        log("some checks failed: see 'checks' in the model")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
