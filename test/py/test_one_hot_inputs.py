"""Token ids as one-hot inputs from their owner: the lookup is a matmul, no comparison under MPC."""

import jax.numpy as jnp
import numpy as np
import pytest

import ditto_compiler
from ditto_compiler import DittoError
from ditto_compiler.runtime.cost import MATMUL_PROTOCOL

TABLE = np.random.default_rng(0).normal(size=(40, 6)).astype(np.float32)
IDS = np.array([[3, 0, 39, 17]], np.int32)


def embed(table, ids):
    return jnp.take(table, ids, axis=0) * 2.0


@pytest.mark.parametrize("policy", ["fxp64", "ditto"])
def test_lookup_by_secret_ids_is_a_matmul_on_one_hot_inputs(policy):
    prog = ditto_compiler.compile(embed, TABLE, IDS, policy=policy)
    assert [(e.source, e.depth) for e in prog.encodings] == [(1, 40)]
    tolerance = 1e-4 if policy == "fxp64" else 2e-2
    np.testing.assert_allclose(prog.emulate(TABLE, IDS), embed(TABLE, IDS), atol=tolerance)
    np.testing.assert_allclose(prog.run(TABLE, IDS), embed(TABLE, IDS), atol=tolerance)
    assert "pphlo.equal" not in prog.cost.by_op and MATMUL_PROTOCOL in prog.cost.by_op


def test_bert_lookup_costs_no_comparison_per_vocabulary_entry(tiny_bert):
    forward, params, ids = tiny_bert
    prog = ditto_compiler.compile(forward, params, ids)
    np.testing.assert_allclose(prog.run(params, ids), forward(params, ids), atol=5e-3)
    assert "pphlo.equal" not in prog.cost.by_op


def test_public_ids_stay_a_local_gather():
    prog = ditto_compiler.compile(embed, TABLE, IDS, public=[1])
    assert prog.encodings == [] and "spu.gather" in prog.ir


@pytest.mark.parametrize("bad", [40, -1])
def test_a_token_id_outside_the_vocabulary_is_reported(bad):
    prog = ditto_compiler.compile(embed, TABLE, IDS)
    with pytest.raises(DittoError, match=rf"input 1: token id {bad} is outside the vocabulary \[0, 40\)"):
        prog.run(TABLE, np.array([[3, bad, 1, 2]], np.int32))


def test_a_saved_plan_carries_the_encoding_for_drive(tmp_path):
    from ditto_compiler.program import load_plan
    from ditto_compiler.runtime.executor import execute

    prog = ditto_compiler.compile(embed, TABLE, IDS)
    prog.save(tmp_path / "embed.ditto")
    plan = load_plan(tmp_path / "embed.ditto")
    assert [(e.source, e.depth) for e in plan.encodings] == [(1, 40)]
    (out,), _ = execute(plan, plan.check_inputs([TABLE, IDS]))
    np.testing.assert_allclose(out, embed(TABLE, IDS), atol=1e-4)
