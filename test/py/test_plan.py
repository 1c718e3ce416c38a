"""The plan: the one compiler -> runtime contract, as data that round-trips through JSON."""

import json

import jax.numpy as jnp
import numpy as np
import pytest
from xdsl.parser import Parser

import ditto_compiler
from ditto_compiler import DittoError
from ditto_compiler.dialects import make_context
from ditto_compiler.plan import Conversion, MatMul, Plan, Segment
from ditto_compiler.runtime.executor import execute

RNG = np.random.default_rng(5)
W = (RNG.normal(size=(8, 4)) * 0.3).astype(np.float32)
X = RNG.normal(size=(3, 8)).astype(np.float32)


def layer(w, x):
    return jnp.exp(-jnp.abs(x @ w)) @ w.T


@pytest.fixture(scope="module")
def mixed():
    return ditto_compiler.compile(layer, W, X, policy="ditto")


def test_a_saved_plan_loads_back_equal_and_runs_the_same(mixed, tmp_path):
    path = tmp_path / "layer.json"
    mixed.save(str(path))
    loaded = ditto_compiler.program.load_plan(str(path))
    assert loaded == mixed.plan
    assert json.loads(path.read_text())["format"] == "ditto-plan/2"
    want = mixed.run(W, X)
    got, cost = execute(loaded, loaded.check_inputs([W, X]))
    np.testing.assert_array_equal(got[0].shape, np.shape(want))
    np.testing.assert_allclose(got[0], want, atol=0.05)
    assert cost.send_bytes == mixed.cost.send_bytes  # deterministic


def test_every_program_of_a_plan_is_pphlo_the_dialect_defines(mixed):
    steps = mixed.plan.steps
    assert {type(s) for s in steps} == {Segment, Conversion, MatMul}
    texts = [s.code for s in steps if isinstance(s, Segment)]
    texts += [text for s in steps if isinstance(s, Conversion) for text in (s.prepare, s.finish) if text]
    upcasts = [s for s in steps if isinstance(s, Conversion) and s.is_upcast]
    assert upcasts and all(s.prepare and s.finish and "pphlo.bitcast_convert" in s.prepare for s in upcasts)
    for text in texts:
        module = Parser(make_context(), text).parse_module()
        module.verify()
        assert {op.dialect_name() for op in module.walk()} <= {"builtin", "func", "pphlo"}


def test_a_single_ring_program_without_secret_products_is_a_one_segment_plan():
    prog = ditto_compiler.compile(lambda x: jnp.exp(-jnp.abs(x)), X)
    assert [type(s) for s in prog.plan.steps] == [Segment] and list(prog.plan.rings) == [64]
    assert prog.pphlo == prog.plan.steps[0].code


def test_secret_products_are_matmul_steps_whose_readers_truncate_them():
    prog = ditto_compiler.compile(layer, W, X)
    steps = prog.plan.steps
    assert [type(s) for s in steps] == [MatMul, Segment, MatMul, Segment]
    first = steps[0]
    assert (first.lhs.shape, first.rhs.shape, first.result.shape) == ((3, 8), (8, 4), (3, 4))
    assert first.location and "dot_general" in first.location
    # Each reader multiplies the raw product by 2^-18, a factor made at run time: SPU rewrites a
    # multiplication by a power-of-two constant into a truncation that fails on large values.
    for segment in (steps[1], steps[3]):
        assert segment.inputs[0] in {first.result.name, steps[2].result.name}
        assert "pphlo.subtract" in segment.code and "pphlo.dot" not in segment.code
    assert prog.pphlo == steps[1].code + "\n" + steps[3].code
    np.testing.assert_allclose(prog.run(W, X), layer(W, X), atol=1e-3)


@pytest.mark.parametrize(
    "policy, columns, batched, step",
    [
        ("fxp64", 1024, False, True),  # 2^27 multiply-adds: the largest 64-bit product the step takes
        ("fxp64", 1025, False, False),  # one column more: SPU's int64 kernel is faster
        ("fxp64", 1025, True, False),  # every batch counts
        ("ditto", 1025, False, True),  # 32-bit ring: three float64 products beat SPU's kernel
    ],
)
def test_large_64_bit_products_stay_in_spus_kernel(policy, columns, batched, step):
    shape = (2, 64, 1024) if batched else (128, 1024)
    x = np.zeros(shape, np.float32)
    w = np.zeros((*shape[:-2], 1024, columns), np.float32)
    prog = ditto_compiler.compile(lambda x, w: jnp.tanh(x @ w), x, w, policy=policy)
    products = [s for s in prog.plan.steps if isinstance(s, MatMul)]
    assert [p.result.shape for p in products] == ([(*shape[:-1], columns)] if step else [])
    kernels = [s for s in prog.plan.steps if isinstance(s, Segment) and "pphlo.dot" in s.code]
    assert len(kernels) == (not step)


def test_a_plan_that_reads_a_value_before_it_is_made_is_refused(mixed):
    data = mixed.plan.to_json()
    data["steps"] = data["steps"][1:]  # the first segment made what later steps read
    with pytest.raises(DittoError, match=r"plan: steps\[\d+\]\.\w+.*uses 'v\d+' before any step defines it"):
        Plan.from_json(data)


def test_a_plan_that_reads_a_value_from_the_wrong_ring_is_refused(mixed):
    data = mixed.plan.to_json()
    conversion = next(s["conversion"] for s in data["steps"] if "conversion" in s)
    conversion["source"]["field_bits"] = conversion["target"]["field_bits"]
    with pytest.raises(DittoError, match="converts a value into the ring it is already in|-bit ring, not the"):
        Plan.from_json(data)


def test_a_plan_carries_checked_spu_runtime_options(mixed):
    data = mixed.plan.to_json()
    data["spu_options"] = {"fxp_exp_mode": "EXP_TAYLOR", "fxp_exp_iters": 5}
    assert Plan.from_json(data).spu_options == data["spu_options"]
    for bad, message in [
        ({"fxp_exp_mode": "EXP_FAST"}, r"spu_options\.fxp_exp_mode: 'EXP_FAST' is not one of the allowed values"),
        ({"fxp_exp_iters": 0}, r"spu_options\.fxp_exp_iters: 0 is not one of the allowed values"),
        ({"enable_action_trace": True}, "unknown SPU option 'enable_action_trace'"),
    ]:
        data["spu_options"] = bad
        with pytest.raises(DittoError, match=message):
            Plan.from_json(data)
