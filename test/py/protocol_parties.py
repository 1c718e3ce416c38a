"""Three parties as threads on counting in-memory channels, running one protocol (test helper)."""

import threading

import numpy as np

from ditto_compiler.runtime.channels import CountingChannel, MemoryHub
from ditto_compiler.runtime.upcast import PairSeeds


def replicated(values, rng, bits):
    """Replicated shares (party i holds s_i, s_{i+1}) of `values` mod 2^bits."""
    dtype = np.uint32 if bits == 32 else np.uint64
    s0, s1 = (rng.integers(0, 2**bits, size=values.size, dtype=np.uint64).astype(dtype) for _ in range(2))
    s2 = values.astype(dtype) - s0 - s1
    s = [s0, s1, s2]
    return [np.stack([s[i], s[(i + 1) % 3]], axis=1) for i in range(3)]


def three_parties(body):
    """`body(rank, send, recv)` run by three party threads on counting in-memory channels: each party's
    result, the messages each received, and the hub that counted them."""
    hub = MemoryHub(3, recv_timeout_s=10.0)
    results, views = [None] * 3, [[] for _ in range(3)]

    def party(rank):
        channels = {p: CountingChannel(hub, rank, p) for p in range(3) if p != rank}

        def recv(peer, key):
            data = channels[peer].Recv(key)
            views[rank].append(data)
            return data

        def send(peer, key, data):
            channels[peer].SendAsync(key, data)

        results[rank] = body(rank, send, recv)

    threads = [threading.Thread(target=party, args=(r,)) for r in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, views, hub


def run_parties(protocol, values, src_bits, dst_bits, shift, seed, counter=0):
    """`protocol` run by all three parties on fresh shares of `values` (mod 2^src_bits): the sum of their result
    words (unsigned, mod 2^dst_bits), each party's received messages, and the hub that counted them."""
    rng = np.random.default_rng(seed)
    shares = replicated(values, rng, src_bits)
    seeds = PairSeeds({pair: rng.bytes(16) for pair in ((0, 1), (0, 2), (1, 2))})
    words, views, hub = three_parties(
        lambda rank, send, recv: protocol(rank, shares[rank], src_bits, dst_bits, shift, seeds, counter, send, recv)
    )
    assert all((words[i][:, 1] == words[(i + 1) % 3][:, 0]).all() for i in range(3)), "not replicated"
    return words[0][:, 0] + words[1][:, 0] + words[2][:, 0], views, hub
