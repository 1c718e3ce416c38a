"""A measured cost model of SPU's ABY3 runtime: what a PPHLO op or a ring conversion costs, without running it.

Choosing rings (and comparing policies) needs costs before anything runs. SPU's
ABY3 costs are deterministic: an op's bytes and send actions depend only on its
kind, the ring width and its size, never on the values. The kind is the op's name
and, per operand, its element class (f: fixed point, i: integer, b: boolean) and
how SPU holds it: p (public), s (arithmetic shares), x (boolean shares as
comparisons make them: a boolean converted to a number stays boolean-shared) or
w (wide boolean shares, what bitwise ops on numbers, shifts and roundings make).
Arithmetic on boolean shares converts them first, at a cost that depends on the
form. `tools/calibrate_costs.py` runs every kind alone in each ring at several
sizes and fits, per kind,

    bytes = once + per_call * calls + per_element * elements + per_converted * converted

(the same for send actions, rounds = actions / 3, and for local seconds, which
are noisy) where `elements` is the result's size, `calls` the protocol calls that
repeat: the batch count of a `dot_general` (SPU multiplies batch by batch), the
reducer calls of SPU's tree reduction for a `reduce` (whose `elements` are the
values it combines, results x (reduced length - 1)), and `converted` the elements
of a contraction's or reduction's boolean-shared operands (converted to arithmetic
shares first). The fits reproduce the measurements exactly, except for a few rare
kinds (reductions of boolean-shared numbers: within 2%). SPU's log (hence power)
costs a fixed amount more per fraction bit; the other kinds were checked not to
depend on the fraction bits. The calibration also records how SPU holds each
kind's result, so the model follows the forms through a program. The figures
match `runtime/cost.py`'s `Cost`: bytes summed over the three parties, rounds as
send actions per party. The model ships as package data (data/cost_model.json)
for one SPU version and SPU's default runtime options (a plan's `spu_options`,
PUMA's exponential for instance, are not modelled).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar

from xdsl.dialects import func
from xdsl.dialects.builtin import AnyFloat, IntegerType, ModuleOp, TensorType
from xdsl.ir import Block, Operation, SSAValue
from xdsl.parser import Parser

from .diagnostics import DittoError, describe_location
from .dialects import make_context
from .dialects.fxp import FixedType, IntType
from .dialects.secret import base_element_type, is_secret
from .plan import Conversion, MatMul, Plan, Segment, spu_version
from .ring import RingConfig

MODEL_FORMAT = "ditto-cost-model/1"
PARTIES = 3
UPCASTS = ("ditto", "generic")
FORMS = ("p", "s", "x", "w")
"""Public, arithmetic shares, boolean shares as comparisons make them (one bit, or a converted comparison),
wide boolean shares (what bitwise ops on numbers, shifts and roundings make)."""

PASS_THROUGH = frozenset(
    {
        "pphlo.reshape", "pphlo.transpose", "pphlo.broadcast", "pphlo.slice", "pphlo.concatenate", "pphlo.pad",
        "pphlo.reverse", "pphlo.bitcast_convert", "pphlo.dynamic_slice", "pphlo.custom_call",
    }
)  # fmt: skip
"""Data movement: local, and the result is held as the (first secret) operand is."""
INDEXED = frozenset({"pphlo.dynamic_slice", "pphlo.custom_call"})
"""Data movement only while their indices (every operand after the first) are public."""
SHARE_WISE = frozenset({"pphlo.add", "pphlo.subtract", "pphlo.negate"})
"""Local on arithmetic shares (a boolean-shared operand must be converted first, which the calibration measures)."""
ALWAYS_FREE = frozenset({"pphlo.constant", "pphlo.iota", "pphlo.return", "pphlo.free"})
COMMUTATIVE = frozenset(
    {
        "pphlo.add", "pphlo.multiply", "pphlo.maximum", "pphlo.minimum", "pphlo.and", "pphlo.or", "pphlo.xor",
        "pphlo.equal", "pphlo.not_equal",
    }
)  # fmt: skip


@dataclass(frozen=True)
class Estimate:
    """Modelled cost: bytes over all parties and rounds per party, as `Cost` measures them, plus local seconds."""

    send_bytes: float
    rounds: float
    seconds: float = 0.0

    ZERO: ClassVar[Estimate]

    def __add__(self, other: Estimate) -> Estimate:
        if not isinstance(other, Estimate):
            return NotImplemented
        return Estimate(self.send_bytes + other.send_bytes, self.rounds + other.rounds, self.seconds + other.seconds)

    @property
    def feasible(self) -> bool:
        return math.isfinite(self.send_bytes)


ZERO = Estimate(0.0, 0.0, 0.0)
Estimate.ZERO = ZERO
INFEASIBLE = Estimate(math.inf, math.inf, math.inf)


@dataclass(frozen=True)
class Signature:
    """What an op's cost depends on: its kind (`key`) and its size (see the module's docstring)."""

    key: str
    elements: int
    calls: int = 0
    converted: int = 0


@dataclass(frozen=True)
class Linear:
    """once + per_call * calls + per_element * elements + per_converted * converted."""

    once: float
    per_call: float
    per_element: float
    per_converted: float

    def __call__(self, size: Signature) -> float:
        return (
            self.once
            + self.per_call * size.calls
            + self.per_element * size.elements
            + self.per_converted * size.converted
        )


NOTHING = Linear(0.0, 0.0, 0.0, 0.0)


@dataclass(frozen=True)
class Fit:
    """One op kind's measured cost in one ring, or why SPU cannot run it there."""

    send_bytes: Linear
    actions: Linear
    seconds: Linear
    unsupported: str | None = None
    result: str = "s"
    """How SPU holds the result (a form of `FORMS`)."""
    fraction_bits: int = 0
    """The fraction bits it was measured with; for the few kinds whose cost depends on them (SPU's log),
    the slopes below say by how much per fraction bit more."""
    bytes_per_fraction_bit: Linear = NOTHING
    actions_per_fraction_bit: Linear = NOTHING

    def estimate(self, size: Signature, fraction_bits: int | None = None) -> Estimate:
        if self.unsupported is not None:
            return INFEASIBLE
        extra = 0 if fraction_bits is None else fraction_bits - self.fraction_bits
        send_bytes = self.send_bytes(size) + extra * self.bytes_per_fraction_bit(size)
        actions = self.actions(size) + extra * self.actions_per_fraction_bit(size)
        return Estimate(send_bytes, actions / PARTIES, self.seconds(size))


def _elements(value: SSAValue) -> int:
    type_ = value.type
    return math.prod(type_.get_shape()) if isinstance(type_, TensorType) else 1


def element_class(value: SSAValue) -> str:
    """'f' (fixed point / float), 'i' (integer) or 'b' (boolean) for a plain or ring-typed tensor."""
    type_ = value.type
    element = base_element_type(type_) if isinstance(type_, TensorType) else type_
    if isinstance(element, (AnyFloat, FixedType)):
        return "f"
    if isinstance(element, IntType):
        return "b" if element.w == 1 else "i"
    if isinstance(element, IntegerType):
        return "b" if element.width.data == 1 else "i"
    return "?"


def default_form(value: SSAValue) -> str:
    """How SPU holds a value it was given: public, or shared (booleans as bits, numbers arithmetically)."""
    if not is_secret(value.type):
        return "p"
    return "x" if element_class(value) == "b" else "s"


def tree_calls(length: int) -> int:
    """How many times SPU's tree reduction calls the reducer on an axis of `length` (odd tails are
    set aside and folded in with extra calls; measured: 7 -> 4 calls, 100 -> 8)."""
    calls, tail = 0, False
    while length > 1:
        if length % 2:
            calls += int(tail)
            tail = True
        calls += 1
        length //= 2
    return calls + int(tail)


def body_ops(op: Operation) -> list[Operation]:
    """The ops of a reduce's body, its terminator left out."""
    return [inner for inner in op.regions[0].block.ops if inner.name != "pphlo.return"]


def _key(name: str, codes: Sequence[str], detail: str = "", result: str = "") -> str:
    return f"{name}{f'[{detail}]' if detail else ''}({','.join(codes)}){f'->{result}' if result else ''}"


def signature(op: Operation, form: Callable[[SSAValue], str] = default_form) -> Signature | None:
    """The kind and size of a PPHLO op whose operands SPU holds as `form` says, or None when it is local by
    rule (no secret operand, data movement, share-wise arithmetic on arithmetic shares)."""
    operands = list(op.operands)
    if not any(is_secret(v.type) for v in operands):
        return None
    name = op.name
    if name in ALWAYS_FREE or (name in PASS_THROUGH and name not in INDEXED):
        return None
    if name in INDEXED and not any(is_secret(v.type) for v in operands[1:]):
        return None
    forms = [form(v) for v in operands]
    if name in SHARE_WISE and not {"x", "w"} & set(forms):
        return None
    codes = [f + element_class(v) for f, v in zip(forms, operands)]
    elements = _elements(op.results[0]) if op.results else 0
    converted = sum(_elements(v) for f, v in zip(forms, operands) if f in ("x", "w"))
    if name == "pphlo.reduce":
        length = _elements(operands[0]) // elements if elements else 0
        detail = ",".join(inner.name for inner in body_ops(op))
        return Signature(_key(name, codes, detail), elements * max(length - 1, 0), tree_calls(length), converted)
    if name == "pphlo.dot":
        return Signature(_key(name, codes), elements, 0, converted)
    if name == "pphlo.dot_general":
        dims = op.properties["dot_dimension_numbers"]
        shape = operands[0].type.get_shape()  # type: ignore[union-attr]
        batches = math.prod(shape[d] for d in dims.dims("lhs_batching_dimensions"))  # type: ignore[union-attr]
        return Signature(_key(name, codes), elements, batches, converted)
    if (
        name == "pphlo.multiply"
        and forms.count("s") == 1
        and any(not is_secret(v.type) and element_class(v) == "i" for v in operands)
    ):
        return None  # arithmetic shares times a public integer: local scaling, no truncation, in any encoding
    if name == "pphlo.multiply" and operands[0] is operands[1]:
        return Signature(_key(name, codes, "square"), elements)
    if name == "pphlo.convert":
        return Signature(_key(name, codes, result=element_class(op.results[0])), elements)
    if name == "pphlo.custom_call":
        target = op.properties["call_target_name"].data  # type: ignore[union-attr]
        return Signature(_key(name, codes, target), elements)
    return Signature(_key(name, codes), elements)


def _read_linear(raw: Any, where: str) -> Linear:
    ok = isinstance(raw, list) and len(raw) == 4
    ok = ok and all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in raw)
    if not ok:
        raise DittoError(f"{where} must be [once, per_call, per_element, per_converted], four finite numbers")
    return Linear(*(float(x) for x in raw))


def _read_fit(raw: Any, where: str, fraction_bits: int) -> Fit:
    if not isinstance(raw, dict):
        raise DittoError(f"{where} must be a JSON object")
    result = raw.get("result", "s")
    if result not in FORMS:
        raise DittoError(f"{where}.result must be one of {', '.join(FORMS)}")
    if "unsupported" in raw:
        if not isinstance(raw["unsupported"], str):
            raise DittoError(f"{where}.unsupported must be a string")
        return Fit(NOTHING, NOTHING, NOTHING, raw["unsupported"], result)
    slopes = raw.get("per_fraction_bit", {})
    if not isinstance(slopes, dict):
        raise DittoError(f"{where}.per_fraction_bit must be a JSON object")
    return Fit(
        _read_linear(raw.get("bytes"), f"{where}.bytes"),
        _read_linear(raw.get("actions"), f"{where}.actions"),
        _read_linear(raw.get("seconds", [0, 0, 0, 0]), f"{where}.seconds"),
        None,
        result,
        fraction_bits,
        _read_linear(slopes.get("bytes", [0, 0, 0, 0]), f"{where}.per_fraction_bit.bytes"),
        _read_linear(slopes.get("actions", [0, 0, 0, 0]), f"{where}.per_fraction_bit.actions"),
    )


def default_path() -> Path:
    """The calibrated model shipped with the package."""
    return Path(str(resources.files("ditto_compiler") / "data" / "cost_model.json"))


def parse_program(text: str) -> ModuleOp:
    """A plan's PPHLO text (a segment or a conversion program) as a module."""
    return Parser(make_context(), text).parse_module()


def _swapped(key: str) -> str:
    """`key` with its two operands swapped (for a commutative op)."""
    head, _, rest = key.partition("(")
    codes, _, tail = rest.partition(")")
    return f"{head}({','.join(reversed(codes.split(',')))}){tail}"


class _Forms:
    """How SPU holds each secret value of one program run in one ring: inferred from the producers' measured
    result forms, memoized (a value's form is asked for by each of its users)."""

    def __init__(self, model: CostModel, bits: int, known: dict[SSAValue, str] | None = None):
        self.model, self.bits = model, bits
        self.memo: dict[SSAValue, str] = dict(known or {})

    def __call__(self, value: SSAValue) -> str:
        if not is_secret(value.type):
            return "p"
        form = self.memo.get(value)
        if form is None:
            form = self.memo[value] = self._infer(value)
        return form

    def _infer(self, value: SSAValue) -> str:
        owner = value.owner
        if isinstance(owner, Block) or not isinstance(owner, Operation):
            return default_form(value)
        uniform = self.model.uniform_results.get(self.bits, {}).get(owner.name)
        if uniform is not None and owner.name not in PASS_THROUGH | SHARE_WISE:
            return uniform
        return self.model.result_form(owner, self.bits, self)


@dataclass(frozen=True)
class CostModel:
    """Per-ring fits of every calibrated op kind, and of the ring conversions (see the module's docstring)."""

    spu_version: str
    ops: dict[int, dict[str, Fit]]
    """Field bits -> op key (`signature`) -> fit."""
    conversions: dict[str, Fit]
    """"32->64" (Ditto's upcast: programs and protocol), "64->32" (the downcast protocol), and "protocol
    32->64", "protocol 64->32" (the protocols' own messages, what a plan adds to its conversion programs).
    Measured dropping 8 fraction bits: a downcast dropping 9 to 16 sends 2 bytes more per element (a wider
    word for the high bits), 9 to 32 up to 6."""
    meta: dict[str, Any] = field(default_factory=dict)
    """Date, command and checks of the calibration."""
    uniform_results: dict[int, dict[str, str]] = field(default_factory=dict)
    """Field bits -> op name -> the form of its result, for ops whose every measured kind agrees."""

    # -- loading -------------------------------------------------------------------------------
    @classmethod
    def load(cls) -> CostModel:
        """The model shipped with the package, refused if it was calibrated for another SPU version."""
        return cls.from_file(default_path())

    @classmethod
    def from_file(cls, path: str | Path) -> CostModel:
        """A model from its JSON file (what tools/calibrate_costs.py writes)."""
        from .jsonfile import read_json

        return cls.from_json(read_json(path, "cost model"), str(path))

    @classmethod
    def from_json(cls, data: Any, where: str = "cost model") -> CostModel:
        """A model from its JSON form, refused if it was calibrated for another SPU version."""
        if not isinstance(data, dict) or data.get("format") != MODEL_FORMAT:
            raise DittoError(f"{where} is not a ditto-compiler cost model (format {MODEL_FORMAT})")
        spu = data.get("spu")
        if spu != spu_version():
            raise DittoError(
                f"{where} was calibrated for SPU {spu}, this runtime is {spu_version()}: rerun tools/calibrate_costs.py"
            )
        rings = data.get("rings")
        if not isinstance(rings, dict) or not rings:
            raise DittoError(f"{where}: 'rings' must map field bits to measured ops")
        ops: dict[int, dict[str, Fit]] = {}
        for bits, ring in rings.items():
            ok = bits in ("32", "64", "128") and isinstance(ring, dict) and isinstance(ring.get("ops"), dict)
            fraction = ring.get("fraction_bits") if ok else None
            if not ok or not isinstance(fraction, int) or isinstance(fraction, bool):
                raise DittoError(f"{where}: rings.{bits} must be a ring width with its 'fraction_bits' and 'ops'")
            prefix = f"{where}: rings.{bits}.ops"
            ops[int(bits)] = {key: _read_fit(fit, f"{prefix}.{key}", fraction) for key, fit in ring["ops"].items()}
        raw = data.get("conversions", {})
        if not isinstance(raw, dict):
            raise DittoError(f"{where}: 'conversions' must be a JSON object")
        conversions = {key: _read_fit(fit, f"{where}: conversions.{key}", 0) for key, fit in raw.items()}
        meta = {k: v for k, v in data.items() if k not in ("rings", "conversions")}
        uniform: dict[int, dict[str, str]] = {}
        for bits, table in ops.items():
            seen: dict[str, set[str]] = {}
            for key, fit in table.items():
                seen.setdefault(key.split("(")[0].split("[")[0], set()).add(fit.result)
            uniform[bits] = {name: forms.pop() for name, forms in seen.items() if len(forms) == 1}
        return cls(str(spu), ops, conversions, meta, uniform)

    # -- ops -----------------------------------------------------------------------------------
    def _table(self, ring: RingConfig) -> dict[str, Fit]:
        if not isinstance(ring, RingConfig):
            raise DittoError(f"ring must be a RingConfig, not {type(ring).__name__}")
        table = self.ops.get(ring.field_bits)
        if table is None:
            raise DittoError(f"the cost model has no {ring.field_bits}-bit ring (it has {sorted(self.ops)})")
        return table

    def _fit(self, bits: int, key: str, name: str) -> Fit | None:
        table = self.ops[bits]
        fit = table.get(key)
        if fit is None and name in COMMUTATIVE:
            fit = table.get(_swapped(key))
        return fit

    def result_form(self, op: Operation, bits: int, forms: _Forms) -> str:
        """How SPU holds the (first) result of `op`, given its operands' forms."""
        if not any(is_secret(r.type) for r in op.results):
            return "p"
        secret = [forms(v) for v in op.operands if is_secret(v.type)]
        if op.name in PASS_THROUGH:
            return forms(op.operands[0]) if is_secret(op.operands[0].type) else secret[0]
        sig = signature(op, forms)
        fit = self._fit(bits, sig.key, op.name) if sig is not None else None
        if fit is not None:
            return fit.result
        return "s" if "s" in secret or not secret else default_form(op.results[0])  # an unmeasured kind

    def _op(self, op: Operation, ring: RingConfig, forms: _Forms) -> Estimate:
        if op.dialect_name() != "pphlo":
            raise DittoError(f"the cost model covers PPHLO ops, not '{op.name}'", op=op.name)
        sig = signature(op, forms)
        for result in op.results:
            if result not in forms.memo and is_secret(result.type):
                forms.memo[result] = self.result_form(op, ring.field_bits, forms)
        if sig is None:
            return ZERO
        fit = self._fit(ring.field_bits, sig.key, op.name)
        if fit is not None:
            return fit.estimate(sig, ring.fraction_bits)
        if op.name == "pphlo.reduce":  # an unmeasured reducer: its body ops, call by call (approximate)
            total = ZERO
            inner_forms = _Forms(self, ring.field_bits)
            for inner in body_ops(op):
                inner_sig = signature(inner, inner_forms)
                inner_fit = self._fit(ring.field_bits, inner_sig.key, inner.name) if inner_sig else None
                if inner_sig is not None and inner_fit is None:
                    break
                if inner_fit is not None:
                    total = total + inner_fit.estimate(sig, ring.fraction_bits)
            else:
                return total
        raise DittoError(
            f"no measured cost for {sig.key} in the {ring.field_bits}-bit ring (tools/calibrate_costs.py)",
            op=op.name,
            location=describe_location(op.location),
        )

    def op(self, op: Operation, ring: RingConfig) -> Estimate:
        """The cost of one legalized PPHLO op in an ABY3 runtime of `ring`; infinite bytes if SPU cannot run
        it there. Its operands' forms are inferred from their producers. A DittoError names an op kind the
        calibration did not measure."""
        self._table(ring)
        if not isinstance(op, Operation):
            raise DittoError(f"op must be an xDSL operation, not {type(op).__name__}")
        return self._op(op, ring, _Forms(self, ring.field_bits))

    def module(self, module: ModuleOp, ring: RingConfig, argument_forms: Sequence[str] | None = None) -> Estimate:
        """Every op of a PPHLO module run in `ring` (a reduce's body is costed with its reduce)."""
        return self._module(module, ring, argument_forms)[0]

    def _module(
        self, module: ModuleOp, ring: RingConfig, argument_forms: Sequence[str] | None = None
    ) -> tuple[Estimate, list[str]]:
        """The module's cost and the forms of what its function returns."""
        self._table(ring)
        total, returned = ZERO, []
        for function in module.ops:
            if not isinstance(function, func.FuncOp):
                continue
            known = dict(zip(function.args, argument_forms)) if argument_forms is not None else {}
            forms = _Forms(self, ring.field_bits, known)  # type: ignore[arg-type]
            for op in function.body.block.ops:
                if isinstance(op, func.ReturnOp):
                    returned = [forms(v) for v in op.operands]
                elif op.dialect_name() == "pphlo":
                    total = total + self._op(op, ring, forms)
        return total, returned

    # -- conversions ---------------------------------------------------------------------------
    def _conversion_fit(self, key: str) -> Fit:
        fit = self.conversions.get(key)
        if fit is None:
            raise DittoError(f"the cost model has no measured conversion {key}")
        return fit

    def conversion(self, elements: int, src: RingConfig, dst: RingConfig) -> Estimate:
        """A secret fixed-point value of `elements` moved from `src`'s runtime to `dst`'s (Ditto's upcast,
        or the downcast protocol); a same-width fraction cast too (SPU's truncation)."""
        if not isinstance(elements, int) or isinstance(elements, bool) or elements < 0:
            raise DittoError(f"elements must be a non-negative integer, not {elements!r}")
        self._table(src)
        self._table(dst)
        if dst.field_bits <= src.field_bits:
            if dst.fraction_bits >= src.fraction_bits:
                return ZERO
            key = f"{src.field_bits}->{dst.field_bits}"
            if key in self.conversions:
                return self._conversion_fit(key).estimate(Signature(key, elements))
            fit = self._fit(src.field_bits, "pphlo.multiply(sf,pf)", "pphlo.multiply")  # SPU's truncation
            if fit is None:
                raise DittoError(f"the cost model has no truncation in the {src.field_bits}-bit ring")
            return fit.estimate(Signature("pphlo.multiply(sf,pf)", elements), src.fraction_bits)
        key = f"{src.field_bits}->{dst.field_bits}"
        if dst.fraction_bits < src.fraction_bits or key not in self.conversions:
            return INFEASIBLE  # an upcast that lowers the fraction bits is not supported
        return self._conversion_fit(key).estimate(Signature(key, elements))

    def _plan_conversion(self, step: Conversion, rings: dict[int, RingConfig], upcast: str) -> Estimate:
        source, target = step.source, step.target
        if not source.secret or source.kind == "bool":
            return ZERO  # public values are re-encoded, shared bits move unchanged
        if upcast == "ditto" and not step.is_upcast and step.prepare:
            key = f"protocol {source.field_bits}->{target.field_bits}"  # replaces the truncation
            return self._conversion_fit(key).estimate(Signature(key, source.elements))
        total = ZERO
        if step.prepare:
            total = total + self.module(parse_program(step.prepare), rings[source.field_bits])
        if not step.is_upcast:
            return total
        if upcast == "generic":
            if step.finish:
                total = total + self.module(parse_program(step.finish), rings[target.field_bits])
            return total
        key = f"protocol {source.field_bits}->{target.field_bits}"
        return total + self._conversion_fit(key).estimate(Signature(key, source.elements))

    # -- plans ---------------------------------------------------------------------------------
    def plan(self, plan: Plan, upcast: str = "ditto") -> Estimate:
        """A compiled plan: every segment's ops in its ring plus every conversion (`upcast` as `Program.run`)."""
        if not isinstance(plan, Plan):
            raise DittoError(f"plan must be a Plan, not {type(plan).__name__}")
        if upcast not in UPCASTS:
            raise DittoError(f"upcast must be one of {', '.join(UPCASTS)}, not {upcast!r}")
        # How each variable is held: inputs as SPU shares them, segment outputs as computed, and a conversion's
        # target arithmetically (its words are rebuilt) unless it is public or shared bits (moved unchanged).
        forms = {v.name: "p" if not v.secret else "x" if v.kind == "bool" else "s" for v in plan.inputs}
        total = ZERO
        for step in plan.steps:
            if isinstance(step, Segment):
                module = parse_program(step.code)
                arguments = [forms.get(name, "s") for name in step.inputs]
                cost, returned = self._module(module, plan.rings[step.field_bits], arguments)
                forms.update(zip(step.outputs, returned))
                total = total + cost
            elif isinstance(step, MatMul):
                # runtime/matmul.py: one round; its BLAS time (at most about SPU's kernel's) is not modelled.
                forms[step.result.name] = "s"
                total = total + Estimate(step.send_bytes, 1.0)
            else:
                source = step.source
                kept = not source.secret or source.kind == "bool"
                forms[step.target.name] = forms.get(source.name, "s") if kept else "s"
                total = total + self._plan_conversion(step, plan.rings, upcast)
        return total
