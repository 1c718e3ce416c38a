"""The differentiable student: the compiled, ring-typed program itself, run in JAX.

Distillation must train the model that secure inference will compute, so the
student is not a second model: it interprets the same ring-typed module that
`emulate` and the SPU plans execute, op by op, with every value held as the real
number its ring elements stand for. Fixed point enters exactly where the
compiler put it (fake quantization with straight-through gradients):

- inputs and constants are encoded as SPU's encoder does (x * 2^f truncated toward zero);
- `fxp.truncate` and down-casts floor to the result's fraction bits, or round
  stochastically like SPU's ABY3 truncation (`truncation="stochastic"`, secret values only);
- SPU's nonlinear kernels (exp, rsqrt, reciprocal, ...) round to nearest, as the emulator does;
- MPC-friendly approximations are ordinary ring arithmetic in the module and need nothing special.

In float64 (`jax.enable_x64`) the forward pass equals `emulate` bit for bit while
values stay within 2^53 ring steps; training uses float32, where the grid is kept
but products in the 64-bit ring round like floats.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.tree_util import tree_flatten, tree_unflatten
from xdsl.dialects import func
from xdsl.dialects.builtin import AnyFloat, ModuleOp
from xdsl.ir import Block, Operation, SSAValue

from ..diagnostics import DittoError, op_error
from ..dialects import fxp, pphlo

_FUNCTIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "pphlo.exponential": jnp.exp,
    "pphlo.log": jnp.log,
    "pphlo.log_plus_one": jnp.log1p,
    "pphlo.rsqrt": lambda x: 1.0 / jnp.sqrt(x),
    "pphlo.sqrt": jnp.sqrt,
    "pphlo.tanh": jnp.tanh,
    "pphlo.logistic": lambda x: 1.0 / (1.0 + jnp.exp(-x)),
    "pphlo.reciprocal": lambda x: 1.0 / x,
    "pphlo.sine": jnp.sin,
    "pphlo.cosine": jnp.cos,
    "pphlo.floor": jnp.floor,
    "pphlo.ceil": jnp.ceil,
    "pphlo.round_nearest_afz": lambda x: jnp.sign(x) * jnp.floor(jnp.abs(x) + 0.5),
    "pphlo.sign": jnp.sign,
}
_BINARY: dict[str, Callable[[jax.Array, jax.Array], jax.Array]] = {
    "pphlo.add": jnp.add,
    "pphlo.subtract": jnp.subtract,
    "pphlo.multiply": jnp.multiply,
    "pphlo.maximum": jnp.maximum,
    "pphlo.minimum": jnp.minimum,
    "pphlo.divide": jnp.divide,
    "pphlo.power": jnp.power,
    "pphlo.remainder": jnp.fmod,
}
_COMPARE: dict[str, Callable[[jax.Array, jax.Array], jax.Array]] = {
    "pphlo.equal": jnp.equal,
    "pphlo.not_equal": jnp.not_equal,
    "pphlo.less": jnp.less,
    "pphlo.less_equal": jnp.less_equal,
    "pphlo.greater": jnp.greater,
    "pphlo.greater_equal": jnp.greater_equal,
}
_LOGICAL: dict[str, Callable[[jax.Array, jax.Array], jax.Array]] = {
    "pphlo.and": jnp.logical_and,
    "pphlo.or": jnp.logical_or,
    "pphlo.xor": jnp.logical_xor,
}
_REDUCERS: dict[str, Callable[..., jax.Array]] = {
    "pphlo.add": jnp.sum,
    "pphlo.maximum": jnp.max,
    "pphlo.minimum": jnp.min,
    "pphlo.and": jnp.min,  # booleans held as 0/1
    "pphlo.or": jnp.max,
}
_ROUNDED = frozenset(_FUNCTIONS) | {"pphlo.divide", "pphlo.power", "pphlo.remainder"}
"""Ops that SPU computes with an approximation kernel: their result is rounded to nearest."""


def straight_through(x: jax.Array, quantized: jax.Array) -> jax.Array:
    """`quantized` forward, identity backward."""
    return x + lax.stop_gradient(quantized - x)


def _ring(value: SSAValue) -> fxp.FixedType | fxp.IntType:
    element = fxp.ring_of(value.type)
    if element is None:
        raise DittoError(f"value of type {value.type} has no ring type; run annotate-rings first")
    return element


def _fraction_bits(value: SSAValue) -> int | None:
    element = _ring(value)
    return element.f if isinstance(element, fxp.FixedType) else None


class Student:
    """`Student(module)(inputs, key)`: the ring-typed `module`'s outputs, differentiable in its inputs."""

    def __init__(self, module: ModuleOp, truncation: str = "floor"):
        if truncation not in ("floor", "stochastic"):
            raise DittoError("truncation must be 'floor' or 'stochastic'")
        entries = [op for op in module.ops if isinstance(op, func.FuncOp)]
        if len(entries) != 1:
            raise DittoError("the student runs modules with exactly one function")
        self.entry = entries[0]
        self.stochastic = truncation == "stochastic"
        self._constants: dict[Operation, np.ndarray] = {}

    def __call__(self, inputs: Sequence[jax.Array], key: jax.Array | None = None) -> list[jax.Array]:
        block = self.entry.body.block
        if len(inputs) != len(block.args):
            raise DittoError(f"the function takes {len(block.args)} inputs, got {len(inputs)}")
        if self.stochastic and key is None:
            raise DittoError("stochastic truncation needs a PRNG key")
        self._key, self._count = key, 0
        dtype = jnp.result_type(float)
        env: dict[SSAValue, jax.Array] = {}
        for arg, value in zip(block.args, inputs):
            value = jnp.asarray(value, dtype)
            f = _fraction_bits(arg)
            env[arg] = value if f is None else straight_through(value, jnp.trunc(value * 2.0**f) / 2.0**f)
        return self._run_block(block, env)

    # -- helpers --------------------------------------------------------------------
    def _floor(self, x: jax.Array, f: int, secret: bool) -> jax.Array:
        """x on the grid 2^-f: floored, or stochastically rounded like SPU's secret truncation."""
        scaled = x * 2.0**f
        low = jnp.floor(scaled)
        if self.stochastic and secret:
            self._count += 1
            u = jax.random.uniform(jax.random.fold_in(self._key, self._count), x.shape, x.dtype)
            low = low + (u < scaled - low)
        return straight_through(x, low / 2.0**f)

    @staticmethod
    def _nearest(x: jax.Array, f: int | None) -> jax.Array:
        if f is None:
            return x
        return straight_through(x, jnp.round(x * 2.0**f) / 2.0**f)

    def _constant(self, op: pphlo.ConstantOp) -> np.ndarray:
        if op not in self._constants:
            shape = op.value.type.get_shape()
            floats = isinstance(op.value.get_element_type(), AnyFloat)
            values = pphlo.float_values(op.value) if floats else np.asarray(op.value.get_values(), np.float64)
            values = np.broadcast_to(values.reshape(-1)[0], shape) if values.size == 1 else values.reshape(shape)
            f = _fraction_bits(op.output)
            self._constants[op] = values if f is None else np.trunc(values * 2.0**f) / 2.0**f
        return self._constants[op]

    # -- running ----------------------------------------------------------------------
    def _run_block(self, block: Block, env: dict[SSAValue, jax.Array]) -> list[jax.Array]:
        for op in block.ops:
            if isinstance(op, (func.ReturnOp, pphlo.ReturnOp)):
                return [env[v] for v in op.operands]
            for value, result in zip(op.results, self._run_op(op, [env[v] for v in op.operands])):
                env[value] = result
        raise DittoError("block without terminator")

    def _run_op(self, op: Operation, args: list[jax.Array]) -> list[jax.Array]:
        name = op.name
        dtype = jnp.result_type(float)
        if isinstance(op, pphlo.ConstantOp):
            return [jnp.asarray(self._constant(op), dtype)]
        if isinstance(op, pphlo.IotaOp):
            shape = op.output.type.get_shape()  # type: ignore[union-attr]
            return [lax.broadcasted_iota(dtype, tuple(shape), op.iota_dimension.value.data)]
        if isinstance(op, fxp.TruncateOp):
            return [self._floor(args[0], _fraction_bits(op.result), pphlo.is_secret(op.result.type))]  # type: ignore[arg-type]
        if isinstance(op, fxp.CastOp):
            src, dst = _fraction_bits(op.input), _fraction_bits(op.result)
            if src is not None and dst is not None and dst < src:
                return [self._floor(args[0], dst, pphlo.is_secret(op.result.type))]
            return [args[0]]
        if isinstance(op, fxp.RescaleOp):
            return [args[0] * 2.0**-op.shift.value.data]
        if name in _BINARY:
            result = _BINARY[name](args[0], args[1])
            return [self._nearest(result, _fraction_bits(op.results[0])) if name in _ROUNDED else result]
        if name in _FUNCTIONS:
            return [self._nearest(_FUNCTIONS[name](args[0]), _fraction_bits(op.results[0]))]
        if name == "pphlo.negate":
            return [-args[0]]
        if name == "pphlo.abs":
            return [jnp.abs(args[0])]
        if name in ("pphlo.dot", "pphlo.dot_general"):
            return [jnp.matmul(args[0], args[1]) if isinstance(op, pphlo.DotGeneralOp) else jnp.dot(args[0], args[1])]
        if name in _COMPARE:
            return [_COMPARE[name](args[0], args[1]).astype(dtype)]
        element = _ring(op.results[0]) if op.results else None
        boolean = isinstance(element, fxp.IntType) and element.w == 1
        if name in _LOGICAL and boolean:
            return [_LOGICAL[name](args[0] != 0, args[1] != 0).astype(dtype)]
        if name == "pphlo.not" and boolean:
            return [1 - args[0]]
        if name == "pphlo.select":
            return [jnp.where(args[0] != 0, args[1], args[2])]
        if name == "pphlo.clamp":
            return [jnp.clip(args[1], args[0], args[2])]
        if name == "pphlo.convert":
            if isinstance(element, fxp.IntType):
                return [jnp.floor(args[0]) if element.w > 1 else (args[0] != 0).astype(dtype)]
            return [self._nearest(args[0], _fraction_bits(op.results[0]))]
        if isinstance(op, pphlo.ReduceOp):
            return [self._reduce(op, args)]
        if name in ("pphlo.broadcast", "pphlo.reshape", "pphlo.transpose", "pphlo.slice", "pphlo.concatenate",
                    "pphlo.dynamic_slice", "pphlo.custom_call"):  # fmt: skip
            return [self._move(op, args)]
        raise op_error(op, "is not supported by the distillation student")

    def _reduce(self, op: pphlo.ReduceOp, args: list[jax.Array]) -> jax.Array:
        body = list(op.body.block.ops)
        if len(op.inputs) != 1 or len(body) != 2 or body[0].name not in _REDUCERS:
            raise op_error(op, "is only supported by the student with a single add/max/min/and/or body")
        axes = tuple(op.dimensions.get_values())
        value, init = args
        reduced = _REDUCERS[body[0].name](value, axis=axes)
        combine = {"pphlo.add": jnp.add, "pphlo.maximum": jnp.maximum, "pphlo.or": jnp.maximum}
        return combine.get(body[0].name, jnp.minimum)(reduced, init)  # minimum, and (on 0/1)

    @staticmethod
    def _move(op: Operation, args: list[jax.Array]) -> jax.Array:
        x = args[0]
        shape = tuple(op.results[0].type.get_shape())  # type: ignore[union-attr]
        if isinstance(op, pphlo.BroadcastOp):
            return lax.broadcast_in_dim(x, shape, tuple(op.broadcast_dimensions.get_values()))
        if isinstance(op, pphlo.ReshapeOp):
            return x.reshape(shape)
        if isinstance(op, pphlo.TransposeOp):
            return jnp.transpose(x, tuple(op.permutation.get_values()))
        if isinstance(op, pphlo.SliceOp):
            return lax.slice(x, op.start_indices.get_values(), op.limit_indices.get_values(), op.strides.get_values())
        if isinstance(op, pphlo.ConcatenateOp):
            return jnp.concatenate(args, axis=op.dimension.value.data)
        if isinstance(op, pphlo.DynamicSliceOp):
            starts = [s.reshape(()).astype(jnp.int32) for s in args[1:]]
            return lax.dynamic_slice(x, starts, tuple(op.slice_sizes.get_values()))
        if isinstance(op, pphlo.CustomCallOp) and op.call_target_name.data == "spu.gather":
            ids = jnp.clip(args[1][..., 0].astype(jnp.int32), 0, x.shape[0] - 1)
            return jnp.take(x, ids, axis=0)
        raise op_error(op, "is not supported by the distillation student")


def student_forward(program: Any, truncation: str = "floor") -> Callable[..., Any]:
    """`forward(*args, key=None)` of a compiled `Program`: its outputs, shaped like the compiled
    function's, computed by the `Student` of its ring-typed module (jit it for speed)."""
    if program.module is None:
        raise DittoError("this program has no ring-typed module to train")
    student = Student(program.module, truncation)
    signature = program.signature

    def forward(*args: Any, key: jax.Array | None = None) -> Any:
        leaves, tree = tree_flatten(args)
        if tree != signature.in_tree:
            raise DittoError(f"arguments have structure {tree}, but the program was compiled for {signature.in_tree}")
        flat = list(leaves)
        for e in program.encodings:  # one-hot token ids, as `encode_inputs` does for the parties
            ids = jnp.asarray(flat[e.source]).reshape(-1, 1)
            flat.append((ids == jnp.arange(e.depth)).reshape(e.shape))
        return tree_unflatten(signature.out_tree, student(flat, key))

    return forward
