"""PUMA, the baseline every headline ratio is taken against.

PUMA (Dong et al., 2023) is SPU configured as its authors publish it in
AntCPLab/puma_benchmarks:

* SPU's own compiler with `enable_optimize_denominator_with_broadcast` (a row's
  divisor is inverted once and broadcast);
* the runtime's exp as a Taylor series (`fxp_exp_mode = EXP_TAYLOR`, 5 iterations);
* the model's GeLU and `jax.nn.softmax` replaced, while the function is traced, by
  PUMA's: a piecewise polynomial GeLU (0 below -4, a cubic on [-4, -1.95), a
  degree-6 polynomial on [-1.95, 3], x above 3) and a softmax that subtracts the
  row max and drops entries more than 14 below it (`exp(x) * (x > -14)`) before
  dividing by the sum.

Written here from that description (the polynomials' coefficients are PUMA's
published ones, shared with `approximate-nonlinear{gelu=puma}`), compiled and run
on the same executors as ditto-compiler's programs, so bytes and rounds are
counted by the same links.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import jax
import jax.numpy as jnp
from spu import libspu

from ..passes.approximate_nonlinear import PUMA_LOW, PUMA_MID
from ..plan import Plan
from .spu_baseline import compile_with_spu

PUMA_SPU_OPTIONS: dict[str, str | int] = {"fxp_exp_mode": "EXP_TAYLOR", "fxp_exp_iters": 5}
GELU_NAMES = ("gelu", "gelu_new", "gelu_pytorch_tanh")
"""Hugging Face's names for GeLU (BERT: "gelu", GPT-2: "gelu_new") in `ACT2FN`."""


def _polynomial(x: jax.Array, coefficients: tuple[float, ...]) -> jax.Array:
    result = jnp.zeros_like(x) + coefficients[-1]
    for c in reversed(coefficients[:-1]):
        result = result * x + c
    return result


def puma_gelu(x: jax.Array, approximate: bool = True) -> jax.Array:
    """PUMA's piecewise GeLU (for either of `jax.nn.gelu`'s forms)."""
    low, mid = _polynomial(x, PUMA_LOW), _polynomial(x, PUMA_MID)
    return jnp.where(x < -4.0, 0.0, jnp.where(x < -1.95, low, jnp.where(x > 3.0, x, mid)))


def puma_softmax(x: jax.Array, axis: int | tuple[int, ...] | None = -1, where: Any = None, **_: Any) -> jax.Array:
    """PUMA's softmax: max-subtracted, entries more than 14 below the max dropped."""
    if where is not None:
        x = jnp.where(where, x, -jnp.inf)
    shifted = x - jnp.max(x, axis=axis, keepdims=True)
    kept = jnp.exp(shifted) * (shifted > -14.0)
    return kept / jnp.sum(kept, axis=axis, keepdims=True)


@contextmanager
def puma_functions() -> Iterator[None]:
    """While inside, JAX functions and Hugging Face Flax models trace PUMA's GeLU and softmax.

    Plain JAX calls `jax.nn.gelu` and `jax.nn.softmax`; Flax BERT and GPT-2 look their
    activation up in `ACT2FN` when a module is set up, and their attention calls
    `jax.nn.softmax`. Trace a fresh function object inside (a function already jitted keeps
    its cached trace).
    """
    try:  # the models extra; a plain JAX function needs only jax.nn's
        from transformers import modeling_flax_utils

        activations = modeling_flax_utils.ACT2FN
    except ImportError:
        activations = {}
    saved_gelus = {name: activations[name] for name in GELU_NAMES if name in activations}
    saved_softmax, saved_gelu = jax.nn.softmax, jax.nn.gelu
    try:
        for name in saved_gelus:
            activations[name] = puma_gelu
        jax.nn.softmax, jax.nn.gelu = puma_softmax, puma_gelu
        yield
    finally:
        activations.update(saved_gelus)
        jax.nn.softmax, jax.nn.gelu = saved_softmax, saved_gelu


WORD_EMBEDDINGS = ("word_embeddings", "wte")
"""The token-embedding modules of Flax BERT and GPT-2."""


@contextmanager
def word_embeddings_from(one_hot: jax.Array) -> Iterator[None]:
    """While inside, a Hugging Face Flax model's token embedding is `one_hot @ table`, whatever ids it is given.

    PUMA's paper has the client share one-hot rows of its tokens; this gives the `puma-onehot` baseline the
    same inputs as ditto-compiler's `one-hot-inputs`, so the model is called with placeholder ids (only their
    shape is used: positions and token types) and never looks a secret id up.
    """
    import flax.linen as nn

    lookup = nn.Embed.__call__

    def embed(module: nn.Embed, inputs: jax.Array) -> jax.Array:
        if module.name in WORD_EMBEDDINGS:
            return jnp.einsum("...v,vd->...d", one_hot, jnp.asarray(module.embedding))
        return lookup(module, inputs)

    nn.Embed.__call__ = embed
    try:
        yield
    finally:
        nn.Embed.__call__ = lookup


def compile_puma(fn: Callable[..., Any], *args: Any) -> tuple[Plan, float]:
    """PUMA's compilation of `fn` (all inputs secret) as a one-segment plan; returns (plan, compile seconds)."""
    options = libspu.CompilerOptions()
    options.enable_optimize_denominator_with_broadcast = True

    def fresh(*inner: Any) -> Any:  # a new function object: no cached trace of the model's own functions
        return fn(*inner)

    with puma_functions():
        return compile_with_spu(fresh, *args, compiler_options=options, spu_options=PUMA_SPU_OPTIONS)
