"""Cut a ring-typed module into a plan: per-ring SPU programs and the conversions between them.

SPU's runtime has one ring per runtime, so a ring-typed module runs as a sequence
of steps (see plan.py): maximal runs of ops in one ring become a PPHLO program for
that ring's runtime, and each `fxp.cast` between rings becomes a conversion of the
value's shares from one runtime to the other, with the small PPHLO programs it
needs (lowering/conversions.py). Values are named; they stay in the runtime that
computed them until a later step reads them. Constants are cloned into every
program that uses them. A single-ring module is a one-segment plan.
"""

from __future__ import annotations

import math
from collections import Counter

from xdsl.dialects import func
from xdsl.dialects.builtin import FunctionType, ModuleOp, TensorType
from xdsl.ir import Block, Operation, Region, SSAValue

from ..diagnostics import DittoError, describe_location, op_error
from ..dialects import fxp, pphlo
from ..dialects.secret import is_secret
from ..passes.one_hot_inputs import one_hot_encodings
from ..plan import Conversion, MatMul, Plan, Segment, Variable
from ..ring import RingConfig
from ..runtime.matmul import max_inner
from .conversions import conversion_programs
from .spu_text import to_spu_program

FRESH = (pphlo.ConstantOp, pphlo.IotaOp)
PRODUCTS = frozenset({"pphlo.multiply", "pphlo.dot", "pphlo.dot_general"})
LARGEST_64_BIT_STEP = 2**27
"""Multiply-adds above which a 64-bit-ring product stays in SPU's kernel (runtime/matmul.py says why)."""


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


_CANONICAL_BATCHED = ((0,), (0,), (2,), (1,))
"""(B, M, K) x (B, K, N): the only dot_general legalize-to-pphlo emits."""


def _is_secret_fixed(value: SSAValue) -> bool:
    return is_secret(value.type) and isinstance(fxp.ring_of(value.type), fxp.FixedType)


def _runs_outside_spu(op: Operation, returned: set[SSAValue]) -> bool:
    """A product of two secret reals in canonical form whose every use is in a program of its ring,
    and which the matmul step computes faster than SPU's kernel."""
    if isinstance(op, pphlo.DotGeneralOp):
        numbers = op.dot_dimension_numbers
        if tuple(numbers.dims(f) for f in numbers.FIELDS) != _CANONICAL_BATCHED:
            return False
    elif not isinstance(op, pphlo.DotOp):
        return False
    lhs, rhs = op.operands
    shapes = [v.type.get_shape() for v in (lhs, rhs, op.results[0])]  # type: ignore[attr-defined]
    if len({len(shape) for shape in shapes}) != 1 or len(shapes[0]) not in (2, 3):
        return False  # matrix-vector products stay in SPU
    if not all(map(_is_secret_fixed, (lhs, rhs, op.results[0]))) or _width(op) not in (32, 64):
        return False
    if shapes[0][-1] > max_inner(_width(op)):
        return False
    if _width(op) == 64 and math.prod(shapes[0]) * shapes[1][-1] > LARGEST_64_BIT_STEP:
        return False  # SPU's int64 kernel beats ten float64 products per ring product here
    result = op.results[0]
    return result not in returned and not any(_is_conversion(use.operation) for use in result.uses)


def _is_conversion(op: Operation) -> bool:
    return isinstance(op, fxp.CastOp) and _width(op) != fxp.ring_of(op.input.type).k  # type: ignore[union-attr]


class _Planner:
    def __init__(self, entry: func.FuncOp, rings: dict[int, RingConfig]):
        self.entry = entry
        self.rings = rings
        self.names: dict[SSAValue, str] = {}

    def name(self, value: SSAValue) -> str:
        return self.names.setdefault(value, f"v{len(self.names)}")

    def variable(self, value: SSAValue) -> Variable:
        element = fxp.ring_of(value.type)
        if element is None or not isinstance(value.type, TensorType):
            raise DittoError(f"a value of type {value.type} has no ring type; run annotate-rings first")
        width = element.w if isinstance(element, fxp.IntType) and element.w > 1 else 0
        return Variable(
            self.name(value), element.k, is_secret(value.type), _kind(element), value.type.get_shape(), width
        )

    def conversion(self, cast: fxp.CastOp) -> Conversion:
        source, target = self.variable(cast.input), self.variable(cast.result)
        prepare, finish = conversion_programs(source, target, self.rings)
        return Conversion(source, target, prepare, finish, describe_location(cast.location))

    def matmul(self, op: Operation) -> MatMul:
        lhs, rhs = (self.variable(v) for v in op.operands)
        return MatMul(lhs, rhs, self.variable(op.results[0]), describe_location(op.location))

    def segment(self, ops: list[Operation], later_uses: set[SSAValue], ring: RingConfig, raw: set[SSAValue]) -> Segment:
        """A program of `ops`; its inputs in `raw` are untruncated products (the program truncates them)."""
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
        untruncated = frozenset(i for i, v in enumerate(inputs) if v in raw)
        program = to_spu_program(ModuleOp([function]), ring, untruncated)
        return Segment(ring.field_bits, program.text, tuple(map(self.name, inputs)), tuple(map(self.name, outputs)))


def plan_rings(module: ModuleOp) -> Plan:
    """The plan that runs ring-typed `module` on one SPU runtime per ring."""
    entries = [op for op in module.ops if isinstance(op, func.FuncOp)]
    if len(entries) != 1:
        raise DittoError("a plan is made from a module with exactly one function")
    entry = entries[0]
    rings = _runtime_rings(entry)
    if not rings:
        raise DittoError("the module has no ring types; run annotate-rings first")
    planner = _Planner(entry, rings)
    ret = entry.body.block.last_op
    assert isinstance(ret, func.ReturnOp)
    plan = Plan(rings, [planner.variable(a) for a in entry.args], [], encodings=one_hot_encodings(entry))

    # A returned constant is computed by a program of its own ring like any other result.
    returned_fresh = {v.owner for v in ret.arguments if isinstance(v.owner, FRESH)}
    ops = [op for op in entry.body.block.ops if not isinstance(op, func.ReturnOp)]
    ops = [op for op in ops if not isinstance(op, FRESH) or op in returned_fresh]
    # Group into runs of one ring; cross-ring casts become conversions, secret products matmul steps.
    returned = set(ret.arguments)
    groups: list[tuple[int, list[Operation]] | Operation] = []
    for op in ops:
        if _is_conversion(op) or _runs_outside_spu(op, returned):
            groups.append(op)
            continue
        width = _width(op)
        if groups and isinstance(groups[-1], tuple) and groups[-1][0] == width:
            groups[-1][1].append(op)
        else:
            groups.append((width, [op]))
    raw = {group.results[0] for group in groups if isinstance(group, Operation) and not _is_conversion(group)}
    for index, group in enumerate(groups):
        if isinstance(group, Operation):
            plan.steps.append(planner.conversion(group) if _is_conversion(group) else planner.matmul(group))  # type: ignore[arg-type]
            continue
        width, members = group
        later: set[SSAValue] = set(ret.arguments)
        for other in groups[index + 1 :]:
            later_ops = other[1] if isinstance(other, tuple) else [other]
            later.update(v for op in later_ops for inner in op.walk() for v in inner.operands)
        plan.steps.append(planner.segment(members, later, rings[width], raw))
    plan.outputs = [planner.variable(v) for v in ret.arguments]
    return plan
