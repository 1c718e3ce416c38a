"""Secure cost of `fxp64` vs the mixed-ring `ditto` policy (both upcasts), per ring, in one run.

python tools/measure_mixed.py
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
from jax.tree_util import tree_leaves  # noqa: E402
from measure_spine import bert_case, demo_case  # noqa: E402  (tools/ is on sys.path when run as a script)

import ditto_compiler  # noqa: E402


def main():
    for name, fn, args in (demo_case(), bert_case(128, 4, 512, 32)):
        want = [np.asarray(v) for v in tree_leaves(fn(*args))]
        print(f"## {name}\n")
        columns = ["policy", "upcast", "send bytes", "rounds/party", "run s", "32-bit ring", "64-bit ring"]
        print("| " + " | ".join([*columns, "conversions", "max abs err"]) + " |")
        print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
        for policy, upcast in (("fxp64", "-"), ("ditto", "ditto"), ("ditto", "generic")):
            prog = ditto_compiler.compile(fn, *args, policy=policy)
            got = tree_leaves(prog.run(*args) if upcast == "-" else prog.run(*args, upcast=upcast))
            err = max(float(np.abs(np.asarray(g) - w).max()) for g, w in zip(got, want))
            cost = prog.cost
            parts = [cost.by_ring.get(k) for k in ("32-bit", "64-bit", "conversions")]
            cells = [f"{p.send_bytes:,}" if p is not None else "-" for p in parts]
            print(
                f"| {policy} | {upcast} | {cost.send_bytes:,} | {cost.rounds:.0f} | {cost.seconds:.2f} | "
                + " | ".join(cells)
                + f" | {err:.2e} |"
            )
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
