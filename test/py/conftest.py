import os

# Tests never reach a model hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(scope="session")
def tiny_bert():
    """A 2-layer Flax BERT (random init, hidden 32): (forward, params, token ids)."""
    transformers = pytest.importorskip("transformers")
    config = transformers.BertConfig(
        vocab_size=64, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=16,
    )  # fmt: skip
    model = transformers.FlaxBertModel(config, seed=0)
    ids = np.array([[2, 17, 5, 33, 9, 60, 1, 4]], dtype=np.int32)

    def bert(params, ids):
        return model(ids, params=params).last_hidden_state

    return bert, model.params, ids


@pytest.fixture(scope="session")
def tiny_gpt2():
    """A 2-layer Flax GPT-2 LM (random init, hidden 32): (forward, params, token ids)."""
    transformers = pytest.importorskip("transformers")
    config = transformers.GPT2Config(vocab_size=64, n_positions=16, n_embd=32, n_layer=2, n_head=2)
    model = transformers.FlaxGPT2LMHeadModel(config, seed=0)
    ids = np.array([[2, 17, 5, 33, 9, 60, 1, 4]], dtype=np.int32)

    def gpt2(params, ids):
        return model(ids, params=params).logits

    return gpt2, model.params, ids
