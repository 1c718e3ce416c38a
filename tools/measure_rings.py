"""Ring conversions, truncations and emulated error per ring policy, before and after
fuse-scales and eliminate-redundant-casts, on 2-layer Flax BERTs.

    python tools/measure_rings.py [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
from measure_spine import bert_case  # noqa: E402  (tools/ is on sys.path when run as a script)
from xdsl.dialects.builtin import ModuleOp  # noqa: E402

import ditto_compiler  # noqa: E402
from ditto_compiler.dialects import fxp  # noqa: E402
from ditto_compiler.dialects.secret import is_secret  # noqa: E402
from ditto_compiler.pipeline import default_passes  # noqa: E402

BASE = 'inline-private-functions,legalize-to-pphlo,annotate-rings{{policy="{}"}}'


def counts(module: ModuleOp) -> dict[str, int]:
    result = {"secret upcasts": 0, "secret downcasts": 0, "fraction casts": 0, "public casts": 0, "truncate ops": 0}
    for op in module.walk():
        if isinstance(op, fxp.TruncateOp):
            result["truncate ops"] += 1
        elif isinstance(op, fxp.CastOp):
            src, dst = fxp.ring_of(op.input.type), fxp.ring_of(op.result.type)
            if not is_secret(op.input.type):
                result["public casts"] += 1
            elif dst.k > src.k:
                result["secret upcasts"] += 1
            elif dst.k < src.k:
                result["secret downcasts"] += 1
            else:
                result["fraction casts"] += 1
    return result


def measure(name, fn, args):
    want = np.asarray(fn(*args))
    rows = []
    # `auto` is measured with the full pipeline only (its calibration runs inside compile).
    for policy, optimized in (("fxp64", False), ("fxp64", True), ("ditto", False), ("ditto", True), ("auto", True)):
        if policy == "auto":
            prog = ditto_compiler.compile(fn, *args, policy="auto")
        else:
            spec = default_passes(policy) if optimized else BASE.format(policy)
            prog = ditto_compiler.compile(fn, *args, pipeline=spec)
        got = np.asarray(prog.emulate(*args, on_overflow="record"))
        row = {
            "policy": policy,
            "passes": "fuse-scales + eliminate-redundant-casts" if optimized else "none",
            **counts(prog.module),
            "truncations executed": prog.emulation.truncations,
            "max abs err": float(np.abs(got - want).max()),
            "relative err": float(np.linalg.norm(got - want) / np.linalg.norm(want)),
            "overflows": len(prog.emulation.overflows),
        }
        if policy == "auto":
            row["matmuls in 32-bit ring"] = sum(c["ring"][0] == 32 for c in prog.ring_choices)
            row["matmuls"] = len(prog.ring_choices)
        rows.append(row)
    print(f"## {name}\n")
    keys = ["policy", "passes", "secret upcasts", "secret downcasts", "fraction casts", "public casts",
            "truncate ops", "truncations executed", "max abs err", "relative err", "overflows"]  # fmt: skip
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for r in rows:
        cells = [f"{r[k]:.2e}" if isinstance(r[k], float) else str(r[k]) for k in keys]
        print("| " + " | ".join(cells) + " |")
    auto = next(r for r in rows if r["policy"] == "auto")
    print(f"\nauto put {auto['matmuls in 32-bit ring']} of {auto['matmuls']} matmuls in the 32-bit ring.\n")
    return {"case": name, "rows": rows}


def precision_dial():
    """`auto`'s precision guard trades accuracy for matmuls in the small ring (demo-style block)."""
    from ditto_compiler.models.transformer_block import init_block, transformer_block

    params = init_block(32, 64, seed=2)
    x = np.random.default_rng(0).normal(size=(8, 32)).astype(np.float32)

    def block(p, x):
        return transformer_block(p, x, heads=4)

    want = np.asarray(block(params, x))
    print("## auto's precision guard (Transformer block, hidden 32, seq 8, 4 heads)\n")
    print("| precision | matmuls in (32, 8) | max abs err | relative err |\n|---:|---:|---:|---:|")
    rows = []
    for precision in (6, 5, 4):
        prog = ditto_compiler.compile(block, params, x, policy="auto", precision=precision)
        got = np.asarray(prog.emulate(params, x))
        small = sum(c["ring"][0] == 32 for c in prog.ring_choices)
        err, rel = float(np.abs(got - want).max()), float(np.linalg.norm(got - want) / np.linalg.norm(want))
        print(f"| {precision} | {small} of {len(prog.ring_choices)} | {err:.2e} | {rel:.2e} |")
        rows.append({"precision": precision, "small_matmuls": small, "max_abs_err": err, "relative_err": rel})
    print()
    return {"case": "precision dial", "rows": rows}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    results = [
        measure(*bert_case(32, 2, 64, 8, vocab=64)),
        measure(*bert_case(128, 4, 512, 32, vocab=1000)),
        precision_dial(),
    ]
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
