"""The downcast protocol: within two LSB and unbiased, one round, ten bytes per element, private."""

import numpy as np
import pytest
from protocol_parties import run_parties

from ditto_compiler.diagnostics import DittoError
from ditto_compiler.runtime.downcast import ditto_downcast
from ditto_compiler.runtime.upcast import PairSeeds


def run_protocol(x, dropped, seed, counter=0):
    """All three parties on 64-bit shares of the signed integers x; the small-ring result as signed ints."""
    x = x.astype(np.int64).astype(np.uint64)
    total, views, hub = run_parties(ditto_downcast, x, 64, 32, dropped, seed, counter)
    return total.astype(np.int32).astype(np.int64), views, hub


@pytest.mark.parametrize("dropped", [1, 6, 8, 9, 16, 32])
def test_downcast_is_within_two_lsb_across_the_range(dropped):
    rng = np.random.default_rng(dropped)
    bound = 2**29  # the result fits the small ring
    x = np.concatenate([rng.integers(-bound, bound, 3000), [0, 1, -1, bound - 1, -bound]]) << dropped
    x = x + rng.integers(0, 2**dropped, x.size)  # arbitrary dropped bits
    got, _, _ = run_protocol(x, dropped, seed=2)
    error = got - (x >> dropped)
    assert set(np.unique(error)) <= {-1, 0, 1, 2}
    assert np.mean(np.abs(error) <= 1) > 0.9


def test_downcast_is_unbiased():
    n, dropped = 20000, 8
    fraction = np.random.default_rng(3).integers(0, 2**dropped, n)
    x = (np.random.default_rng(4).integers(-(2**20), 2**20, n) << dropped) + fraction
    got, _, _ = run_protocol(x, dropped, seed=5)
    error = got - x / 2.0**dropped  # against the exact quotient
    assert abs(error.mean()) < 0.02 and np.abs(error).max() < 3


def test_downcast_cost_is_one_round_of_two_short_words():
    n = 1000
    _, views, hub = run_protocol(np.arange(n), 6, seed=6)
    sent = [c.snapshot() for c in hub.counters]
    # P0 <-> P1: a 32-bit word and an 8-bit word for the 6 high bits, each way; P2 sends nothing.
    assert sum(b for b, _ in sent) == n * 2 * (4 + 1)
    assert [a for _, a in sent] == [1, 1, 0]
    assert views[2] == []


def test_messages_are_independent_of_the_secret():
    n, dropped = 4000, 8
    zeros = np.zeros(n, np.int64)
    large = np.random.default_rng(7).integers(-(2**36), 2**36, n)
    _, views_a, _ = run_protocol(zeros, dropped, seed=8)
    _, views_b, _ = run_protocol(large, dropped, seed=9)
    for rank in (0, 1):
        (a,), (b,) = views_a[rank], views_b[rank]
        for message in (a, b):
            low = np.frombuffer(message[: 4 * n], np.uint32) / 2.0**32
            high = np.frombuffer(message[4 * n :], np.uint8) / 2.0**8
            for words in (low, high):  # uniform on [0, 1), whatever the secret
                assert abs(words.mean() - 0.5) < 0.03 and abs(words.std() - 12**-0.5) < 0.03
        hist_a, _ = np.histogram(np.frombuffer(a[: 4 * n], np.uint32), bins=10, range=(0, 2**32))
        hist_b, _ = np.histogram(np.frombuffer(b[: 4 * n], np.uint32), bins=10, range=(0, 2**32))
        assert np.abs(hist_a - hist_b).max() < 0.1 * n / 10 + 60


@pytest.mark.parametrize("bits, dropped", [((64, 16), 4), ((64, 32), 0), ((64, 32), 33)])
def test_unsupported_widths_are_refused(bits, dropped):
    seeds = PairSeeds({pair: bytes(16) for pair in ((0, 1), (0, 2), (1, 2))})
    with pytest.raises(DittoError, match="downcast supports 64 -> 32"):
        ditto_downcast(0, np.zeros((2, 2), np.uint64), *bits, dropped, seeds, 0, None, None)
