"""A small pre-LayerNorm Transformer block in plain JAX: the demo's embedded default.

Weights come from a fixed seed, so `ditto demo` needs no files or network.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

Params = dict[str, Any]


def layer_norm(x: jax.Array, gamma: jax.Array, beta: jax.Array, eps: float = 1e-5) -> jax.Array:
    mean = jnp.mean(x, axis=-1, keepdims=True)
    var = jnp.mean(jnp.square(x - mean), axis=-1, keepdims=True)
    return (x - mean) * jax.lax.rsqrt(var + eps) * gamma + beta


def attention(x: jax.Array, p: Params, heads: int, causal: bool = True) -> jax.Array:
    seq, hidden = x.shape
    head_dim = hidden // heads

    def split(t: jax.Array) -> jax.Array:
        return t.reshape(seq, heads, head_dim).transpose(1, 0, 2)

    q, k, v = (split(x @ p[w] + p[b]) for w, b in (("wq", "bq"), ("wk", "bk"), ("wv", "bv")))
    scores = jnp.einsum("hqd,hkd->hqk", q, k) / np.sqrt(head_dim).astype(np.float32)
    if causal:
        mask = jnp.tril(jnp.ones((seq, seq), dtype=bool))
        scores = jnp.where(mask, scores, jnp.finfo(jnp.float32).min)
    weights = jax.nn.softmax(scores, axis=-1)
    context = jnp.einsum("hqk,hkd->hqd", weights, v).transpose(1, 0, 2).reshape(seq, hidden)
    return context @ p["wo"] + p["bo"]


def transformer_block(p: Params, x: jax.Array, heads: int = 4, approximate_gelu: bool = False) -> jax.Array:
    """x + Attn(LN(x)), then + MLP(LN(.)) with GeLU; causal self-attention."""
    h = x + attention(layer_norm(x, p["ln1_g"], p["ln1_b"]), p, heads)
    mlp = jax.nn.gelu(layer_norm(h, p["ln2_g"], p["ln2_b"]) @ p["w1"] + p["b1"], approximate=approximate_gelu)
    return h + mlp @ p["w2"] + p["b2"]


def init_block(hidden: int = 64, mlp: int = 256, seed: int = 0) -> Params:
    rng = np.random.default_rng(seed)

    def dense(n_in: int, n_out: int) -> np.ndarray:
        return (rng.normal(size=(n_in, n_out)) / np.sqrt(n_in)).astype(np.float32)

    def small(n: int, around: float = 0.0) -> np.ndarray:
        return (around + 0.02 * rng.normal(size=n)).astype(np.float32)

    p: Params = {w: dense(hidden, hidden) for w in ("wq", "wk", "wv", "wo")}
    p.update({b: small(hidden) for b in ("bq", "bk", "bv", "bo")})
    p.update(w1=dense(hidden, mlp), b1=small(mlp), w2=dense(mlp, hidden), b2=small(hidden))
    p.update(ln1_g=small(hidden, 1.0), ln1_b=small(hidden), ln2_g=small(hidden, 1.0), ln2_b=small(hidden))
    return p


def demo_input(seq: int = 16, hidden: int = 64, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(seq, hidden)).astype(np.float32)
