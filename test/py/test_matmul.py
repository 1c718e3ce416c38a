"""The ABY3 matmul step: exact ring products through float64 BLAS, one round, SPU's traffic, private."""

import numpy as np
import pytest
from protocol_parties import three_parties

from ditto_compiler.diagnostics import DittoError
from ditto_compiler.runtime.matmul import aby3_matmul, max_inner, ring_matmul
from ditto_compiler.runtime.upcast import PairSeeds

DTYPE = {32: np.uint32, 64: np.uint64}


def words(rng, shape, bits):
    return rng.integers(0, 2**bits, size=shape, dtype=np.uint64).astype(DTYPE[bits])


@pytest.mark.parametrize("bits", [32, 64])
@pytest.mark.parametrize("shapes", [((5, 70), (70, 4)), ((3, 5, 9), (3, 9, 6)), ((1, 1), (1, 1))])
def test_ring_matmul_is_exact_mod_the_ring(bits, shapes):
    rng = np.random.default_rng(bits)
    a, b = (words(rng, shape, bits) for shape in shapes)
    want = np.matmul(a.astype(np.uint64), b.astype(np.uint64)).astype(DTYPE[bits])  # integer loops wrap mod 2^64
    np.testing.assert_array_equal(ring_matmul(a, b, bits), want)


@pytest.mark.parametrize("bits", [32, 64])
@pytest.mark.parametrize("shapes", [((7, 300), (300, 50)), ((2, 7, 30), (1, 30, 50)), ((7, 5), (5, 400))])
def test_ring_matmul_is_exact_across_its_blocks(bits, shapes, monkeypatch):
    # Blocks of 64 words: the result's columns and the contraction are cut into many blocks, some partial.
    monkeypatch.setattr("ditto_compiler.runtime.matmul._BLOCK_ELEMENTS", 64)
    rng = np.random.default_rng(bits)
    a, b = (words(rng, shape, bits) for shape in shapes)
    want = np.matmul(a.astype(np.uint64), b.astype(np.uint64)).astype(DTYPE[bits])
    np.testing.assert_array_equal(ring_matmul(a, b, bits), want)


@pytest.mark.parametrize("bits", [32, 64])
def test_ring_matmul_is_exact_at_its_longest_contraction_of_all_ones(bits):
    n = max_inner(bits)
    a = np.full((1, n), 2**bits - 1, DTYPE[bits])
    b = np.full((n, 2), 2**bits - 1, DTYPE[bits])
    want = (n * (2**bits - 1) ** 2) % 2**bits  # every limb sum at its largest
    assert (ring_matmul(a, b, bits) == want).all()
    with pytest.raises(DittoError, match=f"a contraction of {n + 1} exceeds"):
        ring_matmul(np.zeros((1, n + 1), DTYPE[bits]), np.zeros((n + 1, 1), DTYPE[bits]), bits)


def test_ring_matmul_refuses_other_words():
    with pytest.raises(DittoError, match="takes 32-bit ring words, got int64"):
        ring_matmul(np.zeros((2, 2), np.int64), np.zeros((2, 2), np.int64), 32)


def run_matmul(x, y, bits, seed):
    """The three parties on fresh replicated shares of x and y: the product, the messages each received, the hub."""
    rng = np.random.default_rng(seed)

    def replicated(values):
        s0, s1 = words(rng, values.shape, bits), words(rng, values.shape, bits)
        s = [s0, s1, values.astype(DTYPE[bits]) - s0 - s1]
        return [np.stack([s[i], s[(i + 1) % 3]]) for i in range(3)]

    xs, ys = replicated(x), replicated(y)
    seeds = PairSeeds({pair: rng.bytes(16) for pair in ((0, 1), (0, 2), (1, 2))})

    def party(rank, send, recv):
        own_seeds = PairSeeds({p: s for p, s in seeds.seeds.items() if rank in p})
        return aby3_matmul(rank, xs[rank], ys[rank], bits, own_seeds, 7, send, recv)

    results, views, hub = three_parties(party)
    assert all((results[i][1] == results[(i + 1) % 3][0]).all() for i in range(3)), "not replicated"
    return results[0][0] + results[1][0] + results[2][0], views, hub


@pytest.mark.parametrize("bits", [32, 64])
def test_the_parties_get_replicated_shares_of_the_product(bits):
    rng = np.random.default_rng(1)
    x, y = words(rng, (2, 6, 40), bits), words(rng, (2, 40, 3), bits)
    product, _, _ = run_matmul(x, y, bits, seed=2)
    np.testing.assert_array_equal(product, ring_matmul(x, y, bits))


def test_one_round_of_one_word_per_output_element_and_party():
    product_elements = 6 * 3
    _, views, hub = run_matmul(np.ones((6, 40), np.uint32), np.ones((40, 3), np.uint32), 32, seed=3)
    sent = [c.snapshot() for c in hub.counters]
    assert [b for b, _ in sent] == [4 * product_elements] * 3  # what SPU's ABY3 matmul sends
    assert [a for _, a in sent] == [1, 1, 1]
    assert all(len(view) == 1 for view in views)


def test_messages_are_uniform_whatever_the_secrets():
    n = 4000
    zeros = np.zeros((n, 1), np.uint64), np.zeros((1, 1), np.uint64)
    ones = np.full((n, 1), 2**40, np.uint64), np.ones((1, 1), np.uint64)
    for x, y in (zeros, ones):
        _, views, _ = run_matmul(x, y, 64, seed=4)
        for (message,) in views:
            top = np.frombuffer(message, np.uint64) >> np.uint64(48)
            # The top 16 bits of a product of zeros (or a multiple of 2^40) would be 0 unmasked.
            assert 0.45 < top.mean() / 2**16 < 0.55 and len(np.unique(top)) > 0.9 * n
