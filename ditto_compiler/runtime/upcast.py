"""Ditto's upcast protocol on ABY3 shares: Z_{2^k} -> Z_{2^K} in two online rounds.

Input: replicated shares (party i holds a_i, a_{i+1}) of y = x + 2^(k-2) in the small
ring, so that 0 <= y < 2^(k-1) whenever |x| < 2^(k-2) (Ditto's bound): msb(y) = 0.
Party 2 is the helper; parties 0 and 1 open a masked y.

1. r0 and r1 in Z_{2^k} come from the seeds party 2 shares with parties 0 and 1: party 0
   knows r0, party 1 knows r1, the helper both. With r = r0 + r1 mod 2^k, over the
   integers r0 + r1 = r + 2^k * w (w in {0, 1}); let b = msb(r).
2. Round 1: party 0 sends a_0 + r0 to party 1, party 1 sends a_2 + r1 to party 0; both
   get c = y + r mod 2^k (uniform: r is uniform and unknown to them).
3. Since msb(y) = 0, y + r wrapped mod 2^k exactly when b = 1 and msb(c) = 0, so over
   the integers
       y = c - r0 - r1 + 2^k * H,   H = w + b - b * msb(c).
   The low part c - r0 - r1 is already replicated: c is held by parties 0 and 1, r0 by
   parties 0 and 2, r1 by parties 1 and 2, exactly the holders of shares s1, s0, s2.
   Only H needs messages, and since it is multiplied by 2^k, only H mod 2^(K-k).
4. The helper deals parties 0 and 1 additive shares of w + b and of b mod 2^(K-k): party
   0's parts come from their seed, party 1's are sent, masked by the seed parts party 1
   does not know. They depend on no input and can run ahead (offline).
5. Each of them computes its additive share h_i of H locally (msb(c) is public to them).
   Round 2: with rho, rho' from their common seed, party 0 sends q0 = h_0 + rho and
   party 1 sends q2 = h_1 + rho' to the helper; both keep q1 = -rho - rho'. Then
       s0 = -r0 + 2^k q0,   s1 = c + 2^k q1,   s2 = -r1 + 2^k q2
   sum to y mod 2^K, and party i holds (s_i, s_i+1).

Finally the bias is removed and the fraction bits raised by a public power of two
(local). Cost per element: two k-bit words in round 1, and two (K-k)-bit words each for
the deal and round 2 (24 bytes for 32 -> 64). The helper sees only q0 and q2, each masked
by a word from the seed it lacks; parties 0 and 1 see c, which is y plus a uniform mask,
and party 1 the deal, masked by party 0's seed parts. Randomness comes from 128-bit
pairwise seeds agreed at setup, expanded by a cryptographic PRG (`PairSeeds.words`):
without a pair's seed, its words cannot be told from uniform, so the masks hide the
secrets computationally, not just statistically.
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
    k, high_bits = small_bits, large_bits - small_bits
    if k not in _DTYPE or large_bits not in _DTYPE or high_bits not in _DTYPE:
        raise DittoError(f"Ditto's upcast supports 32 -> 64 bits, not {small_bits} -> {large_bits}")
    big, small, high = _DTYPE[large_bits], _DTYPE[k], _DTYPE[high_bits]
    n = words.shape[0]
    key = f"upcast{counter}"

    def lift(low: np.ndarray, upper: np.ndarray) -> np.ndarray:
        """low + 2^k * upper in the large ring, then the fraction shift."""
        return (low.astype(big) + (upper.astype(big) << big(k))) << big(fraction_shift)

    def party0_deal() -> tuple[np.ndarray, np.ndarray]:
        """Party 0's additive parts of w + b and of b (mod 2^(K-k)): from its seed with the helper."""
        return seeds.words(0, 2, "wb", counter, n, high_bits), seeds.words(0, 2, "b", counter, n, high_bits)

    if rank == 2:
        r0 = seeds.words(0, 2, "r", counter, n, k).astype(np.uint64)
        r1 = seeds.words(1, 2, "r", counter, n, k).astype(np.uint64)
        wrap = (r0 + r1) >> np.uint64(k)
        msb_r = ((r0 + r1) >> np.uint64(k - 1)) & np.uint64(1)
        wb_part0, b_part0 = party0_deal()
        dealt = [(wrap + msb_r).astype(high) - wb_part0, msb_r.astype(high) - b_part0]
        send(1, key + "/dealt", np.concatenate(dealt).tobytes())
        q0 = np.frombuffer(recv(0, key + "/q0"), dtype=high)
        q2 = np.frombuffer(recv(1, key + "/q2"), dtype=high)
        return np.stack([lift(big(0) - r1.astype(big), q2), lift(big(0) - r0.astype(big), q0)], axis=1)

    partner = 1 - rank
    mine, second = words[:, 0].astype(small), words[:, 1].astype(small)
    # Party 0 holds (a0, a1), party 1 holds (a1, a2): each masks the share the other lacks.
    lacking = mine if rank == 0 else second
    shared = second if rank == 0 else mine  # a1, held by both
    r_own = seeds.words(rank, 2, "r", counter, n, k)
    send(partner, key + "/masked", (lacking + r_own).tobytes())
    if rank == 0:
        wb_part, b_part = party0_deal()
    else:
        dealt = np.frombuffer(recv(2, key + "/dealt"), dtype=high)
        wb_part, b_part = dealt[:n], dealt[n:]
    other = np.frombuffer(recv(partner, key + "/masked"), dtype=small)
    c = (lacking + r_own + shared + other).astype(small)  # y + r mod 2^k
    msb_c = (c >> small(k - 1)).astype(high)
    h = wb_part - b_part * msb_c  # this party's additive share of H
    rho = seeds.words(0, 1, "rho", counter, n, high_bits)
    rho_prime = seeds.words(0, 1, "rho'", counter, n, high_bits)
    q1 = high(0) - rho - rho_prime
    s1 = lift(c.astype(big) - big(1 << (k - 2)), q1)  # c counted once; remove the bias
    q_own = h + (rho if rank == 0 else rho_prime)
    send(2, key + ("/q0" if rank == 0 else "/q2"), q_own.tobytes())
    s_own = lift(big(0) - r_own.astype(big), q_own)
    return np.stack([s_own, s1], axis=1) if rank == 0 else np.stack([s1, s_own], axis=1)
