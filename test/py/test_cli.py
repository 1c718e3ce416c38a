"""The `ditto` and `ditto-opt` commands: real output, clear errors, no tracebacks.

Most tests call the commands' `main` in this process (the `ditto` and `ditto_opt` fixtures); one test per
console script runs the installed script itself, to prove the entry points are installed and exit with
the status `main` returns."""

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
    """The installed console script `argv[0]`, in a subprocess."""
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


def test_ditto_opt_lowers_jax_output(jax_text, ditto_opt):
    result = ditto_opt(str(jax_text), "-p", "inline-private-functions,legalize-to-pphlo")
    assert result.returncode == 0, result.stderr
    assert "pphlo.dot" in result.stdout and "pphlo.exponential" in result.stdout
    assert "stablehlo." not in result.stdout and "chlo." not in result.stdout


def test_ditto_opt_round_trips_jax_output(jax_text):
    # The installed `ditto-opt` script (the one subprocess test for it), reading a file, then stdin.
    first = run("ditto-opt", str(jax_text))
    assert first.returncode == 0, first.stderr
    second = run("ditto-opt", stdin=first.stdout)
    assert second.returncode == 0, second.stderr
    assert second.stdout == first.stdout


def test_ditto_opt_errors_are_one_line(tmp_path, ditto_opt):
    bad = tmp_path / "bad.mlir"
    bad.write_text(
        'func.func @f(%x: tensor<2xf32>) -> tensor<2xf32> {\n  %0 = "stablehlo.cbrt"(%x) : (tensor<2xf32>) -> tensor<2xf32>\n  func.return %0 : tensor<2xf32>\n}\n'
    )
    result = ditto_opt(str(bad), "-p", "legalize-to-pphlo")
    assert result.returncode == 1
    assert result.stderr.strip() == "ditto-opt: error: 'stablehlo.cbrt' is not supported by legalize-to-pphlo"
    result = ditto_opt(str(bad), "-p", "no-such-pass")
    assert result.returncode == 1 and "Traceback" not in result.stderr and "no-such-pass" in result.stderr


def test_demo_prints_error_and_cost(tmp_path, ditto):
    out = tmp_path / "demo.json"
    result = ditto("demo", "--seq", "4", "--hidden", "16", "--heads", "2", "--mlp", "32", "--json", str(out))
    assert result.returncode == 0, result.stderr
    assert "ditto-compiler" in result.stdout and "PUMA (SPU)" in result.stdout and "ditto / PUMA" in result.stdout
    figures = json.loads(out.read_text())
    ours, puma = figures["runs"]
    assert ours["max_abs_err"] < 5e-2 and ours["send_bytes"] > 0 and ours["rounds"] > 0
    assert puma["send_bytes"] > 0 and puma["max_abs_err"] < 5e-2  # PUMA's functions are accurate on the block


def test_demo_rejects_bad_arguments():
    # The installed `ditto` script (the one subprocess test for it): its exit status and one-line error.
    result = run("ditto", "demo", "--hidden", "10", "--heads", "3", "--no-puma")
    assert result.returncode == 1
    assert result.stderr.strip() == "ditto: error: --hidden 10 is not divisible by --heads 3"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--policy", "fxp16"], "unknown ring policy 'fxp16'"),
        (
            ["--json", "/nonexistent/demo.json"],
            "cannot write --json /nonexistent/demo.json: /nonexistent is not a directory",
        ),
        (["--seq", "0"], "--seq must be positive"),
    ],
)
def test_demo_rejects_bad_arguments_before_compiling(ditto, monkeypatch, argv, message):
    import ditto_compiler

    def no_compiling(*args, **kwargs):
        raise AssertionError("the arguments were not checked first")

    monkeypatch.setattr(ditto_compiler, "compile", no_compiling)
    result = ditto("demo", "--no-puma", *argv)
    assert result.returncode in (1, 2) and message in result.stderr and "Traceback" not in result.stderr
