"""Private generation, measured (docs/benchmarks.md, "Private generation").

    python tools/generation_check.py exact [--prompts 5] [--tokens 16]
        tiny random LLaMA and GPT-2: secure greedy tokens (fxp64, KV cache in the parties) against plaintext
    python tools/generation_check.py smollm2 [--prompts 5] [--tokens 16] [--policy FILE]
        the real SmolLM2-135M-Instruct on instruction prompts (chat template): the same, with per-step cost
    python tools/generation_check.py cost --model llama --config smollm2 [--context 64] [--max-len 80] [--policy ...]
        one decode step at a context of N tokens against recomputing the whole sequence (SPU's example), same
        tokens, compiled by ditto-compiler and by SPU as PUMA configures it (`puma`, the anchor)

    python tools/generation_check.py policies [--seq 64] [--windows 4] [--settings a,b,...] [--secure N]
        SmolLM2 under ring policies and approximations, emulated (bit-exact ring arithmetic, which secure execution
        equals within a few LSB): next-token agreement with plaintext and perplexity on held-out windows, and the
        modelled bytes and rounds of the whole forward pass; a setting that overflows its ring is named. `--secure N`
        also runs the first N windows through MPC (threads) and prints both scores on them
    python tools/generation_check.py heldout [--seq 128]
        SmolLM2's plaintext perplexity on the held-out text (the eval split of the corpus `ditto distill` and
        `ditto tune` use), in windows of --seq tokens; prints the first window's text (for `ditto bench --text`)

Every figure except `heldout`'s and `policies`' emulated scores comes from a secure run (threads mode: bytes and
rounds exact, seconds on this machine). A calibrated policy (base `optimal`) calibrates on the corpus's train split.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time

import numpy as np

from ditto_compiler.generate import compile_generator
from ditto_compiler.models.hf import gpt2_case, positions_bounded
from ditto_compiler.models.llama import llama_case


def exact(args: argparse.Namespace) -> dict:
    rng = np.random.default_rng(args.seed)
    results = {}
    for family, case in (("llama", llama_case("tiny", 8)), ("gpt2", gpt2_case("tiny", 8))):
        generator = compile_generator(case.model, case.params, max_len=args.prompt_len + args.tokens)
        vocab = case.model.config.vocab_size
        agree = []
        for p in range(args.prompts):
            prompt = rng.integers(0, vocab, args.prompt_len)
            got = [s.token for s in generator.generate(prompt, args.tokens)]
            want = generator.plaintext(prompt, args.tokens)
            agree.append(got == want)
            print(f"{family} prompt {p}: {'exact' if got == want else 'DIFFERENT'} {got}", flush=True)
        results[family] = {"prompts": args.prompts, "tokens": args.tokens, "exact": sum(agree)}
    return results


PROMPTS = (
    "What is the capital of France? Answer in one sentence.",
    "Name three primary colors.",
    "Write a haiku about the sea.",
    "What is 12 times 7?",
    "Give one tip for staying focused while studying.",
)


def _tokens(case, texts: list[str]) -> np.ndarray:
    """The token ids of `texts`, joined by spaces."""
    return np.asarray(case.tokenizer(" ".join(texts))["input_ids"], np.int32)


def _calibration(case, policy: str, max_len: int) -> np.ndarray | None:
    """For a calibrated policy: the first max_len - 1 tokens of the corpus's train split (never the prompts)."""
    from ditto_compiler.distill.data import load_corpus
    from ditto_compiler.generate import calibrated_policy

    return _tokens(case, load_corpus().train)[: max_len - 1] if calibrated_policy(policy) else None


def _summary(scored: list[tuple[float, float]]) -> tuple[float, float]:
    """(perplexity, next-token agreement) over windows scored as (mean NLL, agreement)."""
    return float(np.exp(np.mean([nll for nll, _ in scored]))), float(np.mean([agree for _, agree in scored]))


def smollm2(args: argparse.Namespace) -> dict:
    case = llama_case("smollm2", 1)
    prompts = [
        case.tokenizer.apply_chat_template([{"role": "user", "content": p}], add_generation_prompt=True)
        for p in PROMPTS[: args.prompts]
    ]
    max_len = max(map(len, prompts)) + args.tokens
    calibration = _calibration(case, args.policy, max_len)
    generator = compile_generator(case.model, case.params, max_len, calibration, policy=args.policy)
    results = []
    for text, prompt in zip(PROMPTS, prompts):
        want = generator.plaintext(np.asarray(prompt), args.tokens)
        steps = list(generator.generate(np.asarray(prompt), args.tokens))
        got = [s.token for s in steps]
        exact_prefix = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
        result = {
            "prompt": text, "prompt_tokens": len(prompt), "secure": case.tokenizer.decode(got),
            "plaintext": case.tokenizer.decode(want), "exact": got == want[: len(got)], "agreeing_prefix": exact_prefix,
            "steps": [{"program": s.program, "send_bytes": s.cost.send_bytes, "rounds": s.cost.rounds,
                       "seconds": s.seconds} for s in steps],
        }  # fmt: skip
        results.append(result)
        decode = [s for s in result["steps"] if s["program"] == "decode"]
        print(f"{text!r} ({len(prompt)} tokens): {'exact' if result['exact'] else 'DIFFERENT'}\n"
              f"  secure:    {result['secure']!r}\n  plaintext: {result['plaintext']!r}\n"
              f"  prefill {result['steps'][0]['send_bytes']:,} B {result['steps'][0]['seconds']:.1f} s; decode median "
              f"{np.median([d['send_bytes'] for d in decode]):,.0f} B "
              f"{np.median([d['seconds'] for d in decode]):.2f} s", flush=True)  # fmt: skip
    return {"model": case.name, "policy": args.policy, "tokens": args.tokens, "prompts": results,
            "exact": sum(r["exact"] for r in results)}  # fmt: skip


def cost(args: argparse.Namespace) -> dict:
    case = (llama_case if args.model == "llama" else gpt2_case)(args.config, args.context)
    options = {"policy": args.policy} | ({"silu": args.silu} if args.silu else {})
    start = time.perf_counter()
    calibration = _calibration(case, args.policy, args.max_len)
    generator = compile_generator(case.model, case.params, args.max_len, calibration, **options)
    prompt = case.ids[0, : args.context - 1]
    steps = generator.generate(prompt, 2)
    first = next(steps)
    print(f"prefill of {prompt.size} tokens: {first.cost.send_bytes:,} B, {first.seconds:.1f} s", flush=True)
    decode = next(steps)  # fed the context's last token: the step at a context of args.context tokens
    print(f"decode at context {args.context}: {decode.cost.send_bytes:,} B, {decode.cost.rounds:.0f} rounds, "
          f"{decode.seconds:.2f} s", flush=True)  # fmt: skip
    sequence = [*prompt, first.token]
    compiled = time.perf_counter()
    baseline = generator.recompute(sequence)
    print(f"recompute over {len(sequence)} tokens: {baseline.cost.send_bytes:,} B, {baseline.cost.rounds:.0f} rounds, "
          f"{baseline.seconds:.2f} s; same token: {baseline.token == decode.token}", flush=True)  # fmt: skip
    result = {
        "model": case.name, "policy": options, "context": args.context, "max_len": args.max_len,
        "decode": {"send_bytes": decode.cost.send_bytes, "rounds": decode.cost.rounds, "seconds": decode.seconds},
        "recompute": {"send_bytes": baseline.cost.send_bytes, "rounds": baseline.cost.rounds,
                      "seconds": baseline.seconds},
        "bytes_ratio": decode.cost.send_bytes / baseline.cost.send_bytes,
        "seconds_ratio": decode.seconds / baseline.seconds,
        "same_token": baseline.token == decode.token,
        "compile_seconds": compiled - start,
    }  # fmt: skip
    print(f"decode / recompute: bytes {result['bytes_ratio']:.4f}, seconds {result['seconds_ratio']:.3f}")
    if args.puma:
        generator.close()  # PUMA's run holds its own shares of the weights
        result["puma"] = puma_recompute(case, sequence)
        result["decode_vs_puma"] = {
            "bytes": decode.cost.send_bytes / result["puma"]["send_bytes"],
            "seconds": decode.seconds / result["puma"]["seconds"],
        }
        print(f"decode / puma: bytes {result['decode_vs_puma']['bytes']:.4f}, "
              f"seconds {result['decode_vs_puma']['seconds']:.3f}", flush=True)  # fmt: skip
    return result


def puma_recompute(case, sequence: list[int]) -> dict:
    """PUMA's token: SPU's compiler with PUMA's settings over the whole sequence, the same argmax."""
    from jax.tree_util import tree_leaves

    from ditto_compiler.generate import secure_argmax
    from ditto_compiler.runtime.executor import execute
    from ditto_compiler.runtime.puma import compile_puma

    model = positions_bounded(case.model, case.params, len(sequence))  # as ours: no 8192^2 public mask

    def next_token(params, ids):
        return secure_argmax(model(ids, params=params).logits[0, -1])

    ids = np.asarray([sequence], np.int32)
    plan, _ = compile_puma(next_token, case.params, ids)
    start = time.perf_counter()
    outputs, spent = execute(plan, [*(np.asarray(x) for x in tree_leaves(case.params)), ids])
    seconds = time.perf_counter() - start
    token = int(np.asarray(outputs[0]))
    print(f"puma over {len(sequence)} tokens: {spent.send_bytes:,} B, {spent.rounds:.0f} rounds, {seconds:.2f} s; "
          f"token {token}", flush=True)  # fmt: skip
    return {"send_bytes": spent.send_bytes, "rounds": spent.rounds, "seconds": seconds, "token": token}


def _policy_file(folder: str, name: str) -> str:
    """The policy file of setting `name` (POLICY_SETTINGS), written into `folder`."""
    from ditto_compiler.passes.policy_file import Approximations, PolicyFile
    from ditto_compiler.ring import RingConfig

    base, small, approximations = POLICY_SETTINGS[name]
    path = f"{folder}/{name}.json"
    PolicyFile(base=base, small=RingConfig(*small), large=RingConfig(64, 16),
               approximations=Approximations(**approximations)).save(path)  # fmt: skip
    return path


POLICY_SETTINGS = {
    # name: (policy base, small ring, approximations); the large ring is (64, 16) throughout: SmolLM2's squared
    # massive activation overflows 18 fraction bits (docs/generation.md)
    "fxp64-f16": ("fxp64", (64, 16), {}),
    "ditto-f16": ("ditto", (32, 10), {}),
    "optimal-f16": ("optimal", (32, 10), {}),
    "optimal-f16-s12": ("optimal", (32, 12), {}),
    "optimal-f16-silu-fit": ("optimal", (32, 10), {"silu": "relu-fit"}),
    "optimal-f16-s12-silu-fit": ("optimal", (32, 12), {"silu": "relu-fit"}),
    "optimal-f16-fit": ("optimal", (32, 10), {"silu": "relu-fit", "softmax": "exp-fit"}),
}


def policies(args: argparse.Namespace) -> dict:
    import jax

    from ditto_compiler import compile as ditto_compile
    from ditto_compiler.cost_model import CostModel
    from ditto_compiler.diagnostics import DittoError
    from ditto_compiler.distill.data import load_corpus

    case = llama_case("smollm2", args.seq)
    corpus = load_corpus()

    def windows(texts: list[str], count: int) -> np.ndarray:
        return _tokens(case, texts)[: count * args.seq].reshape(count, 1, args.seq)

    evaluation, (calibration,) = windows(corpus.eval, args.windows), windows(corpus.train, 1)
    mask = np.ones((1, args.seq), np.int32)
    plain = jax.jit(case.forward)
    model = CostModel.load()

    def scores(logits: np.ndarray, ids: np.ndarray, want: np.ndarray) -> tuple[float, float]:
        logits = np.asarray(logits, np.float64)[0, :-1]
        log_probs = logits - logits.max(-1, keepdims=True)
        log_probs -= np.log(np.exp(log_probs).sum(-1, keepdims=True))
        nll = -np.take_along_axis(log_probs, ids[0, 1:, None], -1).mean()
        return float(nll), float(np.mean(logits.argmax(-1) == np.asarray(want)[0, :-1].argmax(-1)))

    wants = [np.asarray(plain(case.params, w, mask)) for w in evaluation]
    reference = [scores(want, w, want) for w, want in zip(evaluation, wants)]
    perplexity, _ = _summary(reference)
    results = {"model": case.name, "seq": args.seq, "windows": args.windows, "plaintext_perplexity": perplexity}
    results["settings"] = {}
    print(f"plaintext: perplexity {perplexity:.2f} on {args.windows} x {args.seq} tokens", flush=True)
    folder = tempfile.mkdtemp()
    for name in args.settings.split(","):
        began = time.perf_counter()
        prog = ditto_compile(case.forward, case.params, evaluation[0], mask, policy=_policy_file(folder, name),
                             calibration=(case.params, calibration, mask) if POLICY_SETTINGS[name][0] == "optimal"
                             else None)  # fmt: skip
        estimate = model.plan(prog.plan)
        entry: dict = {"send_bytes": estimate.send_bytes, "rounds": estimate.rounds,
                       "compile_s": round(time.perf_counter() - began, 1)}  # fmt: skip
        try:
            got = [scores(prog.emulate(case.params, w, mask), w, want) for w, want in zip(evaluation, wants)]
        except DittoError as e:
            entry["overflow"] = str(e)
            print(f"{name}: {estimate.send_bytes:,.0f} B, {estimate.rounds:,.0f} rounds; OVERFLOWS: {e}", flush=True)
        else:
            entry["perplexity"], entry["next_token_agreement"] = _summary(got)
            print(f"{name}: {estimate.send_bytes:,.0f} B, {estimate.rounds:,.0f} rounds (modelled); perplexity "
                  f"{entry['perplexity']:.2f}, next-token agreement {entry['next_token_agreement']:.4f}",
                  flush=True)  # fmt: skip
            if args.secure:  # the first windows again, through MPC, next to the emulator's scores of the same windows
                secure = [scores(prog.run(case.params, w, mask), w, want) for w, want in
                          zip(evaluation[: args.secure], wants)]  # fmt: skip
                (perplexity, agreement), (emulated, emulated_agreement) = _summary(secure), _summary(got[: args.secure])
                entry["secure"] = {
                    "windows": args.secure, "send_bytes": prog.cost.send_bytes, "rounds": prog.cost.rounds,
                    "seconds": prog.cost.seconds, "perplexity": perplexity, "next_token_agreement": agreement,
                    "emulated_perplexity": emulated, "emulated_next_token_agreement": emulated_agreement,
                }  # fmt: skip
                print(f"{name} through MPC on {args.secure} window(s): {prog.cost.send_bytes:,} B, "
                      f"{prog.cost.rounds:,.0f} rounds, {prog.cost.seconds:.1f} s (last window); perplexity "
                      f"{entry['secure']['perplexity']:.2f}, agreement {entry['secure']['next_token_agreement']:.4f} "
                      f"(emulated on the same: {entry['secure']['emulated_perplexity']:.2f}, "
                      f"{entry['secure']['emulated_next_token_agreement']:.4f})", flush=True)  # fmt: skip
        results["settings"][name] = entry
    shutil.rmtree(folder)
    return results


def heldout(args: argparse.Namespace) -> dict:
    import jax
    import jax.numpy as jnp

    from ditto_compiler.distill.data import load_corpus

    case = llama_case("smollm2", args.seq)
    text = " ".join(load_corpus().eval)
    ids = np.asarray(case.tokenizer(text)["input_ids"], np.int32)
    windows = ids[: ids.size // args.seq * args.seq].reshape(-1, args.seq)

    @jax.jit
    def nll(params, window):
        logits = case.model(window[None, :], params=params).logits[0, :-1]
        return -jnp.take_along_axis(jax.nn.log_softmax(logits), window[1:, None], axis=-1).mean()

    losses = [float(nll(case.params, w)) for w in windows]
    result = {
        "model": case.name, "tokens": int(windows.size), "windows": len(windows), "seq": args.seq,
        "perplexity": float(np.exp(np.mean(losses))), "first_window_perplexity": float(np.exp(losses[0])),
        "first_window_text": case.tokenizer.decode(windows[0]),
    }  # fmt: skip
    print(f"{result['windows']} windows of {args.seq} tokens: perplexity {result['perplexity']:.2f} "
          f"(first window {result['first_window_perplexity']:.2f})")  # fmt: skip
    print(f"first window: {result['first_window_text']!r}")
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="check", required=True)
    p = sub.add_parser("exact")
    p.add_argument("--prompts", type=int, default=5)
    p.add_argument("--tokens", type=int, default=16)
    p.add_argument("--prompt-len", type=int, default=6)
    p.add_argument("--seed", type=int, default=0)
    p = sub.add_parser("smollm2")
    p.add_argument("--prompts", type=int, default=5, choices=range(1, len(PROMPTS) + 1))
    p.add_argument("--tokens", type=int, default=16)
    p.add_argument("--policy", default="fxp64")
    p = sub.add_parser("cost")
    p.add_argument("--model", choices=("llama", "gpt2"), default="llama")
    p.add_argument("--config", default="tiny")
    p.add_argument("--context", type=int, default=64)
    p.add_argument("--max-len", type=int, default=80)
    p.add_argument("--policy", default="fxp64")
    p.add_argument("--silu", choices=("exact", "relu-fit"))
    p.add_argument("--puma", action="store_true", help="also PUMA's recompute of the same sequence")
    p = sub.add_parser("policies")
    p.add_argument("--seq", type=int, default=64)
    p.add_argument("--windows", type=int, default=4)
    p.add_argument("--settings", default=",".join(POLICY_SETTINGS))
    p.add_argument("--secure", type=int, default=0, metavar="N", help="also run the first N windows through MPC")
    p = sub.add_parser("heldout")
    p.add_argument("--seq", type=int, default=128)
    for p in sub.choices.values():
        p.add_argument("--json", metavar="FILE")
    args = parser.parse_args()
    checks = {"exact": exact, "smollm2": smollm2, "cost": cost, "policies": policies, "heldout": heldout}
    result = checks[args.check](args)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
