"""The emulated network: its delays match the setting, and it changes nothing but time."""

import sys
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest

import ditto_compiler
from ditto_compiler import DittoError
from ditto_compiler.network import NETWORKS

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
from netem_check import measure  # noqa: E402


def test_wan_ping_pong_and_bulk_transfer_match_the_setting():
    # Through the parties' own path: two processes, an SPU link context over emulated channels. The
    # emulation never undercuts the setting; above it, the slack is scheduling on a busy 2-core
    # machine (idle, both are within 10%: docs/benchmarks.md).
    figures = measure("wan", pings=10, bulk_mb=20)
    assert 40.0 <= figures["rtt_ms"] < 40.0 * 1.25
    assert 400.0 * 0.8 < figures["mbps"] <= 400.0 * 1.02


def test_lan_ping_pong_never_undercuts_the_setting():
    # 0.2 ms each way, spun rather than slept (a sleep overshoots by the 50 us timer slack); idle, the
    # median is within 5% of 0.4 ms (docs/benchmarks.md), and a busy CI machine only adds to it.
    figures = measure("lan", pings=200, bulk_mb=20)
    assert 0.4 <= figures["rtt_ms"] < 0.4 * 2
    assert figures["mbps"] <= 5000 * 1.02


def layer(w, x):
    return jnp.exp(-jnp.abs(x @ w)) @ w.T


def test_the_emulated_network_changes_time_but_not_bytes_or_answers():
    rng = np.random.default_rng(2)
    w, x = (rng.normal(size=(16, 8)) * 0.3).astype(np.float32), rng.normal(size=(4, 16)).astype(np.float32)
    prog = ditto_compiler.compile(layer, w, x, policy="ditto")
    plain = prog.run(w, x)  # threads: the same bytes as processes (test_processes.py), in a fraction of the time
    plain_cost = prog.cost
    emulated = prog.run(w, x, mode="processes", network="wan")
    cost = prog.cost
    np.testing.assert_allclose(emulated, plain, atol=0.05)
    assert (cost.send_bytes, cost.send_actions) == (plain_cost.send_bytes, plain_cost.send_actions)
    assert {op: c.send_bytes for op, c in cost.by_op.items()} == {
        op: c.send_bytes for op, c in plain_cost.by_op.items()
    }
    # Every round trip now costs the WAN's 40 ms: the run takes that many times longer (it has dozens).
    assert cost.seconds - plain_cost.seconds > 10 * NETWORKS["wan"].rtt_s


def test_a_network_needs_process_mode_and_a_known_name():
    prog = ditto_compiler.compile(layer, np.ones((4, 2), np.float32), np.ones((1, 4), np.float32))
    with pytest.raises(DittoError, match="network must be one of lan, wan, with mode='processes'"):
        prog.run(np.ones((4, 2), np.float32), np.ones((1, 4), np.float32), network="wan")
    with pytest.raises(DittoError, match="network must be one of lan, wan"):
        prog.run(np.ones((4, 2), np.float32), np.ones((1, 4), np.float32), mode="processes", network="5g")
