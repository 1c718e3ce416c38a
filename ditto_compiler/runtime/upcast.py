"""Ditto's upcast protocol on ABY3 shares: Z_{2^k} -> Z_{2^K} in two online rounds.

Input: replicated shares (party i holds a_i, a_{i+1}) of y = x + 2^(k-2) in the small
ring, so that 0 <= y < 2^(k-1) whenever |x| < 2^(k-2) (Ditto's bound): msb(y) = 0.
Party 2 is the helper; parties 0 and 1 open a masked y.

1. The helper draws r in Z_{2^k}. r = r0 + r1 mod 2^k with r0 from the seed parties 0
   and 2 share and r1 from the seed of parties 1 and 2: no message.
2. The helper deals parties 0 and 1 additive shares, in the large ring, of r and of
   b = msb(r): the part for party 0 comes from their shared seed, the part for party 1
   is sent (masked by the seed part party 1 does not know). This needs no input and
   can run ahead (offline).
3. Round 1: party 0 sends a_0 + r0 to party 1, party 1 sends a_2 + r1 to party 0; both
   get c = y + r mod 2^k (uniform: r is uniform and unknown to them).
4. Since msb(y) = 0, y + r wrapped mod 2^k exactly when msb(r) = 1 and msb(c) = 0, so
   y = c - r + 2^k * b * (1 - msb(c)) over the integers: parties 0 and 1 hold additive
   shares of it in the large ring (c is public to them, b and r are shared).
5. Round 2: they re-share to replicated form: with t1 from their common seed and a mask
   alpha they both derive, party 0 keeps t0 = z0 + alpha and party 1 t2 = z1 - alpha - t1,
   and each sends its part to party 2, for which both look uniform.

Finally the bias is removed and the fraction bits raised by a public power of two
(local). The helper sees only masked words; parties 0 and 1 see c, which is y plus a
uniform mask. Randomness comes from 128-bit pairwise seeds agreed at setup, expanded by
a cryptographic PRG (`PairSeeds.words`): without a pair's seed, its words cannot be told
from uniform, so the masks hide the secrets computationally, not just statistically.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from ..diagnostics import DittoError

_DTYPE = {32: np.uint32, 64: np.uint64}


SEED_BYTES = 16


@dataclass(frozen=True)
class PairSeeds:
    """The 128-bit seeds each pair of parties shares (a party only ever sees its own two)."""

    seeds: dict[tuple[int, int], bytes]

    def __post_init__(self) -> None:
        if any(len(seed) != SEED_BYTES for seed in self.seeds.values()):
            raise DittoError(f"pair seeds must be {SEED_BYTES} bytes")

    def words(self, a: int, b: int, purpose: str, counter: int, n: int, bits: int) -> np.ndarray:
        """`n` uniform `bits`-bit words that parties a and b, and only they, derive alike.

        The stream's key is keyed BLAKE2b (a PRF) of the purpose and counter under the pair's
        seed, so each (purpose, counter) gets its own key; AES-128 in counter mode expands it."""
        key = hashlib.blake2b(
            f"{purpose}/{counter}".encode(), key=self.seeds[(min(a, b), max(a, b))], digest_size=16
        ).digest()
        stream = Cipher(algorithms.AES(key), modes.CTR(bytes(16))).encryptor().update(bytes(n * bits // 8))
        return np.frombuffer(stream, dtype=_DTYPE[bits])


Send = Callable[[int, str, bytes], None]
Recv = Callable[[int, str], bytes]


def ditto_upcast(
    rank: int,
    words: np.ndarray,
    small_bits: int,
    large_bits: int,
    fraction_shift: int,
    seeds: PairSeeds,
    counter: int,
    send: Send,
    recv: Recv,
) -> np.ndarray:
    """This party's replicated large-ring words of (y - 2^(k-2)) * 2^fraction_shift.

    `words` are the party's small-ring words (a_rank, a_rank+1) of y, shape (n, 2).
    """
    k, big = small_bits, _DTYPE[large_bits]
    n = words.shape[0]
    small = _DTYPE[k]
    mask_k = (1 << k) - 1
    key = f"upcast{counter}"
    if rank == 2:
        r0 = seeds.words(0, 2, "r", counter, n, k)
        r1 = seeds.words(1, 2, "r", counter, n, k)
        r = (r0.astype(np.uint64) + r1.astype(np.uint64)) & np.uint64(mask_k)
        b = (r >> np.uint64(k - 1)) & np.uint64(1)
        # Additive large-ring shares for parties 0 and 1: party 0's part is seeded.
        r_part0 = seeds.words(0, 2, "r_large", counter, n, large_bits)
        b_part0 = seeds.words(0, 2, "b_large", counter, n, large_bits)
        r_part1 = r.astype(big) - r_part0
        b_part1 = b.astype(big) - b_part0
        send(1, key + "/dealt", np.concatenate([r_part1, b_part1]).tobytes())
        t0 = np.frombuffer(recv(0, key + "/t0"), dtype=big)
        t2 = np.frombuffer(recv(1, key + "/t2"), dtype=big)
        return np.stack([t2, t0], axis=1)

    partner = 1 - rank
    mine, second = words[:, 0].astype(small), words[:, 1].astype(small)
    # Party 0 holds (a0, a1), party 1 holds (a1, a2): each masks the share the other lacks.
    lacking = mine if rank == 0 else second
    shared = second if rank == 0 else mine  # a1, held by both
    r_own = seeds.words(rank, 2, "r", counter, n, k)
    send(partner, key + "/masked", (lacking + r_own).tobytes())
    if rank == 0:
        r_large = seeds.words(0, 2, "r_large", counter, n, large_bits)
        b_large = seeds.words(0, 2, "b_large", counter, n, large_bits)
    else:
        dealt = np.frombuffer(recv(2, key + "/dealt"), dtype=big)
        r_large, b_large = dealt[:n], dealt[n:]
    other = np.frombuffer(recv(partner, key + "/masked"), dtype=small)
    c = (lacking + r_own + shared + other).astype(small)  # y + r mod 2^k
    no_wrap_flag = (1 - ((c.astype(np.uint64) >> np.uint64(k - 1)) & np.uint64(1))).astype(big)
    z = big(0) - r_large + (big(1) << big(k)) * no_wrap_flag * b_large
    if rank == 0:
        z = z + c.astype(big) - (big(1) << big(k - 2))  # c counted once; remove the bias
    z = z << big(fraction_shift)
    # Re-share (z0 + z1) into replicated form; t1 and alpha come from the 0-1 seed.
    t1 = seeds.words(0, 1, "t1", counter, n, large_bits)
    alpha = seeds.words(0, 1, "alpha", counter, n, large_bits)
    if rank == 0:
        t0 = z + alpha
        send(2, key + "/t0", t0.tobytes())
        return np.stack([t0, t1], axis=1)
    t2 = z - alpha - t1
    send(2, key + "/t2", t2.tobytes())
    return np.stack([t1, t2], axis=1)
