"""The runtime's cost figures are SPU's own, and deterministic."""

import re

import jax.numpy as jnp
import numpy as np

import ditto_compiler
from ditto_compiler.runtime.executor import run_secure


def _program():
    x = np.random.default_rng(0).normal(size=(8, 16)).astype(np.float32)
    w = np.random.default_rng(1).normal(size=(16, 16)).astype(np.float32)
    return ditto_compiler.compile(lambda x, w: jnp.exp(-jnp.abs(x @ w)), x, w), (x, w)


def test_link_counters_match_spu_profiler(tmp_path):
    prog, args = _program()
    log = tmp_path / "spu.log"
    _, cost = run_secure(prog.pphlo, list(args), [True, True], 1, profile_log=str(log))
    reported = re.findall(r"Link details: total send bytes (\d+), recv bytes \d+, send actions (\d+)", log.read_text())
    assert len(reported) == 3
    # SPU's log does not say which party wrote which line: compare as multisets.
    assert sorted((int(b), int(a)) for b, a in reported) == sorted((p.send_bytes, p.send_actions) for p in cost.parties)


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
