"""LLaMA-family models (unmodified `FlaxLlamaForCausalLM`), and real SmolLM2 weights read from GGUF.

    llama_case("tiny" | "smollm2-shapes" | "smollm2", seq)

`smollm2` is SmolLM2-135M-Instruct as `ditto weights fetch smollm2` installs it: the GGUF file (Q4_1 projections,
Q8_0 embedding) read with the `gguf` package, dequantised to float32 Flax parameters, with its byte-level BPE
tokenizer rebuilt from the file's metadata (`tokenizers`). The other configs have the named shapes and seeded
random weights. A causal LM reads left to right: every position of the input is real text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..diagnostics import DittoError
from .hf import DEFAULT_TEXT, ModelCase, _case, _check_config, _check_seq, _random_ids, _transformers

LLAMA_CONFIGS: dict[str, dict[str, Any]] = {
    "tiny": dict(
        vocab_size=512,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
    ),
    "smollm2-shapes": dict(
        vocab_size=49152,
        hidden_size=576,
        intermediate_size=1536,
        num_hidden_layers=30,
        num_attention_heads=9,
        num_key_value_heads=3,
        max_position_embeddings=8192,
        rope_theta=100000.0,
        rms_norm_eps=1e-5,
    ),
}
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def _gguf() -> Any:
    try:
        import gguf
    except ImportError:
        raise DittoError("GGUF weights need the llama extra: pip install 'ditto-compiler[llama]'") from None
    return gguf


def _field(reader: Any, key: str, path: Path) -> Any:
    field = reader.fields.get(key)
    if field is None:
        raise DittoError(f"{path}: GGUF metadata has no {key}")
    return field.contents()


def _unpermute(weight: np.ndarray, heads: int) -> np.ndarray:
    """Undo llama.cpp's conversion of a query/key projection (out, in): it reorders each head's output rows
    from HF's rotate-half layout (first half, second half) to interleaved pairs for its RoPE kernel."""
    half = weight.shape[0] // heads // 2
    return weight.reshape(heads, half, 2, -1).swapaxes(1, 2).reshape(weight.shape)


def read_gguf(path: Path) -> tuple[Any, dict[str, Any], Any]:
    """(LlamaConfig, Flax parameters in float32, tokenizer) of a LLaMA-architecture GGUF file."""
    gguf = _gguf()
    transformers = _transformers()
    try:
        reader = gguf.GGUFReader(str(path))
    except (OSError, ValueError) as e:
        raise DittoError(f"{path}: not a readable GGUF file: {e}") from None
    architecture = _field(reader, "general.architecture", path)
    if architecture != "llama":
        raise DittoError(f"{path}: architecture {architecture!r} is not supported (llama)")
    heads = int(_field(reader, "llama.attention.head_count", path))
    kv_heads = int(_field(reader, "llama.attention.head_count_kv", path))
    layers = int(_field(reader, "llama.block_count", path))
    tensors = {t.name: t for t in reader.tensors}

    def tensor(name: str) -> np.ndarray:
        if name not in tensors:
            raise DittoError(f"{path}: GGUF file has no tensor {name}")
        t = tensors[name]
        return np.asarray(gguf.quants.dequantize(t.data, t.tensor_type), np.float32)

    embedding = tensor("token_embd.weight")  # (vocab, hidden)
    config = transformers.LlamaConfig(
        vocab_size=embedding.shape[0],
        hidden_size=int(_field(reader, "llama.embedding_length", path)),
        intermediate_size=int(_field(reader, "llama.feed_forward_length", path)),
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        max_position_embeddings=int(_field(reader, "llama.context_length", path)),
        rope_theta=float(_field(reader, "llama.rope.freq_base", path)),
        rms_norm_eps=float(_field(reader, "llama.attention.layer_norm_rms_epsilon", path)),
        tie_word_embeddings="output.weight" not in tensors,
        bos_token_id=int(_field(reader, "tokenizer.ggml.bos_token_id", path)),
        eos_token_id=int(_field(reader, "tokenizer.ggml.eos_token_id", path)),
    )

    def linear(name: str, permute_heads: int = 0) -> dict[str, np.ndarray]:
        weight = tensor(name)  # (out, in), as PyTorch stores it
        if permute_heads:
            weight = _unpermute(weight, permute_heads)
        return {"kernel": np.ascontiguousarray(weight.T)}

    blocks = {}
    for i in range(layers):
        b = f"blk.{i}."
        blocks[str(i)] = {
            "self_attn": {
                "q_proj": linear(b + "attn_q.weight", heads),
                "k_proj": linear(b + "attn_k.weight", kv_heads),
                "v_proj": linear(b + "attn_v.weight"),
                "o_proj": linear(b + "attn_output.weight"),
            },
            "mlp": {
                "gate_proj": linear(b + "ffn_gate.weight"),
                "up_proj": linear(b + "ffn_up.weight"),
                "down_proj": linear(b + "ffn_down.weight"),
            },
            "input_layernorm": {"weight": tensor(b + "attn_norm.weight")},
            "post_attention_layernorm": {"weight": tensor(b + "ffn_norm.weight")},
        }
    # FlaxLlamaForCausalLM has its own lm_head: a tied model's head is the embedding, transposed.
    head = linear("output.weight") if "output.weight" in tensors else {"kernel": np.ascontiguousarray(embedding.T)}
    params = {
        "model": {
            "embed_tokens": {"embedding": embedding},
            "layers": blocks,
            "norm": {"weight": tensor("output_norm.weight")},
        },
        "lm_head": head,
    }
    return config, params, _tokenizer(reader, path)


def _tokenizer(reader: Any, path: Path) -> Any:
    """The file's byte-level BPE (`tokenizer.ggml.model` gpt2) as a transformers fast tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    transformers = _transformers()
    kind = _field(reader, "tokenizer.ggml.model", path)
    if kind != "gpt2":
        raise DittoError(f"{path}: tokenizer model {kind!r} is not supported (gpt2 byte-level BPE)")
    tokens = list(_field(reader, "tokenizer.ggml.tokens", path))
    merges = [tuple(m.split(" ", 1)) for m in _field(reader, "tokenizer.ggml.merges", path)]
    types = list(_field(reader, "tokenizer.ggml.token_type", path))
    bpe = Tokenizer(models.BPE({t: i for i, t in enumerate(tokens)}, merges, fuse_unk=False))
    # llama.cpp's "smollm" pre-tokenizer: every digit alone, then GPT-2's split; no prefix space.
    split = [pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)]
    if reader.fields.get("tokenizer.ggml.pre") is not None and _field(reader, "tokenizer.ggml.pre", path) == "smollm":
        split.insert(0, pre_tokenizers.Digits(individual_digits=True))
    bpe.pre_tokenizer = pre_tokenizers.Sequence(split)
    bpe.decoder = decoders.ByteLevel()
    control = [t for t, kind in zip(tokens, types) if kind == 3]  # GGUF token type CONTROL
    bos = tokens[int(_field(reader, "tokenizer.ggml.bos_token_id", path))]
    eos = tokens[int(_field(reader, "tokenizer.ggml.eos_token_id", path))]
    chat = reader.fields.get("tokenizer.chat_template")
    tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        bos_token=bos,
        eos_token=eos,
        pad_token=eos,
        additional_special_tokens=[t for t in control if t not in (bos, eos)],
        chat_template=chat.contents() if chat is not None else None,
    )
    return tokenizer


def llama_case(config: str, seq: int, text: str = DEFAULT_TEXT) -> ModelCase:
    """A LLaMA-family model, its parameters, and `seq` tokens of input (`text` for `smollm2`, else random ids)."""
    _check_config(config, [*LLAMA_CONFIGS, "smollm2"], "LLaMA")
    transformers = _transformers()
    if config == "smollm2":
        from .weights import locate

        model_config, params, tokenizer = read_gguf(locate("smollm2") / SMOLLM2_FILE)
        _check_seq(seq, model_config.max_position_embeddings, "LLaMA")
        model = transformers.FlaxLlamaForCausalLM(model_config, _do_init=False)
        ids = np.asarray(tokenizer(text)["input_ids"], np.int32)
        ids = np.resize(ids, seq)[None, :]  # repeated to fill the sequence: every position is real text
        name = "SmolLM2-135M-Instruct (GGUF Q4_1, dequantised)"
        return _case(model, "llama", name, ids, np.ones_like(ids), tokenizer, params)
    shapes = LLAMA_CONFIGS[config]
    _check_seq(seq, shapes["max_position_embeddings"], "LLaMA")
    model = transformers.FlaxLlamaForCausalLM(transformers.LlamaConfig(**shapes), seed=0)
    name = (
        f"LLaMA {config} ({shapes['num_hidden_layers']} layers, hidden {shapes['hidden_size']}, "
        f"{shapes['num_attention_heads']} heads / {shapes['num_key_value_heads']} KV; random weights)"
    )
    ids = _random_ids(shapes["vocab_size"], seq)
    return _case(model, "llama", name, ids, np.ones((1, seq), np.int32))
