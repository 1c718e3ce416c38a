"""`ditto bench`: one model, the same weights and inputs, many ways of running it securely.

    puma             PUMA, the baseline of every ratio: SPU's compiler and runtime as PUMA's authors
                     configure them, with PUMA's GeLU and softmax (runtime/puma.py)
    puma-onehot      PUMA given one-hot token rows, as ditto-compiler's programs get them
    spu              SPU's own compiler with its defaults (as spu.utils.simulation.sim_jax compiles;
                     ABY3, FM64, 18 fraction bits): the naive reference
    fxp64            ditto-compiler, 64-bit ring, exact GeLU and Softmax
    fxp64-mpcformer  ditto-compiler, 64-bit ring, MPCFormer's Quad GeLU and 2Quad Softmax
    ditto-exact      ditto-compiler, mixed rings (policy ditto), exact functions
    fxp64-ditto      ditto-compiler, 64-bit ring, Ditto's approximations (what the rings alone save)
    ditto            ditto-compiler, mixed rings, Ditto's Quad GeLU and max-subtracted Softmax
    ditto-puma-gelu  ditto-compiler, mixed rings, PUMA's GeLU and Ditto's Softmax (accurate undistilled)
    optimal          ditto-compiler, every op in the ring of least modelled bytes, exact functions
    optimal-puma-gelu  the same with PUMA's GeLU and Ditto's Softmax
    optimal-fit      the same with the fitted GeLU and Softmax (relu-fit, exp-fit: more accurate than PUMA's)

All runs go through the same executor and links, so bytes and rounds are counted
the same way. Bytes and rounds are deterministic; seconds are the median of
`repeats` runs on this machine. Every run also gets a modelled time on the
paper's LAN (5 Gbps, 0.4 ms) and WAN (400 Mbps, 40 ms): the measured seconds plus
rounds x RTT plus the busiest party's bytes / bandwidth; `net` picks the one the
table shows.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import numpy as np
from jax.tree_util import tree_flatten, tree_leaves

from .diagnostics import DittoError
from .models.hf import CAUSAL_FAMILIES, ModelCase
from .network import NETWORKS
from .runtime.cost import Cost

RUNS: dict[str, dict[str, str] | None] = {
    "puma": None,
    "puma-onehot": None,
    "spu": None,
    "fxp64": {"policy": "fxp64"},
    "fxp64-mpcformer": {"policy": "fxp64", "gelu": "quad", "softmax": "2quad"},
    "ditto-exact": {"policy": "ditto"},
    "fxp64-ditto": {"policy": "fxp64", "gelu": "quad", "softmax": "ditto"},
    "ditto": {"policy": "ditto", "gelu": "quad", "softmax": "ditto"},
    "ditto-puma-gelu": {"policy": "ditto", "gelu": "puma", "softmax": "ditto"},
    "optimal": {"policy": "optimal"},
    "optimal-puma-gelu": {"policy": "optimal", "gelu": "puma", "softmax": "ditto"},
    "optimal-fit": {"policy": "optimal", "gelu": "relu-fit", "softmax": "exp-fit"},
}
DEFAULT_RUNS = ("puma", "spu", "fxp64", "fxp64-mpcformer", "ditto")
BASELINE = "puma"
"""The run every ratio is taken against."""

OP_CLASSES: dict[str, tuple[str, ...]] = {
    "matmul": ("pphlo.dot", "pphlo.dot_general"),
    "exp": ("pphlo.exponential",),
    "reciprocal/divide": ("pphlo.reciprocal", "pphlo.divide"),
    "rsqrt/sqrt": ("pphlo.rsqrt", "pphlo.sqrt"),
    "tanh/erf/logistic": ("pphlo.tanh", "pphlo.logistic", "pphlo.power"),
    "comparison/select": (
        "pphlo.less", "pphlo.less_equal", "pphlo.greater", "pphlo.greater_equal", "pphlo.equal",
        "pphlo.not_equal", "pphlo.maximum", "pphlo.minimum", "pphlo.clamp", "pphlo.select", "pphlo.abs",
    ),
    "multiply": ("pphlo.multiply",),
    "conversion protocols": ("ditto.conversion",),
}  # fmt: skip


def op_class(op: str) -> str:
    return next((name for name, ops in OP_CLASSES.items() if op in ops), "other")


def modelled_seconds(cost: Cost, net: str) -> float:
    """Measured seconds + rounds x RTT + the busiest party's bytes / bandwidth."""
    busiest = max((p.send_bytes for p in cost.parties), default=0)
    return NETWORKS[net].modelled_seconds(cost.seconds, cost.rounds, busiest)


@dataclass
class _Compiled:
    run: Callable[[str | None], tuple[list[np.ndarray], Cost]]
    """One secure run on the case's inputs (across an emulated network, if one is named): flat outputs and cost."""
    compile_seconds: float


def _spu(case: ModelCase, mode: str, name: str) -> _Compiled:
    """SPU's compiler: as PUMA configures it (`puma`) or with its defaults (`spu`)."""
    from .runtime.puma import compile_puma
    from .runtime.spu_baseline import compile_with_spu

    fn, args = case.forward, case.args
    if name == "puma-onehot":
        fn, args = _one_hot_tokens(case)
    plan, compile_seconds = (compile_with_spu if name == "spu" else compile_puma)(fn, *args)
    flat = [np.asarray(x) for x in tree_flatten(args)[0]]

    def run(network: str | None) -> tuple[list[np.ndarray], Cost]:
        from .runtime.executor import execute

        return execute(plan, flat, mode="processes" if mode == "processes" else "threads", network=network)

    return _Compiled(run, compile_seconds)


def _one_hot_tokens(case: ModelCase) -> tuple[Callable[..., Any], tuple[Any, ...]]:
    """The case's forward on one-hot token rows (which the data owner computes and shares) instead of ids."""
    from .runtime.puma import word_embeddings_from

    vocab = case.model.config.vocab_size
    one_hot = (case.ids[..., None] == np.arange(vocab)).astype(np.float32)
    placeholder = np.zeros_like(case.ids)  # only its shape is used

    def forward(params: Any, one_hot: Any, mask: Any) -> Any:
        with word_embeddings_from(one_hot):
            return case.forward(params, placeholder, mask)

    return forward, (case.params, one_hot, case.mask)


def _ours(case: ModelCase, options: dict[str, str], mode: str) -> _Compiled:
    from .program import compile as ditto_compile

    prog = ditto_compile(case.forward, *case.args, **options)

    def run(network: str | None) -> tuple[list[np.ndarray], Cost]:
        outputs = prog.run(*case.args, mode="processes" if mode == "processes" else "threads", network=network)
        return [np.asarray(x) for x in tree_leaves(outputs)], prog.cost

    return _Compiled(run, prog.compile_seconds)


def accuracy(case: ModelCase, got: np.ndarray, want: np.ndarray) -> dict[str, float]:
    got64, want64 = got.astype(np.float64).ravel(), want.astype(np.float64).ravel()
    diff = np.abs(got64 - want64)
    norms = np.linalg.norm(got64) * np.linalg.norm(want64)
    figures = {
        "max_abs_err": float(diff.max()),
        "mean_abs_err": float(diff.mean()),
        "cosine": float(got64 @ want64 / norms) if norms else 0.0,
    }
    if case.causal:
        real = case.mask[0].astype(bool)
        figures["next_token_agreement"] = float(np.mean((got[0].argmax(-1) == want[0].argmax(-1))[real]))
        figures["perplexity"] = perplexity(got, case.ids, case.mask)
    return figures


def perplexity(logits: np.ndarray, ids: np.ndarray, mask: np.ndarray) -> float:
    """exp of the mean cross-entropy of each real position's prediction of the next token (all rows)."""
    logits = logits.astype(np.float64)[:, :-1]
    targets, real = ids[:, 1:], mask[:, 1:].astype(bool)
    if not real.any():
        return float("nan")
    shifted = logits - logits.max(-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
    nll = -np.take_along_axis(log_probs, targets[..., None], axis=-1)[..., 0]
    return float(math.exp(nll[real].mean()))


def parse_runs(text: str) -> list[str]:
    """`--runs`: comma-separated run names, checked."""
    runs = [r.strip() for r in text.split(",") if r.strip()]
    if not runs:
        raise DittoError(f"--runs names no run: use {', '.join(RUNS)}")
    check_options(runs)
    return runs


def policy_run(path: str) -> str:
    """The run name of a policy file."""
    return f"policy:{Path(path).name}"


def check_options(
    runs: Sequence[str] = DEFAULT_RUNS,
    mode: str = "sim",
    net: str | None = None,
    repeats: int = 1,
    emulate: bool = False,
    policies: Sequence[str] = (),
) -> None:
    """The arguments of `run_benchmark`, checked before any model is built or compiled."""
    from .passes.policy_file import load_policy_file

    for path in policies:
        load_policy_file(path)
    if len({policy_run(p) for p in policies}) < len(policies):
        raise DittoError("--policy files must have different file names (they name the runs)")
    if isinstance(runs, str):
        raise DittoError(f"runs must be a sequence of run names, not the string {runs!r}")
    unknown = [r for r in runs if r not in RUNS]
    if unknown:
        raise DittoError(f"unknown run {unknown[0]!r}: use {', '.join(RUNS)}")
    if not runs:
        raise DittoError(f"no run to benchmark: use {', '.join(RUNS)}")
    if mode not in ("sim", "processes"):
        raise DittoError(f"--mode must be sim or processes, not {mode!r}")
    if net is not None and net not in NETWORKS:
        raise DittoError(f"--net must be lan or wan, not {net!r}")
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise DittoError(f"--repeats must be at least 1, not {repeats!r}")
    if emulate and (mode != "processes" or net is None):
        raise DittoError("--emulate needs --mode processes and --net lan|wan")


def run_benchmark(
    case: ModelCase,
    runs: Sequence[str] = DEFAULT_RUNS,
    mode: str = "sim",
    net: str | None = None,
    repeats: int = 1,
    progress: Any = None,
    emulate: bool = False,
    policies: Sequence[str] = (),
    after_each_run: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Run `case` every way in `runs`, then compiled with each policy file in `policies` (a run named
    `policy:FILE`, e.g. what `ditto tune` wrote); the figures as `ditto bench --json` writes them.
    `after_each_run` gets the report so far after every run (`ditto bench --json` saves it: an hour-long
    benchmark that is stopped keeps what it measured).

    With `emulate`, each run is also measured across the emulated network `net` (runtime/netem.py):
    its JSON gets `network` and `{net}_seconds_emulated` next to the modelled `{net}_seconds_model`.
    """
    check_options(runs, mode, net, repeats, emulate, policies)
    # The reference is the jitted function, the one that is exported and compiled. (Flax GPT-2-small's
    # op-by-op forward under jax 0.8.0 is not: two eager calls differed by 3.5 here, while jit agreed
    # with itself and with ditto-compiler's emulation to cosine 0.999997.)
    reference = jax.jit(case.forward)
    start = time.perf_counter()
    want = np.asarray(reference(*case.args), dtype=np.float32)
    plaintext_seconds = time.perf_counter() - start
    again = np.asarray(reference(*case.args), dtype=np.float32)
    if not np.array_equal(want, again):
        raise DittoError(
            f"the plaintext reference is not reproducible here (two runs differ by {np.abs(want - again).max():.3g}): "
            "JAX's multi-threaded CPU matmuls race; start again with XLA_FLAGS=--xla_cpu_multi_thread_eigen=false"
        )
    report: dict[str, Any] = {
        "model": case.name,
        "family": case.family,
        "seq": int(case.ids.shape[1]),
        "mode": mode,
        "net": net,
        "repeats": repeats,
        "emulated": emulate,
        "plaintext_seconds": plaintext_seconds,
        "runs": [],
    }
    if case.causal:
        report["plaintext_perplexity"] = perplexity(want, case.ids, case.mask)
    named = {name: RUNS[name] for name in runs} | {policy_run(path): {"policy": path} for path in policies}
    for name, options in named.items():
        if progress is not None:
            progress(f"{name}: compiling")
        try:
            compiled = _spu(case, mode, name) if options is None else _ours(case, options, mode)
            seconds, emulated = [], []
            for i in range(repeats):
                if progress is not None:
                    progress(f"{name}: secure run {i + 1}/{repeats}")
                outputs, cost = compiled.run(None)
                seconds.append(cost.seconds)
                if emulate:
                    if progress is not None:
                        progress(f"{name}: secure run {i + 1}/{repeats} across the emulated {net}")
                    emulated_outputs, emulated_cost = compiled.run(net)
                    emulated.append(emulated_cost.seconds)
                    if emulated_cost.send_bytes != cost.send_bytes:  # the emulation must not change the protocol
                        raise DittoError(f"{name}: the emulated network changed the bytes sent")
        except DittoError as e:
            report["runs"].append({"name": name, "error": str(e)})
            continue
        got = np.asarray(outputs[0], dtype=np.float32).reshape(want.shape)
        entry: dict[str, Any] = {
            "name": name,
            "send_bytes": cost.send_bytes,
            "rounds": cost.rounds,
            "seconds": statistics.median(seconds),
            "compile_seconds": compiled.compile_seconds,
            **accuracy(case, got, want),
            "bytes_by_ring": {k: c.send_bytes for k, c in cost.by_ring.items()} or {"64-bit": cost.send_bytes},
            "bytes_by_op_class": _by_class(cost),
            "top_ops": [
                {"op": op, "send_bytes": c.send_bytes, "send_actions": c.send_actions, "seconds": c.seconds}
                for op, c in list(cost.by_op.items())[:8]
            ],
        }
        for network in NETWORKS:  # both, whatever --net shows
            entry[f"{network}_seconds_model"] = modelled_seconds(cost, network)
        if emulate:
            assert net is not None
            entry["network"] = NETWORKS[net].as_json()
            entry[f"{net}_seconds_emulated"] = statistics.median(emulated)
        report["runs"].append(entry)
        if after_each_run is not None:
            _add_ratios(report)
            after_each_run(report)
    _add_ratios(report)
    return report


RATIO_FIELDS = ("send_bytes", "rounds", "seconds", "lan_seconds_model", "wan_seconds_model")


def _add_ratios(report: dict[str, Any]) -> None:
    """Each run's figures over PUMA's from the same run (`vs_puma`), when PUMA ran."""
    base = next((r for r in report["runs"] if r["name"] == BASELINE and "error" not in r), None)
    if base is None:
        return
    fields = [*RATIO_FIELDS, *([f"{report['net']}_seconds_emulated"] if report["emulated"] else [])]
    for run in report["runs"]:
        if "error" not in run:
            run[f"vs_{BASELINE}"] = {k: run[k] / base[k] if base[k] else None for k in fields}


def _by_class(cost: Cost) -> dict[str, int]:
    classes: dict[str, int] = {}
    for op, c in cost.by_op.items():
        classes[op_class(op)] = classes.get(op_class(op), 0) + c.send_bytes
    return dict(sorted(classes.items(), key=lambda kv: -kv[1]))


def format_table(report: dict[str, Any]) -> str:
    runs = [r for r in report["runs"] if "error" not in r]
    net = report["net"]
    gpt2 = report["family"] in CAUSAL_FAMILIES
    header = ["run", "send bytes", f"vs {BASELINE}", "rounds", f"vs {BASELINE}", "seconds"]
    header += [f"{net} s (model)", f"vs {BASELINE}"] if net else []
    emulated = report.get("emulated", False)
    header += [f"{net} s (emulated)", f"vs {BASELINE}"] if emulated else []
    header += ["max|err|", "mean|err|", "cosine"] + (["next-tok", "ppl"] if gpt2 else [])
    rows = []
    for r in runs:
        ratios = r.get(f"vs_{BASELINE}", {})

        def ratio(key: str, ratios: dict[str, Any] = ratios) -> str:
            return f"{ratios[key]:.2f}x" if ratios.get(key) is not None else "-"

        row = [r["name"], f"{r['send_bytes']:,}", ratio("send_bytes"), f"{r['rounds']:.0f}", ratio("rounds")]
        row += [f"{r['seconds']:.2f}"]
        row += [f"{r[f'{net}_seconds_model']:.2f}", ratio(f"{net}_seconds_model")] if net else []
        row += [f"{r[f'{net}_seconds_emulated']:.2f}", ratio(f"{net}_seconds_emulated")] if emulated else []
        row += [f"{r['max_abs_err']:.2e}", f"{r['mean_abs_err']:.2e}", f"{r['cosine']:.5f}"]
        row += [f"{r['next_token_agreement']:.2f}", f"{r['perplexity']:.2f}"] if gpt2 else []
        rows.append(row)
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(header)]
    lines = [
        f"{report['model']}, sequence {report['seq']}, mode {report['mode']}"
        + (f", plaintext perplexity {report['plaintext_perplexity']:.2f}" if gpt2 else ""),
        "  ".join(h.rjust(w) if i else h.ljust(w) for i, (h, w) in enumerate(zip(header, widths))),
    ]
    for row in rows:
        lines.append("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))))
    for r in report["runs"]:
        if "error" in r:
            lines.append(f"{r['name']}: failed: {r['error']}")
    named = {r["name"]: r for r in runs}
    if "ditto" in named:
        parts = ", ".join(f"{k} {v:,}" for k, v in named["ditto"]["bytes_by_ring"].items())
        lines.append(f"ditto bytes by ring: {parts}")
    lines.append(
        f"send bytes: all parties; rounds: send actions per party; seconds: slowest party, median; "
        f"ratios against {BASELINE} in this run"
    )
    return "\n".join(lines)


def plot(report: dict[str, Any], path: str) -> None:
    """A PNG: each run's bytes, split by ring (left) and by op class (right)."""
    plt = pyplot()
    runs = [r for r in report["runs"] if "error" not in r]
    if not runs:
        raise DittoError("no successful run to plot")
    names = [r["name"] for r in runs]
    figure, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    for ax, key, title in ((axes[0], "bytes_by_ring", "by ring"), (axes[1], "bytes_by_op_class", "by op class")):
        parts = list(dict.fromkeys(k for r in runs for k in r[key]))
        bottom = np.zeros(len(runs))
        for part in parts:
            heights = np.array([r[key].get(part, 0) / 1e6 for r in runs])
            ax.bar(names, heights, bottom=bottom, label=part)
            bottom += heights
        ax.set_title(f"{report['model']}: MB sent {title}", fontsize=9)
        ax.tick_params(axis="x", labelrotation=20)
        ax.legend(fontsize=7)
    axes[0].set_ylabel("MB sent (all parties)")
    save_figure(figure, path)


def pyplot() -> Any:
    """matplotlib's pyplot, drawing to files only; a DittoError when the bench extra is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise DittoError("--plot needs matplotlib: pip install 'ditto-compiler[bench]'") from None
    return plt


def save_figure(figure: Any, path: str | Path) -> None:
    """Write a matplotlib figure as PNG and close it; an unwritable path is a DittoError."""
    plt = pyplot()
    figure.tight_layout()
    try:
        figure.savefig(path, dpi=120)
    except OSError as e:
        raise DittoError(f"cannot write {path}: {e}") from None
    finally:
        plt.close(figure)
