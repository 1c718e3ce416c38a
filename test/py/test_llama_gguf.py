"""Reading a LLaMA GGUF file (as llama.cpp writes one) into unmodified Flax: the model it came from, back."""

import numpy as np
import pytest

from ditto_compiler import DittoError
from ditto_compiler.models.llama import read_gguf

transformers = pytest.importorskip("transformers")
gguf = pytest.importorskip("gguf")

HEADS, KV_HEADS = 4, 2
TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", *"abcdefghij", "Ġ", "Ġa", "ab", "ba", "Ġab"]
MERGES = ["a b", "Ġ a", "b a", "Ġa b"]


def _llama_cpp_permute(weight: np.ndarray, heads: int) -> np.ndarray:
    """What llama.cpp's converter does to a query/key projection (out, in): each head's rotate-half rows
    become interleaved pairs."""
    return weight.reshape(heads, 2, weight.shape[0] // heads // 2, -1).swapaxes(1, 2).reshape(weight.shape)


def _write_gguf(path, model, q8_embedding: bool) -> None:
    config, params = model.config, model.params
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_block_count(config.num_hidden_layers)
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_head_count(HEADS)
    writer.add_head_count_kv(KV_HEADS)
    writer.add_rope_freq_base(config.rope_theta)
    writer.add_layer_norm_rms_eps(config.rms_norm_eps)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("smollm")
    vocab = TOKENS + [f"t{i}" for i in range(config.vocab_size - len(TOKENS))]
    writer.add_token_list(vocab)
    writer.add_token_merges(MERGES)
    writer.add_token_types([3, 3, 3] + [1] * (len(vocab) - 3))
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)

    def add(name: str, array: np.ndarray) -> None:
        writer.add_tensor(name, np.ascontiguousarray(array, np.float32))

    embedding = np.asarray(params["model"]["embed_tokens"]["embedding"])
    if q8_embedding:
        quantized = gguf.quants.quantize(embedding, gguf.GGMLQuantizationType.Q8_0)
        writer.add_tensor("token_embd.weight", quantized, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
    else:
        add("token_embd.weight", embedding)
    for i in range(config.num_hidden_layers):
        layer = params["model"]["layers"][str(i)]
        attn, mlp = layer["self_attn"], layer["mlp"]

        def weight(module):
            return np.asarray(module["kernel"]).T  # PyTorch layout (out, in)

        add(f"blk.{i}.attn_q.weight", _llama_cpp_permute(weight(attn["q_proj"]), HEADS))
        add(f"blk.{i}.attn_k.weight", _llama_cpp_permute(weight(attn["k_proj"]), KV_HEADS))
        add(f"blk.{i}.attn_v.weight", weight(attn["v_proj"]))
        add(f"blk.{i}.attn_output.weight", weight(attn["o_proj"]))
        add(f"blk.{i}.ffn_gate.weight", weight(mlp["gate_proj"]))
        add(f"blk.{i}.ffn_up.weight", weight(mlp["up_proj"]))
        add(f"blk.{i}.ffn_down.weight", weight(mlp["down_proj"]))
        add(f"blk.{i}.attn_norm.weight", np.asarray(layer["input_layernorm"]["weight"]))
        add(f"blk.{i}.ffn_norm.weight", np.asarray(layer["post_attention_layernorm"]["weight"]))
    add("output_norm.weight", np.asarray(params["model"]["norm"]["weight"]))
    add("output.weight", np.asarray(params["lm_head"]["kernel"]).T)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


@pytest.fixture(scope="module")
def model():
    config = transformers.LlamaConfig(
        vocab_size=64, hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=HEADS,
        num_key_value_heads=KV_HEADS, max_position_embeddings=32, rope_theta=5000.0,
    )  # fmt: skip
    return transformers.FlaxLlamaForCausalLM(config, seed=1)


def test_gguf_gives_back_the_model(tmp_path, model):
    """Tensors un-permuted, transposed and dequantised: the same logits (Q8_0 embedding within its rounding)."""
    ids = np.array([[3, 9, 14, 60, 1]], np.int32)
    want = np.asarray(model(ids).logits)
    for q8 in (False, True):
        path = tmp_path / f"tiny-{q8}.gguf"
        _write_gguf(path, model, q8_embedding=q8)
        config, params, tokenizer = read_gguf(path)
        assert (config.num_attention_heads, config.num_key_value_heads, config.rope_theta) == (HEADS, KV_HEADS, 5000.0)
        got = np.asarray(transformers.FlaxLlamaForCausalLM(config, _do_init=False)(ids, params=params).logits)
        np.testing.assert_allclose(got, want, atol=2e-2 if q8 else 1e-5, rtol=0)
    # The byte-level BPE from the metadata: merges applied, special tokens whole, decoding exact.
    assert tokenizer("ab a<|im_end|>")["input_ids"] == [TOKENS.index("ab"), TOKENS.index("Ġa"), 2]
    assert tokenizer.decode(tokenizer("ba ab")["input_ids"]) == "ba ab"
    assert tokenizer.eos_token == "<|im_end|>" and tokenizer.bos_token == "<|im_start|>"


def test_gguf_errors(tmp_path):
    with pytest.raises(DittoError, match="not a readable GGUF file"):
        (tmp_path / "junk.gguf").write_bytes(b"not a gguf file at all")
        read_gguf(tmp_path / "junk.gguf")
    writer = gguf.GGUFWriter(str(tmp_path / "gpt2.gguf"), "gpt2")
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    with pytest.raises(DittoError, match="architecture 'gpt2' is not supported"):
        read_gguf(tmp_path / "gpt2.gguf")
