"""The runtime's cost figures are SPU's own, and deterministic."""

import subprocess
import sys

import jax.numpy as jnp
import numpy as np
import pytest

import ditto_compiler
from ditto_compiler import DittoError
from ditto_compiler.plan import Plan, Segment, Variable
from ditto_compiler.ring import RingConfig
from ditto_compiler.runtime.channels import CountingChannel, MemoryHub, PartyFailure
from ditto_compiler.runtime.executor import execute


def _program():
    x = np.random.default_rng(0).normal(size=(8, 16)).astype(np.float32)
    w = np.random.default_rng(1).normal(size=(16, 16)).astype(np.float32)
    return ditto_compiler.compile(lambda x, w: jnp.exp(-jnp.abs(x @ w)), x, w), (x, w)


def test_link_counters_match_spu_profiler():
    prog, args = _program()
    _, cost = execute(prog.plan, list(args))
    # SPU's own per-op profile (cost.by_op) accounts for exactly what our links counted.
    assert cost.by_op and cost.send_bytes > 0
    assert sum(op.send_bytes for op in cost.by_op.values()) == cost.send_bytes
    assert sum(op.send_actions for op in cost.by_op.values()) == cost.send_actions


def test_totals_are_deterministic():
    # Individual parties' shares of the traffic vary with SPU's random ABY3 roles; totals do not.
    prog, args = _program()
    prog.run(*args)
    first = (prog.cost.send_bytes, prog.cost.send_actions, prog.cost.rounds)
    for _ in range(3):
        prog.run(*args)
        assert (prog.cost.send_bytes, prog.cost.send_actions, prog.cost.rounds) == first
    assert prog.cost.send_bytes == sum(p.send_bytes for p in prog.cost.parties)
    assert prog.cost.rounds == prog.cost.send_actions / 3


def test_input_outside_ring_range_is_refused():
    prog = ditto_compiler.compile(lambda x: x * 2.0, np.ones(3, np.float32))
    with pytest.raises(
        DittoError, match=r"argument \[0\] holds 1e\+20, outside the fixed-point range of the 64-bit ring"
    ):
        prog.run(np.array([1.0, 1e20, 0.0], np.float32))
    with pytest.raises(DittoError, match="holds NaN or infinity"):
        prog.run(np.array([1.0, np.nan, 0.0], np.float32))


def test_party_failure_names_the_party_and_reason():
    # Hand-written PPHLO that SPU's runtime rejects: dot_general must be (B, M, K) x (B, K, N).
    code = (
        '"builtin.module"() ({\n'
        '  "func.func"() <{function_type = (tensor<2x3x!pphlo.secret<f32>>, tensor<3x2x!pphlo.secret<f32>>) -> '
        'tensor<2x2x!pphlo.secret<f32>>, sym_name = "main"}> ({\n'
        "  ^bb0(%a: tensor<2x3x!pphlo.secret<f32>>, %b: tensor<3x2x!pphlo.secret<f32>>):\n"
        '    %0 = "pphlo.dot_general"(%a, %b) <{dot_dimension_numbers = #pphlo.dot<lhs_contracting_dimensions = [1], '
        "rhs_contracting_dimensions = [0]>}> : (tensor<2x3x!pphlo.secret<f32>>, tensor<3x2x!pphlo.secret<f32>>) -> "
        "tensor<2x2x!pphlo.secret<f32>>\n"
        '    "func.return"(%0) : (tensor<2x2x!pphlo.secret<f32>>) -> ()\n'
        "  }) : () -> ()\n"
        "}) : () -> ()\n"
    )
    x = np.ones((2, 3), np.float32)
    a, b, out = (Variable(n, 64, True, "fixed", shape) for n, shape in (("a", (2, 3)), ("b", (3, 2)), ("out", (2, 2))))
    plan = Plan({64: RingConfig()}, [a, b], [out], [Segment(64, code, ("a", "b"), ("out",))])
    with pytest.raises(DittoError, match=r"secure execution failed in party \d: \[Enforce fail .*ndim\(\) == 3"):
        execute(plan, [x, x.T.copy()])


def test_silent_peer_times_out_with_its_rank():
    hub = MemoryHub(3, recv_timeout_s=0.2)
    channel = CountingChannel(hub, rank=0, peer=2)
    with pytest.raises(PartyFailure, match="party 0 got no message from party 2 within 0.2 s"):
        channel.Recv("some-key")
    assert hub.failed_rank == 0
    # Once one party has failed, every other receive stops at once.
    with pytest.raises(PartyFailure, match="stopped because"):
        CountingChannel(hub, rank=1, peer=0).Recv("other-key")


def test_channels_count_what_they_send():
    hub = MemoryHub(3, recv_timeout_s=1.0)
    CountingChannel(hub, rank=1, peer=2).SendAsync("k", b"abcd")
    assert CountingChannel(hub, rank=2, peer=1).Recv("k") == b"abcd"
    assert hub.counters[1].snapshot() == (4, 1) and hub.counters[2].snapshot() == (0, 0)


_CHAIN = """
import resource, sys
import numpy as np
import ditto_compiler

def chain(x, w):
    for _ in range(40):
        x = x * w + 0.5
    return x.sum()

x = np.random.default_rng(0).normal(size=(300, 1000)).astype(np.float32) * 0.1
w = np.full((300, 1000), 0.9, np.float32)
prog = ditto_compiler.compile(chain, x, w)
assert prog.pphlo.count('"pphlo.free"') >= 80, "every intermediate is freed"
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
out = prog.run(x, w)
grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
assert abs(float(out) - float(chain(x, w))) < 1e-2 * abs(float(chain(x, w))), out
print(f"{grown:.0f}")
"""


def test_spu_frees_intermediates():
    """80 secret intermediates of 300x1000 would hold 1.15 GB in the three parties' runtimes;
    freed after their last use (insert-deallocation), the run grows by a few of them."""
    done = subprocess.run([sys.executable, "-c", _CHAIN], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    grown_mb = float(done.stdout.strip().splitlines()[-1])
    assert grown_mb < 400, f"the run grew by {grown_mb:.0f} MB: intermediates are kept"
