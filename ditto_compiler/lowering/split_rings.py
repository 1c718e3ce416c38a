"""Split a mixed-ring module into per-ring SPU programs and the conversions between them.

SPU's runtime has one ring per runtime, so a ring-typed module that uses two rings
runs as a sequence of steps: maximal runs of ops in one ring become a PPHLO program
for that ring's runtime, and each `fxp.cast` between rings becomes a conversion of
the value's shares from one runtime to the other. Values are named; they stay in
the runtime that computed them until a later step reads them. Constants are cloned
into every program that uses them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from xdsl.dialects import func
from xdsl.dialects.builtin import FunctionType, ModuleOp, TensorType
from xdsl.ir import Block, Operation, Region, SSAValue

from ..diagnostics import DittoError, op_error
from ..dialects import fxp, pphlo
from ..dialects.pphlo import is_secret
from ..input_encoding import OneHotInput, one_hot_inputs
from ..ring import RingConfig
from .spu_text import to_spu_program

FRESH = (pphlo.ConstantOp, pphlo.IotaOp)
PRODUCTS = frozenset({"pphlo.multiply", "pphlo.dot", "pphlo.dot_general"})


@dataclass(frozen=True)
class Variable:
    name: str
    field_bits: int
    secret: bool
    kind: str
    """"fixed", "int" or "bool"."""
    shape: tuple[int, ...]
    width: int = 0
    """Integer width for kind "int"."""


@dataclass(frozen=True)
class Segment:
    field_bits: int
    code: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


@dataclass(frozen=True)
class Conversion:
    source: Variable
    target: Variable
    location: str | None = None


@dataclass
class RingPlan:
    rings: dict[int, RingConfig]
    """The runtime configuration of each ring width."""
    inputs: list[Variable]
    outputs: list[Variable]
    steps: list[Segment | Conversion] = field(default_factory=list)
    encodings: list[OneHotInput] = field(default_factory=list)
    """Inputs the data owner encodes from the user's inputs before sharing (see input_encoding)."""


def _kind(element: fxp.FixedType | fxp.IntType) -> str:
    if isinstance(element, fxp.FixedType):
        return "fixed"
    return "bool" if element.w == 1 else "int"


def _runtime_rings(entry: func.FuncOp) -> dict[int, RingConfig]:
    """Per ring width, the fraction bits most values use (products' wide forms aside)."""
    fractions: dict[int, Counter[int]] = {}
    widths: set[int] = set()
    for value, element in fxp.ring_values(entry):
        widths.add(element.k)
        if isinstance(element, fxp.FixedType) and getattr(value.owner, "name", None) not in PRODUCTS:
            fractions.setdefault(element.k, Counter())[element.f] += 1
    return {
        k: RingConfig(k, fractions[k].most_common(1)[0][0] if k in fractions else (18 if k >= 64 else 8))
        for k in sorted(widths)
    }


def _width(op: Operation) -> int:
    element = fxp.ring_of(op.results[0].type) if op.results else None
    if element is None:
        raise op_error(op, "has no ring type; run annotate-rings first")
    return element.k


class _Planner:
    def __init__(self, entry: func.FuncOp):
        self.entry = entry
        self.names: dict[SSAValue, str] = {}

    def name(self, value: SSAValue) -> str:
        return self.names.setdefault(value, f"v{len(self.names)}")

    def variable(self, value: SSAValue) -> Variable:
        element = fxp.ring_of(value.type)
        assert element is not None and isinstance(value.type, TensorType)
        width = element.w if isinstance(element, fxp.IntType) else 0
        return Variable(
            self.name(value), element.k, is_secret(value.type), _kind(element), value.type.get_shape(), width
        )

    def segment(self, ops: list[Operation], later_uses: set[SSAValue], ring: RingConfig) -> Segment:
        inside = {r for op in ops for r in op.results}
        nested = {r for op in ops for inner in op.walk() for r in inner.results}
        inputs: list[SSAValue] = []
        constants: list[Operation] = []
        for op in ops:
            for inner in op.walk():
                for value in inner.operands:
                    if (
                        value in inside
                        or value in nested
                        or isinstance(value.owner, Block)
                        and value.owner.parent_op() is not self.entry
                    ):
                        continue
                    if isinstance(value.owner, FRESH):
                        if value.owner not in constants:
                            constants.append(value.owner)
                    elif value not in inputs:
                        inputs.append(value)
        outputs = [r for op in ops for r in op.results if r in later_uses]
        block = Block(arg_types=[v.type for v in inputs])
        mapping: dict[SSAValue, SSAValue] = dict(zip(inputs, block.args))
        for op in [*constants, *ops]:
            clone = op.clone(value_mapper=mapping)
            block.add_op(clone)
            mapping.update(zip(op.results, clone.results))
        block.add_op(func.ReturnOp(*[mapping[v] for v in outputs]))
        function = func.FuncOp(
            "main", FunctionType.from_lists([v.type for v in inputs], [v.type for v in outputs]), Region(block)
        )
        program = to_spu_program(ModuleOp([function]), ring)
        return Segment(ring.field_bits, program.text, tuple(map(self.name, inputs)), tuple(map(self.name, outputs)))


def plan_rings(module: ModuleOp) -> RingPlan:
    """The steps that run ring-typed `module` on one SPU runtime per ring."""
    entries = [op for op in module.ops if isinstance(op, func.FuncOp)]
    if len(entries) != 1:
        raise DittoError("the mixed-ring executor runs modules with exactly one function")
    entry = entries[0]
    planner = _Planner(entry)
    rings = _runtime_rings(entry)
    ret = entry.body.block.last_op
    assert isinstance(ret, func.ReturnOp)
    for value in ret.arguments:
        if isinstance(value.owner, FRESH):
            raise op_error(value.owner, "returned directly is not supported by the mixed-ring executor")
    plan = RingPlan(rings, [planner.variable(a) for a in entry.args], [], encodings=one_hot_inputs(entry))

    ops = [op for op in entry.body.block.ops if not isinstance(op, (func.ReturnOp, *FRESH))]
    # Group into runs of one ring; cross-ring casts become conversions.
    groups: list[tuple[int, list[Operation]] | fxp.CastOp] = []
    for op in ops:
        if isinstance(op, fxp.CastOp) and _width(op) != fxp.ring_of(op.input.type).k:  # type: ignore[union-attr]
            groups.append(op)  # a conversion between rings
            continue
        width = _width(op)
        if groups and not isinstance(groups[-1], fxp.CastOp) and groups[-1][0] == width:
            groups[-1][1].append(op)
        else:
            groups.append((width, [op]))
    for index, group in enumerate(groups):
        if isinstance(group, fxp.CastOp):
            plan.steps.append(Conversion(planner.variable(group.input), planner.variable(group.result)))
            continue
        width, members = group
        later: set[SSAValue] = set(ret.arguments)
        for other in groups[index + 1 :]:
            later_ops = [other] if isinstance(other, fxp.CastOp) else other[1]
            later.update(v for op in later_ops for inner in op.walk() for v in inner.operands)
        plan.steps.append(planner.segment(members, later, rings[width]))
    plan.outputs = [planner.variable(v) for v in ret.arguments]
    return plan
