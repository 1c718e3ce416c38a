"""SPU's own JAX frontend on the same function, measured the same way as ours.

This is the reference ditto-compiler is compared with: `spu.utils.frontend`
compiles the function (as `spu.utils.simulation.sim_jax` does, all inputs
secret), and the resulting PPHLO runs as a one-segment plan on our executors
(threads or processes), so bytes and rounds are counted by the same links.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import jax
import numpy as np
from jax.tree_util import tree_flatten, tree_structure, tree_unflatten
from spu import libspu
from spu.utils import frontend as spu_frontend

from ..diagnostics import DittoError
from ..plan import Plan, Segment, Variable
from ..ring import RingConfig
from .cost import Cost
from .executor import execute
from .party import first_line


def run_with_spu_compiler(
    fn: Callable[..., Any], *args: Any, ring: RingConfig = RingConfig()
) -> tuple[Any, Cost, float]:
    """Compile `fn` with SPU's compiler and run it in threads; returns (outputs, cost, compile seconds)."""
    plan, compile_seconds = compile_with_spu(fn, *args, ring=ring)
    outputs, cost = execute(plan, [np.asarray(x) for x in tree_flatten(args)[0]])
    return tree_unflatten(tree_structure(jax.eval_shape(fn, *args)), outputs), cost, compile_seconds


def _variable(name: str, like: Any, ring: RingConfig) -> Variable:
    dtype = np.dtype(like.dtype)
    if dtype.kind == "f":
        return Variable(name, ring.field_bits, True, "fixed", tuple(like.shape))
    if dtype.kind == "b":
        return Variable(name, ring.field_bits, True, "bool", tuple(like.shape))
    return Variable(name, ring.field_bits, True, "int", tuple(like.shape), dtype.itemsize * 8)


def compile_with_spu(
    fn: Callable[..., Any],
    *args: Any,
    ring: RingConfig = RingConfig(),
    compiler_options: libspu.CompilerOptions | None = None,
    spu_options: dict[str, str | int] | None = None,
) -> tuple[Plan, float]:
    """SPU's compilation of `fn` (all inputs secret) as a one-segment plan, so that it runs on
    the same executors as ours (threads or processes); returns (plan, compile seconds).

    `compiler_options` are SPU's compiler settings, `spu_options` the runtime settings the plan
    carries (plan.SPU_OPTIONS)."""
    flat, _ = tree_flatten(args)
    names = [f"in{i}" for i in range(len(flat))]
    start = time.perf_counter()
    try:
        executable, out_tree = spu_frontend.compile(
            spu_frontend.Kind.JAX,
            fn,
            args,
            {},
            names,
            [libspu.Visibility.VIS_SECRET] * len(flat),
            lambda outs: [f"out{i}" for i in range(len(outs))],
            copts=compiler_options or libspu.CompilerOptions(),
        )
    except Exception as e:  # SPU's compiler reports in its own exception types
        raise DittoError(f"SPU's compiler failed: {first_line(e)}") from None
    compile_seconds = time.perf_counter() - start
    outputs = tree_flatten(out_tree)[0]
    inputs = [_variable(n, np.asarray(x), ring) for n, x in zip(names, flat)]
    results = [_variable(f"out{i}", o, ring) for i, o in enumerate(outputs)]
    segment = Segment(ring.field_bits, executable.code.decode(), tuple(names), tuple(v.name for v in results))
    plan = Plan({ring.field_bits: ring}, inputs, results, [segment], spu_options=dict(spu_options or {}))
    return plan, compile_seconds
