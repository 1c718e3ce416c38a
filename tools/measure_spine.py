"""Compile time and secure-run cost of ditto-compiler vs SPU's own JAX frontend.

Both compilers' PPHLO runs on the same 3-party ABY3 runtime (FM64, 18 fraction
bits, all inputs secret), so bytes and send actions are counted by the same links.

    python tools/measure_spine.py [--repeats 3] [--json FILE] [--profile-top 6]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import jax  # noqa: E402
import numpy as np  # noqa: E402
from jax.tree_util import tree_flatten  # noqa: E402
from spu import version as spu_version  # noqa: E402

import ditto_compiler  # noqa: E402
from ditto_compiler.models.transformer_block import demo_input, init_block, transformer_block  # noqa: E402
from ditto_compiler.runtime.executor import execute  # noqa: E402


def demo_case():
    params, x = init_block(64, 256, seed=0), demo_input(16, 64, seed=1)
    return "demo block (seq 16, hidden 64, 4 heads)", (lambda p, x: transformer_block(p, x, heads=4)), (params, x)


def bert_case(hidden, heads, intermediate, seq, vocab=1000, layers=2):
    import transformers

    config = transformers.BertConfig(
        vocab_size=vocab,
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=intermediate,
        max_position_embeddings=max(seq, 16),
    )
    model = transformers.FlaxBertModel(config, seed=0)
    rng = np.random.default_rng(2)
    ids = rng.integers(0, vocab, size=(1, seq), dtype=np.int32)
    mask = np.ones((1, seq), np.int32)

    def bert(params, ids, mask):
        return model(ids, attention_mask=mask, params=params).last_hidden_state

    name = f"{layers}-layer BERT (hidden {hidden}, {heads} heads, seq {seq}, vocab {vocab})"
    return name, bert, (model.params, ids, mask)


def gpt2_case(hidden, heads, seq, vocab=1000):
    import transformers

    config = transformers.GPT2Config(vocab_size=vocab, n_embd=hidden, n_layer=2, n_head=heads, n_positions=max(seq, 16))
    model = transformers.FlaxGPT2LMHeadModel(config, seed=0)
    ids = np.random.default_rng(3).integers(0, vocab, size=(1, seq), dtype=np.int32)

    def gpt2(params, ids):
        return model(ids, params=params).logits

    return f"2-layer GPT-2 (hidden {hidden}, {heads} heads, seq {seq}, vocab {vocab})", gpt2, (model.params, ids)


def spu_compile(fn, args):
    from ditto_compiler.runtime.spu_baseline import compile_with_spu

    return compile_with_spu(fn, *args)


def ours_compile(fn, args):
    prog = ditto_compiler.compile(fn, *args)
    return prog.plan, prog.compile_seconds


def measure(label, compile_fn, fn, args, repeats, top):
    try:
        return _measure(label, compile_fn, fn, args, repeats, top)
    except (ditto_compiler.DittoError, RuntimeError) as e:  # a compiler that cannot handle the case is a result
        return {"compiler": label, "failed": str(e).splitlines()[0]}


def _measure(label, compile_fn, fn, args, repeats, top):
    plan, compile_s = compile_fn(fn, args)
    flat = plan.encode_inputs([np.asarray(a) for a in tree_flatten(args)[0]])
    reference = [np.asarray(r) for r in tree_flatten(fn(*args))[0]]
    times = []
    for _ in range(repeats):
        outputs, cost = execute(plan, flat)
        times.append(cost.seconds)
    ops = cost.by_op
    err = max(float(np.abs(o - r).max()) for o, r in zip(outputs, reference))
    return {
        "compiler": label,
        "compile_seconds": compile_s,
        "send_bytes": cost.send_bytes,
        "send_actions": cost.send_actions,
        "rounds": cost.rounds,
        "seconds_median": statistics.median(times),
        "max_abs_err": err,
        "top_ops": [(name, c.send_bytes, c.send_actions) for name, c in list(ops.items())[:top]],
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--profile-top", type=int, default=6)
    parser.add_argument("--json")
    args = parser.parse_args(argv)

    cases = [demo_case(), bert_case(32, 2, 64, 8, vocab=64), bert_case(128, 4, 512, 32), gpt2_case(128, 4, 32)]
    results = []
    print(f"spu {spu_version.__version__}, jax {jax.__version__}; {os.cpu_count()} cores; repeats {args.repeats}\n")
    for name, fn, fn_args in cases:
        ours = measure("ditto-compiler", ours_compile, fn, fn_args, args.repeats, args.profile_top)
        spu = measure("SPU compiler", spu_compile, fn, fn_args, args.repeats, args.profile_top)
        results.append({"case": name, "runs": [ours, spu]})
        print(f"## {name}\n")
        print("| compiler | compile s | send bytes | send actions | rounds/party | run s (median) | max abs err |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for r in (ours, spu):
            if "failed" in r:
                print(f"| {r['compiler']} | failed: {r['failed']} | | | | | |")
                continue
            print(
                f"| {r['compiler']} | {r['compile_seconds']:.3f} | {r['send_bytes']:,} | {r['send_actions']:,} | "
                f"{r['rounds']:.1f} | {r['seconds_median']:.3f} | {r['max_abs_err']:.2e} |"
            )
        if "failed" not in ours and "failed" not in spu:
            print(
                f"| ratio | | {ours['send_bytes'] / spu['send_bytes']:.2f}x "
                f"| {ours['send_actions'] / spu['send_actions']:.2f}x | "
                f"| {ours['seconds_median'] / spu['seconds_median']:.2f}x | |"
            )
        print()
        for r in (ours, spu):
            if "failed" in r:
                continue
            tops = ", ".join(f"{n.removeprefix('pphlo.')} {b / 1e6:.2f} MB/{a}" for n, b, a in r["top_ops"])
            print(f"- {r['compiler']} top ops (bytes/send actions, all parties): {tops}")
        print()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
