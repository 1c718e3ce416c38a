"""Secure execution agrees with JAX plaintext within fixed-point tolerance (FM64, 18 fraction bits)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import ditto_compiler
from ditto_compiler.models.transformer_block import attention, init_block, layer_norm, transformer_block

RNG = np.random.default_rng(0)


def normal(*shape, scale=1.0):
    return (scale * RNG.normal(size=shape)).astype(np.float32)


def check(fn, *args, atol, public=None):
    prog = ditto_compiler.compile(fn, *args, public=public)
    got = prog.run(*args)
    want = fn(*args)
    jax.tree_util.tree_map(lambda g, w: np.testing.assert_allclose(g, w, atol=atol, rtol=0), got, want)
    assert prog.cost is not None and prog.cost.seconds > 0 and len(prog.cost.parties) == 3
    return prog


def test_mlp():
    def mlp(p, x):
        h = jax.nn.relu(x @ p["w1"] + p["b1"])
        return h @ p["w2"] + p["b2"]

    p = {"w1": normal(16, 32, scale=0.3), "b1": normal(32), "w2": normal(32, 4, scale=0.3), "b2": normal(4)}
    check(mlp, p, normal(8, 16), atol=2e-3)


def test_layer_norm():
    g, b = normal(32, scale=0.1) + 1, normal(32, scale=0.1)
    check(lambda x, g, b: layer_norm(x, g, b), normal(6, 32, scale=2.0), g, b, atol=2e-3)


def test_softmax():
    # SPU's fixed-point exp is accurate to about 1e-3 near 0.
    check(lambda x: jax.nn.softmax(x, axis=-1), normal(4, 16, scale=3.0), atol=5e-3)


def test_gelu_erf():
    x = np.linspace(-6, 6, 97, dtype=np.float32)
    check(lambda x: jax.nn.gelu(x, approximate=False), x, atol=1e-3)


def test_gelu_tanh():
    # SPU's fixed-point tanh is itself an approximation (error about 5e-3).
    x = np.linspace(-6, 6, 97, dtype=np.float32)
    check(lambda x: jax.nn.gelu(x, approximate=True), x, atol=1.5e-2)


@pytest.mark.parametrize("heads", [1, 4])
def test_causal_attention(heads):
    p = init_block(hidden=32, mlp=64, seed=3)
    check(lambda p, x: attention(x, p, heads, causal=True), p, normal(8, 32), atol=1e-2)


def test_transformer_block():
    p = init_block(hidden=32, mlp=64, seed=4)
    check(lambda p, x: transformer_block(p, x, heads=4), p, normal(8, 32), atol=2e-2)


def test_public_weights_are_not_secret():
    w = normal(8, 4)
    prog = check(lambda w, x: jnp.tanh(x @ w), w, normal(3, 8), public=[0], atol=1e-2)
    assert "tensor<8x4xf32>" in prog.pphlo  # the public weight argument keeps a plain type
    assert "tensor<3x8x!pphlo.secret<f32>>" in prog.pphlo


def test_pytree_outputs():
    def f(x):
        return {"sum": x.sum(axis=0), "parts": (x * 2.0, jnp.max(x, axis=1))}

    check(f, normal(5, 3), atol=1e-3)


@pytest.mark.parametrize("ids_public, row_shape", [(False, (6,)), (True, (6,)), (False, (2, 3))])
def test_embedding_lookup(ids_public, row_shape):
    table = normal(20, *row_shape)
    ids = np.array([[3, 0, 19, 7]], dtype=np.int32)
    prog = check(lambda t, i: jnp.take(t, i, axis=0), table, ids, public=(False, ids_public), atol=1e-4)
    assert ("spu.gather" in prog.pphlo) == ids_public
    # A lookup at public positions is local to each party; a secret one communicates.
    assert (prog.cost.send_bytes == 0) == ids_public


def test_flax_bert_two_layers():
    transformers = pytest.importorskip("transformers")
    config = transformers.BertConfig(
        vocab_size=64,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=16,
    )
    model = transformers.FlaxBertModel(config, seed=0)
    ids = np.array([[2, 17, 5, 33, 9, 60, 1, 4]], dtype=np.int32)
    mask = np.array([[1, 1, 1, 1, 1, 1, 0, 0]], dtype=np.int32)

    def bert(params, ids, mask):
        return model(ids, attention_mask=mask, params=params).last_hidden_state

    prog = check(bert, model.params, ids, mask, atol=5e-3)
    # Secret token ids arrive one-hot from their owner; position and token-type ids are public.
    assert prog.pphlo.count("spu.gather") == 2 and "pphlo.equal" not in prog.pphlo
    assert [e.depth for e in prog.encodings] == [64]


def test_flax_gpt2_two_layers(tiny_gpt2):
    gpt2, params, ids = tiny_gpt2
    prog = check(gpt2, params, ids, atol=5e-3)
    # Causal masking with float32's most negative value stays correct (saturated constant + guarded exp).
    assert (prog.run(params, ids).argmax(-1) == gpt2(params, ids).argmax(-1)).all()


def test_flax_bert_for_sequence_classification():
    transformers = pytest.importorskip("transformers")
    config = transformers.BertConfig(vocab_size=64, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                     intermediate_size=64, max_position_embeddings=16, num_labels=3)  # fmt: skip
    model = transformers.FlaxBertForSequenceClassification(config, seed=0)
    ids = np.array([[2, 17, 5, 33, 9, 1]], dtype=np.int32)

    def classify(params, ids):
        return model(ids, params=params).logits

    prog = check(classify, model.params, ids, atol=5e-3)
    assert prog.run(model.params, ids).shape == (1, 3)
