"""`ditto`: the user CLI (demo; later: benchmarks, parties, distillation)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..diagnostics import DittoError


def _row(name: str, err: float, cost: Any, compile_s: float) -> dict[str, Any]:
    return {
        "name": name,
        "max_abs_err": float(err),
        "send_bytes": cost.send_bytes,
        "rounds": cost.rounds,
        "seconds": cost.seconds,
        "compile_seconds": compile_s,
    }


def demo(args: argparse.Namespace) -> int:
    from .. import compile as ditto_compile
    from ..models.transformer_block import demo_input, init_block, transformer_block

    if args.hidden % args.heads:
        raise DittoError(f"--hidden {args.hidden} is not divisible by --heads {args.heads}")
    params = init_block(args.hidden, args.mlp, seed=0)
    x = demo_input(args.seq, args.hidden, seed=1)

    def block(p, x):
        return transformer_block(p, x, heads=args.heads)

    reference = np.asarray(block(params, x))
    rings = "64-bit ring, 18 fraction bits" if args.policy == "fxp64" else f"ring policy {args.policy}"
    print(
        f"ditto demo: causal Transformer block (seq {args.seq}, hidden {args.hidden}, {args.heads} heads, "
        f"MLP {args.mlp}; fixed-seed weights)\n"
        f"3-party ABY3 on SPU, {rings}; weights and input secret\n"
    )
    prog = ditto_compile(block, params, x, policy=args.policy)
    out = prog.run(params, x)
    rows = [_row(f"ditto-compiler ({args.policy})", np.abs(out - reference).max(), prog.cost, prog.compile_seconds)]
    if not args.no_spu:
        from ..runtime.spu_baseline import run_with_spu_compiler

        spu_out, spu_cost, spu_compile_s = run_with_spu_compiler(block, params, x)
        rows.append(_row("SPU's compiler", np.abs(spu_out - reference).max(), spu_cost, spu_compile_s))

    header = f"{'compiler':<24} {'max|err|':>10} {'send bytes':>12} {'rounds':>7} {'run s':>7} {'compile s':>9}"
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r['name']:<24} {r['max_abs_err']:>10.2e} {r['send_bytes']:>12,} {r['rounds']:>7.1f} "
            f"{r['seconds']:>7.3f} {r['compile_seconds']:>9.3f}"
        )
    if len(rows) == 2:
        ours, spu = rows
        print(
            f"{'ditto / SPU':<24} {'':>10} {ours['send_bytes'] / spu['send_bytes']:>11.2f}x "
            f"{ours['rounds'] / spu['rounds']:>6.2f}x {ours['seconds'] / spu['seconds']:>6.2f}x"
        )
    if prog.cost.by_ring:
        parts = ", ".join(f"{k} {c.send_bytes:,}" for k, c in prog.cost.by_ring.items())
        print(f"\nditto-compiler bytes by ring: {parts}")
    print("\nsend bytes: all parties together; rounds: send actions per party (mean of 3); run s: slowest party")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"model": "transformer-block", "seq": args.seq, "hidden": args.hidden, "runs": rows}, f, indent=2)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ditto", description="Secure Transformer inference over 3-party MPC.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo", help="compile and securely run a small Transformer block on built-in weights")
    p.add_argument("--seq", type=int, default=16, help="sequence length (default 16)")
    p.add_argument("--hidden", type=int, default=64, help="hidden size (default 64)")
    p.add_argument("--heads", type=int, default=4, help="attention heads (default 4)")
    p.add_argument("--mlp", type=int, default=256, help="MLP width (default 256)")
    p.add_argument("--policy", default="fxp64", help="ring policy: fxp64 (default), ditto, auto or a JSON file")
    p.add_argument("--no-spu", action="store_true", help="skip the comparison with SPU's own compiler")
    p.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    p.set_defaults(handler=demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    for name in ("seq", "hidden", "heads", "mlp"):
        if getattr(args, name, 1) < 1:
            print(f"ditto: error: --{name} must be positive", file=sys.stderr)
            return 2
    try:
        return args.handler(args)
    except DittoError as e:
        print(f"ditto: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("ditto: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # a bug in ditto-compiler, not in the input
        print(f"ditto: internal error: {type(e).__name__}: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
