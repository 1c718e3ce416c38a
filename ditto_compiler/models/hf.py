"""Hugging Face Flax models, loaded offline, as `ditto bench` and users compile them.

    bert_case("tiny" | "minilm" | "minilm-shapes" | "base" | "large", seq)
    gpt2_case("tiny" | "small" | "medium", seq)
    checkpoint_case(directory, seq)        # a local HF checkpoint (config.json + weights)

Each case is an unmodified model's forward function `forward(params, ids, mask)`
with its parameters and inputs. `minilm` is the real all-MiniLM-L6-v2 with its
tokenizer, as `ditto weights fetch minilm` installs it (models/weights.py); the
other named configs have the named model's shapes and seeded random weights.
Inputs pad the last quarter of the sequence, so attention masks (the most
negative float32, as HF writes them) are always exercised.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..diagnostics import DittoError
from ..jsonfile import read_json

os.environ.setdefault("HF_HUB_OFFLINE", "1")

DEFAULT_TEXT = (
    "Secure inference lets a model owner and a data owner compute a prediction together "
    "without either of them revealing their inputs to the other."
)

BERT_CONFIGS: dict[str, dict[str, int]] = {
    "tiny": dict(vocab_size=512, hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128),
    "minilm-shapes": dict(
        vocab_size=30522, hidden_size=384, num_hidden_layers=6, num_attention_heads=12, intermediate_size=1536
    ),
    "base": dict(
        vocab_size=30522, hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072
    ),
    "large": dict(
        vocab_size=30522, hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096
    ),
}
GPT2_CONFIGS: dict[str, dict[str, int]] = {
    "tiny": dict(vocab_size=512, n_embd=64, n_layer=2, n_head=2),
    "small": dict(vocab_size=50257, n_embd=768, n_layer=12, n_head=12),
    "medium": dict(vocab_size=50257, n_embd=1024, n_layer=24, n_head=16),
}


CAUSAL_FAMILIES = ("gpt2", "llama")


@dataclass
class ModelCase:
    name: str
    family: str
    """"bert" (output: last hidden state), or a causal LM, "gpt2" or "llama" (output: next-token logits)."""
    forward: Callable[..., Any]
    params: Any
    ids: np.ndarray
    mask: np.ndarray
    model: Any = None
    """The Flax model itself (for its config, extra outputs and `save_pretrained`)."""
    tokenizer: Any = None
    """Its tokenizer, when the checkpoint has one."""

    @property
    def args(self) -> tuple[Any, ...]:
        return (self.params, self.ids, self.mask)

    @property
    def causal(self) -> bool:
        """A causal LM: its output is next-token logits."""
        return self.family in CAUSAL_FAMILIES


def _transformers() -> Any:
    try:
        import transformers
    except ImportError:
        raise DittoError("Hugging Face models need the models extra: pip install 'ditto-compiler[models]'") from None
    transformers.logging.set_verbosity_error()
    return transformers


def padded_mask(seq: int) -> np.ndarray:
    """Ones, with the last quarter of the sequence padded out (at least one position when seq > 1)."""
    mask = np.ones((1, seq), np.int32)
    mask[0, seq - max(seq // 4, 1 if seq > 1 else 0) :] = 0
    return mask


def _random_ids(vocab: int, seq: int) -> np.ndarray:
    return np.random.default_rng(2).integers(0, vocab, size=(1, seq), dtype=np.int32)


def _check_seq(seq: int, limit: int, name: str) -> None:
    if not isinstance(seq, (int, np.integer)) or isinstance(seq, (bool, np.bool_)) or not 1 <= seq <= limit:
        raise DittoError(f"--seq must be between 1 and {limit} for {name}, not {seq!r}")


def _check_config(config: Any, known: list[str], family: str) -> None:
    if not isinstance(config, str) or config not in known:
        raise DittoError(f"unknown {family} config {config!r}: use {', '.join(known)}")


def positions_bounded(model: Any, params: Any, length: int) -> Any:
    """`model` with the position tables it computes (causal mask, rotary sin/cos) built for `length` positions.

    Flax LLaMA builds a max_position_embeddings^2 causal mask in every layer and then slices it; traced, that
    is public work SPU redoes in full at every run (SmolLM2: 30 x 8192^2 comparisons per step). Below `length`
    positions the outputs are the same. A model with parameters sized by its position limit (GPT-2's and
    BERT's position embeddings) is returned as it is.
    """
    from jax.tree_util import tree_leaves

    config = model.config
    limit = getattr(config, "max_position_embeddings", None)
    # transformers' Flax rotary table keeps only its first max_position_embeddings columns (of 2 * head_dim).
    heads = getattr(config, "num_attention_heads", 0)
    length = max(length, 2 * config.hidden_size // heads if heads and hasattr(config, "hidden_size") else 0)
    if not limit or limit <= length or any(limit in np.shape(leaf) for leaf in tree_leaves(params)):
        return model
    config = copy.deepcopy(config)
    config.max_position_embeddings = length
    return type(model)(config, dtype=model.dtype, _do_init=False)


def _case(
    model: Any,
    family: str,
    name: str,
    ids: np.ndarray,
    mask: np.ndarray,
    tokenizer: Any = None,
    params: Any = None,
) -> ModelCase:
    output = "logits" if family in CAUSAL_FAMILIES else "last_hidden_state"
    params = model.params if params is None else params
    bounded = positions_bounded(model, params, ids.shape[1])

    def forward(params: Any, ids: Any, mask: Any) -> Any:
        return getattr(bounded(ids, attention_mask=mask, params=params), output)

    return ModelCase(name, family, forward, params, ids, mask, model, tokenizer)


def bert_case(config: str, seq: int) -> ModelCase:
    _check_config(config, ["minilm", *BERT_CONFIGS], "BERT")
    _check_seq(seq, 512, "BERT")
    transformers = _transformers()
    if config == "minilm":
        from .weights import locate

        return checkpoint_case(locate("minilm"), seq, name="all-MiniLM-L6-v2")
    shapes = BERT_CONFIGS[config]
    model = transformers.FlaxBertModel(transformers.BertConfig(**shapes), seed=0)
    name = f"BERT {config} ({shapes['num_hidden_layers']} layers, hidden {shapes['hidden_size']}; random weights)"
    return _case(model, "bert", name, _random_ids(shapes["vocab_size"], seq), padded_mask(seq))


def gpt2_case(config: str, seq: int) -> ModelCase:
    _check_config(config, list(GPT2_CONFIGS), "GPT-2")
    _check_seq(seq, 1024, "GPT-2")
    transformers = _transformers()
    shapes = GPT2_CONFIGS[config]
    model = transformers.FlaxGPT2LMHeadModel(transformers.GPT2Config(**shapes), seed=0)
    name = f"GPT-2 {config} ({shapes['n_layer']} layers, hidden {shapes['n_embd']}; random weights)"
    # A causal LM reads left to right: every position is real text (no padding).
    return _case(model, "gpt2", name, _random_ids(shapes["vocab_size"], seq), np.ones((1, seq), np.int32))


def checkpoint_config(directory: Path, seq: int | None = None) -> dict[str, Any]:
    """A checkpoint's config.json, checked without transformers: a model type this project runs (before
    transformers guesses one from the folder's name) and, given `seq`, enough positions for it."""
    if not (directory / "config.json").is_file():
        raise DittoError(f"{directory} is not a Hugging Face checkpoint (no config.json)")
    config = read_json(directory / "config.json", "Hugging Face config")
    family = config.get("model_type") if isinstance(config, dict) else None
    if family not in ("bert", "gpt2"):
        raise DittoError(f"{directory}: model type {family!r} is not supported (bert, gpt2)")
    limit = config.get("max_position_embeddings", 512) if family == "bert" else config.get("n_positions", 1024)
    if seq is not None and isinstance(limit, int) and not 1 <= seq <= limit:
        raise DittoError(f"--seq must be between 1 and {limit} for {family}, not {seq}")
    return config


def checkpoint_case(directory: Path, seq: int, text: str = DEFAULT_TEXT, name: str | None = None) -> ModelCase:
    """A local checkpoint (BERT or GPT-2 family) and its tokenizer, if it has one, on `text`."""
    if not isinstance(directory, (str, os.PathLike)):
        raise DittoError(f"checkpoint directory must be a string or a path, not {type(directory).__name__}")
    if not isinstance(text, str):
        raise DittoError(f"text must be a string, not {type(text).__name__}")
    if name is not None and not isinstance(name, str):
        raise DittoError(f"name must be a string, not {type(name).__name__}")
    if not isinstance(seq, (int, np.integer)) or isinstance(seq, (bool, np.bool_)):
        raise DittoError(f"--seq must be an integer, not {seq!r}")
    directory = Path(directory)
    checkpoint_config(directory)
    transformers = _transformers()
    try:
        config = transformers.AutoConfig.from_pretrained(directory)
    except (OSError, ValueError) as e:  # transformers' own complaint about the file, first line
        raise DittoError(f"{directory}/config.json: {str(e).strip().splitlines()[0]}") from None
    family = "gpt2" if config.model_type == "gpt2" else "bert" if config.model_type == "bert" else None
    if family is None:
        raise DittoError(f"{directory}: model type {config.model_type!r} is not supported (bert, gpt2)")
    _check_seq(seq, config.max_position_embeddings if family == "bert" else config.n_positions, family)
    model_class = transformers.FlaxGPT2LMHeadModel if family == "gpt2" else transformers.FlaxBertModel
    has_flax = (directory / "flax_model.msgpack").exists()
    has_tokenizer = any((directory / f).exists() for f in ("tokenizer.json", "vocab.txt", "vocab.json"))
    try:
        model = model_class.from_pretrained(directory, from_pt=not has_flax)
        tokenizer = transformers.AutoTokenizer.from_pretrained(directory) if has_tokenizer else None
    except (OSError, ValueError) as e:  # missing or unreadable weights or tokenizer files
        raise DittoError(f"{directory}: cannot load the checkpoint: {str(e).strip().splitlines()[0]}") from None
    if tokenizer is not None:
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        encoded = tokenizer(text, padding="max_length", truncation=True, max_length=seq, return_tensors="np")
        ids, mask = encoded["input_ids"].astype(np.int32), encoded["attention_mask"].astype(np.int32)
    else:
        ids, mask = _random_ids(config.vocab_size, seq), np.ones((1, seq), np.int32)
    return _case(model, family, name or f"{family} checkpoint {directory}", ids, mask, tokenizer)
