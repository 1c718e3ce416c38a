"""Ring policies through ditto_compiler.compile: fxp64, ditto, and user policy files."""

import json

import numpy as np
import pytest

import ditto_compiler
from ditto_compiler import DittoError
from ditto_compiler.models.transformer_block import init_block, transformer_block

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


def test_ditto_policy_types_a_transformer_block_with_both_rings():
    p = init_block(hidden=32, mlp=64, seed=1)
    x = RNG.normal(size=(8, 32)).astype(np.float32)
    prog = ditto_compiler.compile(lambda p, x: transformer_block(p, x, heads=4), p, x, policy="ditto")
    ir = prog.ir
    # Every matmul computes in the 32-bit ring; every exp and rsqrt in the 64-bit ring.
    for line in ir.splitlines():
        if '"pphlo.dot' in line:
            assert "!fxp.fixed<32, 16>" in line.split("->")[-1], line
        if '"pphlo.exponential' in line or '"pphlo.rsqrt' in line:
            assert "!fxp.fixed<64, 18>" in line.split("->")[-1], line
    assert ir.count('"fxp.cast"') > 0
    assert prog.pphlo is None and "mixed-ring executor" in prog.not_runnable
    with pytest.raises(DittoError, match="mixed-ring executor"):
        prog.run(p, x)


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
