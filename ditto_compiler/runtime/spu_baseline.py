"""SPU's own JAX frontend on the same function, measured the same way as ours.

This is the reference ditto-compiler is compared with: `spu.utils.frontend`
compiles the function (as `spu.utils.simulation.sim_jax` does, all inputs
secret), and the resulting PPHLO runs on our 3-party runtime so that bytes and
rounds are counted by the same links.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
from jax.tree_util import tree_flatten, tree_unflatten
from spu import libspu
from spu.utils import frontend as spu_frontend

from ..ring import RingConfig
from .executor import Cost, run_secure


def run_with_spu_compiler(
    fn: Callable[..., Any], *args: Any, ring: RingConfig = RingConfig()
) -> tuple[Any, Cost, float]:
    """Compile `fn` with SPU's compiler and run it; returns (outputs, cost, compile seconds)."""
    flat, _ = tree_flatten(args)
    names = [f"in{i}" for i in range(len(flat))]
    start = time.perf_counter()
    executable, out_tree = spu_frontend.compile(
        spu_frontend.Kind.JAX,
        fn,
        args,
        {},
        names,
        [libspu.Visibility.VIS_SECRET] * len(flat),
        lambda outs: [f"out{i}" for i in range(len(outs))],
    )
    compile_seconds = time.perf_counter() - start
    _, out_def = tree_flatten(out_tree)
    outputs, cost = run_secure(
        executable.code.decode(),
        [np.asarray(x) for x in flat],
        [True] * len(flat),
        out_def.num_leaves,
        ring,
        name="spu-baseline",
    )
    return tree_unflatten(out_def, outputs), cost, compile_seconds
