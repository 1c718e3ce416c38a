"""The measured cost model (ditto_compiler/cost_model.py): it predicts what secure runs of compiled models
cost, knows what SPU's 32-bit runtime cannot run, and refuses a calibration made for another SPU."""

import json
import math

import pytest
from spu import version as spu_version

import ditto_compiler
from ditto_compiler import DittoError
from ditto_compiler.cost_model import ZERO, CostModel, Estimate, default_path, parse_program, tree_calls
from ditto_compiler.ring import RingConfig

SMALL, LARGE = RingConfig(32, 10), RingConfig(64, 18)
TOLERANCE = 0.02


@pytest.fixture(scope="module")
def model():
    return CostModel.load()


@pytest.fixture(scope="module")
def cases():
    hf = pytest.importorskip("ditto_compiler.models.hf")
    pytest.importorskip("transformers")
    return {"bert": hf.bert_case("tiny", 16), "gpt2": hf.gpt2_case("tiny", 16)}


@pytest.mark.parametrize("family, policy", [("bert", "fxp64"), ("bert", "ditto"), ("gpt2", "fxp64"), ("gpt2", "ditto")])
def test_a_plan_is_predicted_as_measured(model, cases, family, policy):
    case = cases[family]
    prog = ditto_compiler.compile(case.forward, *case.args, policy=policy)
    prog.run(*case.args)
    estimate = model.plan(prog.plan)
    assert estimate.send_bytes == pytest.approx(prog.cost.send_bytes, rel=TOLERANCE)
    assert estimate.rounds == pytest.approx(prog.cost.rounds, rel=TOLERANCE)
    assert estimate.seconds > 0  # measured, noisy: only its presence is checked


def _ops(body: str, arguments: str) -> list:
    """The ops of `func.func @main(arguments)` whose generic-form body is `body`."""
    text = (
        '"builtin.module"() ({\n'
        f'  "func.func"() <{{sym_name = "main", function_type = ({arguments}) -> ()}}> ({{\n'
        f"  ^bb0({', '.join(f'%a{i}: {t}' for i, t in enumerate(arguments.split(', ')))}):\n"
        f'{body}\n    "func.return"() : () -> ()\n'
        "  }) : () -> ()\n"
        "}) : () -> ()\n"
    )
    module = parse_program(text)
    module.verify()
    return [op for op in next(iter(module.ops)).body.block.ops if op.dialect_name() == "pphlo"]


S, P = "tensor<8x!pphlo.secret<f32>>", "tensor<8xf32>"


def test_a_secret_reciprocal_cannot_run_in_the_32_bit_ring(model):
    (op,) = _ops(f'    %0 = "pphlo.reciprocal"(%a0) : ({S}) -> {S}', S)
    assert math.isinf(model.op(op, SMALL).send_bytes)
    large = model.op(op, LARGE)
    assert large.feasible and large.send_bytes > 0 and large.rounds > 0


def test_public_ops_data_movement_and_additions_cost_nothing(model):
    ops = _ops(
        f'    %0 = "pphlo.exponential"(%a1) : ({P}) -> {P}\n'
        f'    %1 = "pphlo.add"(%a0, %a0) : ({S}, {S}) -> {S}\n'
        f'    %2 = "pphlo.negate"(%1) : ({S}) -> {S}\n'
        f'    %3 = "pphlo.reshape"(%2) : ({S}) -> tensor<2x4x!pphlo.secret<f32>>\n'
        f'    %4 = "pphlo.transpose"(%3) <{{permutation = array<i64: 1, 0>}}> : '
        "(tensor<2x4x!pphlo.secret<f32>>) -> tensor<4x2x!pphlo.secret<f32>>",
        f"{S}, {P}",
    )
    for ring in (SMALL, LARGE):
        assert all(model.op(op, ring) == ZERO for op in ops)


def test_products_cost_their_truncation_and_outputs_not_the_contraction(model):
    by_public, by_secret, dot_short, dot_long = _ops(
        f'    %0 = "pphlo.multiply"(%a0, %a1) : ({S}, {P}) -> {S}\n'
        f'    %1 = "pphlo.multiply"(%a0, %0) : ({S}, {S}) -> {S}\n'
        '    %2 = "pphlo.dot"(%a2, %a3) : (tensor<4x3x!pphlo.secret<f32>>, tensor<3x2x!pphlo.secret<f32>>) '
        "-> tensor<4x2x!pphlo.secret<f32>>\n"
        '    %3 = "pphlo.dot"(%a4, %a5) : (tensor<4x30x!pphlo.secret<f32>>, tensor<30x2x!pphlo.secret<f32>>) '
        "-> tensor<4x2x!pphlo.secret<f32>>",
        f"{S}, {P}, tensor<4x3x!pphlo.secret<f32>>, tensor<3x2x!pphlo.secret<f32>>, "
        "tensor<4x30x!pphlo.secret<f32>>, tensor<30x2x!pphlo.secret<f32>>",
    )
    for ring in (SMALL, LARGE):
        truncation = model.op(by_public, ring)
        assert truncation == model.conversion(8, RingConfig(ring.field_bits, ring.fraction_bits + 2), ring)
        assert 0 < truncation.send_bytes < model.op(by_secret, ring).send_bytes
        assert model.op(dot_short, ring) == model.op(dot_long, ring)
        assert model.op(dot_short, ring).send_bytes == model.op(by_secret, ring).send_bytes  # 8 outputs each
    assert model.op(by_secret, SMALL).send_bytes < model.op(by_secret, LARGE).send_bytes


def test_a_boolean_turned_number_is_held_as_bits_and_costs_more(model):
    """SPU keeps a converted comparison boolean-shared; comparing it again costs more than comparing a number
    (GPT-2's causal mask does this)."""
    bits = "tensor<8x!pphlo.secret<i1>>"
    _, _, on_bits, on_number = _ops(
        f'    %0 = "pphlo.less"(%a0, %a1) : ({S}, {P}) -> {bits}\n'
        f'    %1 = "pphlo.convert"(%0) : ({bits}) -> {S}\n'
        f'    %2 = "pphlo.greater"(%1, %a1) : ({S}, {P}) -> {bits}\n'
        f'    %3 = "pphlo.greater"(%a0, %a1) : ({S}, {P}) -> {bits}',
        f"{S}, {P}",
    )
    assert model.op(on_bits, LARGE).send_bytes > model.op(on_number, LARGE).send_bytes > 0


def test_reductions_follow_spus_tree(model):
    assert [tree_calls(n) for n in (1, 2, 3, 4, 7, 16, 17, 100)] == [0, 1, 2, 2, 4, 4, 5, 8]
    secret = "tensor<3x16x!pphlo.secret<f32>>"
    (maximum,) = _ops(
        f'    %0 = "pphlo.reduce"(%a0, %a1) <{{dimensions = array<i64: 1>}}> ({{\n'
        "    ^bb0(%x: tensor<!pphlo.secret<f32>>, %y: tensor<!pphlo.secret<f32>>):\n"
        '      %m = "pphlo.maximum"(%x, %y) : (tensor<!pphlo.secret<f32>>, tensor<!pphlo.secret<f32>>) '
        "-> tensor<!pphlo.secret<f32>>\n"
        '      "pphlo.return"(%m) : (tensor<!pphlo.secret<f32>>) -> ()\n'
        f"    }}) : ({secret}, tensor<f32>) -> tensor<3x!pphlo.secret<f32>>",
        f"{secret}, tensor<f32>",
    )
    max_ops = _ops(
        '    %0 = "pphlo.maximum"(%a0, %a1) : (tensor<45x!pphlo.secret<f32>>, tensor<45x!pphlo.secret<f32>>) '
        "-> tensor<45x!pphlo.secret<f32>>",
        "tensor<45x!pphlo.secret<f32>>, tensor<45x!pphlo.secret<f32>>",
    )
    # 3 x 15 comparisons in 4 calls: the bytes of 45 elementwise ones, the rounds of 4
    reduced, elementwise = model.op(maximum, LARGE), model.op(max_ops[0], LARGE)
    assert reduced.send_bytes == elementwise.send_bytes
    assert reduced.rounds == pytest.approx(4 * elementwise.rounds)


def test_conversions(model):
    up = model.conversion(100, SMALL, LARGE)
    assert up.send_bytes > 0 and model.conversion(200, SMALL, LARGE).send_bytes == 2 * up.send_bytes
    down = model.conversion(100, LARGE, SMALL)
    assert down.send_bytes == 100 * 2 * (4 + 1)  # the downcast protocol: one round, two short words
    truncation = model.conversion(100, LARGE, RingConfig(64, 10))  # SPU's, in the large ring
    assert down.send_bytes < truncation.send_bytes and down.rounds < truncation.rounds
    assert model.conversion(100, RingConfig(64, 10), RingConfig(64, 18)) == ZERO
    assert math.isinf(model.conversion(100, RingConfig(32, 12), RingConfig(64, 8)).send_bytes)
    assert Estimate(1, 2, 3) + Estimate(4, 5, 6) == Estimate(5, 7, 9) and Estimate.ZERO == ZERO


def test_a_model_for_another_spu_version_is_refused(tmp_path):
    data = json.loads(default_path().read_text())
    assert data["spu"] == spu_version.__version__
    CostModel.from_json(data)
    data["spu"] = "0.0.1"
    path = tmp_path / "cost_model.json"
    path.write_text(json.dumps(data))
    with pytest.raises(DittoError, match="calibrated for SPU 0.0.1"):
        CostModel.from_file(path)
    path.write_text("{}")
    with pytest.raises(DittoError, match="not a ditto-compiler cost model"):
        CostModel.from_file(path)


def test_an_unmeasured_kind_is_named(model):
    (gather,) = _ops(
        '    %0 = "pphlo.custom_call"(%a0, %a1) <{call_target_name = "spu.gather"}> : '
        "(tensor<8x!pphlo.secret<f32>>, tensor<1x!pphlo.secret<i32>>) -> tensor<8x!pphlo.secret<f32>>",
        "tensor<8x!pphlo.secret<f32>>, tensor<1x!pphlo.secret<i32>>",
    )
    with pytest.raises(DittoError, match=r"no measured cost for pphlo.custom_call\[spu.gather\]\(sf,si\)"):
        model.op(gather, LARGE)
    with pytest.raises(DittoError, match="no 128-bit ring"):
        model.op(gather, RingConfig(128, 40))
