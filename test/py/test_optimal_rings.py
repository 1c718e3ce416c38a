"""The `optimal` ring policy: a minimum cut of the modelled cost (passes/optimal_rings.py)."""

import jax
import numpy as np
import pytest

import ditto_compiler
from ditto_compiler import DittoError
from ditto_compiler.cost_model import CostModel

RNG = np.random.default_rng(5)


def _mlp(w1, w2, x):
    """The issue's MLP shape, scaled down: matmul, tanh GeLU, matmul."""
    return jax.nn.gelu(x @ w1, approximate=True) @ w2


MLP_ARGS = (
    (0.1 * RNG.normal(size=(64, 256))).astype(np.float32),
    (0.1 * RNG.normal(size=(256, 64))).astype(np.float32),
    RNG.normal(size=(16, 64)).astype(np.float32),
)


@pytest.fixture(scope="module")
def model():
    return CostModel.load()


@pytest.mark.parametrize("objective", ["bytes", "lan", "wan"])
def test_optimal_is_never_worse_than_fxp64_or_ditto_under_the_model(model, objective):
    costs = {}
    for policy in ("fxp64", "ditto", "optimal"):
        prog = ditto_compiler.compile(_mlp, *MLP_ARGS, policy=policy, objective=objective)
        estimate = model.plan(prog.plan)
        costs[policy] = {"bytes": estimate.send_bytes, "lan": None, "wan": None}[objective]
        if objective != "bytes":
            from ditto_compiler.passes.optimal_rings import scalar

            costs[policy] = scalar(estimate, objective)
    assert costs["optimal"] <= costs["fxp64"] * 1.001
    assert costs["optimal"] <= costs["ditto"] * 1.001


def test_optimal_on_flax_bert_runs_securely_and_reports(tiny_bert, model):
    bert, params, ids = tiny_bert
    fxp64 = ditto_compiler.compile(bert, params, ids, policy="fxp64")
    prog = ditto_compiler.compile(bert, params, ids, policy="optimal", precision=0)
    choices = prog.ring_choices
    assert choices and {tuple(c["ring"]) for c in choices} <= {(32, 10), (64, 18)}
    assert any(c["ring"] == [32, 10] and c["saved"] > 0 for c in choices)
    assert all(c["small_ring_possible"] or c["ring"] == [64, 18] for c in choices)
    secure = np.asarray(prog.run(params, ids))
    measured = prog.cost.send_bytes
    fxp64.run(params, ids)
    assert measured < fxp64.cost.send_bytes
    assert abs(model.plan(prog.plan).send_bytes - measured) <= 0.02 * measured
    np.testing.assert_allclose(secure, bert(params, ids), atol=0.3)


def test_optimal_options_are_checked():
    with pytest.raises(DittoError, match="objective must be one of bytes, lan, wan"):
        ditto_compiler.compile(_mlp, *MLP_ARGS, policy="optimal", objective="latency")
    with pytest.raises(DittoError, match="calibration is only used by policies auto and optimal"):
        ditto_compiler.compile(_mlp, *MLP_ARGS, policy="ditto", calibration=MLP_ARGS)
    # Calibration inputs whose values do not fit the small ring keep everything large.
    huge = (MLP_ARGS[0], MLP_ARGS[1], 1e5 * MLP_ARGS[2])
    prog = ditto_compiler.compile(_mlp, *MLP_ARGS, policy="optimal", calibration=huge)
    assert "fxp.fixed<32" not in prog.ir
