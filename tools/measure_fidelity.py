"""Does the emulator predict secure execution? Cosine to plaintext of `emulate` (floor and
stochastic truncation) and of a secure run (3 parties as threads, ABY3), per setting.

    python tools/measure_fidelity.py [--model bert --config minilm --seq 128] [--settings a,b] [--json FILE]

Settings: fxp64, ditto-exact, ditto (Quad GeLU, Ditto softmax), ditto-f8 (the ditto
rings with 8 fraction bits in the 32-bit ring, exact functions).
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
from jax.tree_util import tree_leaves  # noqa: E402

import ditto_compiler  # noqa: E402
from ditto_compiler.bench import accuracy  # noqa: E402
from ditto_compiler.models.hf import bert_case, gpt2_case  # noqa: E402
from ditto_compiler.passes.ring_policy import LARGE, RingPolicy  # noqa: E402
from ditto_compiler.ring import RingConfig  # noqa: E402

SETTINGS = {
    "fxp64": {"policy": "fxp64"},
    "ditto-exact": {"policy": "ditto"},
    "ditto": {"policy": "ditto", "gelu": "quad", "softmax": "ditto"},
    "ditto-f8": {"policy": RingPolicy("ditto-f8", RingConfig(32, 8), LARGE)},
}


def flat(outputs) -> np.ndarray:
    return np.concatenate([np.asarray(x, np.float64).ravel() for x in tree_leaves(outputs)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="bert", choices=["bert", "gpt2"])
    parser.add_argument("--config", default="minilm")
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--settings", default=",".join(SETTINGS))
    parser.add_argument("--json")
    args = parser.parse_args()
    case = (bert_case if args.model == "bert" else gpt2_case)(args.config, args.seq)
    want = flat(case.forward(*case.args))
    rows = []
    for name in args.settings.split(","):
        prog = ditto_compiler.compile(case.forward, *case.args, **SETTINGS[name])
        row = {"setting": name}
        for label, run in (
            ("emulate floor", lambda: prog.emulate(*case.args, on_overflow="record")),
            ("emulate stochastic", lambda: prog.emulate(*case.args, on_overflow="record", truncation="stochastic")),
            ("secure", lambda: prog.run(*case.args, timeout_s=600)),
        ):
            start = time.perf_counter()
            row[label] = accuracy(case, flat(run()).astype(np.float32), want.astype(np.float32))["cosine"]
            row[f"{label} s"] = round(time.perf_counter() - start, 1)
        row["|secure - floor|"] = abs(row["secure"] - row["emulate floor"])
        row["|secure - stochastic|"] = abs(row["secure"] - row["emulate stochastic"])
        rows.append(row)
        print(
            f"{name:12s} floor {row['emulate floor']:.5f}  stochastic {row['emulate stochastic']:.5f}  "
            f"secure {row['secure']:.5f}  |secure-floor| {row['|secure - floor|']:.5f}  "
            f"|secure-stochastic| {row['|secure - stochastic|']:.5f}",
            flush=True,
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"model": args.model, "config": args.config, "seq": args.seq, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
