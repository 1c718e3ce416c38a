"""One process per party over SPU's brpc links: same answers and bytes as threads; failures are bounded."""

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest

import ditto_compiler
from ditto_compiler import DittoError
from ditto_compiler.runtime.cost import CONVERSION_PROTOCOL, MATMUL_PROTOCOL
from ditto_compiler.runtime.processes import run_in_processes

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
    # SPU's per-op profile (plus the matmul and conversion protocols' messages): the same in both modes, every byte accounted for.
    per_op = {op: c.send_bytes for op, c in thread_cost.by_op.items()}
    assert per_op == {op: c.send_bytes for op, c in process_cost.by_op.items()}
    assert per_op["pphlo.exponential"] > 0 and per_op[MATMUL_PROTOCOL] > 0
    assert sum(per_op.values()) == thread_cost.send_bytes
    assert (CONVERSION_PROTOCOL in per_op) == (policy == "ditto")


def test_a_killed_party_fails_clearly_within_the_timeout(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # the parties' scratch directories land here
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    prog = ditto_compiler.compile(layer, W, X, policy="ditto")
    start = time.monotonic()
    with pytest.raises(DittoError, match=r"party 1 exited with code -9 \(killed\); the other parties were stopped"):
        run_in_processes(prog.plan, [W, X], recv_timeout_s=5.0, kill=(1, 0.5))
    assert time.monotonic() - start < 60
    assert list(tmp_path.glob("ditto-party-*")) == []  # the driver removes what a killed party could not


SCRIPT = """
import numpy as np, jax.numpy as jnp, ditto_compiler
w = np.full((16, 8), 0.1, np.float32); x = np.ones((4, 16), np.float32)
prog = ditto_compiler.compile(lambda w, x: jnp.exp(-jnp.abs(x @ w)) @ w.T, w, x, policy="ditto")
print("READY", flush=True)
for _ in range({runs}):
    y = prog.run(w, x, mode="processes", timeout_s=20)
print("max error", float(np.abs(y - np.exp(-np.abs(x @ w)) @ w.T).max()))
"""


def _script(tmp_path, runs):
    env = {**os.environ, "TMPDIR": str(tmp_path)}  # the parties' scratch directories land here
    return subprocess.Popen(
        [sys.executable, "-"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


def test_a_script_without_a_main_guard_runs_processes_from_stdin(tmp_path):
    # multiprocessing's spawn would re-import the user's __main__ (here: stdin) in every party.
    driver = _script(tmp_path, runs=1)
    out, err = driver.communicate(SCRIPT.format(runs=1), timeout=300)
    assert driver.returncode == 0, err
    assert float(out.split("max error")[1]) < 0.05
    assert list(tmp_path.iterdir()) == []  # every party removed its scratch directory


def _party_pids(driver_pid):
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            status = (entry / "status").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(next(line.split()[1] for line in status.splitlines() if line.startswith("PPid:")))
        if ppid == driver_pid and b"ditto_compiler.runtime.party_process" in cmdline:
            pids.append(int(entry.name))
    return pids


def test_parties_of_a_killed_driver_exit_and_clean_up(tmp_path):
    driver = _script(tmp_path, runs=1000)
    driver.stdin.write(SCRIPT.format(runs=1000))
    driver.stdin.close()
    deadline = time.monotonic() + 120
    while len(parties := _party_pids(driver.pid)) < 3 or len(list(tmp_path.glob("ditto-party-*"))) < 3:
        assert time.monotonic() < deadline and driver.poll() is None, driver.stderr.read()
        time.sleep(0.05)
    driver.kill()
    driver.wait()
    deadline = time.monotonic() + 20  # within the receive timeout the script asked for
    while any(
        Path(f"/proc/{pid}").exists() and b"party_process" in Path(f"/proc/{pid}/cmdline").read_bytes()
        for pid in parties
    ):
        assert time.monotonic() < deadline, "a party outlived its driver"
        time.sleep(0.1)
    assert list(tmp_path.glob("ditto-party-*")) == []


def test_timeout_must_be_positive():
    prog = ditto_compiler.compile(layer, W, X)
    with pytest.raises(DittoError, match="timeout_s must be a number of seconds"):
        prog.run(W, X, timeout_s=0)
