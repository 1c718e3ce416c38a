"""The bit-exact emulator: agreement with JAX and with SPU, overflow reporting."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import ditto_compiler
from ditto_compiler import DittoError
from ditto_compiler.emulator import _ring_product
from ditto_compiler.models.transformer_block import attention, init_block, layer_norm, transformer_block

RNG = np.random.default_rng(11)


def normal(*shape, scale=1.0):
    return (scale * RNG.normal(size=shape)).astype(np.float32)


BLOCK = init_block(hidden=32, mlp=64, seed=2)
CASES = {
    "mlp": (lambda w, x: jax.nn.relu(x @ w) @ w.T, (normal(16, 16, scale=0.3), normal(4, 16))),
    "layer_norm": (lambda x: layer_norm(x, jnp.ones(32), jnp.zeros(32)), (normal(4, 32, scale=2.0),)),
    "softmax": (lambda x: jax.nn.softmax(x, axis=-1), (normal(4, 16, scale=3.0),)),
    "gelu_erf": (lambda x: jax.nn.gelu(x, approximate=False), (np.linspace(-5, 5, 64, dtype=np.float32),)),
    "gelu_tanh": (lambda x: jax.nn.gelu(x, approximate=True), (np.linspace(-5, 5, 64, dtype=np.float32),)),
    "causal_attention": (lambda p, x: attention(x, p, 4, causal=True), (BLOCK, normal(8, 32))),
    "block": (lambda p, x: transformer_block(p, x, heads=4), (BLOCK, normal(8, 32))),
}
# The small ring has 8 fraction bits (resolution 0.004, inputs truncated toward zero
# as SPU encodes them): `ditto` is the coarser policy until distillation compensates.
TOLERANCE = {"fxp64": (2e-3, 1e-3), "ditto": (0.15, 0.05)}  # (max abs error, relative norm error)


def assert_close(got, want, max_abs, max_relative):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert np.abs(got - want).max() < max_abs
    assert np.linalg.norm(got - want) < max_relative * np.linalg.norm(want)


@pytest.mark.parametrize("policy", ["fxp64", "ditto"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_emulation_agrees_with_jax(case, policy):
    fn, args = CASES[case]
    prog = ditto_compiler.compile(fn, *args, policy=policy)
    assert_close(prog.emulate(*args), fn(*args), *TOLERANCE[policy])
    assert prog.emulation.overflows == []


def test_flax_bert_under_ditto_policy(tiny_bert):
    bert, params, ids = tiny_bert
    prog = ditto_compiler.compile(bert, params, ids, policy="ditto")
    # BERT's initial embeddings have std 0.02, about 5 steps of the small ring's 2^-8,
    # and LayerNorm divides by that std: the 7% error here is the format's, measured.
    assert_close(prog.emulate(params, ids), bert(params, ids), 0.3, 0.1)
    fxp64 = ditto_compiler.compile(bert, params, ids)
    assert_close(fxp64.emulate(params, ids), bert(params, ids), 2e-3, 1e-3)


def test_emulation_predicts_secure_flax_bert(tiny_bert):
    """The emulator is what distillation and ring choices trust: on Flax BERT (whose default
    head_mask of ones SPU used to shift by one LSB per probability) under the 32-bit ring at
    8 fraction bits, emulation and secure execution agree to within rounding noise."""
    from ditto_compiler.interpreter import exact_truncations
    from ditto_compiler.passes.ring_policy import LARGE, RingPolicy
    from ditto_compiler.ring import RingConfig

    bert, params, ids = tiny_bert
    policy = RingPolicy("ditto-f8", RingConfig(32, 8), LARGE)
    prog = ditto_compiler.compile(bert, params, ids, policy=policy)
    # The head mask is folded away, so no truncation is left that SPU would shift by one LSB.
    assert not exact_truncations(prog.module) and prog.ir.count("fxp.truncate") > 0
    secure = np.asarray(prog.run(params, ids), np.float64)
    emulated = np.asarray(prog.emulate(params, ids, truncation="stochastic"), np.float64)
    # Rounding differs element by element (SPU's truncation is randomised); no bias may remain.
    assert abs(np.mean(secure - emulated)) < 2e-3
    assert np.linalg.norm(secure - emulated) < 0.02 * np.linalg.norm(secure)


def test_emulation_matches_spu_on_ring_arithmetic():
    # No nonlinear kernels: SPU differs from the emulator only by its probabilistic
    # truncation (at most 1 LSB per truncation; two truncations here). Inputs and
    # constants are encoded exactly as SPU encodes them.
    w, b, x = normal(32, 16, scale=0.2), normal(16), normal(8, 32)

    def fn(w, b, x):
        return (x @ w + b) * 0.75 - x[:, :16]

    prog = ditto_compiler.compile(fn, w, b, x)
    lsb = 2.0**-prog.ring.fraction_bits
    np.testing.assert_allclose(prog.run(w, b, x), prog.emulate(w, b, x), atol=2 * lsb, rtol=0)


@pytest.mark.parametrize("k", [32, 64])
@pytest.mark.parametrize("product, shapes", [(np.matmul, ((3, 5, 40), (3, 40, 6))), (np.dot, ((5, 40), (40, 6)))])
def test_matrix_products_are_exact_in_the_ring(k, product, shapes):
    # Full-range ring elements: the int64 products wrap, the BLAS limb products must not lose a bit.
    a, b = (RNG.integers(-(2 ** (k - 1)), 2 ** (k - 1), shape, dtype=np.int64) for shape in shapes)
    want = product(a.astype(object), b.astype(object)) % 2**k
    got = _ring_product(product, a, b, k).astype(object) % 2**k
    assert (got == want).all()


def _square(x):
    return (x @ jnp.eye(4)) * (x @ jnp.eye(4))


_SQUARE_LINE = _square.__code__.co_firstlineno + 1


def test_overflow_is_reported_with_op_and_location():
    x = np.full((2, 4), 200.0, np.float32)  # 200^2 * 2^16 exceeds 2^30 in the 32-bit ring
    prog = ditto_compiler.compile(_square, x, policy="ditto")
    with pytest.raises(DittoError, match=r"'pphlo.multiply' overflows the 32-bit ring") as info:
        prog.emulate(x)
    # JAX's op name and the source line of the product, through every pass.
    assert '"jit(_square)/mul" at ' in str(info.value) and f"test_emulator.py:{_SQUARE_LINE}:" in str(info.value)
    prog.emulate(x, on_overflow="record")
    assert [o.op for o in prog.emulation.overflows] == ["pphlo.multiply"]


def test_no_overflow_on_ordinary_inputs():
    x = normal(2, 4)
    prog = ditto_compiler.compile(_square, x, policy="ditto")
    np.testing.assert_allclose(prog.emulate(x), _square(x), atol=0.05)
    assert prog.emulation.overflows == []


def test_inputs_are_checked_against_the_ring_they_enter():
    # Under `ditto` the matmul's operands enter the 32-bit ring: |x| < 2^(32-10-2) there.
    w = np.eye(4, dtype=np.float32)
    x = np.full((1, 4), 5e6, np.float32)
    fn = lambda w, x: jnp.exp(-jnp.abs(x @ w))  # noqa: E731
    prog = ditto_compiler.compile(fn, w, x, policy="ditto")
    message = r"argument \[1\] holds 5e\+06, outside the fixed-point range of the 32-bit ring it enters \(\|x\| < 2\^20"
    with pytest.raises(DittoError, match=message):
        prog.emulate(w, x)
    with pytest.raises(DittoError, match=message):
        prog.run(w, x)
    # In the 64-bit ring the same input fits.
    np.testing.assert_allclose(ditto_compiler.compile(fn, w, x).emulate(w, x), fn(w, x), atol=1e-4)


@pytest.mark.parametrize("policy", ["fxp64", "ditto"])
def test_integer_factors_as_in_spu(policy):
    """SPU's ABY3 truncation of a secret times an integer-valued public value comes out exactly
    one LSB high (nothing is dropped, the protocol's +1 is not cancelled). So integer constant
    factors stay integers (no truncation: exact), ones are folded away, and where a truncation
    remains (a contraction with a public integer matrix) the emulator adds that LSB, bit for bit."""
    x = np.linspace(-3, 3, 16, dtype=np.float32).reshape(4, 4)
    w = np.array([2.0, -5.0, 3.0, 1.0], np.float32)
    ones = jnp.ones(4, jnp.int32).astype(jnp.float32)

    def fn(x):
        return x * 3.0, x * w, x @ jnp.asarray(np.diag(w)), x * ones

    prog = ditto_compiler.compile(fn, x, policy=policy)
    secure, emulated = prog.run(x), prog.emulate(x)
    for got, want in zip(secure, emulated):
        np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
    lsb = 2.0**-18 if policy == "fxp64" else 2.0**-10  # the ring the products are in
    encoded = np.trunc(x.astype(np.float64) / lsb) * lsb
    exact = [3 * encoded, encoded * w, encoded @ np.diag(w), encoded]
    for got, want, high in zip(secure, exact, [0, 0, 1, 0]):
        np.testing.assert_allclose(np.asarray(got, np.float64) - want, high * lsb, rtol=0, atol=1e-12)
    assert "fxp.int<" in prog.ir and prog.ir.count("fxp.truncate") == 1


def test_stochastic_truncation_rounds_as_spu_does():
    """SPU's ABY3 truncation rounds up with probability equal to the dropped fraction;
    `truncation="stochastic"` does the same, so its statistics match a secure run's."""
    rng = np.random.default_rng(11)
    x, y = (rng.normal(0, 3, 4000).astype(np.float32) for _ in range(2))
    prog = ditto_compiler.compile(lambda x, y: x * y, x, y)
    floor = np.asarray(prog.emulate(x, y), np.float64)
    steps = {}
    for name, got in [
        ("stochastic", prog.emulate(x, y, truncation="stochastic", seed=1)),
        ("secure", prog.run(x, y)),
    ]:
        steps[name] = np.rint((np.asarray(got, np.float64) - floor) * 2**18)
        assert set(np.unique(steps[name])) <= {0.0, 1.0, 2.0}
    # Rounded up about half the time, and on the same elements more often than chance.
    assert abs(steps["stochastic"].mean() - steps["secure"].mean()) < 0.04
    agreement = np.mean(steps["stochastic"] == steps["secure"])
    assert agreement > 0.6
    # Unbiased, unlike floor (which is off by half a step on average).
    exact = x.astype(np.float64) * y.astype(np.float64)
    stochastic = np.asarray(prog.emulate(x, y, truncation="stochastic", seed=2), np.float64)
    assert abs(np.mean(stochastic - exact)) * 2**18 < 0.1 < abs(np.mean(floor - exact)) * 2**18
    with pytest.raises(DittoError, match="truncation must be 'floor' or 'stochastic'"):
        prog.emulate(x, y, truncation="nearest")
