"""`ditto tune`: the cheapest program that meets an accuracy target, as a policy file.

The search space, per recognised function (each GeLU and Softmax, by its location):
GeLU exact | puma | quad | relu-fit, Softmax exact | ditto | 2quad | exp-fit; and for the whole program
the small ring's fraction bits. Every configuration's rings are the cost-optimal
cut (`optimal`, passes/optimal_rings.py) made on the calibration inputs, so rings,
LayerNorms and matmuls are placed inside the loop by the min-cut, not searched.
Cost is the measured model's (cost_model.py) in the chosen objective; accuracy is
the emulator's (bit-exact fixed point, emulator.py) against plaintext JAX on the
calibration inputs, the worst input counting. No MPC runs in the loop.

The search is a Lagrangian relaxation of the multiple-choice knapsack
"minimise cost(c) subject to error(c) <= 1 - target":
1. *Screen*: each function's each alternative alone (the rest exact, rings
   `fxp64` so compiles are fast and costs add up exactly), on the first
   calibration input: its cost change and its error e = 1 - score.
2. *Relax*: errors of independent perturbations add (1 - cosine is quadratic in
   a perturbation, and independent ones add in quadrature), so a configuration's
   predicted error is e(base) + the sum of its choices' extra error. For each
   multiplier lambda, each function takes the choice minimising cost + lambda x
   error; sweeping lambda over every breakpoint gives the lower convex hull of
   (predicted cost, predicted error).
3. *Verify*: the hull's configurations predicted to meet the target, cheapest
   first, are compiled with optimal rings and emulated on every calibration
   input until one meets the target (or `max_verifications` are spent); then the
   cheaper hull point next to it, in case the prediction was pessimistic, and the
   winner with other small-ring fraction bits. If other bits win, the cheaper
   points that missed the target are verified again with those bits, cheapest
   first (fraction bits and approximations interact: an approximation run
   wholly in the small ring may need one more bit).
Every verified configuration is a point of the report's Pareto front.
"""

from __future__ import annotations

import contextlib
import math
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .diagnostics import DittoError
from .passes.approximate_nonlinear import Site
from .passes.optimal_rings import OBJECTIVES, scalar
from .passes.policy_file import MODES, ApproximationRule, Approximations, PolicyFile
from .ring import RingConfig

METRICS = ("cosine", "next-token", "perplexity")
SMALL_FRACTION_BITS = (8, 10, 12)
LARGE = RingConfig(64, 18)


def cosine(got: np.ndarray, want: np.ndarray, inputs: Sequence[Any]) -> float:
    a, b = got.astype(np.float64).ravel(), want.astype(np.float64).ravel()
    norms = np.linalg.norm(a) * np.linalg.norm(b)
    return float(a @ b / norms) if norms else 0.0


def _real_positions(inputs: Sequence[Any], shape: tuple[int, ...]) -> np.ndarray:
    mask = np.asarray(inputs[-1]) if len(inputs) >= 3 else np.ones(shape[:-1])
    return mask.astype(bool).reshape(shape[:-1])


def next_token(got: np.ndarray, want: np.ndarray, inputs: Sequence[Any]) -> float:
    """Agreement of the predicted next token at real positions (logits' last axis; inputs (params, ids, mask))."""
    real = _real_positions(inputs, got.shape)
    return float(np.mean((got.argmax(-1) == want.argmax(-1))[real]))


def perplexity_ratio(got: np.ndarray, want: np.ndarray, inputs: Sequence[Any]) -> float:
    """plaintext perplexity / this program's (1 when equal; inputs (params, ids, mask))."""
    from .bench import perplexity

    ids, mask = np.asarray(inputs[1]), np.asarray(inputs[2])
    return float(perplexity(want, ids, mask) / perplexity(got, ids, mask))


SCORES: dict[str, Callable[[np.ndarray, np.ndarray, Sequence[Any]], float]] = {
    "cosine": cosine,
    "next-token": next_token,
    "perplexity": perplexity_ratio,
}


@dataclass(frozen=True)
class Config:
    modes: tuple[str, ...]
    """One mode per site."""
    small_fraction_bits: int = 10


@dataclass
class Evaluation:
    config: Config
    rings: str
    """"optimal" (verified) or "fxp64" (screened)."""
    send_bytes: float
    rounds: float
    cost: float
    """In the objective's unit."""
    score: float
    scores: list[float]
    seconds: float
    predicted_cost: float | None = None
    predicted_score: float | None = None

    def as_json(self, sites: Sequence[Site]) -> dict[str, Any]:
        return {
            "rings": self.rings,
            "small_ring": [32, self.config.small_fraction_bits] if self.rings == "optimal" else None,
            "choices": {f"{s.function} {s.name}": m for s, m in zip(sites, self.config.modes) if m != "exact"},
            "send_bytes": self.send_bytes,
            "rounds": self.rounds,
            "cost": self.cost,
            "score": self.score,
            "scores": self.scores,
            "predicted_cost": self.predicted_cost,
            "predicted_score": self.predicted_score,
            "seconds": self.seconds,
        }


@dataclass
class Tuned:
    """What `tune` found: the policy (write it with `policy.save`), whether it meets the target, the report."""

    policy: PolicyFile
    target_met: bool
    chosen: Evaluation
    report: dict[str, Any] = field(default_factory=dict)


def find_sites(fn: Callable[..., Any], example_args: tuple[Any, ...]) -> list[Site]:
    """The recognised GeLUs and Softmaxes of `fn` at these arguments, one per op name, in program order."""
    from .frontend.importer import parse_module
    from .frontend.jax_export import export_stablehlo
    from .passes.approximate_nonlinear import sites
    from .passes.inline_private_functions import InlinePrivateFunctionsPass
    from .pipeline import apply_passes

    stablehlo, _ = export_stablehlo(fn, example_args, None)
    module = parse_module(stablehlo, "<jax>")
    apply_passes(module, [InlinePrivateFunctionsPass()])
    found: dict[tuple[str, str], Site] = {}
    for site in sites(module):  # one per op name: a policy rule cannot tell same-named ops apart
        found.setdefault((site.function, site.name), site)
    return list(found.values())


def policy_for(
    sites: Sequence[Site], config: Config, rings: str, objective: str, tuned: Any = None, large: RingConfig = LARGE
) -> PolicyFile:
    """The policy file of one configuration: its approximations by location, its rings."""
    rules = tuple(
        ApproximationRule(s.pattern, **{s.function: mode}) for s, mode in zip(sites, config.modes) if mode != "exact"
    )
    small = RingConfig(32, config.small_fraction_bits) if rings == "optimal" else large
    return PolicyFile(
        base=rings, small=small, large=large, objective=objective, approximations=Approximations(rules=rules),
        tuned=tuned or {},
    )  # fmt: skip


def _check(
    target: Any, metric: Any, objective: Any, calibration: Any, fraction_bits: Any, budget: Any, safety: Any,
    front: Any,
) -> None:  # fmt: skip
    if isinstance(target, bool) or not isinstance(target, (int, float)) or not 0 < target <= 1:
        raise DittoError(f"target must be a number in (0, 1], not {target!r}")
    if not callable(metric) and metric not in METRICS:
        raise DittoError(f"metric must be one of {', '.join(METRICS)} or a function, not {metric!r}")
    if objective not in OBJECTIVES:
        raise DittoError(f"objective must be one of {', '.join(OBJECTIVES)}, not {objective!r}")
    if not isinstance(calibration, (list, tuple)) or not calibration:
        raise DittoError("tune needs at least one calibration input (a tuple of arguments like the example's)")
    if not fraction_bits or any(
        isinstance(f, bool) or not isinstance(f, int) or not 4 <= f <= 26 for f in fraction_bits
    ):
        raise DittoError(f"small-ring fraction bits must be integers in [4, 26], not {fraction_bits!r}")
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
        raise DittoError(f"max_verifications must be a positive integer, not {budget!r}")
    if isinstance(safety, bool) or not isinstance(safety, (int, float)) or not 0 <= safety < 1:
        raise DittoError(f"safety must be a number in [0, 1), not {safety!r}")
    if isinstance(front, bool) or not isinstance(front, int) or front < 0:
        raise DittoError(f"front must be a non-negative integer, not {front!r}")


class _Search:
    def __init__(self, fn, example_args, calibration, score, objective, workdir, bar, large):  # noqa: ANN001
        import jax

        from .cost_model import CostModel

        self.fn, self.example_args, self.calibration = fn, example_args, [tuple(c) for c in calibration]
        self.score, self.objective, self.workdir, self.bar, self.large = score, objective, workdir, bar, large
        self.model = CostModel.load()
        reference = jax.jit(fn)
        self.wants = [self._flat(reference(*inputs)) for inputs in self.calibration]
        self.evaluations: list[Evaluation] = []
        self.cache: dict[tuple[Config, str, int], Evaluation] = {}

    @staticmethod
    def _flat(outputs: Any) -> np.ndarray:
        """One output as it is (its shape matters to next-token); several, concatenated flat."""
        from jax.tree_util import tree_leaves

        leaves = [np.asarray(x, np.float64) for x in tree_leaves(outputs)]
        return leaves[0] if len(leaves) == 1 else np.concatenate([x.ravel() for x in leaves])

    def evaluate(self, sites: Sequence[Site], config: Config, rings: str, inputs: int | None = None) -> Evaluation:
        from .program import compile as ditto_compile

        count = len(self.calibration) if inputs is None else inputs
        key = (config, rings, count)
        if key in self.cache:
            return self.cache[key]
        start = time.perf_counter()
        path = self.workdir / f"candidate-{len(self.cache)}.json"
        policy_for(sites, config, rings, self.objective, large=self.large).save(path)
        calibration = self.calibration[0] if rings == "optimal" else None
        prog = ditto_compile(self.fn, *self.example_args, policy=str(path), calibration=calibration)
        estimate = self.model.plan(prog.plan)
        scores = [
            self.score(self._flat(prog.emulate(*inputs, on_overflow="record")), want, inputs)
            for inputs, want in zip(self.calibration[:count], self.wants[:count])
        ]
        evaluation = Evaluation(
            config, rings, estimate.send_bytes, estimate.rounds, scalar(estimate, self.objective),
            min(scores), scores, time.perf_counter() - start,
        )  # fmt: skip
        self.cache[key] = evaluation
        self.evaluations.append(evaluation)
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix_str(f"{rings} cost {evaluation.cost:.4g} score {evaluation.score:.5f}")
        return evaluation

    def held_out(self, sites: Sequence[Site], config: Config, inputs: Sequence[tuple[Any, ...]]) -> dict[str, Any]:
        """The scores of `config`'s program (its rings cut on the first calibration input) on other inputs."""
        import jax

        path = self.workdir / "chosen.json"
        policy_for(sites, config, "optimal", self.objective, large=self.large).save(path)
        from .program import compile as ditto_compile

        prog = ditto_compile(self.fn, *self.example_args, policy=str(path), calibration=self.calibration[0])
        reference = jax.jit(self.fn)
        scores = [
            self.score(self._flat(prog.emulate(*x, on_overflow="record")), self._flat(reference(*x)), x)
            for x in map(tuple, inputs)
        ]
        return {"inputs": len(scores), "scores": scores, "min": min(scores), "mean": float(np.mean(scores))}


def hull_configs(
    base: tuple[str, ...], options: Sequence[Sequence[tuple[str, float, float]]]
) -> list[tuple[tuple[str, ...], float, float]]:
    """Lagrangian sweep of a multiple-choice knapsack: per site the options (mode, cost change, error change),
    the base mode among them at (0, 0). Returns (modes, predicted cost change, predicted error change) for every
    multiplier's optimum, cheapest first."""
    ratios = {0.0, math.inf}
    for choices in options:
        for _, c1, e1 in choices:
            for _, c2, e2 in choices:
                if e1 != e2 and (r := (c2 - c1) / (e1 - e2)) > 0:
                    ratios.add(r)
    found: dict[tuple[str, ...], tuple[float, float]] = {}
    for lam in sorted(ratios):
        modes, cost, error = [], 0.0, 0.0
        for choices in options:
            if math.isinf(lam):
                mode, c, e = min(choices, key=lambda o: (o[2], o[1]))
            else:
                mode, c, e = min(choices, key=lambda o: (o[1] + lam * o[2], o[2]))
            modes.append(mode)
            cost, error = cost + c, error + e
        found.setdefault(tuple(modes), (cost, error))
    if tuple(base) not in found:
        found[tuple(base)] = (0.0, 0.0)
    return sorted(((m, c, e) for m, (c, e) in found.items()), key=lambda x: (x[1], x[2]))


def tune(
    fn: Callable[..., Any],
    example_args: tuple[Any, ...],
    calibration: Sequence[tuple[Any, ...]],
    *,
    target: float = 0.99,
    metric: str | Callable[[np.ndarray, np.ndarray, Sequence[Any]], float] = "cosine",
    objective: str = "bytes",
    small_fraction_bits: Sequence[int] = SMALL_FRACTION_BITS,
    large_fraction_bits: int = LARGE.fraction_bits,
    max_verifications: int = 6,
    safety: float = 0.25,
    front: int = 0,
    held_out: Sequence[tuple[Any, ...]] = (),
    progress: bool = True,
    workdir: str | Path | None = None,
) -> Tuned:
    """The cheapest configuration of `fn` (compiled at `example_args`) whose score on every calibration input
    (tuples like `example_args`) is at least `target` (see the module's docstring). `metric`: `cosine` (of the
    whole output), `next-token` (argmax agreement at the mask's real positions), `perplexity` (plaintext
    perplexity / the program's), for inputs (params, ids, mask); or a function (got, want, inputs) -> score.
    `safety` keeps that share of the error budget in reserve on the calibration inputs (with 0.25, target 0.99
    asks 0.9925 of them), since unseen inputs score a little differently. `held_out` inputs (not searched on)
    are scored with the chosen program at the end, for the report; `front` more hull points, spread over its
    cost range, are verified for the report's Pareto front. `large_fraction_bits` fixes the 64-bit ring's (fewer
    for models with large activations: SmolLM2 needs 16, docs/generation.md)."""
    fraction_bits = tuple(small_fraction_bits)
    large = RingConfig(64, large_fraction_bits)
    _check(target, metric, objective, calibration, fraction_bits, max_verifications, safety, front)
    score = metric if callable(metric) else SCORES[metric]
    start = time.perf_counter()
    sites = find_sites(fn, example_args)
    screens = sum(len(MODES[s.function]) - 1 for s in sites)
    bar = None
    if progress:
        from tqdm import tqdm

        total = 2 + screens + max_verifications + len(fraction_bits) + front
        bar = tqdm(total=total, desc="ditto tune", unit="program")
    if workdir is not None:
        Path(workdir).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() if workdir is None else contextlib.nullcontext(workdir) as folder:
        search = _Search(fn, example_args, calibration, score, objective, Path(folder), bar, large)
        try:
            tuned = _tune(search, sites, target, safety, fraction_bits, max_verifications, front, metric, start)
            if held_out:
                scores = search.held_out(sites, tuned.chosen.config, held_out)
                tuned.report["held_out"] = {**scores, "target_met": scores["min"] >= target}
            return tuned
        finally:
            if bar is not None:
                bar.close()


def _tune(
    search: _Search, sites: list[Site], target: float, safety: float, fraction_bits: tuple[int, ...], budget: int,
    front: int, metric: Any, start: float,
) -> Tuned:  # fmt: skip
    goal = 1 - (1 - target) * (1 - safety)  # what the calibration inputs must score
    exact = tuple("exact" for _ in sites)
    default_bits = 10 if 10 in fraction_bits else fraction_bits[0]
    # 1. Screen: each alternative alone, fxp64 rings, the first calibration input.
    screen_base = search.evaluate(sites, Config(exact), "fxp64", inputs=1)
    options, screened = [], []
    for index, site in enumerate(sites):
        choices = [("exact", 0.0, 0.0)]
        for mode in MODES[site.function][1:]:
            modes = exact[:index] + (mode,) + exact[index + 1 :]
            e = search.evaluate(sites, Config(modes), "fxp64", inputs=1)
            extra_error = (1 - e.score) - (1 - screen_base.score)
            choices.append((mode, e.cost - screen_base.cost, max(extra_error, 0.0)))
            screened.append({"site": site.name, "function": site.function, "mode": mode,
                             "cost_change": e.cost - screen_base.cost, "score": e.score})  # fmt: skip
        options.append(choices)
    # 2. Relax: the hull of predicted (cost, error).
    base = search.evaluate(sites, Config(exact, default_bits), "optimal")
    budget_error = (1 - goal) - (1 - base.score)
    hull = hull_configs(exact, options)
    # 3. Verify, cheapest predicted-feasible first.
    feasible = [h for h in hull if h[2] <= budget_error + 1e-12]
    chosen = base if base.score >= goal else None
    verified = 0

    def verified_at(modes: tuple[str, ...], bits: int = default_bits) -> Evaluation | None:
        """What verifying these modes at these bits gave, if they were."""
        return search.cache.get((Config(modes, bits), "optimal", len(search.calibration)))

    def verify(modes: tuple[str, ...], cost: float, error: float, bits: int = default_bits) -> Evaluation:
        """A hull point compiled with optimal rings and emulated, with what the screening predicted for it."""
        e = search.evaluate(sites, Config(modes, bits), "optimal")
        e.predicted_cost, e.predicted_score = base.cost + cost, base.score - error
        return e

    for modes, cost, error in feasible:
        if verified >= budget:
            break
        e = verify(modes, cost, error)
        verified += 1
        if e.score >= goal:
            if chosen is None or e.cost < chosen.cost:
                chosen = e
            index = hull.index((modes, cost, error))
            if index > 0 and verified < budget:  # the next cheaper hull point, predicted to miss
                cheaper = verify(*hull[index - 1])
                verified += 1
                if cheaper.score >= goal and cheaper.cost < chosen.cost:
                    chosen = cheaper
            break
    # The winner's small-ring fraction bits.
    if chosen is not None:
        for bits in fraction_bits:
            if bits != chosen.config.small_fraction_bits:
                e = search.evaluate(sites, Config(chosen.config.modes, bits), "optimal")
                if e.score >= goal and (e.cost, -e.score) < (chosen.cost, -chosen.score):
                    chosen = e
    # Other fraction bits won: the cheaper points that missed at the default bits, again at the winner's.
    if chosen is not None and chosen.config.small_fraction_bits != default_bits:
        bits = chosen.config.small_fraction_bits
        at_default = [(h, verified_at(h[0])) for h in hull]
        missed = [h for h, e in at_default if e is not None and e.score < goal and e.cost < chosen.cost]
        for modes, cost, error in missed[:budget]:
            e = verify(modes, cost, error, bits)
            if e.score >= goal and e.cost < chosen.cost:
                chosen = e
                break
    # More of the hull, for the front: the points spread evenly over its predicted cost range.
    unverified = [h for h in hull if verified_at(h[0]) is None]
    for k in range(min(front, len(unverified))):
        verify(*unverified[round(k * (len(unverified) - 1) / max(front - 1, 1))])
    verified_points = [e for e in search.evaluations if e.rings == "optimal"]
    target_met = chosen is not None
    if chosen is None:
        chosen = max(verified_points, key=lambda e: (e.score, -e.cost))
    report = {
        "target": target,
        "safety": safety,
        "goal": goal,
        "metric": metric if isinstance(metric, str) else getattr(metric, "__name__", "custom"),
        "objective": search.objective,
        "target_met": target_met,
        "calibration_inputs": len(search.calibration),
        "sites": [{"function": s.function, "name": s.name} for s in sites],
        "chosen": chosen.as_json(sites),
        "base": base.as_json(sites),
        "screened": screened,
        "screen_base": screen_base.as_json(sites),
        "hull": [
            {"choices": [m for m in modes], "predicted_cost": base.cost + c, "predicted_score": base.score - e}
            for modes, c, e in hull
        ],  # fmt: skip
        "verified": [e.as_json(sites) for e in verified_points],
        "pareto": [e.as_json(sites) for e in pareto(verified_points)],
        "seconds": time.perf_counter() - start,
    }
    tuned_note = {
        "target": target,
        "safety": safety,
        "goal_on_calibration": goal,
        "metric": report["metric"],
        "objective": search.objective,
        "predicted": {"cost": chosen.cost, "send_bytes": chosen.send_bytes, "rounds": chosen.rounds,
                      "score": chosen.score},
    }  # fmt: skip
    policy = policy_for(sites, chosen.config, "optimal", search.objective, tuned_note, search.large)
    return Tuned(policy, target_met, chosen, report)


def pareto(points: Sequence[Evaluation]) -> list[Evaluation]:
    """The points no other is at least as cheap and as accurate as (and better in one), cheapest first."""
    front = []
    for p in sorted(points, key=lambda e: (e.cost, -e.score)):
        if not front or p.score > front[-1].score:
            front.append(p)
    return front


def plot_pareto(report: dict[str, Any], path: str | Path, title: str = "") -> None:
    """Cost against accuracy of every configuration visited, the front and the choice marked."""
    from .bench import pyplot, save_figure

    plt = pyplot()
    unit = {"bytes": 1e9, "lan": 1.0, "wan": 1.0}[report["objective"]]
    label = {"bytes": "modelled GB sent", "lan": "modelled LAN s", "wan": "modelled WAN s"}[report["objective"]]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.scatter([e["cost"] / unit for e in report["verified"]], [1 - e["score"] for e in report["verified"]],
               label="verified (optimal rings)", color="tab:blue")  # fmt: skip
    ax.scatter([h["predicted_cost"] / unit for h in report["hull"]], [max(1 - h["predicted_score"], 1e-9) for h in
               report["hull"]], marker="x", color="gray", label="predicted (hull of the screened choices)")  # fmt: skip
    front = report["pareto"]
    ax.plot([e["cost"] / unit for e in front], [1 - e["score"] for e in front], color="tab:blue", lw=1)
    chosen = report["chosen"]
    ax.scatter([chosen["cost"] / unit], [1 - chosen["score"]], s=160, facecolors="none", edgecolors="tab:red",
               label="chosen")  # fmt: skip
    ax.axhline(1 - report["target"], color="gray", ls="--", lw=1, label=f"target {report['metric']} {report['target']}")
    if report["goal"] != report["target"]:
        ax.axhline(1 - report["goal"], color="gray", ls=":", lw=1, label=f"goal on calibration {report['goal']:.4g}")
    ax.set_yscale("log")
    ax.set_xlabel(label)
    ax.set_ylabel(f"1 - {report['metric']} (worst calibration input)")
    ax.set_title(title or "ditto tune: configurations visited")
    ax.legend(fontsize=8)
    save_figure(fig, path)
