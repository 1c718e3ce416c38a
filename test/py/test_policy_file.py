"""Policy files (passes/policy_file.py): validated with errors naming the file and key; compile takes them."""

import json
import re

import jax
import numpy as np
import pytest

import ditto_compiler
from ditto_compiler import DittoError
from ditto_compiler.passes.policy_file import load_policy_file


def gelu_then_softmax(w, x):
    return jax.nn.softmax(jax.nn.gelu(x @ w, approximate=False), axis=-1)


EXAMPLE = (np.full((4, 4), 0.3, np.float32), np.linspace(-2, 2, 8, dtype=np.float32).reshape(2, 4))


def test_a_policy_file_and_approximation_options_do_not_mix(tmp_path):
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"version": 2, "base": "fxp64", "gelu": "puma"}))
    with pytest.raises(DittoError, match="sets the approximations and the objective"):
        ditto_compiler.compile(gelu_then_softmax, *EXAMPLE, policy=str(path), gelu="quad")
    with pytest.raises(DittoError, match="calibration is only used by"):
        ditto_compiler.compile(gelu_then_softmax, *EXAMPLE, policy=str(path), calibration=EXAMPLE)
    prog = ditto_compiler.compile(gelu_then_softmax, *EXAMPLE, policy=str(path))
    assert "erf" not in prog.ir and prog.ir.count("pphlo.greater") + prog.ir.count("pphlo.less") >= 3


@pytest.mark.parametrize(
    "data, message",
    [
        ({"version": 3}, "version must be one of 1, 2, not 3"),
        ({"base": "ditto", "gelu": "quad"}, "unknown keys ['gelu']; expected base, rings, rules (per-location"),
        ({"version": 2, "approximations": [{"location": "layer/(", "softmax": "ditto"}]}, "bad location pattern"),
        ({"version": 2, "approximations": [{"gelu": "quad"}]}, "approximations[0]: an approximation rule needs"),
        ({"version": 2, "base": "optimal", "rings": {"small": [64, 18]}}, "needs a small ring narrower"),
        ({"version": 2, "objective": "energy"}, "objective must be one of bytes, lan, wan"),
        ({"version": 2, "tuned": []}, "tuned must be a JSON object"),
    ],
)
def test_policy_file_errors_name_the_file_and_the_key(tmp_path, data, message):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(DittoError, match=re.escape(message)) as error:
        load_policy_file(path)
    assert "bad.json" in str(error.value)
