"""fold-bool-comparisons on Flax GPT-2's causal mask: the comparisons go, the logits stay."""

import numpy as np
import pytest

import ditto_compiler
from ditto_compiler.cost_model import CostModel
from ditto_compiler.dialects import pphlo
from ditto_compiler.passes.fold_bool_comparisons import FoldBoolComparisonsPass, converted_bool
from ditto_compiler.pipeline import default_passes


def comparisons_of_converted_bools(prog) -> int:
    return sum(
        1
        for op in prog.module.walk()
        if isinstance(op, pphlo.CompareOp) and any(converted_bool(v) is not None for v in op.operands)
    )


def test_gpt2_mask_comparisons_fold_and_logits_match_plaintext():
    pytest.importorskip("transformers")
    from ditto_compiler.models.hf import gpt2_case

    case = gpt2_case("tiny", 8)
    args = case.args  # the attention mask is a secret input, as in `ditto bench`
    without = [p for p in default_passes("fxp64") if not isinstance(p, FoldBoolComparisonsPass)]
    unfolded = ditto_compiler.compile(case.forward, *args, pipeline=without)
    folded = ditto_compiler.compile(case.forward, *args, policy="fxp64")
    assert comparisons_of_converted_bools(unfolded) >= 2  # at least one per layer
    assert comparisons_of_converted_bools(folded) == 0

    model = CostModel.load()
    saved = model.plan(unfolded.plan).send_bytes - model.plan(folded.plan).send_bytes
    assert saved > 2 * 64 * 300  # two layers' 8 x 8 mask: a B2A and a comparison per element

    want = np.asarray(case.forward(*args))
    got = np.asarray(folded.run(*args))
    np.testing.assert_array_equal(got.argmax(-1), want.argmax(-1))
    assert np.abs(got - want).max() < 0.02
