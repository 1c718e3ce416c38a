"""approximate-nonlinear and row-reciprocals: what they recognise, and that they change results
by exactly the approximation (emulated bit-exactly; one secure run per softmax mode)."""

import json
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import special

import ditto_compiler
from ditto_compiler.cost_model import CostModel
from ditto_compiler.frontend.importer import parse_module
from ditto_compiler.frontend.jax_export import export_stablehlo
from ditto_compiler.lowering.chlo_expansion import ERF_CLAMP, ERF_POLYNOMIAL
from ditto_compiler.passes import parse_pipeline
from ditto_compiler.passes.approximate_nonlinear import (
    EXP_FIT_FLOOR,
    EXP_FIT_FORM,
    PUMA_LOW,
    PUMA_MID,
    QUAD,
    RELU_FIT_CLAMP,
    RELU_FIT_DEGREE,
    Monic,
    _fit_on_unit,
    exp_fit_coefficients,
    relu_fit_coefficients,
    silu_fit_coefficients,
)
from ditto_compiler.passes.bounded_exp import fit
from ditto_compiler.pipeline import apply_passes, default_passes

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))

X = np.linspace(-6, 6, 96, dtype=np.float32).reshape(8, 12)
SCORES = np.random.default_rng(5).normal(0, 3, size=(2, 6, 6)).astype(np.float32)
MASK = np.triu(np.ones((6, 6), bool), 1)  # causal: entry (i, j) hidden for j > i
F32_MIN = np.finfo(np.float32).min


def exact_gelu(x):
    return 0.5 * x * special.erfc(-x / np.sqrt(2))


def polynomial(x, coefficients):
    return sum(c * x**i for i, c in enumerate(coefficients))


def puma(x):
    return np.where(
        x < -4, 0.0, np.where(x < -1.95, polynomial(x, PUMA_LOW), np.where(x > 3, x, polynomial(x, PUMA_MID)))
    )


def relu_fit(x):
    magnitude = np.abs(x)
    return (x + magnitude) / 2 - polynomial(np.minimum(magnitude / RELU_FIT_CLAMP, 1.0), relu_fit_coefficients())


def exp_fit(x):
    t = np.maximum(x, EXP_FIT_FLOOR) / -EXP_FIT_FLOOR
    return polynomial(t, exp_fit_coefficients()) ** (2 ** EXP_FIT_FORM[1])


def gelu_correction(u):
    return u * 0.5 * special.erfc(u / np.sqrt(2))


def masked_scores(scores):
    return jnp.where(MASK, F32_MIN, scores)  # as HF models write masks


def softmax_of_masked(scores):
    return jax.nn.softmax(masked_scores(scores), axis=-1)


def reference_softmax(x, mode):
    x = np.where(MASK, -np.inf, x.astype(np.float64))
    if mode == "2quad":
        q = np.maximum(x + 5.0, 0.0) ** 2
        return q / q.sum(-1, keepdims=True)
    d = x - x.max(-1, keepdims=True)
    if mode == "exp-fit":
        e = exp_fit(d)
        return e / e.sum(-1, keepdims=True)
    e = np.where(d < -14, 0.0, np.exp(d)) if mode == "ditto" else np.exp(d)
    return e / e.sum(-1, keepdims=True)


@pytest.mark.parametrize(
    ("mode", "want", "tolerance"),
    # PUMA's x^6 coefficient (0.0018) loses 1e-3 of itself to 18 fraction bits: 2e-3 at x = 3.
    [
        ("exact", exact_gelu, 2e-4),
        ("quad", lambda x: polynomial(x, QUAD), 2e-4),
        ("puma", puma, 3e-3),
        ("relu-fit", relu_fit, 2e-4),
    ],
)
@pytest.mark.parametrize("approximate", [False, True])
def test_gelu_changes_results_by_the_approximation_only(mode, want, tolerance, approximate):
    prog = ditto_compiler.compile(lambda x: jax.nn.gelu(x, approximate=approximate), X, gelu=mode)
    got = prog.emulate(X)
    reference = want(X.astype(np.float64))
    if mode == "exact" and approximate:
        reference, tolerance = np.asarray(jax.nn.gelu(X, approximate=True)), 2e-4
    np.testing.assert_allclose(got, reference, atol=tolerance)


def test_puma_gelu_is_within_its_stated_error():
    x = np.linspace(-8, 8, 1001)
    assert np.abs(puma(x) - exact_gelu(x)).max() < 0.025


def test_relu_fit_gelu_is_within_its_stated_error_and_cheaper_than_pumas():
    x = np.linspace(-40, 40, 80001)
    assert np.abs(relu_fit(x) - exact_gelu(x)).max() < 1.7e-3  # 12x below PUMA's
    costs = {
        mode: CostModel.load().plan(
            ditto_compiler.compile(lambda x: jax.nn.gelu(x, approximate=False), X, gelu=mode).plan
        )
        for mode in ("puma", "relu-fit")
    }
    assert costs["relu-fit"].send_bytes < 0.8 * costs["puma"].send_bytes
    assert costs["relu-fit"].rounds < costs["puma"].rounds


def _relu_fit_error(clamp):
    coefficients = _fit_on_unit(gelu_correction, clamp, RELU_FIT_DEGREE)
    u = np.linspace(0, 40, 40001)
    return np.abs(polynomial(np.minimum(u / clamp, 1.0), coefficients) - gelu_correction(u)).max()


def test_relu_fit_clamp_balances_the_fit_and_the_tail():
    """Below the clamp the fit errs more, above it the tail h(clamp) does: 3.2 is the best of its neighbours."""
    at = _relu_fit_error(RELU_FIT_CLAMP)
    assert at < min(_relu_fit_error(RELU_FIT_CLAMP - 0.2), _relu_fit_error(RELU_FIT_CLAMP + 0.2))


@pytest.mark.parametrize("coefficients", [relu_fit_coefficients(), silu_fit_coefficients(), exp_fit_coefficients()])
def test_monic_form_is_the_same_polynomial(coefficients):
    p = Monic.of(coefficients)
    v = np.linspace(-1, 1, 101)
    w = p.gain * v
    monic = w ** len(p.lower) + polynomial(w, p.lower)
    np.testing.assert_allclose(p.sign * monic, polynomial(v, coefficients), atol=1e-12)


def test_exp_fit_is_within_its_stated_error():
    _, error = fit(EXP_FIT_FLOOR, *EXP_FIT_FORM, vanishing=True)
    x = np.linspace(-40, 0, 40001)
    assert np.abs(exp_fit(x) - np.exp(x)).max() == pytest.approx(error, rel=0.02)
    assert error < 3.6e-3
    assert exp_fit(np.array([EXP_FIT_FLOOR, -1e30])) == pytest.approx(0.0, abs=1e-20)  # floored and masked entries


def test_division_free_erf_is_within_its_stated_error():
    """erf within 2.5e-5; and exactly 1 at the clamp, so GeLU's error (x/2 times erf's) stays bounded for large |x|."""

    def erf(x):
        clamped = np.clip(x, -ERF_CLAMP, ERF_CLAMP)
        return clamped * polynomial(clamped**2 / 16, ERF_POLYNOMIAL)

    x = np.linspace(-40, 40, 80001)
    assert np.abs(erf(x) - special.erf(x)).max() < 2.5e-5
    z = x / np.sqrt(2)
    assert np.abs(0.5 * x * (erf(z) - special.erf(z))).max() < 5e-5


def test_erf_constants_are_what_the_fit_tool_finds():
    from fit_erf import fit

    coefficients, error = fit(ERF_CLAMP, len(ERF_POLYNOMIAL) - 1)
    np.testing.assert_allclose(coefficients, ERF_POLYNOMIAL, rtol=1e-9)
    assert error < 2.5e-5


@pytest.mark.parametrize("mode", ["exact", "2quad", "ditto", "exp-fit"])
def test_masked_softmax_matches_its_definition_under_mpc(mode):
    """HF masks with float32's minimum; every mode gives masked entries zero weight."""
    prog = ditto_compiler.compile(softmax_of_masked, SCORES, softmax=mode)
    want = reference_softmax(SCORES, mode)
    np.testing.assert_allclose(prog.emulate(SCORES), want, atol=2e-4)
    got = prog.run(SCORES)
    np.testing.assert_allclose(got, want, atol=5e-3)
    assert np.abs(np.asarray(got)[:, MASK]).max() < 1e-3


def _count_after(fn, args, gelu, softmax, names):
    text, _ = export_stablehlo(fn, args, None)
    module = parse_module(text, "<jax>")
    apply_passes(
        module, parse_pipeline(f'inline-private-functions,approximate-nonlinear{{gelu="{gelu}" softmax="{softmax}"}}')
    )
    ops = [op.name for op in module.walk()]
    return {name: ops.count(name) for name in names}


@pytest.mark.parametrize(
    ("model", "gelu_op", "untouched"),
    # BERT: erfc GeLU; its pooler's tanh (returned here, or it would be dead) is no GeLU and stays. GPT-2: tanh GeLU.
    [("tiny_bert", "chlo.erfc", {"stablehlo.tanh": 1}), ("tiny_gpt2", "stablehlo.tanh", {})],
)
def test_every_gelu_and_softmax_of_an_unmodified_hf_model_is_found(model, gelu_op, untouched, request):
    forward, params, ids = request.getfixturevalue(model)
    if model == "tiny_bert":
        bert = forward

        def forward(params, ids):
            outputs = bert.model(ids, params=params)
            return outputs.last_hidden_state, outputs.pooler_output

    names = ["chlo.erf", "chlo.erfc", "stablehlo.tanh", "stablehlo.exponential"]
    before = _count_after(forward, (params, ids), "exact", "exact", names)
    assert before[gelu_op] == 2 and before["stablehlo.exponential"] == 2  # 2 layers
    after = _count_after(forward, (params, ids), "quad", "2quad", names)
    assert after == {name: untouched.get(name, 0) for name in names}


def test_approximated_bert_runs_securely_as_emulated(tiny_bert):
    forward, params, ids = tiny_bert
    prog = ditto_compiler.compile(forward, params, ids, gelu="quad", softmax="2quad")
    emulated = prog.emulate(params, ids)
    np.testing.assert_allclose(prog.run(params, ids), emulated, atol=2e-2)
    # Quad GeLU is a different function: the model's output moves (distillation's job).
    assert np.abs(emulated - forward(params, ids)).max() > 1e-2


def row_softmax(x):
    return jax.nn.softmax(x, axis=-1)


def test_row_reciprocals_make_the_softmax_cheaper_and_no_less_accurate():
    x = SCORES[0]
    without = [p for p in default_passes() if p.name != "row-reciprocals"]
    costs, errors = {}, {}
    for name, pipeline in [("per-element", without), ("per-row", default_passes())]:
        prog = ditto_compiler.compile(row_softmax, x, pipeline=pipeline)
        errors[name] = np.abs(prog.run(x) - row_softmax(x)).max()
        costs[name] = prog.cost.send_bytes
    assert "pphlo.reciprocal" in ditto_compiler.compile(row_softmax, x).ir
    assert costs["per-row"] < 0.7 * costs["per-element"]
    assert errors["per-row"] <= errors["per-element"] + 1e-3 < 5e-3


@pytest.mark.parametrize("fraction_bits", [18, 16])
def test_secure_rsqrt_holds_over_the_rings_range(tmp_path, fraction_bits):
    """SPU's rsqrt returns 0 from 2^f on (1e5 at f=16, 1.09e6 at f=18: RMSNorm's mean square of a row with a
    massive activation); legalization's tiers keep it within 0.1% and a few steps of the ring up to 4e6."""
    policy = tmp_path / "policy.json"
    ring = [64, fraction_bits]
    policy.write_text(json.dumps({"base": "fxp64", "rings": {"small": ring, "large": ring}}))
    x = np.asarray([0.01, 1.0, 30.0, 1e3, 1e4, 1e5, 1.09e6, 4e6], np.float32)
    prog = ditto_compiler.compile(jax.lax.rsqrt, x, policy=str(policy))
    got, want = np.asarray(prog.run(x)), 1 / np.sqrt(x.astype(np.float64))
    assert np.all(np.abs(got - want) <= 1e-3 * want + 4 * 2.0**-fraction_bits), got / want - 1
