"""One interpreter of ring-typed PPHLO, two value domains.

The module `annotate-rings` produces has one meaning, and two things execute it in
plaintext: the emulator (`emulator.py`: every value held as its ring elements, in
numpy integers, overflow checked) and the distillation student (`distill/student.py`:
every value held as the real number its ring elements stand for, in JAX, with fake
quantization and straight-through gradients). This module is what they share: the
walk over the program, which op means what, data movement, and the table of
nonlinear kernels. A `Domain` supplies only how a value is held: encoding, the
arithmetic that differs between ring integers and reals, and rounding. So the two
agree by construction (and a test checks them bit for bit).

SPU's nonlinear kernels (exp, rsqrt, divide, tanh, ...) are iterative
approximations; both domains compute them correctly rounded (to nearest) from the
operands' real values. MPC-friendly approximations written as ring arithmetic are
therefore interpreted exactly, and SPU's own kernels up to their approximation error.

One truncation is not rounding at all: SPU's ABY3 truncation (TruncAPr2) of a secret
times a public factor whose encoding has no low bits to drop (an integer-valued
factor) comes out exactly one LSB high on every element, because no borrow occurs to
cancel the protocol's fixed +1 (measured; docs/accuracy.md). `exact_truncations`
finds these statically (public factors that are constants) and both domains add
that LSB.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np
from xdsl.dialects import func
from xdsl.dialects.builtin import AnyFloat, ModuleOp
from xdsl.ir import Block, Operation, SSAValue

from .diagnostics import DittoError, op_error
from .dialects import fxp, pphlo
from .dialects.secret import is_secret

Value = Any
"""A domain's value: a numpy array of ring elements, or a JAX array of reals."""

KERNELS: dict[str, Callable[..., Any]] = {
    "pphlo.exponential": lambda xp, x: xp.exp(x),
    "pphlo.log": lambda xp, x: xp.log(x),
    "pphlo.log_plus_one": lambda xp, x: xp.log1p(x),
    "pphlo.rsqrt": lambda xp, x: 1.0 / xp.sqrt(x),
    "pphlo.sqrt": lambda xp, x: xp.sqrt(x),
    "pphlo.tanh": lambda xp, x: xp.tanh(x),
    "pphlo.logistic": lambda xp, x: 1.0 / (1.0 + xp.exp(-x)),
    "pphlo.reciprocal": lambda xp, x: 1.0 / x,
    "pphlo.sine": lambda xp, x: xp.sin(x),
    "pphlo.cosine": lambda xp, x: xp.cos(x),
    "pphlo.floor": lambda xp, x: xp.floor(x),
    "pphlo.ceil": lambda xp, x: xp.ceil(x),
    "pphlo.round_nearest_afz": lambda xp, x: xp.sign(x) * xp.floor(xp.abs(x) + 0.5),
    "pphlo.sign": lambda xp, x: xp.sign(x),
    "pphlo.divide": lambda xp, a, b: a / b,
    "pphlo.power": lambda xp, a, b: xp.power(a, b),
    "pphlo.remainder": lambda xp, a, b: xp.fmod(a, b),
}
"""SPU's approximation kernels, as exact functions of the operands' real values (rounded by the domain)."""

COMPARISONS: dict[str, Callable[..., Any]] = {
    "pphlo.equal": lambda xp, a, b: xp.equal(a, b),
    "pphlo.not_equal": lambda xp, a, b: xp.not_equal(a, b),
    "pphlo.less": lambda xp, a, b: xp.less(a, b),
    "pphlo.less_equal": lambda xp, a, b: xp.less_equal(a, b),
    "pphlo.greater": lambda xp, a, b: xp.greater(a, b),
    "pphlo.greater_equal": lambda xp, a, b: xp.greater_equal(a, b),
}
LOGICAL = ("pphlo.and", "pphlo.or", "pphlo.xor")
REDUCTIONS = ("pphlo.add", "pphlo.maximum", "pphlo.minimum", "pphlo.and", "pphlo.or")


def ring(value: SSAValue) -> fxp.FixedType | fxp.IntType:
    """The ring element type of `value` (every value of an annotated module has one)."""
    element = fxp.ring_of(value.type)
    if element is None:
        raise DittoError(f"value of type {value.type} has no ring type; run annotate-rings first")
    return element


def fraction_bits(value: SSAValue) -> int | None:
    element = ring(value)
    return element.f if isinstance(element, fxp.FixedType) else None


def is_boolean(value: SSAValue) -> bool:
    element = ring(value)
    return isinstance(element, fxp.IntType) and element.w == 1


def constant_values(op: pphlo.ConstantOp) -> np.ndarray:
    """A constant's plain values at its full shape (a splat is broadcast)."""
    shape = op.value.type.get_shape()
    if isinstance(op.value.get_element_type(), AnyFloat):
        values = pphlo.float_values(op.value)
    else:
        values = np.asarray(op.value.get_values(), dtype=np.int64)
    return np.broadcast_to(values.reshape(-1)[0], shape) if values.size == 1 else values.reshape(shape)


_SHAPE_OPS = (pphlo.BroadcastOp, pphlo.ReshapeOp, pphlo.TransposeOp, pphlo.SliceOp)


def splat_constant(value: SSAValue, through_converts: bool = False) -> float | None:
    """The one value every element of a public constant has, seen through shape ops (and converts, where
    asked: the constant's own values, before conversion), or None for anything else."""
    transparent = (*_SHAPE_OPS, pphlo.ConvertOp) if through_converts else _SHAPE_OPS
    owner = value.owner
    while isinstance(owner, transparent):
        owner = owner.operands[0].owner
    if not isinstance(owner, pphlo.ConstantOp):
        return None
    values = np.unique(constant_values(owner))
    return float(values[0]) if values.size == 1 else None


def _constant_encoding(factor: SSAValue) -> np.ndarray | None:
    """The ring elements of a public constant factor (seen through shape ops and converts) as
    SPU encodes them; None when `factor` is not such a constant. Shape ops keep the set of
    values, so the constant's values, converted along the way, are the factor's."""
    converts = []
    owner = factor.owner
    while isinstance(owner, (*_SHAPE_OPS, pphlo.ConvertOp)):
        if isinstance(owner, pphlo.ConvertOp):
            converts.append(owner)
        owner = owner.operands[0].owner
    if not isinstance(owner, pphlo.ConstantOp):
        return None
    values = constant_values(owner).astype(np.float64)
    for convert in reversed(converts):
        if fraction_bits(convert.results[0]) is None:
            values = np.floor(values)
    f = fraction_bits(factor)
    return np.trunc(values * 2.0**f) if f is not None else values


def exact_truncations(module: ModuleOp) -> frozenset[Operation]:
    """The secret truncations whose dropped bits are zero in every share: a product by a
    public constant whose every encoding is a multiple of 2^bits. SPU's truncation gives
    those exactly +1 LSB."""
    exact: set[Operation] = set()
    for op in module.walk():
        if not isinstance(op, fxp.TruncateOp) or not is_secret(op.result.type):
            continue
        product = op.input.owner
        if not isinstance(product, (pphlo.MulOp, pphlo.DotOp, pphlo.DotGeneralOp)):
            continue
        step = 2.0**op.bits.value.data
        for factor in product.operands:
            encoding = None if is_secret(factor.type) else _constant_encoding(factor)
            if encoding is not None and encoding.size and bool(np.all(np.mod(encoding, step) == 0)):
                exact.add(op)
    return frozenset(exact)


class Domain(Protocol):
    """How values are held. `xp` is the array namespace (numpy or jax.numpy)."""

    xp: Any

    def input(self, arg: SSAValue, value: Any) -> Value: ...
    def constant(self, op: pphlo.ConstantOp) -> Value: ...
    def iota(self, op: pphlo.IotaOp, values: np.ndarray) -> Value: ...
    def truncate(self, op: Operation, x: Value, bits: int, exact: bool = False) -> Value:
        """Drop `bits` fraction bits of `x` (op's result has the fewer): floor, or SPU's stochastic
        rounding; `exact` (see `exact_truncations`): SPU's one LSB more."""

    def cast(self, op: fxp.CastOp, x: Value) -> Value: ...
    def rescale(self, op: fxp.RescaleOp, x: Value) -> Value: ...
    def add(self, op: Operation, a: Value, b: Value, subtract: bool) -> Value: ...
    def multiply(self, op: Operation, a: Value, b: Value) -> Value: ...
    def contract(self, op: Operation, a: Value, b: Value) -> Value: ...
    def negate(self, op: Operation, x: Value) -> Value: ...
    def absolute(self, op: Operation, x: Value) -> Value: ...
    def boolean(self, op: Operation, x: Value) -> Value:
        """A comparison's truth values as the domain holds booleans."""

    def logical(self, op: Operation, name: str, a: Value, b: Value) -> Value: ...
    def logical_not(self, op: Operation, x: Value) -> Value: ...
    def convert(self, op: Operation, x: Value) -> Value: ...
    def kernel(self, op: Operation, args: list[Value]) -> Value:
        """A nonlinear kernel (`KERNELS[op.name]`) of the operands, rounded to the result's grid."""

    def reduce(self, op: pphlo.ReduceOp, kind: str, x: Value, init: Value, axes: tuple[int, ...]) -> Value: ...
    def dynamic_slice(self, op: pphlo.DynamicSliceOp, x: Value, starts: list[Value]) -> Value: ...
    def indices(self, ids: Value) -> Value:
        """Integer ring values as array indices."""

    def decode(self, value: SSAValue, x: Value) -> Value:
        """The real values of `x` (for outputs and observers)."""


Observer = Callable[[Operation, list[Any]], None]


class Interpreter:
    """Runs the one function of a ring-typed module in `domain`; `observe(op, reals)` sees each op's results."""

    def __init__(self, module: ModuleOp, domain: Domain, observe: Observer | None = None):
        entries = [op for op in module.ops if isinstance(op, func.FuncOp)]
        if len(entries) != 1:
            raise DittoError("the interpreter runs modules with exactly one function")
        self.entry = entries[0]
        self.domain = domain
        self.xp = domain.xp
        self.observe = observe
        self.exact = exact_truncations(module)

    def run(self, inputs: Sequence[Any]) -> list[Value]:
        """The function's results (as the domain holds them) for `inputs`."""
        block = self.entry.body.block
        if len(inputs) != len(block.args):
            raise DittoError(f"the function takes {len(block.args)} inputs, got {len(inputs)}")
        env = {arg: self.domain.input(arg, value) for arg, value in zip(block.args, inputs)}
        return self.run_block(block, env)

    def run_block(self, block: Block, env: dict[SSAValue, Value]) -> list[Value]:
        for op in block.ops:
            if isinstance(op, (func.ReturnOp, pphlo.ReturnOp)):
                return [env[v] for v in op.operands]
            results = self.run_op(op, [env[v] for v in op.operands])
            env.update(zip(op.results, results))
            if self.observe is not None and op.results:
                self.observe(op, [self.domain.decode(v, x) for v, x in zip(op.results, results)])
        raise DittoError("block without terminator")

    def run_op(self, op: Operation, args: list[Value]) -> list[Value]:
        d, xp, name = self.domain, self.xp, op.name
        if isinstance(op, pphlo.ConstantOp):
            return [d.constant(op)]
        if isinstance(op, pphlo.IotaOp):
            shape = op.output.type.get_shape()  # type: ignore[union-attr]
            dim = op.iota_dimension.value.data
            view = [1] * len(shape)
            view[dim] = shape[dim]
            return [d.iota(op, np.broadcast_to(np.arange(shape[dim]).reshape(view), shape))]
        if isinstance(op, fxp.TruncateOp):
            return [d.truncate(op, args[0], op.bits.value.data, exact=op in self.exact)]
        if isinstance(op, fxp.CastOp):
            return [d.cast(op, args[0])]
        if isinstance(op, fxp.RescaleOp):
            return [d.rescale(op, args[0])]
        if name in ("pphlo.add", "pphlo.subtract"):
            return [d.add(op, args[0], args[1], subtract=name == "pphlo.subtract")]
        if name == "pphlo.multiply":
            return [d.multiply(op, args[0], args[1])]
        if name in ("pphlo.dot", "pphlo.dot_general"):
            return [d.contract(op, args[0], args[1])]
        if name == "pphlo.negate":
            return [d.negate(op, args[0])]
        if name == "pphlo.abs":
            return [d.absolute(op, args[0])]
        if name == "pphlo.maximum":
            return [xp.maximum(args[0], args[1])]
        if name == "pphlo.minimum":
            return [xp.minimum(args[0], args[1])]
        if name in COMPARISONS:
            return [d.boolean(op, COMPARISONS[name](xp, args[0], args[1]))]
        if name in LOGICAL:
            return [d.logical(op, name, args[0], args[1])]
        if name == "pphlo.not":
            return [d.logical_not(op, args[0])]
        if name == "pphlo.select":
            return [xp.where(args[0] != 0, args[1], args[2])]
        if name == "pphlo.clamp":
            return [xp.clip(args[1], args[0], args[2])]
        if name == "pphlo.convert":
            return [d.convert(op, args[0])]
        if name in KERNELS:
            return [d.kernel(op, args)]
        if isinstance(op, pphlo.ReduceOp):
            body = list(op.body.block.ops)
            if len(op.inputs) != 1 or len(body) != 2 or body[0].name not in REDUCTIONS:
                raise op_error(op, "is only interpreted with a single add/max/min/and/or body")
            return [d.reduce(op, body[0].name, args[0], args[1], tuple(op.dimensions.get_values()))]
        return [self.move(op, args)]

    def move(self, op: Operation, args: list[Value]) -> Value:
        """Data movement: the same in every domain."""
        xp, x = self.xp, args[0]
        shape = tuple(op.results[0].type.get_shape()) if op.results else ()  # type: ignore[union-attr]
        if isinstance(op, pphlo.BroadcastOp):
            view = [1] * len(shape)
            for source_dim, target_dim in enumerate(op.broadcast_dimensions.get_values()):
                view[target_dim] = x.shape[source_dim]
            return xp.broadcast_to(x.reshape(view), shape)
        if isinstance(op, pphlo.ReshapeOp):
            return x.reshape(shape)
        if isinstance(op, pphlo.TransposeOp):
            return xp.transpose(x, tuple(op.permutation.get_values()))
        if isinstance(op, pphlo.SliceOp):
            starts, limits, strides = (a.get_values() for a in (op.start_indices, op.limit_indices, op.strides))
            return x[tuple(slice(a, b, s) for a, b, s in zip(starts, limits, strides))]
        if isinstance(op, pphlo.ConcatenateOp):
            return xp.concatenate(args, axis=op.dimension.value.data)
        if isinstance(op, pphlo.DynamicSliceOp):
            return self.domain.dynamic_slice(op, x, args[1:])
        if isinstance(op, pphlo.CustomCallOp) and op.call_target_name.data == "spu.gather":
            ids = xp.clip(self.domain.indices(args[1][..., 0]), 0, x.shape[0] - 1)
            return xp.take(x, ids, axis=0)
        raise op_error(op, "is not supported by the interpreter")
