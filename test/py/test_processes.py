"""One process per party over SPU's brpc links: same answers and bytes as threads; failures are bounded."""

import time

import jax.numpy as jnp
import numpy as np
import pytest

import ditto_compiler
from ditto_compiler import DittoError
from ditto_compiler.runtime.processes import run_processes

RNG = np.random.default_rng(3)
W = (RNG.normal(size=(16, 8)) * 0.3).astype(np.float32)
X = RNG.normal(size=(4, 16)).astype(np.float32)


def layer(w, x):
    return jnp.exp(-jnp.abs(x @ w)) @ w.T


@pytest.mark.parametrize("policy", ["fxp64", "ditto"])
def test_processes_match_threads(policy):
    prog = ditto_compiler.compile(layer, W, X, policy=policy)
    threads = prog.run(W, X)
    thread_cost = prog.cost
    processes = prog.run(W, X, mode="processes")
    process_cost = prog.cost
    want = layer(W, X)
    tolerance = 2e-3 if policy == "fxp64" else 0.05
    np.testing.assert_allclose(threads, want, atol=tolerance)
    np.testing.assert_allclose(processes, want, atol=tolerance)
    # The same protocol messages cross real sockets: the same bytes and rounds.
    assert process_cost.send_bytes == thread_cost.send_bytes
    assert process_cost.send_actions == thread_cost.send_actions
    if policy == "ditto":
        assert process_cost.by_ring["conversions"].send_bytes == thread_cost.by_ring["conversions"].send_bytes
    # SPU's per-op profile (plus the upcast protocol's messages): the same in both modes, every byte accounted for.
    per_op = {op: c.send_bytes for op, c in thread_cost.by_op.items()}
    assert per_op == {op: c.send_bytes for op, c in process_cost.by_op.items()}
    assert per_op["pphlo.exponential"] > 0 and "pphlo.dot" in per_op
    assert sum(per_op.values()) == thread_cost.send_bytes
    assert ("ditto.upcast" in per_op) == (policy == "ditto")


def test_a_killed_party_fails_clearly_within_the_timeout():
    prog = ditto_compiler.compile(layer, W, X, policy="ditto")
    start = time.monotonic()
    with pytest.raises(DittoError, match=r"party 1 exited with code -9; the other parties were stopped"):
        run_processes(prog.plan, [W, X], recv_timeout_s=5.0, kill=(1, 0.5))
    assert time.monotonic() - start < 60
