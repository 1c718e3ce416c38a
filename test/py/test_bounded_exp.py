"""bounded-exp: the fitted e^x on a proved range is cheaper and more accurate than SPU's exp, under MPC."""

import jax
import numpy as np
import pytest

import ditto_compiler
from ditto_compiler.passes.bounded_exp import FORMS, cheapest_form, fit
from ditto_compiler.pipeline import default_passes
from ditto_compiler.ring import RingConfig

FLOOR = RingConfig(64, 18).exp_floor


def test_the_softmax_floor_gets_a_cubic_and_three_squarings():
    coefficients, squarings = cheapest_form(FLOOR, 1e-4)
    assert (len(coefficients) - 1, squarings) == FORMS[0] == (3, 3)
    x = np.linspace(FLOOR, 0, 10_001)
    error = np.abs(np.polyval(coefficients, x) ** 2**squarings - np.exp(x))
    assert error.max() <= 1e-4 and error.max() == pytest.approx(fit(round(FLOOR, 6), 3, 3)[1], rel=0.05)
    assert error[0] < 4e-6  # masked entries (at the floor) keep no weight beyond an LSB


@pytest.mark.parametrize(("lo", "tolerance"), [(-100.0, 1e-4), (FLOOR, 1e-9), (0.0, 1e-4)])
def test_no_form_where_none_fits(lo, tolerance):
    assert cheapest_form(lo, tolerance) is None


def masked_softmax(x):
    mask = np.arange(x.shape[-1]) < x.shape[-1] - 8  # the last 8 keys are padding, as in HF models
    return jax.nn.softmax(jax.numpy.where(mask, x, np.finfo(np.float32).min), axis=-1)


def test_fitted_exp_beats_spus_exp_in_bytes_rounds_and_error():
    x = np.random.default_rng(3).normal(0, 3, size=(16, 64)).astype(np.float32)
    want = masked_softmax(x)
    without = [p for p in default_passes() if p.name != "bounded-exp"]
    costs, errors = {}, {}
    for name, pipeline in [("spu", without), ("fitted", default_passes())]:
        prog = ditto_compiler.compile(masked_softmax, x, pipeline=pipeline)
        got = prog.run(x)
        errors[name] = np.abs(got - want).max()
        costs[name] = prog.cost
        if name == "fitted":
            assert "pphlo.exponential" not in prog.ir
            # The emulator follows the polynomial's products, so it predicts the secure result closely.
            assert np.abs(prog.emulate(x) - got).max() < 5e-4
            assert np.abs(np.asarray(got)[:, -8:]).max() < 1e-5
    assert costs["fitted"].send_bytes < 0.85 * costs["spu"].send_bytes
    assert costs["fitted"].rounds < costs["spu"].rounds
    assert errors["fitted"] < errors["spu"] / 3
