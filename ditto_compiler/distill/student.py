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
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Operation, SSAValue

from ..diagnostics import DittoError, op_error
from ..dialects import fxp, pphlo
from ..dialects.secret import is_secret
from ..interpreter import KERNELS, Interpreter, constant_values, fraction_bits, is_boolean, ring


def straight_through(x: jax.Array, quantized: jax.Array) -> jax.Array:
    """`quantized` forward, identity backward."""
    return x + lax.stop_gradient(quantized - x)


class FakeQuantReals:
    """The student's domain: real values on their ring's grid, straight-through gradients."""

    xp = jnp

    def __init__(self, stochastic: bool, key: jax.Array | None, constants: dict[Operation, np.ndarray]):
        self.stochastic = stochastic
        self.key = key
        self.count = 0
        self.dtype = jnp.result_type(float)
        self.constants = constants
        """Encoded constants by op, kept by the `Student` across calls (training re-traces the program)."""

    def _floor(self, x: jax.Array, f: int, secret: bool) -> jax.Array:
        """x on the grid 2^-f: floored, or stochastically rounded like SPU's secret truncation."""
        scaled = x * 2.0**f
        low = jnp.floor(scaled)
        if self.stochastic and secret:
            self.count += 1
            u = jax.random.uniform(jax.random.fold_in(self.key, self.count), x.shape, x.dtype)
            low = low + (u < scaled - low)
        return straight_through(x, low / 2.0**f)

    @staticmethod
    def _nearest(x: jax.Array, f: int | None) -> jax.Array:
        if f is None:
            return x
        return straight_through(x, jnp.round(x * 2.0**f) / 2.0**f)

    @staticmethod
    def _encoded(values: np.ndarray, f: int | None) -> np.ndarray:
        """As SPU's encoder does: x * 2^f truncated toward zero."""
        return values if f is None else np.trunc(values * 2.0**f) / 2.0**f

    def input(self, arg: SSAValue, value: Any) -> jax.Array:
        value = jnp.asarray(value, self.dtype)
        f = fraction_bits(arg)
        return value if f is None else straight_through(value, jnp.trunc(value * 2.0**f) / 2.0**f)

    def constant(self, op: pphlo.ConstantOp) -> jax.Array:
        if op not in self.constants:
            self.constants[op] = self._encoded(constant_values(op).astype(np.float64), fraction_bits(op.output))
        return jnp.asarray(self.constants[op], self.dtype)

    def iota(self, op: pphlo.IotaOp, values: np.ndarray) -> jax.Array:
        return jnp.asarray(self._encoded(values.astype(np.float64), fraction_bits(op.output)), self.dtype)

    def truncate(self, op: Operation, x: jax.Array, bits: int, exact: bool = False) -> jax.Array:
        result = op.results[0]
        f = fraction_bits(result)
        if exact:  # nothing dropped; SPU's truncation adds one LSB
            return straight_through(x, (jnp.floor(x * 2.0**f) + 1) / 2.0**f)  # type: ignore[operator]
        return self._floor(x, f, is_secret(result.type))  # type: ignore[arg-type]

    def cast(self, op: fxp.CastOp, x: jax.Array) -> jax.Array:
        src, dst = fraction_bits(op.input), fraction_bits(op.result)
        if src is not None and dst is not None and dst < src:
            return self.truncate(op, x, src - dst)
        return x

    def rescale(self, op: fxp.RescaleOp, x: jax.Array) -> jax.Array:
        return x * 2.0**-op.shift.value.data

    def add(self, op: Operation, a: jax.Array, b: jax.Array, subtract: bool) -> jax.Array:
        return a - b if subtract else a + b

    def multiply(self, op: Operation, a: jax.Array, b: jax.Array) -> jax.Array:
        return a * b

    def contract(self, op: Operation, a: jax.Array, b: jax.Array) -> jax.Array:
        return jnp.matmul(a, b) if isinstance(op, pphlo.DotGeneralOp) else jnp.dot(a, b)

    def negate(self, op: Operation, x: jax.Array) -> jax.Array:
        return -x

    def absolute(self, op: Operation, x: jax.Array) -> jax.Array:
        return jnp.abs(x)

    def boolean(self, op: Operation, truth: jax.Array) -> jax.Array:
        return truth.astype(self.dtype)

    def logical(self, op: Operation, name: str, a: jax.Array, b: jax.Array) -> jax.Array:
        if not is_boolean(op.results[0]):
            raise op_error(op, "on integers is not supported by the distillation student")
        fn = {"pphlo.and": jnp.logical_and, "pphlo.or": jnp.logical_or, "pphlo.xor": jnp.logical_xor}[name]
        return fn(a != 0, b != 0).astype(self.dtype)

    def logical_not(self, op: Operation, x: jax.Array) -> jax.Array:
        if not is_boolean(op.results[0]):
            raise op_error(op, "on integers is not supported by the distillation student")
        return 1 - x

    def convert(self, op: Operation, x: jax.Array) -> jax.Array:
        element = ring(op.results[0])
        if isinstance(element, fxp.IntType):
            return jnp.floor(x) if element.w > 1 else (x != 0).astype(self.dtype)
        return self._nearest(x, fraction_bits(op.results[0]))

    def kernel(self, op: Operation, args: list[jax.Array]) -> jax.Array:
        return self._nearest(KERNELS[op.name](jnp, *args), fraction_bits(op.results[0]))

    def reduce(self, op: pphlo.ReduceOp, kind: str, x: jax.Array, init: jax.Array, axes: tuple[int, ...]) -> jax.Array:
        reducer, combine = {
            "pphlo.add": (jnp.sum, jnp.add),
            "pphlo.maximum": (jnp.max, jnp.maximum),
            "pphlo.minimum": (jnp.min, jnp.minimum),
            "pphlo.and": (jnp.min, jnp.minimum),  # booleans held as 0/1
            "pphlo.or": (jnp.max, jnp.maximum),
        }[kind]
        return combine(reducer(x, axis=axes), init)

    def dynamic_slice(self, op: pphlo.DynamicSliceOp, x: jax.Array, starts: list[jax.Array]) -> jax.Array:
        first = [s.reshape(()).astype(jnp.int32) for s in starts]
        return lax.dynamic_slice(x, first, tuple(op.slice_sizes.get_values()))

    def indices(self, ids: jax.Array) -> jax.Array:
        return ids.astype(jnp.int32)

    def decode(self, value: SSAValue, x: jax.Array) -> jax.Array:
        return x


class Student:
    """`Student(module)(inputs, key)`: the ring-typed `module`'s outputs, differentiable in its inputs."""

    def __init__(self, module: ModuleOp, truncation: str = "floor"):
        if truncation not in ("floor", "stochastic"):
            raise DittoError("truncation must be 'floor' or 'stochastic'")
        self.module = module
        self.stochastic = truncation == "stochastic"
        self._constants: dict[Operation, np.ndarray] = {}

    def __call__(self, inputs: Sequence[jax.Array], key: jax.Array | None = None) -> list[jax.Array]:
        if self.stochastic and key is None:
            raise DittoError("stochastic truncation needs a PRNG key")
        return Interpreter(self.module, FakeQuantReals(self.stochastic, key, self._constants)).run(inputs)


def _check_argument(label: str, shape: tuple[int, ...], dtype: np.dtype, leaf: Any) -> None:
    """A leaf (an array or a tracer) of the shape the program was compiled for, real where it takes reals."""
    got = getattr(leaf, "dtype", None)
    got = np.dtype(got) if got is not None else np.asarray(leaf).dtype
    if tuple(np.shape(leaf)) != tuple(shape):
        raise DittoError(f"{label} has shape {list(np.shape(leaf))}, expected {list(shape)}")
    if jnp.issubdtype(dtype, jnp.floating) and not jnp.issubdtype(got, jnp.floating):
        raise DittoError(f"{label} has dtype {got}, expected a float")
    if not jnp.issubdtype(dtype, jnp.floating) and not (jnp.issubdtype(got, jnp.integer) or got == np.bool_):
        raise DittoError(f"{label} has dtype {got}, expected integers")


def _is_key(key: Any) -> bool:
    """A typed PRNG key array, or a raw one (uint32, last dimension 2, as `jax.random.PRNGKey` makes)."""
    dtype, shape = getattr(key, "dtype", None), getattr(key, "shape", None)
    if dtype is None or shape is None:
        return False
    return jnp.issubdtype(dtype, jax.dtypes.prng_key) or (dtype == np.uint32 and tuple(shape)[-1:] == (2,))


def student_forward(program: Any, truncation: str = "floor") -> Callable[..., Any]:
    """`forward(*args, key=None)` of a compiled `Program`: its outputs, shaped like the compiled
    function's, computed by the `Student` of its ring-typed module (jit it for speed)."""
    if not all(hasattr(program, name) for name in ("module", "signature", "encodings")):
        raise DittoError(f"student_forward needs a compiled Program, not {type(program).__name__}")
    if program.module is None:
        raise DittoError("this program has no ring-typed module to train")
    if not isinstance(truncation, str) or truncation not in ("floor", "stochastic"):
        raise DittoError(f"truncation must be 'floor' or 'stochastic', not {truncation!r}")
    student = Student(program.module, truncation)
    signature = program.signature

    def forward(*args: Any, key: jax.Array | None = None) -> Any:
        leaves, tree = tree_flatten(args)
        if tree != signature.in_tree:
            raise DittoError(f"arguments have structure {tree}, but the program was compiled for {signature.in_tree}")
        for path, shape, dtype, leaf in zip(signature.paths, signature.shapes, signature.dtypes, leaves):
            _check_argument(f"argument {path or '<arg>'}", shape, dtype, leaf)
        if key is not None and not _is_key(key):
            what = f"{key.dtype} array of shape {tuple(key.shape)}" if hasattr(key, "shape") else type(key).__name__
            raise DittoError(
                f"key must be a JAX PRNG key (jax.random.key(seed) or jax.random.PRNGKey(seed)), not {what}"
            )
        flat = list(leaves)
        for e in program.encodings:  # one-hot token ids, as `encode_inputs` does for the parties
            ids = jnp.asarray(flat[e.source]).reshape(-1, 1)
            flat.append((ids == jnp.arange(e.depth)).reshape(e.shape))
        return tree_unflatten(signature.out_tree, student(flat, key))

    return forward
