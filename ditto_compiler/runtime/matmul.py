"""ABY3's matrix product on replicated shares, one round, its local products exact in float64 BLAS.

Input: replicated shares of X (.., M, K) and Y (.., K, N) in Z_{2^k}: party i holds
(x_i, x_{i+1}) and (y_i, y_{i+1}), with X = x_0 + x_1 + x_2 mod 2^k.

1. Locally, z_i = x_i (y_i + y_{i+1}) + x_{i+1} y_i mod 2^k. Over the three parties the
   nine products x_a y_b appear exactly once each (party i covers (i, i), (i, i+1) and
   (i+1, i)), so z_0 + z_1 + z_2 = XY.
2. Re-randomising: alpha_i = F(seed_{i,i+1}) - F(seed_{i-1,i}) from the pairwise seeds, so
   alpha_0 + alpha_1 + alpha_2 = 0. Round 1 (the only one): party i sends
   z_i + alpha_i to party i-1, which then holds (z_{i-1} + alpha_{i-1}, z_i + alpha_i):
   replicated shares of XY.

Party i-1 does not hold seed_{i,i+1}, so the message it receives is masked by a word it
cannot tell from uniform: it learns nothing about X or Y. This is the message pattern and
the traffic of SPU's own ABY3 matmul (one k-bit word per output element per party); the
product is not truncated here: a fixed-point product keeps its 2f fraction bits and the
consumer truncates it (lowering/split_rings.py).

Why not SPU's kernel: SPU multiplies ring matrices with integer loops, as slowly in the
32-bit ring as in the 64-bit one, and a batched product batch by batch. Here each ring matrix
is split into 16-bit limbs held as float64, so a ring product is a few float64 BLAS products:
limb products are below 2^32 and a sum of at most `limbs * K` of them stays below 2^53 when
K <= 2^(21 - log2 limbs), so every partial sum is an integer that float64 holds exactly, in
any order of summation. Limb pairs (a, b) with a + b = w land at 2^(16 w); pairs past the
ring's width vanish mod 2^k: 3 BLAS products for the 32-bit ring, 10 for the 64-bit one.

Measured on this project's 2-core machine (threads, one product alone, idle machine,
2026-12-08; docs/benchmarks.md has the table): in the 32-bit ring the step is as fast as
SPU's kernel or up to 3x faster, at every shape tried (BERT-base's and GPT-2's projections,
attention, a one-hot embedding, GPT-2's logits); batched attention products are 4-12x faster
in either ring. In the 64-bit ring, ten float64 products lose to SPU's int64 kernel on large
products (as slow or up to 2.1x slower from 128 x 768 x 2304 multiply-adds up; mixed around
2^26), so products above 2^27 multiply-adds stay in SPU (lowering/split_rings.py,
LARGEST_64_BIT_STEP).

Each party runs its products on one BLAS thread (runtime/session.py, runtime/party_process.py):
the three parties already share the machine's cores, and a BLAS pool per party oversubscribes
them (OpenBLAS's idle threads spin), which measured slower than SPU's kernel in processes mode.
"""

from __future__ import annotations

import math
import sys

import numpy as np

from ..diagnostics import DittoError
from .upcast import PairSeeds, Recv, Send

RING_WORDS = {32: np.uint32, 64: np.uint64}
"""The unsigned word type of each ring width."""
_LIMB = 16
_BLOCK_ELEMENTS = 1 << 20


def max_inner(bits: int) -> int:
    """The longest contraction `ring_matmul` computes exactly in float64."""
    limbs = bits // _LIMB
    return 2**53 // (limbs * (2**_LIMB - 1) ** 2)


def ring_matmul(a: np.ndarray, b: np.ndarray, bits: int) -> np.ndarray:
    """a @ b mod 2^bits for unsigned ring words (batched like `np.matmul`), exactly."""
    dtype = RING_WORDS.get(bits)
    if dtype is None or a.dtype != dtype or b.dtype != dtype:
        raise DittoError(f"ring matmul takes {bits}-bit ring words, got {a.dtype} and {b.dtype}")
    inner = a.shape[-1]
    if inner > max_inner(bits):
        raise DittoError(f"a contraction of {inner} exceeds the {max_inner(bits)} computed exactly")
    limbs = bits // _LIMB
    shape = np.broadcast_shapes(a.shape[:-2], b.shape[:-2]) + (a.shape[-2], b.shape[-1])
    result = np.empty(shape, dtype)
    # Blocks keep the float64 limbs and the sums near _BLOCK_ELEMENTS words each: fresh large arrays
    # cost more in page faults than the products. A block of the result's columns is summed over
    # blocks of the contraction, so a wide result (GPT-2's 50,257 logits) is not swept once per
    # contraction block, nor a long contraction (a one-hot embedding's) cut into thin products.
    batch_a, batch_b = math.prod(a.shape[:-2]), math.prod(b.shape[:-2])
    rows = a.shape[-2]
    columns = _block(b.shape[-1], max(batch_a, batch_b) * rows)
    depth = _block(inner, max(batch_a * rows, batch_b * columns))
    for column in range(0, b.shape[-1], columns):
        block = slice(column, column + columns)
        sums = np.zeros((limbs, *result[..., block].shape))  # per limb weight w: the exact sum landing at 2^(16 w)
        for start in range(0, inner, depth):
            a_limbs = _limbs(a[..., start : start + depth], limbs)
            b_limbs = _limbs(b[..., start : start + depth, block], limbs)
            for w in range(limbs):
                for j in range(w + 1):
                    sums[w] += np.matmul(a_limbs[j], b_limbs[w - j])
        total = np.zeros(sums.shape[1:], np.uint64)
        for w in range(limbs):
            total += sums[w].astype(np.uint64) << np.uint64(_LIMB * w)
        result[..., block] = total
    return result


def _block(length: int, words_per_line: int) -> int:
    """How many lines of `length` make a block of about _BLOCK_ELEMENTS words."""
    return max(1, min(length, _BLOCK_ELEMENTS // max(1, words_per_line)))


def _limbs(x: np.ndarray, limbs: int) -> np.ndarray:
    """The 16-bit limbs of ring words as float64, least significant first, on a leading axis."""
    view = np.ascontiguousarray(x).view(np.uint16).reshape(*x.shape, limbs)
    if sys.byteorder != "little":
        view = view[..., ::-1]
    return np.moveaxis(view, -1, 0).astype(np.float64)


def aby3_matmul(
    rank: int,
    lhs: np.ndarray,
    rhs: np.ndarray,
    bits: int,
    seeds: PairSeeds,
    counter: int,
    send: Send,
    recv: Recv,
) -> np.ndarray:
    """This party's replicated words of lhs @ rhs mod 2^bits (see the module's docstring).

    `lhs` and `rhs` are the party's words stacked on a leading axis of 2: (x_rank, x_rank+1).
    The result is stacked the same way. Words of another ring are refused (`ring_matmul`).
    """
    own = ring_matmul(lhs[0], rhs[0] + rhs[1], bits) + ring_matmul(lhs[1], rhs[0], bits)
    n = own.size
    after, before = (rank + 1) % 3, (rank + 2) % 3
    alpha = seeds.words(rank, after, "matmul", counter, n, bits) - seeds.words(before, rank, "matmul", counter, n, bits)
    z = own + alpha.reshape(own.shape)
    key = f"matmul{counter}"
    send(before, key, z.tobytes())
    received = np.frombuffer(recv(after, key), dtype=own.dtype)
    if received.size != n:
        raise DittoError(f"party {rank}: party {after} sent {received.size} matmul words, expected {n}")
    return np.stack([z, received.reshape(own.shape)])
