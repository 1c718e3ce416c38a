"""Ditto's upcast protocol: exact at the bounds, equal to the generic method, and private."""

import numpy as np
import pytest
from protocol_parties import run_parties

import ditto_compiler
from ditto_compiler.models.transformer_block import init_block, transformer_block
from ditto_compiler.runtime.upcast import PairSeeds, ditto_upcast

K_SMALL, K_LARGE = 32, 64


def run_protocol(y, shift, seed, counter=0):
    """All three parties on shares of y (small ring); returns large words and each party's received messages."""
    total, views, hub = run_parties(ditto_upcast, y, K_SMALL, K_LARGE, shift, seed, counter)
    return total.astype(np.int64), views, hub


BOUND = 2 ** (K_SMALL - 2)


@pytest.mark.parametrize("shift", [0, 10])
def test_upcast_is_exact_across_the_whole_range(shift):
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.integers(-BOUND, BOUND, 2000), [0, 1, -1, BOUND - 1, -BOUND, BOUND // 2, -BOUND // 2]])
    y = (x + BOUND).astype(np.uint64)  # the bias the small runtime adds
    got, _, _ = run_protocol(y, shift, seed=2)
    np.testing.assert_array_equal(got, x.astype(np.int64) << shift)


def test_upcast_cost_is_a_few_words_per_element():
    n = 1000
    _, _, hub = run_protocol(np.full(n, BOUND, np.uint64), 10, seed=3)
    sent = [c.snapshot() for c in hub.counters]
    total_bytes = sum(b for b, _ in sent)
    # P0<->P1: one 32-bit word each; P2->P1: two 32-bit words (the deal, mod 2^(64-32));
    # P0,P1->P2: one 32-bit word each (only the high part of the result needs messages).
    assert total_bytes == n * (4 + 4 + 8 + 4 + 4)
    assert max(a for _, a in sent) <= 2  # two online rounds (P2's deal can run ahead)


def test_messages_are_independent_of_the_secret():
    n = 4000
    zeros = np.full(n, BOUND, np.uint64)  # x = 0
    large = (np.random.default_rng(4).integers(-BOUND, BOUND, n) + BOUND).astype(np.uint64)
    _, views_a, _ = run_protocol(zeros, 10, seed=5)
    _, views_b, _ = run_protocol(large, 10, seed=6)
    for rank in range(3):
        for message_a, message_b in zip(views_a[rank], views_b[rank]):
            # every message is 32-bit words: the small ring's, or the large ring's high half
            a = np.frombuffer(message_a, np.uint32) / float(np.iinfo(np.uint32).max)
            b = np.frombuffer(message_b, np.uint32) / float(np.iinfo(np.uint32).max)
            # Both look uniform on [0, 1): same mean, spread and histogram, whatever the secret.
            for words in (a, b):
                assert abs(words.mean() - 0.5) < 0.03 and abs(words.std() - 12**-0.5) < 0.03
            hist_a, _ = np.histogram(a, bins=10, range=(0, 1))
            hist_b, _ = np.histogram(b, bins=10, range=(0, 1))
            # (the helper's deal to party 1 has two words per element: twice the counts, sqrt(2) the spread)
            assert np.abs(hist_a - hist_b).max() < 0.1 * a.size / 10 + 60 * (a.size / n) ** 0.5


def test_no_view_contains_the_plaintext():
    n = 500
    x = np.random.default_rng(7).integers(1, BOUND, n)
    _, views, _ = run_protocol((x + BOUND).astype(np.uint64), 0, seed=8)
    for view in views:
        for message in view:
            for dtype in (np.uint32, np.uint64):
                if len(message) % np.dtype(dtype).itemsize == 0:
                    words = np.frombuffer(message, dtype).astype(np.int64)
                    assert np.mean(np.isin(words, x)) < 0.01


def test_mixed_ring_block_with_both_upcasts():
    p = init_block(hidden=32, mlp=64, seed=3)
    x = np.random.default_rng(9).normal(size=(8, 32)).astype(np.float32)

    def block(p, x):
        return transformer_block(p, x, heads=4)

    prog = ditto_compiler.compile(block, p, x, policy="ditto")
    emulated = prog.emulate(p, x)
    ditto = prog.run(p, x)
    ditto_conversions = prog.cost.by_ring["conversions"].send_bytes
    generic = prog.run(p, x, upcast="generic")
    generic_conversions = prog.cost.by_ring["conversions"].send_bytes
    for secure in (ditto, generic):
        np.testing.assert_allclose(secure, emulated, atol=16 * 2.0**-8, rtol=0)
    assert ditto_conversions * 5 < generic_conversions


def test_flax_bert_runs_across_both_rings(tiny_bert):
    bert, params, ids = tiny_bert
    prog = ditto_compiler.compile(bert, params, ids, policy="ditto")
    kinds = {(s.source.kind, s.source.field_bits, s.target.field_bits) for s in prog.plan.steps if hasattr(s, "source")}
    assert {("fixed", 64, 32), ("fixed", 32, 64), ("bool", 64, 32)} <= kinds
    secure = prog.run(params, ids)
    # 8 fraction bits and BERT's std-0.02 initial weights: see docs/rings.md for the emulated error.
    assert np.abs(secure - bert(params, ids)).max() < 0.4
    assert np.abs(secure - prog.emulate(params, ids)).max() < 0.3


@pytest.mark.parametrize("upcast", ["ditto", "generic"])
def test_integers_cross_rings(tmp_path, upcast):
    import json

    import jax.numpy as jnp

    policy = tmp_path / "ints.json"
    rules = [{"op": "pphlo.multiply", "ring": [64, 18]}, {"op": "pphlo.add", "ring": [32, 8]}]
    policy.write_text(json.dumps({"base": "ditto", "rules": rules}))

    def fn(a, b):
        product = a * b  # 64-bit ring
        total = product + a  # 32-bit ring: an integer downcast
        return total * b  # 64-bit ring: an integer upcast

    a = np.array([3, -7, 100, 0, -12345], np.int32)
    b = np.array([2, 5, -3, 9, 4], np.int32)
    prog = ditto_compiler.compile(fn, a, b, policy=str(policy))
    kinds = [(s.source.kind, s.source.field_bits, s.target.field_bits) for s in prog.plan.steps if hasattr(s, "source")]
    assert ("int", 64, 32) in kinds and ("int", 32, 64) in kinds
    np.testing.assert_array_equal(prog.run(a, b, upcast=upcast), np.asarray(fn(jnp.asarray(a), jnp.asarray(b))))


def test_pair_words_come_from_the_pair_seed_and_nothing_else():
    seeds = PairSeeds({(0, 1): bytes(range(16)), (0, 2): bytes(range(1, 17))})
    words = seeds.words(0, 1, "t1", 7, 1000, 64)
    np.testing.assert_array_equal(words, seeds.words(1, 0, "t1", 7, 1000, 64))  # either party, same words
    others = [
        seeds.words(0, 2, "t1", 7, 1000, 64),  # another pair
        seeds.words(0, 1, "alpha", 7, 1000, 64),  # another purpose
        seeds.words(0, 1, "t1", 8, 1000, 64),  # another counter
    ]
    for other in others:
        assert np.mean(other == words) < 0.01
    small = seeds.words(0, 1, "r", 0, 100_000, 32) / 2.0**32
    assert abs(small.mean() - 0.5) < 0.01 and abs(small.std() - 12**-0.5) < 0.01
    with pytest.raises(ditto_compiler.DittoError, match="pair seeds must be 16 bytes"):
        PairSeeds({(0, 1): b"short"})
