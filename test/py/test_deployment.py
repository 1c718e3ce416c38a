"""`ditto party` on each host and `ditto drive` from the data owner (here all on localhost)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest

import ditto_compiler
from ditto_compiler import DittoError
from ditto_compiler.runtime.deployment import load_cluster
from ditto_compiler.runtime.processes import free_ports


def script(name):
    search = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return shutil.which(name, path=search)


def layer(w, x):
    return jnp.exp(-jnp.abs(x @ w)) @ w.T


def test_parties_and_driver_as_separate_commands(tmp_path):
    rng = np.random.default_rng(1)
    w = (rng.normal(size=(16, 8)) * 0.3).astype(np.float32)
    x = rng.normal(size=(4, 16)).astype(np.float32)
    prog = ditto_compiler.compile(layer, w, x, policy="ditto")
    prog.save(str(tmp_path / "layer.ditto"))
    np.savez(tmp_path / "inputs.npz", w, x)
    # Each party needs its port and the four above it.
    bases = [p for p in free_ports(30) if p < 65000][:3]
    config = {
        "parties": [{"host": "127.0.0.1", "port": port} for port in bases],
        "authkey": "test-cluster-key",
        "recv_timeout_s": 20,
    }
    (tmp_path / "cluster.json").write_text(json.dumps(config))
    parties = [
        subprocess.Popen(
            [script("ditto"), "party", "--config", str(tmp_path / "cluster.json"), "--rank", str(rank)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for rank in range(3)
    ]
    try:
        driver = subprocess.run(
            [script("ditto"), "drive", "--config", str(tmp_path / "cluster.json"), "--program",
             str(tmp_path / "layer.ditto"), "--inputs", str(tmp_path / "inputs.npz"), "--out", str(tmp_path / "out.npz")],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert driver.returncode == 0, driver.stderr
        assert "conversions" in driver.stdout
        for party in parties:
            assert party.wait(timeout=60) == 0, party.stderr.read()
    finally:
        for party in parties:
            party.kill()
    with np.load(tmp_path / "out.npz") as out:
        np.testing.assert_allclose(out["arr_0"], layer(w, x), atol=0.05)


def test_cluster_config_errors(tmp_path):
    path = tmp_path / "cluster.json"
    path.write_text(json.dumps({"parties": [{"host": "a", "port": 1}], "authkey": "12345678"}))
    with pytest.raises(DittoError, match="'parties' must list 3 parties"):
        load_cluster(str(path))
    path.write_text(json.dumps({"parties": [{"host": "a", "port": 9000}] * 3, "authkey": "short"}))
    with pytest.raises(DittoError, match="'authkey' must be a string of at least 8 characters"):
        load_cluster(str(path))
    result = subprocess.run([script("ditto"), "party", "--config", str(tmp_path / "missing.json"), "--rank", "0"],
                            capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 1 and result.stderr.startswith("ditto: error: cannot read cluster config")
