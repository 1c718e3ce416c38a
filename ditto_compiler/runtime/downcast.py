"""The downcast protocol on ABY3 shares: Z_{2^K} (f + d fraction bits) -> Z_{2^k} (f), one round.

Input: replicated shares (party i holds a_i, a_{i+1}) of x in the large ring, read as an
unsigned integer X in [0, 2^K); the signed value fits the small ring after dropping d bits
(0 < d <= K - k). Output: replicated small-ring shares of floor(X / 2^d) mod 2^k within -1 to
+2 LSB, rounded without bias. Only bits d .. d + k - 1 of anything matter below, so all
arithmetic is mod 2^(k+d).

1. r0 and r1 come from the seeds party 2 shares with parties 0 and 1 (no message).
2. Round 1 (the only one): party 0 sends a_0 + r0 to party 1, party 1 sends a_2 + r1 to
   party 0, each mod 2^(k+d); both get c = x + r0 + r1 mod 2^(k+d).
3. Over the integers, with x_lo, r0_lo, r1_lo the low d bits and h = 2^(d-1),
       (c + h) >> d = (X >> d) + (r0 >> d) + (r1 >> d) + kappa - 2^k * W,
   kappa = floor((x_lo + r0_lo + r1_lo + h) / 2^d) in {0, 1, 2, 3} and W the wraps mod
   2^(k+d). Mod 2^k the wraps vanish, so the shares
       s0 = -(r0 >> d),   s1 = ((c + h) >> d) - 1,   s2 = -(r1 >> d)
   (held by parties 0 and 2, 0 and 1, 1 and 2, exactly as replicated sharing needs) sum to
   (X >> d) + kappa - 1. A negative x needs no bias: X = x + 2^K, and 2^(K-d) vanishes
   mod 2^k because d <= K - k.
4. The error kappa - 1 lies in {-1, 0, 1, 2} (2 only when the three low parts sum past
   2.5 * 2^d). With r0_lo, r1_lo uniform, kappa - 1 has mean x_lo / 2^d - 2^-(d+1): the
   result is x / 2^d on average, to a 2^-(d+1) of an LSB. (Without h it would be half an
   LSB low on average, and such a bias adds up, e.g. over a row of probabilities; SPU's
   own truncation is unbiased too, with error 0 or +1.)

Party 2 receives nothing; parties 0 and 1 each receive one word masked by a uniform word
from the seed they lack, so what they see is uniform and independent of x. Cost per
element: two words of k + d bits, sent as a k-bit word and a word for the d high bits
(10 bytes for 64 -> 32 with d <= 8, against 28 for SPU's truncation in the 64-bit ring).
"""

from __future__ import annotations

import numpy as np

from ..diagnostics import DittoError
from .upcast import PairSeeds, Recv, Send

_UNSIGNED = {8: np.uint8, 16: np.uint16, 32: np.uint32, 64: np.uint64}


def _high_bits(d: int) -> int:
    """The narrowest word that holds d bits."""
    return next(bits for bits in (8, 16, 32) if d <= bits)


def ditto_downcast(
    rank: int,
    words: np.ndarray,
    large_bits: int,
    small_bits: int,
    dropped_bits: int,
    seeds: PairSeeds,
    counter: int,
    send: Send,
    recv: Recv,
) -> np.ndarray:
    """This party's replicated small-ring words of x / 2^dropped_bits (see the module's docstring).

    `words` are the party's large-ring words (a_rank, a_rank+1) of x, shape (n, 2).
    """
    k, d = small_bits, dropped_bits
    if (large_bits, small_bits) != (64, 32) or not 0 < d <= large_bits - small_bits:
        raise DittoError(f"the downcast supports 64 -> 32 bits dropping 1 to 32 bits, not {large_bits} -> "
                         f"{small_bits} dropping {dropped_bits}")  # fmt: skip
    small, high = _UNSIGNED[k], _UNSIGNED[_high_bits(d)]
    n = words.shape[0]
    key = f"downcast{counter}"
    wide, mask = np.uint64, np.uint64((1 << (k + d)) - 1)  # arithmetic mod 2^(k+d) in 64-bit words

    def shifted(value: np.ndarray) -> np.ndarray:
        return (value >> wide(d)).astype(small)  # (value >> d) mod 2^k

    if rank == 2:
        r0 = seeds.words(0, 2, "downcast r", counter, n, 64) & mask
        r1 = seeds.words(1, 2, "downcast r", counter, n, 64) & mask
        return np.stack([small(0) - shifted(r1), small(0) - shifted(r0)], axis=1)

    partner = 1 - rank
    mine, second = words[:, 0].astype(wide), words[:, 1].astype(wide)
    # Party 0 holds (a0, a1), party 1 holds (a1, a2): each masks the share the other lacks.
    lacking = mine if rank == 0 else second
    shared = second if rank == 0 else mine  # a1, held by both
    r_own = seeds.words(rank, 2, "downcast r", counter, n, 64) & mask
    masked = (lacking + r_own) & mask
    send(partner, key, masked.astype(small).tobytes() + (masked >> wide(k)).astype(high).tobytes())
    message = recv(partner, key)
    split = n * np.dtype(small).itemsize
    if len(message) != split + n * np.dtype(high).itemsize:
        raise DittoError(f"party {partner} sent {len(message)} bytes for a downcast of {n} elements")
    low = np.frombuffer(message[:split], dtype=small).astype(wide)
    other = low | (np.frombuffer(message[split:], dtype=high).astype(wide) << wide(k))
    c = (masked + shared + other) & mask
    s1 = shifted((c + wide(1 << (d - 1))) & mask) - small(1)
    s_own = small(0) - shifted(r_own)
    return np.stack([s_own, s1], axis=1) if rank == 0 else np.stack([s1, s_own], axis=1)
