"""Ring policies through ditto_compiler.compile: fxp64, ditto, and user policy files."""

import json

import jax
import numpy as np
import pytest

import ditto_compiler
from ditto_compiler import DittoError
from ditto_compiler.diagnostics import describe_location
from ditto_compiler.dialects import fxp
from ditto_compiler.models.transformer_block import init_block, transformer_block
from ditto_compiler.plan import Conversion

RNG = np.random.default_rng(7)


def linear(w, b, x):
    return x @ w + b


ARGS = (
    RNG.normal(size=(16, 8)).astype(np.float32) * 0.3,
    RNG.normal(size=8).astype(np.float32),
    RNG.normal(size=(4, 16)).astype(np.float32),
)


def test_fxp64_is_the_default_and_runs_in_one_64_bit_ring():
    prog = ditto_compiler.compile(linear, *ARGS)
    assert (prog.ring.field_bits, prog.ring.fraction_bits) == (64, 18)
    assert "!fxp.fixed<64, 18>" in prog.ir and "fxp.truncate" in prog.ir and "fxp.cast" not in prog.ir
    assert "fxp" not in prog.pphlo  # SPU sees plain PPHLO: its dot truncates by itself
    np.testing.assert_allclose(prog.run(*ARGS), linear(*ARGS), atol=1e-3)


def test_a_policy_file_can_put_a_layer_in_the_32_bit_ring(tmp_path):
    policy = tmp_path / "fm32.json"
    policy.write_text(json.dumps({"base": "ditto", "rules": [{"op": "pphlo.dot", "ring": [32, 10]}]}))
    prog = ditto_compiler.compile(linear, *ARGS, policy=str(policy))
    assert (prog.ring.field_bits, prog.ring.fraction_bits) == (32, 10)
    out = prog.run(*ARGS)  # on SPU's FM32 runtime
    np.testing.assert_allclose(out, linear(*ARGS), atol=2e-2)
    fm64 = ditto_compiler.compile(linear, *ARGS)
    fm64.run(*ARGS)
    assert prog.cost.send_bytes < fm64.cost.send_bytes  # the point of the small ring


def test_a_32_bit_product_past_2_to_the_21_is_truncated_right(tmp_path):
    # Products of up to ~16 hold ~2^24 at 20 fraction bits. SPU truncates a multiplication by the
    # constant 2^-10 wrongly from 2^21 on (off by 8.0 here), so the readers of a matmul step's
    # product make that factor at run time (lowering/spu_text.py).
    policy = tmp_path / "fm32.json"
    policy.write_text(json.dumps({"base": "ditto", "rules": [{"op": "pphlo.dot", "ring": [32, 10]}]}))
    x = RNG.normal(size=(8, 32)).astype(np.float32) * 3
    w = RNG.normal(size=(32, 32)).astype(np.float32) * 0.3
    prog = ditto_compiler.compile(lambda x, w: x @ w, x, w, policy=str(policy))
    assert np.abs(x @ w).max() > 2**21 / 2**20
    np.testing.assert_allclose(prog.run(x, w), x @ w, atol=0.06)


def test_ditto_policy_runs_a_transformer_block_across_both_rings():
    p = init_block(hidden=32, mlp=64, seed=1)
    x = RNG.normal(size=(8, 32)).astype(np.float32)
    prog = ditto_compiler.compile(lambda p, x: transformer_block(p, x, heads=4), p, x, policy="ditto")
    ir = prog.ir
    # Every matmul computes in the 32-bit ring; every exp and rsqrt in the 64-bit ring.
    for line in ir.splitlines():
        if '"pphlo.dot' in line:
            assert "!fxp.fixed<32, 20>" in line.split("->")[-1], line
        if '"pphlo.exponential' in line or '"pphlo.rsqrt' in line:
            assert "!fxp.fixed<64, 18>" in line.split("->")[-1], line
    assert ir.count('"fxp.cast"') > 0
    # Secure execution across both rings agrees with the bit-exact emulation
    # up to SPU's probabilistic truncation and its nonlinear kernels.
    assert prog.pphlo is None and prog.plan is not None
    secure = prog.run(p, x)
    # Each 10-fraction-bit truncation may be off by one step (2^-10) under MPC, and SPU's
    # nonlinear kernels are approximations: a few steps of difference through a block.
    np.testing.assert_allclose(secure, prog.emulate(p, x), atol=16 * 2.0**-10, rtol=0)
    want = transformer_block(p, x, heads=4)
    assert np.abs(secure - want).max() < 0.2
    assert set(prog.cost.by_ring) == {"32-bit", "64-bit", "conversions"}
    assert all(c.send_bytes > 0 for c in prog.cost.by_ring.values())
    assert prog.cost.send_bytes == sum(c.send_bytes for c in prog.cost.by_ring.values())


def test_unknown_policy_is_a_clear_error():
    with pytest.raises(DittoError, match="unknown ring policy 'fxp16'"):
        ditto_compiler.compile(linear, *ARGS, policy="fxp16")


def test_policy_file_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"base": "ditto", "rules": [{"op": "pphlo.dot", "ring": [48, 8]}]}))
    with pytest.raises(DittoError, match="unsupported ring width 48"):
        ditto_compiler.compile(linear, *ARGS, policy=str(bad))
    bad.write_text(json.dumps({"base": "ditto", "extra": 1}))
    with pytest.raises(DittoError, match=r"bad.json: unknown keys \['extra'\]"):
        ditto_compiler.compile(linear, *ARGS, policy=str(bad))


def test_auto_policy_reports_and_is_more_accurate_than_ditto():
    p = init_block(hidden=32, mlp=64, seed=2)
    x = RNG.normal(size=(8, 32)).astype(np.float32)

    def block(p, x):
        return transformer_block(p, x, heads=4)

    want = np.asarray(block(p, x))
    # A strict precision guard (8 bits of RMS resolution) keeps most matmuls out of the small ring.
    auto = ditto_compiler.compile(block, p, x, policy="auto", precision=8)
    ditto = ditto_compiler.compile(block, p, x, policy="ditto")
    auto_error = np.abs(auto.emulate(p, x) - want).max()
    ditto_error = np.abs(ditto.emulate(p, x) - want).max()
    assert auto_error < ditto_error
    choices = auto.ring_choices
    assert choices and all(c["op"] in ("pphlo.dot", "pphlo.dot_general") for c in choices)
    assert all("dot_general" in c["location"] and "test_rings.py" not in c["location"] for c in choices)
    assert {tuple(c["ring"]) for c in choices} <= {(32, 10), (64, 18)}
    # A looser precision guard moves more matmuls into the small ring.
    loose = ditto_compiler.compile(block, p, x, policy="auto", precision=4)
    small = sum(c["ring"][0] == 32 for c in loose.ring_choices)
    assert small > sum(c["ring"][0] == 32 for c in choices)


def two_matmuls(w, x):
    with jax.named_scope("attention"):
        h = x @ w
    return h @ w.T


def _dot_rings(prog):
    dots = [op for op in prog.module.walk() if op.name == "pphlo.dot"]
    return {describe_location(op.location).split('"')[1]: fxp.ring_of(op.results[0].type).k for op in dots}


def test_a_location_rule_moves_the_op_it_names(tmp_path):
    w, x = ARGS[0], ARGS[2]
    assert _dot_rings(ditto_compiler.compile(two_matmuls, w, x, policy="ditto")) == {
        "jit(two_matmuls)/attention/dot_general": 32,
        "jit(two_matmuls)/dot_general": 32,
    }
    policy = tmp_path / "attention-large.json"
    policy.write_text(json.dumps({"base": "ditto", "rules": [{"location": "attention/", "ring": "large"}]}))
    prog = ditto_compiler.compile(two_matmuls, w, x, policy=str(policy))
    assert _dot_rings(prog) == {"jit(two_matmuls)/attention/dot_general": 64, "jit(two_matmuls)/dot_general": 32}
    # The rule also matches the source line.
    line = two_matmuls.__code__.co_firstlineno + 2
    policy.write_text(json.dumps({"base": "ditto", "rules": [{"location": f"test_rings.py:{line}:", "ring": "large"}]}))
    prog = ditto_compiler.compile(two_matmuls, w, x, policy=str(policy))
    assert _dot_rings(prog) == {"jit(two_matmuls)/attention/dot_general": 64, "jit(two_matmuls)/dot_general": 32}
    np.testing.assert_allclose(prog.run(w, x), two_matmuls(w, x), atol=5e-2)
    # Each conversion in the plan names its place.
    conversions = [s for s in prog.plan.steps if isinstance(s, Conversion)]
    assert conversions and all(c.location and "test_rings.py:" in c.location for c in conversions)


def test_auto_policy_keeps_large_values_out_of_the_small_ring():
    w = np.eye(8, dtype=np.float32)
    small_x = RNG.normal(size=(2, 8)).astype(np.float32)
    large_x = small_x * 2000  # the product would not fit 2^10 / margin in the 32-bit ring

    def fn(w, x):
        return x @ w

    assert ditto_compiler.compile(fn, w, small_x, policy="auto").ring_choices[0]["ring"] == [32, 10]
    calibrated_large = ditto_compiler.compile(fn, w, small_x, policy="auto", calibration=(w, large_x))
    assert calibrated_large.ring_choices[0]["ring"] == [64, 18]


def test_auto_policy_argument_errors():
    with pytest.raises(DittoError, match="guard margin must be at least 1"):
        ditto_compiler.compile(linear, *ARGS, policy="auto", margin=0.5)
    with pytest.raises(DittoError, match="structure of the example arguments"):
        ditto_compiler.compile(linear, *ARGS, policy="auto", calibration=(ARGS[0],))


def test_fuse_scales_removes_truncations_on_bert(tiny_bert):
    bert, params, ids = tiny_bert
    base = 'inline-private-functions,legalize-to-pphlo,annotate-rings{policy="ditto"}'
    before = ditto_compiler.compile(bert, params, ids, pipeline=base)
    after = ditto_compiler.compile(bert, params, ids, pipeline=base + ",fuse-scales")
    before.emulate(params, ids)
    after.emulate(params, ids)
    # erf's x^2 / 16 merges into the square's truncation and its final 1/16 into the product's, twice per layer
    # (GeLU's 0.5 and LayerNorm's 1/32 follow a bias add and a reduction: their truncations only shrink).
    assert before.ir.count('"fxp.truncate"') - after.ir.count('"fxp.truncate"') == 4
    assert before.emulation.truncations - after.emulation.truncations == 4
    np.testing.assert_array_equal(after.emulation.outputs[0], before.emulation.outputs[0])


@pytest.mark.parametrize("fraction", [-1, 1.5, True])
def test_a_ring_needs_non_negative_integer_fraction_bits(fraction):
    from ditto_compiler.ring import RingConfig

    with pytest.raises(DittoError, match="fraction bits must be a non-negative integer"):
        RingConfig(64, fraction)
