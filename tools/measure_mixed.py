"""Secure cost of `fxp64` vs the mixed-ring `ditto` policy (both upcasts), per ring, in one run.

python tools/measure_mixed.py
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
from jax.tree_util import tree_leaves  # noqa: E402
from measure_spine import bert_case, demo_case  # noqa: E402  (tools/ is on sys.path when run as a script)

import ditto_compiler  # noqa: E402
from ditto_compiler.bench import modelled_seconds  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minilm", action="store_true", help="MiniLM-L6 shapes at sequence 128 (minutes), with SPU")
    options = parser.parse_args(argv)
    if options.minilm:
        return minilm()
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
            lan, wan = modelled_seconds(cost, "lan"), modelled_seconds(cost, "wan")
            row = [policy, shown_upcast, mode, f"{cost.send_bytes:,}", f"{cost.rounds:.0f}", f"{cost.seconds:.2f}"]
            print("| " + " | ".join([*row, f"{lan:.2f}", f"{wan:.2f}", *cells, f"{err:.2e}"]) + " |")
        print()
    return 0


def minilm():
    """MiniLM-L6 shapes (6 layers, hidden 384, 12 heads, MLP 1536), sequence 128: fxp64, ditto, SPU's compiler."""
    from ditto_compiler.runtime.spu_baseline import run_with_spu_compiler

    name, fn, args = bert_case(384, 12, 1536, 128, vocab=30522, layers=6)
    want = [np.asarray(v) for v in tree_leaves(fn(*args))]
    print(f"## {name} (random weights)\n")
    columns = ["compiler", "policy", "send bytes", "rounds/party", "run s", "LAN s (model)", "WAN s (model)"]
    print("| " + " | ".join([*columns, "compile s", "max abs err"]) + " |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for policy in ("fxp64", "ditto"):
        prog = ditto_compiler.compile(fn, *args, policy=policy)
        got = tree_leaves(prog.run(*args))
        err = max(float(np.abs(np.asarray(g) - w).max()) for g, w in zip(got, want))
        c = prog.cost
        lan, wan = modelled_seconds(c, "lan"), modelled_seconds(c, "wan")
        row = ["ditto-compiler", policy, f"{c.send_bytes:,}", f"{c.rounds:.0f}", f"{c.seconds:.1f}", f"{lan:.1f}"]
        print("| " + " | ".join([*row, f"{wan:.1f}", f"{prog.compile_seconds:.1f}", f"{err:.2e}"]) + " |")
    out, c, compile_s = run_with_spu_compiler(fn, *args)
    err = max(float(np.abs(np.asarray(g) - w).max()) for g, w in zip(tree_leaves(out), want))
    lan, wan = modelled_seconds(c, "lan"), modelled_seconds(c, "wan")
    row = ["SPU's compiler", "FM64", f"{c.send_bytes:,}", f"{c.rounds:.0f}", f"{c.seconds:.1f}", f"{lan:.1f}"]
    print("| " + " | ".join([*row, f"{wan:.1f}", f"{compile_s:.1f}", f"{err:.2e}"]) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
