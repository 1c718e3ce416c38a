"""Bytes and rounds per element of each ring conversion, on SPU's runtimes (thread mode).

Each case is a compiled program with exactly one conversion of n secret elements between
the (32, 8) and (64, 18) rings; the conversion's cost is read from prog.cost.by_ring.

    python tools/measure_conversions.py [--n 4096]
"""

from __future__ import annotations

import argparse
import sys

import jax.numpy as jnp
import numpy as np

import ditto_compiler


def conversion_cost(fn, args, upcast):
    prog = ditto_compiler.compile(fn, *args, policy="ditto")
    steps = [type(s).__name__ for s in prog.plan.steps]
    assert steps.count("Conversion") == 1, steps
    prog.run(*args, upcast=upcast)
    return prog.cost.by_ring["conversions"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=4096, help="elements converted (a square number)")
    args = parser.parse_args(argv)
    side = int(round(args.n**0.5))
    n = side * side
    rng = np.random.default_rng(0)
    w = (rng.normal(size=(side, side)) / side**0.5).astype(np.float32)
    x = rng.normal(size=(side, side)).astype(np.float32)
    cases = [
        # matmul in the small ring, exp in the large one: one upcast of the product.
        ("upcast, Ditto's protocol", lambda w, x: jnp.exp(-jnp.abs(x @ w)), "ditto"),
        ("upcast, generic (A2B/B2A)", lambda w, x: jnp.exp(-jnp.abs(x @ w)), "generic"),
        # exp in the large ring, matmul in the small one: one downcast of exp's result.
        ("downcast, the downcast protocol", lambda w, x: jnp.exp(-jnp.abs(x)) @ w, "ditto"),
        ("downcast, generic (SPU's truncation + local)", lambda w, x: jnp.exp(-jnp.abs(x)) @ w, "generic"),
    ]
    print(f"{n} elements per conversion; (32, 8) <-> (64, 18); totals over the three parties\n")
    print("| conversion | bytes/element | rounds (send actions per party) |\n|---|---:|---:|")
    for name, fn, upcast in cases:
        cost = conversion_cost(fn, (w, x), upcast)
        print(f"| {name} | {cost.send_bytes / n:.1f} | {cost.rounds:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
