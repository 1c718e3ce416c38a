"""fuse-scales and eliminate-redundant-casts never change the emulated result beyond 1 LSB."""

import jax.numpy as jnp
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ditto_compiler
from ditto_compiler.dialects import fxp
from ditto_compiler.pipeline import default_passes

WITHOUT = 'inline-private-functions,legalize-to-pphlo,annotate-rings{{policy="{}"}}'

TEMPLATES = {
    "scaled_linear": lambda m, s: lambda w, b, x: (x @ w) * 2.0**-m + b,
    "softmax_of_scaled": lambda m, s: lambda w, b, x: jnp.exp(-jnp.abs((x @ w) * 2.0**-m)) * s,
    "two_scales": lambda m, s: lambda w, b, x: ((x @ w) * s) * 2.0**-m - x,
    "broadcast_slice": lambda m, s: lambda w, b, x: jnp.tanh((x + b[None, :])[:, :2] * 2.0**-m) + (x @ w)[:, :2],
    "residual_upcast": lambda m, s: lambda w, b, x: jnp.exp(-jnp.abs(x @ w)) + (x @ w) * 2.0**-m,
}

arrays = st.integers(0, 2**31 - 1).map(lambda seed: np.random.default_rng(seed))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    template=st.sampled_from(sorted(TEMPLATES)),
    policy=st.sampled_from(["fxp64", "ditto"]),
    m=st.integers(1, 5),
    s=st.floats(0.1, 2.0),
    rng=arrays,
)
def test_passes_preserve_emulated_results(template, policy, m, s, rng):
    fn = TEMPLATES[template](m, s)
    w = rng.uniform(-1, 1, size=(4, 4)).astype(np.float32)
    b = rng.uniform(-1, 1, size=4).astype(np.float32)
    x = rng.uniform(-3, 3, size=(3, 4)).astype(np.float32)
    plain = ditto_compiler.compile(fn, w, b, x, pipeline=WITHOUT.format(policy))
    optimized = ditto_compiler.compile(fn, w, b, x, pipeline=default_passes(policy))
    before = plain.emulate(w, b, x, on_overflow="record")
    after = optimized.emulate(w, b, x, on_overflow="record")
    output_ring = fxp.ring_of(next(iter(optimized.module.ops)).function_type.outputs.data[0])
    assert np.abs(np.asarray(before) - np.asarray(after)).max() <= 2.0**-output_ring.f
    assert optimized.emulation.truncations <= plain.emulation.truncations
    assert optimized.ir.count('"fxp.cast"') <= plain.ir.count('"fxp.cast"')
