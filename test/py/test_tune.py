"""`ditto tune`: the search, the policy file it writes, and the file taken unchanged by compile and bench."""

import json

import jax
import numpy as np
import pytest

import ditto_compiler
from ditto_compiler import DittoError
from ditto_compiler.cost_model import CostModel
from ditto_compiler.passes.approximate_nonlinear import Site
from ditto_compiler.passes.policy_file import load_policy_file
from ditto_compiler.ring import RingConfig
from ditto_compiler.tune import Config, Evaluation, _tune, cosine, find_sites, hull_configs, pareto, policy_for, tune


def two_layers(params, x):
    """Two attention-free 'layers': softmax over a GeLU MLP, each recognisable by location."""
    for index, (w1, w2) in enumerate(params):
        with jax.named_scope(f"layer{index}"):
            h = jax.nn.gelu(x @ w1, approximate=False) @ w2
            x = x + jax.nn.softmax(h, axis=-1)
    return x


def _params(seed=0, width=16, hidden=32):
    rng = np.random.default_rng(seed)
    layer = lambda: (  # noqa: E731
        (rng.normal(size=(width, hidden)) * 0.3).astype(np.float32),
        (rng.normal(size=(hidden, width)) * 0.3).astype(np.float32),
    )
    return [layer(), layer()]


def _inputs(seed):
    return np.random.default_rng(seed).normal(size=(8, 16)).astype(np.float32)


PARAMS = _params()
EXAMPLE = (PARAMS, _inputs(1))
CALIBRATION = [(PARAMS, _inputs(2)), (PARAMS, _inputs(3))]


def test_the_sites_are_each_gelu_and_softmax_in_program_order():
    sites = find_sites(two_layers, EXAMPLE)
    assert [s.function for s in sites] == ["gelu", "softmax", "gelu", "softmax"]
    assert [s.name.split("/")[1] for s in sites] == ["layer0", "layer0", "layer1", "layer1"]


def test_functions_of_one_name_are_one_site():
    # Without scopes both layers' GeLUs share a JAX name: the search (and a policy rule) treats them as one.
    def unscoped(params, x):
        for w1, w2 in params:
            x = x + jax.nn.softmax(jax.nn.gelu(x @ w1, approximate=False) @ w2, axis=-1)
        return x

    assert [s.function for s in find_sites(unscoped, EXAMPLE)] == ["gelu", "softmax"]


def test_the_lagrangian_sweep_gives_the_hull_cheapest_first():
    # Site A: "cheap" saves 10 for 0.01 error; site B: "cheap" saves 4 for 0.001, "cheaper" 6 for 0.05.
    options = [
        [("exact", 0.0, 0.0), ("cheap", -10.0, 0.01)],
        [("exact", 0.0, 0.0), ("cheap", -4.0, 0.001), ("cheaper", -6.0, 0.05)],
    ]
    hull = hull_configs(("exact", "exact"), options)
    assert hull[0][0] == ("cheap", "cheaper") and hull[0][1] == -16.0
    assert hull[-1][0] == ("exact", "exact")
    # Every hull point is a multiplier's optimum: B's "cheap" (4 for 0.001) comes in before A's (10 for 0.01).
    assert [m for m, _, _ in hull] == [("cheap", "cheaper"), ("cheap", "cheap"), ("exact", "cheap"), ("exact", "exact")]
    costs = [c for _, c, _ in hull]
    assert costs == sorted(costs)


def test_pareto_keeps_the_points_nothing_dominates():
    class P:
        def __init__(self, cost, score):
            self.cost, self.score = cost, score

    points = [P(3, 0.99), P(1, 0.90), P(2, 0.80), P(4, 0.999), P(5, 0.995)]
    assert [(p.cost, p.score) for p in pareto(points)] == [(1, 0.90), (3, 0.99), (4, 0.999)]


@pytest.fixture(scope="module")
def tuned(tmp_path_factory):
    held_out = [(PARAMS, _inputs(4))]
    result = tune(two_layers, EXAMPLE, CALIBRATION, target=0.99, front=2, held_out=held_out, progress=False)
    return result, tmp_path_factory.mktemp("tune")


def test_tune_meets_the_target_at_no_more_than_fxp64s_cost(tuned):
    result, _ = tuned
    assert result.target_met
    # A quarter of the error budget is kept in reserve on the calibration inputs (safety=0.25).
    assert result.report["goal"] == pytest.approx(0.9925)
    assert result.chosen.score >= 0.9925 and min(result.chosen.scores) >= 0.9925
    assert result.report["held_out"]["inputs"] == 1 and "target_met" in result.report["held_out"]
    fxp64 = ditto_compiler.compile(two_layers, *EXAMPLE, policy="fxp64")
    assert result.chosen.send_bytes <= CostModel.load().plan(fxp64.plan).send_bytes
    # It approximated something: cheaper than the all-exact program with the same optimal rings.
    assert result.chosen.send_bytes < result.report["base"]["send_bytes"]
    assert result.report["pareto"] and result.report["verified"]
    front = [(p["cost"], p["score"]) for p in result.report["pareto"]]
    assert front == sorted(front)


def test_the_policy_file_compiles_to_what_tune_verified(tuned):
    result, folder = tuned
    path = folder / "policy.json"
    result.policy.save(path)
    policy = load_policy_file(path)
    assert policy.approximations == result.policy.approximations
    assert (policy.base, policy.small, policy.objective) == ("optimal", result.policy.small, "bytes")
    assert json.loads(path.read_text())["tuned"]["target"] == 0.99
    params, x = CALIBRATION[0]
    prog = ditto_compiler.compile(two_layers, *EXAMPLE, policy=str(path), calibration=CALIBRATION[0])
    assert CostModel.load().plan(prog.plan).send_bytes == result.chosen.send_bytes
    got = np.asarray(prog.emulate(params, x))
    want = np.asarray(jax.jit(two_layers)(params, x))
    assert cosine(got, want, ()) == pytest.approx(result.chosen.scores[0], abs=1e-12)
    # And it runs securely, as accurately as emulated.
    secure = np.asarray(prog.run(params, x))
    assert cosine(secure, want, ()) >= 0.99


def test_an_unreachable_target_is_reported_not_met():
    result = tune(two_layers, EXAMPLE, CALIBRATION[:1], metric=lambda got, want, inputs: 0.5, progress=False)
    assert not result.target_met
    assert result.report["target_met"] is False
    assert all(m == "exact" for m in [r for r in result.chosen.config.modes])


@pytest.mark.parametrize(
    "options, message",
    [
        (dict(target=1.5), "target must be a number in"),
        (dict(metric="bleu"), "metric must be one of cosine, next-token, perplexity"),
        (dict(objective="energy"), "objective must be one of bytes, lan, wan"),
        (dict(small_fraction_bits=(40,)), "fraction bits must be integers in"),
        (dict(large_fraction_bits=61), "cannot hold 61 fraction bits"),
    ],
)
def test_bad_options_are_diagnosed(options, message):
    with pytest.raises(DittoError, match=message):
        tune(two_layers, EXAMPLE, CALIBRATION, progress=False, **options)
    with pytest.raises(DittoError, match="at least one calibration input"):
        tune(two_layers, EXAMPLE, [], progress=False)


def test_the_large_ring_is_the_callers(tmp_path):
    # SmolLM2's activations need a 64-bit ring with 16 fraction bits: tune keeps it in every candidate's file.
    policy = policy_for(find_sites(two_layers, EXAMPLE), Config(("exact",) * 4), "optimal", "bytes",
                        large=RingConfig(64, 16))  # fmt: skip
    policy.save(tmp_path / "p.json")
    assert json.loads((tmp_path / "p.json").read_text())["rings"]["large"] == [64, 16]


def test_the_cli_diagnoses_before_building_a_model(tmp_path, capsys):
    from ditto_compiler.cli.ditto import main

    for extra, message in (
        (["--target", "2"], "--target must be in (0, 1]"),
        (["--samples", "0"], "--samples must be at least 1"),
        (["--fraction-bits", "8,ten"], "--fraction-bits must be comma-separated integers"),
        (["--large-fraction-bits", "61"], "--large-fraction-bits: a 64-bit ring cannot hold 61 fraction bits"),
        (["--config", "huge"], "unknown BERT config 'huge'"),
    ):
        assert main(["tune", "--out", str(tmp_path / "p.json"), *extra]) == 1
        assert message in capsys.readouterr().err


def test_the_cli_writes_a_policy_file_and_a_report(tmp_path, capsys):
    # A one-layer BERT checkpoint without a tokenizer: random token ids as inputs. test_bench runs a policy file
    # through MPC.
    import transformers

    from ditto_compiler.cli.ditto import main

    config = transformers.BertConfig(vocab_size=64, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                     intermediate_size=64, max_position_embeddings=16)  # fmt: skip
    transformers.FlaxBertModel(config, seed=1).save_pretrained(tmp_path / "model")
    policy, report = tmp_path / "policy.json", tmp_path / "report.json"
    tune_args = ["tune", "--checkpoint", str(tmp_path / "model"), "--seq", "6", "--samples", "1", "--held-out", "1",
                 "--quiet", "--fraction-bits", "10", "--max-verifications", "2"]  # fmt: skip
    assert main([*tune_args, "--out", str(policy), "--json", str(report)]) == 0
    out = capsys.readouterr().out
    assert "met: cosine" in out and "held out (1 inputs)" in out
    data = json.loads(report.read_text())
    assert data["target_met"] and data["held_out"]["inputs"] == 1 and data["pareto"]
    assert [s["function"] for s in data["sites"]] == ["softmax", "gelu"]
    assert load_policy_file(policy).base == "optimal"


class ScriptedSearch:
    """The search's costs and scores from a table instead of compiles and emulations: the verification order only.
    The softmax approximation misses the target with 10 fraction bits and meets it with 11, where the cut is
    also cheaper (as on MiniLM)."""

    SAVES = {"relu-fit": 30.0, "exp-fit": 20.0, "puma": 10.0, "quad": 50.0, "2quad": 40.0, "ditto": -5.0}
    ERROR = {"relu-fit": 1e-3, "exp-fit": 1e-3, "puma": 5e-4, "quad": 0.9, "2quad": 0.5, "ditto": 0.0}

    def __init__(self):
        self.calibration, self.objective, self.large = [None, None], "bytes", RingConfig(64, 18)
        self.cache, self.evaluations = {}, []

    def evaluate(self, sites, config, rings, inputs=None):
        count = len(self.calibration) if inputs is None else inputs
        modes = [m for m in config.modes if m != "exact"]
        cost = 100.0 - sum(self.SAVES[m] for m in modes)
        score = 1.0 - sum(self.ERROR[m] for m in modes)
        if rings == "optimal":
            cost = 0.6 * cost - (3.0 if config.small_fraction_bits == 11 else 0.0)
            if "exp-fit" in modes and config.small_fraction_bits == 10:
                score = 0.98
        e = Evaluation(config, rings, cost, 1.0, cost, score, [score] * count, 0.0)
        self.cache[(config, rings, count)] = e
        self.evaluations.append(e)
        return e


def test_points_that_missed_at_the_default_bits_are_verified_again_at_the_winners():
    sites = [Site("gelu", "mlp", '"mlp"'), Site("softmax", "attention", '"attention"')]
    tuned = _tune(ScriptedSearch(), sites, 0.99, 0.0, (10, 11, 12), 6, 0, "cosine", 0.0)
    assert tuned.target_met
    assert tuned.chosen.config == Config(("relu-fit", "exp-fit"), 11)
    missed = [v for v in tuned.report["verified"] if v["small_ring"] == [32, 10] and v["score"] < 0.99]
    assert missed and all(v["cost"] > tuned.chosen.cost for v in missed)  # it missed at 10 bits only
