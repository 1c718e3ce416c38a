"""Range guards dropped where calibration shows they never trip (passes/drop_range_guards.py)."""

import jax
import jax.numpy as jnp
import numpy as np

import ditto_compiler

RNG = np.random.default_rng(11)
X = RNG.normal(size=(4, 16)).astype(np.float32)
MASSIVE = X.copy()
MASSIVE[0, 3] = 2000.0  # a massive activation: its row's mean square is 2.5e5 > 2^17


def rms_norm(x):
    return x * jax.lax.rsqrt(jnp.mean(x * x, axis=-1, keepdims=True) + 1e-6)


def test_calibrated_policies_drop_guards_the_calibration_never_trips():
    fixed = ditto_compiler.compile(rms_norm, X, policy="fxp64")
    dropped = ditto_compiler.compile(rms_norm, X, policy="optimal")
    kept = ditto_compiler.compile(rms_norm, X, policy="optimal", calibration=(MASSIVE,))
    assert "ditto.range_guard" in fixed.ir and "ditto.range_guard" in kept.ir
    assert "ditto.range_guard" not in dropped.ir and "pphlo.select" not in dropped.ir

    np.testing.assert_allclose(np.asarray(dropped.run(X)), rms_norm(X), atol=1e-2)
    np.testing.assert_allclose(np.asarray(kept.run(X)), rms_norm(X), atol=1e-2)
    assert dropped.cost.rounds < kept.cost.rounds
    assert dropped.cost.send_bytes < kept.cost.send_bytes
    # What the guard is for: the program calibrated on the massive row stays right on it.
    np.testing.assert_allclose(np.asarray(kept.run(MASSIVE)), rms_norm(MASSIVE), atol=1e-2)


def test_auto_drops_guards_too():
    prog = ditto_compiler.compile(rms_norm, X, policy="auto")
    assert "ditto.range_guard" not in prog.ir and '"pphlo.rsqrt"' in prog.ir
