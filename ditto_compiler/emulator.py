"""Bit-exact plaintext emulation of ring-typed PPHLO, in numpy.

Every value is held as its ring elements: signed integers in [-2^(k-1), 2^(k-1))
in an int64 array (rings of 32 and 64 bits). Ring arithmetic wraps mod 2^k;
products keep f1 + f2 fraction bits until an explicit `fxp.truncate`; `fxp.cast`
re-encodes between rings and fraction bits. Truncating a secret either shifts
arithmetically (`truncation="floor"`, deterministic) or rounds stochastically
(`truncation="stochastic"`): one step up with probability equal to the dropped
fraction, which is what SPU's ABY3 truncation does (measured: P(+1) is 0.12,
0.37, 0.63, 0.87 for dropped fractions in the four quarters of [0, 1)), and is
unbiased where floor is not. Public values are truncated exactly (floor), as SPU
does locally.

SPU's nonlinear kernels (exp, rsqrt, divide, tanh, ...) are iterative
approximations; here they are correctly rounded: decode, compute in float64,
encode. MPC-friendly approximations written as ring arithmetic (issue 5) are
therefore emulated exactly, and SPU's own kernels up to their approximation error.

Every result is checked against the ring's safe range |x| < 2^(k-2) (what
truncation and Ditto's upcast protocol need); leaving it raises a DittoError
naming the op and its location (or is recorded, with `on_overflow="record"`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from xdsl.dialects import func
from xdsl.dialects.builtin import AnyFloat, ModuleOp
from xdsl.ir import Block, Operation, SSAValue

from .diagnostics import DittoError, describe_location, op_error
from .dialects import fxp, pphlo

_FLOAT_FUNCTIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "pphlo.exponential": np.exp,
    "pphlo.log": np.log,
    "pphlo.log_plus_one": np.log1p,
    "pphlo.rsqrt": lambda x: 1.0 / np.sqrt(x),
    "pphlo.sqrt": np.sqrt,
    "pphlo.tanh": np.tanh,
    "pphlo.logistic": lambda x: 1.0 / (1.0 + np.exp(-x)),
    "pphlo.reciprocal": lambda x: 1.0 / x,
    "pphlo.sine": np.sin,
    "pphlo.cosine": np.cos,
    "pphlo.floor": np.floor,
    "pphlo.ceil": np.ceil,
    "pphlo.round_nearest_afz": lambda x: np.sign(x) * np.floor(np.abs(x) + 0.5),
    "pphlo.sign": np.sign,
}
_COMPARE: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "pphlo.equal": np.equal,
    "pphlo.not_equal": np.not_equal,
    "pphlo.less": np.less,
    "pphlo.less_equal": np.less_equal,
    "pphlo.greater": np.greater,
    "pphlo.greater_equal": np.greater_equal,
}
_REDUCERS: dict[str, Callable[..., np.ndarray]] = {
    "pphlo.add": np.sum,
    "pphlo.maximum": np.max,
    "pphlo.minimum": np.min,
    "pphlo.and": np.all,
    "pphlo.or": np.any,
}


@dataclass(frozen=True)
class Overflow:
    op: str
    location: str | None
    ring: str
    magnitude: float
    """Largest |x| reached, in units of the ring's safe bound 2^(k-2)."""


@dataclass
class EmulationResult:
    outputs: list[np.ndarray]
    overflows: list[Overflow] = field(default_factory=list)
    truncations: int = 0
    """Truncations executed (each one a secure truncation under MPC)."""


def _wrap(raw: np.ndarray, k: int) -> np.ndarray:
    """Reduce to signed representatives mod 2^k (int64 arithmetic already wraps mod 2^64)."""
    raw = np.asarray(raw, dtype=np.int64)
    if k == 64:
        return raw
    shift = 64 - k
    return (raw << shift) >> shift


Observer = Callable[[Operation, list[np.ndarray]], None]


class Emulator:
    def __init__(
        self,
        module: ModuleOp,
        on_overflow: str = "raise",
        observe: Observer | None = None,
        truncation: str = "floor",
        seed: int = 0,
    ):
        """`observe(op, reals)` is called after each op with its results' real values."""
        if on_overflow not in ("raise", "record"):
            raise DittoError("on_overflow must be 'raise' or 'record'")
        if truncation not in ("floor", "stochastic"):
            raise DittoError("truncation must be 'floor' or 'stochastic'")
        self.stochastic = truncation == "stochastic"
        self.rng = np.random.default_rng(seed)
        self.module = module
        self.on_overflow = on_overflow
        self.observe = observe
        entries = [op for op in module.ops if isinstance(op, func.FuncOp)]
        if len(entries) != 1:
            raise DittoError("the emulator runs modules with exactly one function")
        self.entry = entries[0]

    # -- encoding ---------------------------------------------------------------
    @staticmethod
    def ring(value: SSAValue) -> fxp.FixedType | fxp.IntType:
        element = fxp.ring_of(value.type)
        if element is None:
            raise DittoError(f"value of type {value.type} has no ring type; run annotate-rings first")
        if element.k > 64:
            raise DittoError(f"the emulator supports rings of up to 64 bits, not {element.k}")
        return element

    def check(self, op: Operation, raw: np.ndarray, k: int, shadow: np.ndarray | None = None) -> None:
        """Record or raise when `raw` (or its float `shadow`, before wrapping) leaves |x| < 2^(k-2)."""
        bound = 2.0 ** (k - 2)
        magnitude = np.abs(shadow if shadow is not None else raw.astype(np.float64))
        worst = float(magnitude.max()) if magnitude.size else 0.0
        if worst >= bound:
            self.report(op, worst / bound, k)

    def report(self, op: Operation, ratio: float, k: int) -> None:
        overflow = Overflow(op.name, describe_location(op.location), f"{k}-bit", ratio)
        if self.on_overflow == "raise":
            raise op_error(op, f"overflows the {k}-bit ring: |x| reaches {ratio:.3g}x the safe bound 2^{k - 2}")
        self.result.overflows.append(overflow)

    def encode(
        self, op: Operation, real: np.ndarray, element: fxp.FixedType | fxp.IntType, computed: bool = False
    ) -> np.ndarray:
        """Ring elements of `real`. Inputs and constants are encoded as SPU's encoder does
        (x * 2^f truncated toward zero); computed nonlinear results are rounded to nearest."""
        real = np.asarray(real, dtype=np.float64)
        scaled = real * 2.0**element.f if isinstance(element, fxp.FixedType) else real
        if not np.all(np.isfinite(scaled)):
            self.report(op, float("inf"), element.k)
            scaled = np.nan_to_num(scaled, nan=0.0, posinf=0.0, neginf=0.0)
        self.check(op, np.zeros(0), element.k, shadow=scaled)
        rounded = np.rint(scaled) if computed else np.trunc(scaled)
        return _wrap(rounded.astype(np.int64), element.k)

    @staticmethod
    def decode(raw: np.ndarray, element: fxp.FixedType | fxp.IntType) -> np.ndarray:
        if isinstance(element, fxp.FixedType):
            return raw.astype(np.float64) / 2.0**element.f
        return raw.astype(np.float64)

    # -- running ----------------------------------------------------------------
    def run(self, inputs: Sequence[np.ndarray]) -> EmulationResult:
        self.result = EmulationResult([])
        block = self.entry.body.block
        if len(inputs) != len(block.args):
            raise DittoError(f"the function takes {len(block.args)} inputs, got {len(inputs)}")
        env: dict[SSAValue, np.ndarray] = {}
        for arg, value in zip(block.args, inputs):
            element = self.ring(arg)
            env[arg] = self.encode(self.entry, np.asarray(value), element)
        returned = self.run_block(block, env)
        self.result.outputs = [
            self.decode(raw, self.ring(v)).astype(np.float32 if isinstance(self.ring(v), fxp.FixedType) else np.int64)
            for raw, v in zip(returned, block.last_op.operands)  # type: ignore[union-attr]
        ]
        return self.result

    def run_block(self, block: Block, env: dict[SSAValue, np.ndarray]) -> list[np.ndarray]:
        for op in block.ops:
            if isinstance(op, (func.ReturnOp, pphlo.ReturnOp)):
                return [env[v] for v in op.operands]
            results = self.run_op(op, env)
            for value, raw in zip(op.results, results):
                env[value] = raw
            if self.observe is not None and op.results:
                self.observe(op, [self.decode(raw, self.ring(v)) for raw, v in zip(results, op.results)])
        raise DittoError("block without terminator")

    def run_op(self, op: Operation, env: dict[SSAValue, np.ndarray]) -> list[np.ndarray]:
        args = [env[v] for v in op.operands]
        name = op.name
        if isinstance(op, pphlo.ConstantOp):
            element = self.ring(op.output)
            shape = op.value.type.get_shape()
            floats = isinstance(op.value.get_element_type(), AnyFloat)
            values = pphlo.float_values(op.value) if floats else np.asarray(op.value.get_values())
            return [
                self.encode(
                    op,
                    np.broadcast_to(values.reshape(-1)[0], shape) if values.size == 1 else values.reshape(shape),
                    element,
                )
            ]
        if isinstance(op, pphlo.IotaOp):
            shape = op.output.type.get_shape()  # type: ignore[union-attr]
            dim = op.iota_dimension.value.data
            view = [1] * len(shape)
            view[dim] = shape[dim]
            return [np.broadcast_to(np.arange(shape[dim], dtype=np.int64).reshape(view), shape).copy()]
        if isinstance(op, fxp.TruncateOp):
            self.result.truncations += 1
            return [self.truncate(op.result, args[0], op.bits.value.data)]
        if isinstance(op, fxp.CastOp):
            return [self.cast(op, args[0])]
        if isinstance(op, fxp.RescaleOp):
            return [args[0]]  # same ring elements, relabelled fraction bits
        out_element = self.ring(op.results[0]) if op.results else None
        k = out_element.k if out_element is not None else 64
        if name in ("pphlo.add", "pphlo.subtract"):
            exact = args[0] + args[1] if name == "pphlo.add" else args[0] - args[1]
            self.check(op, exact, k)
            return [_wrap(exact, k)]
        if name == "pphlo.negate":
            return [_wrap(-args[0], k)]
        if name == "pphlo.abs":
            return [_wrap(np.abs(args[0]), k)]
        if name in ("pphlo.maximum", "pphlo.minimum"):
            return [(np.maximum if name == "pphlo.maximum" else np.minimum)(args[0], args[1])]
        if name == "pphlo.multiply":
            shadow = args[0].astype(np.float64) * args[1].astype(np.float64)
            self.check(op, shadow, k, shadow)
            return [_wrap(args[0] * args[1], k)]
        if name in ("pphlo.dot", "pphlo.dot_general"):
            return [self.contract(op, args[0], args[1], k)]
        if name in _COMPARE:
            return [_COMPARE[name](args[0], args[1]).astype(np.int64)]
        if name in ("pphlo.and", "pphlo.or", "pphlo.xor"):
            fn = {"pphlo.and": np.bitwise_and, "pphlo.or": np.bitwise_or, "pphlo.xor": np.bitwise_xor}[name]
            return [fn(args[0], args[1])]
        if name == "pphlo.not":
            element = self.ring(op.results[0])
            return [1 - args[0] if isinstance(element, fxp.IntType) and element.w == 1 else _wrap(~args[0], k)]
        if name == "pphlo.select":
            return [np.where(args[0] != 0, args[1], args[2])]
        if name == "pphlo.clamp":
            return [np.clip(args[1], args[0], args[2])]
        if name == "pphlo.convert":
            return [self.convert(op, args[0])]
        if name in _FLOAT_FUNCTIONS or name in ("pphlo.divide", "pphlo.power", "pphlo.remainder"):
            return [self.float_function(op, args)]
        if isinstance(op, pphlo.ReduceOp):
            return self.reduce(op, args)
        if name in ("pphlo.broadcast", "pphlo.reshape", "pphlo.transpose", "pphlo.slice", "pphlo.concatenate",
                    "pphlo.dynamic_slice", "pphlo.custom_call"):  # fmt: skip
            return [self.move(op, args)]
        raise op_error(op, "is not supported by the emulator")

    # -- op families ----------------------------------------------------------------
    def truncate(self, result: SSAValue, raw: np.ndarray, bits: int) -> np.ndarray:
        floor = raw >> bits
        if not self.stochastic or not pphlo.is_secret(result.type):
            return floor
        dropped = (raw - (floor << bits)).astype(np.float64) / 2.0**bits
        return floor + (self.rng.random(np.shape(raw)) < dropped)

    def cast(self, op: fxp.CastOp, raw: np.ndarray) -> np.ndarray:
        src, dst = self.ring(op.input), self.ring(op.result)
        if dst.k > src.k:
            self.check(op, raw, src.k)  # Ditto's upcast needs |x| < 2^(k-2) in the small ring
        if isinstance(src, fxp.FixedType) and isinstance(dst, fxp.FixedType):
            shift = dst.f - src.f
            if shift < 0:
                self.result.truncations += 1
                raw = self.truncate(op.result, raw, -shift)
            else:
                shadow = raw.astype(np.float64) * 2.0**shift
                self.check(op, raw, dst.k, shadow)
                raw = raw << shift
        self.check(op, raw, dst.k)
        return _wrap(raw, dst.k)

    def convert(self, op: Operation, raw: np.ndarray) -> np.ndarray:
        src, dst = self.ring(op.operands[0]), self.ring(op.results[0])
        real = self.decode(raw, src)
        if isinstance(dst, fxp.IntType):
            real = np.floor(real) if dst.w > 1 else (real != 0).astype(np.float64)
        return self.encode(op, real, dst, computed=True)

    def float_function(self, op: Operation, args: list[np.ndarray]) -> np.ndarray:
        reals = [self.decode(a, self.ring(v)) for a, v in zip(args, op.operands)]
        with np.errstate(all="ignore"):
            if op.name == "pphlo.divide":
                real = reals[0] / reals[1]
            elif op.name == "pphlo.power":
                real = np.power(reals[0], reals[1])
            elif op.name == "pphlo.remainder":
                real = np.fmod(reals[0], reals[1])
            else:
                real = _FLOAT_FUNCTIONS[op.name](reals[0])
        return self.encode(op, real, self.ring(op.results[0]), computed=True)

    def contract(self, op: Operation, lhs: np.ndarray, rhs: np.ndarray, k: int) -> np.ndarray:
        if isinstance(op, pphlo.DotGeneralOp):  # canonical (B, M, K) x (B, K, N)
            shadow = np.matmul(lhs.astype(np.float64), rhs.astype(np.float64))
            exact = np.matmul(lhs, rhs)
        else:
            shadow = np.dot(lhs.astype(np.float64), rhs.astype(np.float64))
            exact = np.dot(lhs, rhs)
        self.check(op, exact, k, shadow)
        return _wrap(exact, k)

    def reduce(self, op: pphlo.ReduceOp, args: list[np.ndarray]) -> list[np.ndarray]:
        body = list(op.body.block.ops)
        if len(op.inputs) != 1 or len(body) != 2 or body[0].name not in _REDUCERS:
            raise op_error(op, "is only emulated with a single add/max/min/and/or body")
        axes = tuple(op.dimensions.get_values())
        value, init = args
        k = self.ring(op.results[0]).k
        reducer = _REDUCERS[body[0].name]
        reduced = reducer(value, axis=axes)
        if body[0].name == "pphlo.add":
            shadow = np.sum(value.astype(np.float64), axis=axes) + init.astype(np.float64)
            self.check(op, reduced, k, shadow)
            return [_wrap(reduced + init, k)]
        combined = {"pphlo.maximum": np.maximum, "pphlo.minimum": np.minimum,
                    "pphlo.and": np.bitwise_and, "pphlo.or": np.bitwise_or}[body[0].name](reduced, init)  # fmt: skip
        return [combined.astype(np.int64)]

    def move(self, op: Operation, args: list[np.ndarray]) -> np.ndarray:
        x = args[0]
        shape = op.results[0].type.get_shape()  # type: ignore[union-attr]
        if isinstance(op, pphlo.BroadcastOp):
            dims = op.broadcast_dimensions.get_values()
            view = [1] * len(shape)
            for source_dim, target_dim in enumerate(dims):
                view[target_dim] = x.shape[source_dim]
            return np.broadcast_to(x.reshape(view), shape).copy()
        if isinstance(op, pphlo.ReshapeOp):
            return x.reshape(shape)
        if isinstance(op, pphlo.TransposeOp):
            return np.transpose(x, op.permutation.get_values())
        if isinstance(op, pphlo.SliceOp):
            index = tuple(
                slice(a, b, s)
                for a, b, s in zip(
                    op.start_indices.get_values(), op.limit_indices.get_values(), op.strides.get_values()
                )
            )
            return x[index]
        if isinstance(op, pphlo.ConcatenateOp):
            return np.concatenate(args, axis=op.dimension.value.data)
        if isinstance(op, pphlo.DynamicSliceOp):
            sizes = op.slice_sizes.get_values()
            starts = [int(np.clip(int(s), 0, dim - size)) for s, dim, size in zip(args[1:], x.shape, sizes)]
            return x[tuple(slice(s, s + n) for s, n in zip(starts, sizes))]
        if isinstance(op, pphlo.CustomCallOp) and op.call_target_name.data == "spu.gather":
            ids = np.clip(args[1][..., 0], 0, x.shape[0] - 1)
            return np.take(x, ids, axis=0)
        raise op_error(op, "is not supported by the emulator")


def emulate(
    module: ModuleOp,
    inputs: Sequence[np.ndarray],
    on_overflow: str = "raise",
    observe: Observer | None = None,
    truncation: str = "floor",
    seed: int = 0,
) -> EmulationResult:
    """Run the ring-typed `module` on plaintext `inputs` (see the module's docstring for `truncation`)."""
    return Emulator(module, on_overflow, observe, truncation, seed).run(inputs)
