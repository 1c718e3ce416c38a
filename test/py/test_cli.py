"""The `ditto` and `ditto-opt` commands: real output, clear errors, no tracebacks."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

from ditto_compiler.frontend.jax_export import export_stablehlo


def run(*argv, stdin=None):
    # Console scripts live next to the interpreter running the tests.
    search = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    exe = shutil.which(argv[0], path=search)
    assert exe is not None, f"{argv[0]} is not installed"
    return subprocess.run([exe, *argv[1:]], input=stdin, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def jax_text(tmp_path_factory):
    def layer(w, x):
        return jax.nn.softmax(jax.nn.gelu(x @ w, approximate=False), axis=-1)

    text, _ = export_stablehlo(layer, (np.ones((8, 4), np.float32), np.ones((2, 8), np.float32)))
    path = tmp_path_factory.mktemp("jax") / "layer.mlir"
    path.write_text(text)
    return path


def test_ditto_opt_lowers_jax_output(jax_text):
    result = run("ditto-opt", str(jax_text), "-p", "inline-private-functions,legalize-to-pphlo")
    assert result.returncode == 0, result.stderr
    assert "pphlo.dot" in result.stdout and "pphlo.exponential" in result.stdout
    assert "stablehlo." not in result.stdout and "chlo." not in result.stdout


def test_ditto_opt_round_trips_jax_output(jax_text):
    first = run("ditto-opt", str(jax_text))
    assert first.returncode == 0, first.stderr
    second = run("ditto-opt", stdin=first.stdout)
    assert second.returncode == 0, second.stderr
    assert second.stdout == first.stdout


def test_ditto_opt_errors_are_one_line(tmp_path):
    bad = tmp_path / "bad.mlir"
    bad.write_text(
        'func.func @f(%x: tensor<2xf32>) -> tensor<2xf32> {\n  %0 = "stablehlo.cbrt"(%x) : (tensor<2xf32>) -> tensor<2xf32>\n  func.return %0 : tensor<2xf32>\n}\n'
    )
    result = run("ditto-opt", str(bad), "-p", "legalize-to-pphlo")
    assert result.returncode == 1
    assert result.stderr.strip() == "ditto-opt: error: 'stablehlo.cbrt' is not supported by legalize-to-pphlo"
    result = run("ditto-opt", str(bad), "-p", "no-such-pass")
    assert result.returncode == 1 and "Traceback" not in result.stderr and "no-such-pass" in result.stderr


def test_demo_prints_error_and_cost(tmp_path):
    out = tmp_path / "demo.json"
    result = run("ditto", "demo", "--seq", "4", "--hidden", "16", "--heads", "2", "--mlp", "32", "--json", str(out))
    assert result.returncode == 0, result.stderr
    assert "ditto-compiler" in result.stdout and "SPU's compiler" in result.stdout and "ditto / SPU" in result.stdout
    figures = json.loads(out.read_text())
    ours, spu = figures["runs"]
    assert ours["max_abs_err"] < 5e-2 and ours["send_bytes"] > 0 and ours["rounds"] > 0
    assert spu["send_bytes"] > 0


def test_demo_rejects_bad_arguments():
    result = run("ditto", "demo", "--hidden", "10", "--heads", "3", "--no-spu")
    assert result.returncode == 1
    assert result.stderr.strip() == "ditto: error: --hidden 10 is not divisible by --heads 3"
