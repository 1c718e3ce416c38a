"""Compile time of the whole pipeline on a Hugging Face model (issue 5's goal: BERT-base under 10 s).

python tools/measure_compile.py [--config base] [--seq 128]
"""

from __future__ import annotations

import argparse
import sys

import ditto_compiler
from ditto_compiler.models.hf import bert_case


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="base")
    parser.add_argument("--seq", type=int, default=128)
    options = parser.parse_args(argv)
    case = bert_case(options.config, options.seq)
    print(f"{case.name}, sequence {options.seq}")
    for policy, approximations in [("fxp64", {}), ("ditto", {"gelu": "quad", "softmax": "ditto"})]:
        prog = ditto_compiler.compile(case.forward, *case.args, policy=policy, **approximations)
        ops = prog.ir.count("\n")
        print(f"  {policy:<6} {approximations or 'exact'}: {prog.compile_seconds:.2f} s (export, import, passes, "
              f"SPU programs), {ops} lines of ring-typed IR")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
