"""Train a small float GPT-2 on the distillation corpus, as the teacher for the GPT-2 accuracy table.

No GPT-2 weights ship offline (docs/accuracy.md), so the GPT-2-shaped teacher is
trained here: a byte-level BPE tokenizer and a GPT-2 with the given shapes, next-
token cross-entropy on the train split, AdamW, fixed seed. The result is a normal
Hugging Face checkpoint (config, Flax weights, tokenizer) that `ditto distill
--checkpoint` and `ditto bench --checkpoint` take.

    python tools/pretrain_gpt2.py OUT_DIR [--steps 3000] [--layers 4] [--hidden 256] [--vocab 4096]
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from transformers import FlaxGPT2LMHeadModel, GPT2Config

from ditto_compiler.distill.data import load_corpus, tokenize, train_tokenizer


def lm_loss(logits: jax.Array, ids: jax.Array, mask: jax.Array) -> jax.Array:
    log_probs = jax.nn.log_softmax(logits[:, :-1], axis=-1)
    nll = -jnp.take_along_axis(log_probs, ids[:, 1:, None], axis=-1)[..., 0]
    weights = (mask[:, 1:] * mask[:, :-1]).astype(nll.dtype)
    return jnp.sum(nll * weights) / jnp.sum(weights)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--data", help="text or JSONL file (default: gensim's Lee corpus)")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--vocab", type=int, default=4096)
    parser.add_argument("--seq", type=int, default=64)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    corpus = load_corpus(args.data)
    tokenizer = train_tokenizer(corpus.train, args.vocab, "gpt2")
    train_ids, train_mask = tokenize(tokenizer, corpus.train, args.seq)
    eval_ids, eval_mask = tokenize(tokenizer, corpus.eval, args.seq)
    config = GPT2Config(
        vocab_size=len(tokenizer), n_positions=args.seq, n_embd=args.hidden, n_layer=args.layers, n_head=args.heads,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
    )  # fmt: skip
    model = FlaxGPT2LMHeadModel(config, seed=args.seed)
    schedule = optax.warmup_cosine_decay_schedule(0.0, args.lr, args.steps // 20, args.steps)
    optimizer = optax.chain(optax.clip_by_global_norm(1.0), optax.adamw(schedule, weight_decay=0.1))
    params, state = model.params, optimizer.init(model.params)

    def loss_fn(params, ids, mask, key):
        logits = model(ids, attention_mask=mask, params=params, dropout_rng=key, train=True).logits
        return lm_loss(logits, ids, mask)

    @jax.jit
    def step(params, state, ids, mask, key):
        loss, grads = jax.value_and_grad(loss_fn)(params, ids, mask, key)
        updates, state = optimizer.update(grads, state, params)
        return optax.apply_updates(params, updates), state, loss

    @jax.jit
    def eval_loss(params, ids, mask):
        return lm_loss(model(ids, attention_mask=mask, params=params).logits, ids, mask)

    rng = np.random.default_rng(args.seed)
    key = jax.random.PRNGKey(args.seed)
    start = time.perf_counter()
    for i in range(args.steps):
        rows = rng.integers(0, len(train_ids), args.batch)
        params, state, loss = step(params, state, train_ids[rows], train_mask[rows], jax.random.fold_in(key, i))
        if (i + 1) % 500 == 0 or i + 1 == args.steps:
            ppl = math.exp(float(eval_loss(params, eval_ids, eval_mask)))
            print(f"step {i + 1}: train loss {float(loss):.3f}, eval perplexity {ppl:.1f}", flush=True)
    out = Path(args.out)
    model.save_pretrained(out, params=params)
    tokenizer.save_pretrained(out)
    summary = {
        **vars(args), "data": corpus.source, "train_sentences": len(corpus.train), "eval_sentences": len(corpus.eval),
        "eval_perplexity": ppl, "seconds": time.perf_counter() - start,
    }  # fmt: skip
    (out / "pretraining.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
