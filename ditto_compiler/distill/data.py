"""Unlabelled English text for distillation, from any text or JSONL file.

Distillation needs no labels, only realistic inputs. The default corpus is the
Lee background corpus that ships in gensim's wheel (`gensim/test/test_data/
lee_background.cor`, pip extra `distill`): 300 news articles from the Australian
Broadcasting Corporation, 2,613 sentences, 60k words of ordinary English prose.
It was picked because it is real edited text (not generated, not a word list),
is on PyPI (nothing is fetched at run time) and splits into sentences of the
length sentence encoders see (23 words on average).

File formats: `.jsonl` (one JSON object per line with a string field, `text` by
default) or plain text (one document per non-empty line). Documents are split
into sentences; train and eval are split by document, so no eval sentence shares
an article with a training one.
"""

from __future__ import annotations

import importlib.util
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..diagnostics import DittoError

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'(])")


def default_corpus() -> Path:
    """The Lee background corpus inside the installed gensim wheel (not imported, only located)."""
    spec = importlib.util.find_spec("gensim")
    if spec is None or not spec.submodule_search_locations:
        raise DittoError(
            "the default corpus ships with gensim: pip install 'ditto-compiler[distill]', or pass --data FILE"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "test" / "test_data" / "lee_background.cor"
    if not path.exists():
        raise DittoError(f"gensim is installed but {path} is missing; pass --data FILE")
    return path


def read_documents(path: Path, field: str = "text") -> list[str]:
    """Documents of a text file (one per non-empty line) or JSONL file (`field` of each object)."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise DittoError(f"cannot read {path}: {e.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise DittoError(f"{path}:{line}: not UTF-8 text (byte {e.start}); give a text or JSONL file") from None
    documents = []
    jsonl = path.suffix in (".jsonl", ".ndjson")
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        if not jsonl:
            documents.append(line.strip())
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise DittoError(f"{path}:{number}: malformed JSON ({e.msg} at column {e.colno})") from None
        if not isinstance(record, dict) or field not in record:
            raise DittoError(f"{path}:{number}: expected an object with a {field!r} field")
        if not isinstance(record[field], str):
            raise DittoError(f"{path}:{number}: field {field!r} holds {type(record[field]).__name__}, not text")
        if record[field].strip():
            documents.append(record[field].strip())
    if not documents:
        raise DittoError(f"{path} holds no text")
    return documents


def sentences(document: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(document) if len(s.split()) >= 3]


@dataclass
class Corpus:
    source: str
    train: list[str]
    eval: list[str]


def load_corpus(path: str | Path | None = None, eval_fraction: float = 0.15, field: str = "text") -> Corpus:
    """Sentences of `path` (default: the Lee corpus), the last `eval_fraction` of documents held out."""
    if not 0 < eval_fraction < 1:
        raise DittoError(f"eval_fraction must be in (0, 1), not {eval_fraction}")
    source = Path(path) if path is not None else default_corpus()
    documents = read_documents(source, field)
    if len(documents) < 2:
        raise DittoError(f"{source} holds one document; train and eval need at least two (one per line)")
    held_out = max(1, round(len(documents) * eval_fraction))
    train = [s for d in documents[:-held_out] for s in sentences(d)]
    evaluation = [s for d in documents[-held_out:] for s in sentences(d)]
    if not train or not evaluation:
        raise DittoError(f"{source}: no sentences of three or more words in the train or eval split")
    return Corpus(str(source), train, evaluation)


def train_tokenizer(texts: list[str], vocab_size: int, family: str) -> Any:
    """A BPE tokenizer of `vocab_size` tokens learnt from `texts`, for models that come without one:
    lower-cased with BERT's special tokens and [CLS] ... [SEP] framing, or byte-level with GPT-2's
    end-of-text token. (BPE, because its training is deterministic; WordPiece's breaks ties at random.)"""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    if family == "bert":
        specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        tokenizer = Tokenizer(models.BPE(unk_token="[UNK]"))
        tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
        tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tokenizer.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials))
        cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
        tokenizer.post_processor = processors.TemplateProcessing(
            single="[CLS] $A [SEP]", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
        )
        names = dict(pad_token="[PAD]", unk_token="[UNK]", cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]")
    else:
        tokenizer = Tokenizer(models.BPE())
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tokenizer.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            special_tokens=["<|endoftext|>"],
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        )
        tokenizer.train_from_iterator(texts, trainer)
        names = dict(bos_token="<|endoftext|>", eos_token="<|endoftext|>", pad_token="<|endoftext|>")
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, **names)


def tokenize(tokenizer: Any, texts: list[str], seq: int) -> tuple[np.ndarray, np.ndarray]:
    """(ids, mask), each (len(texts), seq) int32, padded or truncated to `seq`."""
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    encoded = tokenizer(texts, padding="max_length", truncation=True, max_length=seq, return_tensors="np")
    return encoded["input_ids"].astype(np.int32), encoded["attention_mask"].astype(np.int32)
