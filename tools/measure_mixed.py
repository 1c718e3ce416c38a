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

NETWORKS = {"LAN": (5e9, 0.4e-3), "WAN": (400e6, 40e-3)}


def modelled_seconds(cost, network):
    bandwidth, rtt = NETWORKS[network]
    busiest = max(p.send_bytes for p in cost.parties)
    return cost.seconds + cost.rounds * rtt + busiest * 8 / bandwidth


def main():
    for name, fn, args in (demo_case(), bert_case(128, 4, 512, 32)):
        want = [np.asarray(v) for v in tree_leaves(fn(*args))]
        print(f"## {name}\n")
        columns = ["policy", "upcast", "mode", "send bytes", "rounds/party", "run s", "LAN s (model)", "WAN s (model)"]
        print("| " + " | ".join([*columns, "32-bit ring", "64-bit ring", "conversions", "max abs err"]) + " |")
        print("|---|---|---|" + "---:|" * 9)
        runs = (("fxp64", "ditto", "threads"), ("ditto", "ditto", "threads"), ("ditto", "generic", "threads"),
                ("fxp64", "ditto", "processes"), ("ditto", "ditto", "processes"))  # fmt: skip
        for policy, upcast, mode in runs:
            prog = ditto_compiler.compile(fn, *args, policy=policy)
            got = tree_leaves(prog.run(*args, mode=mode, upcast=upcast))
            err = max(float(np.abs(np.asarray(g) - w).max()) for g, w in zip(got, want))
            cost = prog.cost
            parts = [cost.by_ring.get(k) for k in ("32-bit", "64-bit", "conversions")]
            cells = [f"{p.send_bytes:,}" if p is not None else "-" for p in parts]
            shown_upcast = upcast if policy == "ditto" else "-"
            lan, wan = modelled_seconds(cost, "LAN"), modelled_seconds(cost, "WAN")
            row = [policy, shown_upcast, mode, f"{cost.send_bytes:,}", f"{cost.rounds:.0f}", f"{cost.seconds:.2f}"]
            print("| " + " | ".join([*row, f"{lan:.2f}", f"{wan:.2f}", *cells, f"{err:.2e}"]) + " |")
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
