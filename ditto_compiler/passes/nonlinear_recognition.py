"""Recognising GeLU, SiLU and Softmax in StableHLO by what they compute, not by how they are spelled.

A candidate is a slice of the program from one value x to one value y in which
every other input is a constant. The slice is evaluated in float64 on probe
inputs; it is GeLU, SiLU (or Softmax along the axes it reduces) when it agrees with
that function on all of them. Op order, erf / erfc / tanh forms, keepdims
reshapes and folded constants therefore don't matter, and a look-alike that
computes something else (a shifted GeLU, a softmax with a constant bias) is
never rewritten.

Slices start at an anchor (erf, erfc or tanh for GeLU; exp or logistic for SiLU,
x * sigmoid(x), as LLaMA's MLP gates; exp for Softmax) and
grow a few ops backwards (candidate inputs) and forwards (candidate outputs).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
from scipy import special
from xdsl.dialects.builtin import DenseIntOrFPElementsAttr, TensorType
from xdsl.ir import BlockArgument, Operation, OpResult, SSAValue
from xdsl_jax.dialects import stablehlo as shlo

from ..dialects import chlo
from ..dialects.stablehlo import CompareOp

_UNARY: dict[type[Operation], Callable[[np.ndarray], np.ndarray]] = {
    shlo.NegateOp: np.negative,
    shlo.ExponentialOp: np.exp,
    shlo.TanhOp: np.tanh,
    shlo.SqrtOp: np.sqrt,
    shlo.RsqrtOp: lambda x: 1.0 / np.sqrt(x),
    shlo.AbsOp: np.abs,
    shlo.LogisticOp: special.expit,
    shlo.ConvertOp: lambda x: x,
    chlo.ErfOp: special.erf,
    chlo.ErfcOp: special.erfc,
}
_BINARY: dict[type[Operation], Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    shlo.AddOp: np.add,
    shlo.SubtractOp: np.subtract,
    shlo.MultiplyOp: np.multiply,
    shlo.DivideOp: np.divide,
    shlo.MaximumOp: np.maximum,
    shlo.MinimumOp: np.minimum,
    shlo.PowerOp: np.power,
}
_Reduce = tuple[Callable[..., np.ndarray], Callable[[np.ndarray, np.ndarray], np.ndarray]]
_REDUCERS: dict[type[Operation], _Reduce] = {
    shlo.AddOp: (np.sum, np.add),
    shlo.MaximumOp: (np.max, np.maximum),
    shlo.MinimumOp: (np.min, np.minimum),
}
_COMPARE: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "EQ": np.equal,
    "NE": np.not_equal,
    "LT": np.less,
    "LE": np.less_equal,
    "GT": np.greater,
    "GE": np.greater_equal,
}
_DATA_MOVEMENT = (shlo.BroadcastInDimOp, shlo.ReshapeOp)
_SLICEABLE = (
    *_UNARY,
    *_BINARY,
    *_DATA_MOVEMENT,
    shlo.ConstantOp,
    shlo.ReduceOp,
    shlo.SelectOp,
    CompareOp,
)
_MAX_SLICE_OPS = 64
_SEARCH_DEPTH = 6


@dataclass(frozen=True)
class Match:
    """`output` computes the function of `input` alone, through `ops` (in program order)."""

    input: SSAValue
    output: SSAValue
    ops: tuple[Operation, ...]
    axes: tuple[int, ...] = ()
    """Softmax only: the axes it normalises over."""


def shape_of(value: SSAValue) -> tuple[int, ...]:
    assert isinstance(value.type, TensorType)
    return tuple(value.type.get_shape())


def closed_slice(output: SSAValue, input: SSAValue) -> tuple[Operation, ...] | None:
    """The ops computing `output` from `input` and constants only, in program order; None if
    anything else feeds it, it does not use `input`, or it contains an op we cannot evaluate."""
    seen: set[Operation] = set()
    stack, uses_input = [output], False
    while stack:
        value = stack.pop()
        if value is input:
            uses_input = True
            continue
        if isinstance(value, BlockArgument) or not isinstance(value.owner, _SLICEABLE):
            return None
        op = value.owner
        if op in seen:
            continue
        seen.add(op)
        if len(seen) > _MAX_SLICE_OPS or (isinstance(op, shlo.ReduceOp) and _reducer(op) is None):
            return None
        stack.extend(op.operands)
    if not uses_input:
        return None
    block = output.owner.parent_block() if isinstance(output, OpResult) else None
    if block is None or any(op.parent_block() is not block for op in seen):
        return None
    order = {op: i for i, op in enumerate(block.ops)}
    return tuple(sorted(seen, key=order.__getitem__))


def _reducer(op: shlo.ReduceOp) -> _Reduce | None:
    """(reduction, combination with the init value) of a single-input reduce with a one-op body."""
    body = list(op.body.block.ops)
    if len(op.inputs) != 1 or len(body) != 2:
        return None
    return _REDUCERS.get(type(body[0]))


def _constant(op: shlo.ConstantOp) -> np.ndarray:
    value = op.value
    assert isinstance(value, DenseIntOrFPElementsAttr)
    shape = shape_of(op.output)
    values = np.asarray(value.get_values(), dtype=np.float64)
    return np.broadcast_to(values.reshape(-1)[0], shape) if values.size == 1 else values.reshape(shape)


def evaluate(ops: tuple[Operation, ...], input: SSAValue, output: SSAValue, probe: np.ndarray) -> np.ndarray | None:
    """`output` for `input = probe`, in float64; None when an op has no numeric meaning here."""
    values: dict[SSAValue, np.ndarray] = {input: probe}
    with np.errstate(all="ignore"):
        for op in ops:
            args = [values[v] for v in op.operands]
            kind = type(op)
            if kind in _UNARY:
                result = _UNARY[kind](args[0])
            elif kind in _BINARY:
                result = _BINARY[kind](args[0], args[1])
            elif isinstance(op, shlo.ConstantOp):
                result = _constant(op)
            elif isinstance(op, shlo.BroadcastInDimOp):
                target = shape_of(op.results[0])
                kept = list(op.broadcast_dimensions.get_values())
                expanded = [1] * len(target)
                for source_axis, target_axis in enumerate(kept):
                    expanded[target_axis] = args[0].shape[source_axis]
                result = np.broadcast_to(args[0].reshape(expanded), target)
            elif isinstance(op, shlo.ReshapeOp):
                result = args[0].reshape(shape_of(op.results[0]))
            elif isinstance(op, shlo.ReduceOp):
                reducer = _reducer(op)
                assert reducer is not None
                reduce, combine = reducer
                result = combine(reduce(args[0], axis=tuple(op.dimensions.get_values())), args[1])
            elif isinstance(op, shlo.SelectOp):
                result = np.where(args[0], args[1], args[2])
            elif isinstance(op, CompareOp):
                result = _COMPARE[op.comparison_direction.data.value](args[0], args[1])
            else:  # pragma: no cover (closed_slice admits only the ops above)
                return None
            values[op.results[0]] = np.asarray(result)
    return values.get(output)


def _producers(value: SSAValue) -> Iterator[SSAValue]:
    """`value` and the non-constant values it is computed from, nearest first."""
    frontier, seen = [value], {value}
    for _ in range(_SEARCH_DEPTH):
        yield from frontier
        following = []
        for v in frontier:
            if isinstance(v, OpResult) and isinstance(v.owner, _SLICEABLE):
                for operand in v.owner.operands:
                    if operand not in seen and not isinstance(operand.owner, shlo.ConstantOp):
                        seen.add(operand)
                        following.append(operand)
        frontier = following


def _consumers(value: SSAValue) -> Iterator[SSAValue]:
    """`value` and the values computed from it, nearest first."""
    frontier, seen = [value], {value}
    for _ in range(_SEARCH_DEPTH):
        yield from frontier
        following = []
        for v in frontier:
            for use in v.uses:
                if isinstance(use.operation, _SLICEABLE):
                    for result in use.operation.results:
                        if result not in seen:
                            seen.add(result)
                            following.append(result)
        frontier = following


def _exact_gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * special.erfc(-x / math.sqrt(2.0))


def match_gelu(anchor: Operation) -> Match | None:
    """The GeLU (erf or tanh form) that `anchor` (an erf, erfc or tanh) is part of."""
    for output in _consumers(anchor.results[0]):
        for input in _producers(anchor.operands[0]):
            shape = shape_of(input)
            if shape_of(output) != shape or (ops := closed_slice(output, input)) is None:
                continue
            probe = np.linspace(-6.0, 6.0, math.prod(shape)).reshape(shape)
            got = evaluate(ops, input, output, probe)
            # The tanh form differs from the erf form by up to 5e-4.
            if got is not None and np.allclose(got, _exact_gelu(probe), atol=2e-3, rtol=0):
                return Match(input, output, ops)
    return None


def match_silu(anchor: Operation) -> Match | None:
    """The SiLU, x * sigmoid(x), that `anchor` (an exp or a logistic) is part of."""
    for output in _consumers(anchor.results[0]):
        for input in _producers(anchor.operands[0]):
            shape = shape_of(input)
            if shape_of(output) != shape or (ops := closed_slice(output, input)) is None:
                continue
            probe = np.linspace(-8.0, 8.0, math.prod(shape)).reshape(shape)
            got = evaluate(ops, input, output, probe)
            if got is not None and np.allclose(got, probe * special.expit(probe), atol=1e-6, rtol=0):
                return Match(input, output, ops)
    return None


def _softmax(x: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    e = np.exp(x - x.max(axis=axes, keepdims=True))
    return e / e.sum(axis=axes, keepdims=True)


def match_softmax(anchor: shlo.ExponentialOp) -> Match | None:
    """The Softmax that `anchor` (an exp) is part of, normalising over the axes its sum reduces.

    Of the inputs that work, the earliest is taken: softmax(x - max x) is the same
    function as softmax(x), and the max subtraction belongs to the slice it replaces.
    """
    rng = np.random.default_rng(0)
    for output in _consumers(anchor.results[0]):
        found = None
        for input in _producers(anchor.operand):
            shape = shape_of(input)
            if shape_of(output) != shape or (ops := closed_slice(output, input)) is None:
                continue
            reduced = {tuple(op.dimensions.get_values()) for op in ops if isinstance(op, shlo.ReduceOp)}
            if len(reduced) != 1:
                continue
            axes = reduced.pop()
            probe = rng.normal(0.0, 3.0, shape)
            got = evaluate(ops, input, output, probe)
            if got is not None and np.allclose(got, _softmax(probe, axes), atol=1e-6, rtol=0):
                found = Match(input, output, ops, axes)
        if found is not None:
            return found
    return None
