"""Every library entry point refuses bad input with one DittoError that says what is wrong (issue 10).

A table per entry point: a hostile or careless caller's input, and the message the refusal must carry.
Nothing else may escape (a TypeError, ValueError, RecursionError, an xDSL or SPU exception), and the
message is one line. Programs are compiled once per module (`c`); MPC runs only where a case needs it.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from types import SimpleNamespace

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

import ditto_compiler
from ditto_compiler import DittoError
from ditto_compiler.distill.student import student_forward
from ditto_compiler.frontend.importer import parse_module
from ditto_compiler.models import hf
from ditto_compiler.pipeline import frontend_passes
from ditto_compiler.plan import Plan
from ditto_compiler.program import load_plan
from ditto_compiler.runtime.executor import execute

F32 = np.float32
X = np.full((2, 3), 0.5, F32)
W = np.full((3, 2), 0.25, F32)
IDS = np.array([1, 2, 3], np.int32)
TABLE = np.arange(32, dtype=F32).reshape(8, 4) / 32
NAN, INF = float("nan"), float("inf")


def matmul(x, w):
    return x @ w


def lookup(table, ids):
    return jnp.take(table, ids, axis=0) @ np.ones((4, 2), F32)


def compile_(*args, fn=matmul, **options):
    return ditto_compiler.compile(fn, *(args or (X, W)), **options)


def deep_json(depth: int = 100_000) -> str:
    return "[" * depth + "]" * depth


@pytest.fixture(scope="module")
def c(tmp_path_factory):
    """Small programs compiled once, their plans as JSON, and a folder for files."""
    return context(tmp_path_factory.mktemp("library-errors"))


def context(tmp: Path) -> SimpleNamespace:
    """The fixture's contents (a plain function, so that a script can count escapes with the same tables)."""

    def file(name: str, content: str | bytes) -> str:
        path = tmp / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        return str(path)

    prog = compile_()  # one 64-bit segment: x (2, 3) @ w (3, 2)
    mixed = compile_(fn=lambda x, w: jnp.exp(x @ w), policy="ditto")  # 32-bit dot, a conversion, 64-bit exp
    ints = ditto_compiler.compile(lambda ids, x: ids * 2, IDS, X)  # an integer input
    tree = ditto_compiler.compile(lambda p, x: p["w"] * x + p["b"], {"w": X, "b": X}, X)
    looks = ditto_compiler.compile(lookup, TABLE, IDS)  # secret token ids: a one-hot input the owner encodes
    return SimpleNamespace(
        tmp=tmp,
        file=file,
        prog=prog,
        mixed=mixed,
        ints=ints,
        tree=tree,
        lookup=looks,
        plan_json=mixed.plan.to_json(),
        mixed_file=file("mixed.json", json.dumps(mixed.plan.to_json())),
    )


def refuses(call, c, message, one_line=True):
    with pytest.raises(DittoError, match=message) as info:
        call(c)
    text = str(info.value)
    assert "Traceback" not in text
    if one_line:
        assert "\n" not in text.strip(), f"a message of more than one line: {text!r}"


def case(call, message, id):  # noqa: A002 (pytest's word)
    return pytest.param(call, message, id=id)


# -- ditto_compiler.compile: the function and its arguments ----------------------------------------------
def _while(x):
    return lax.while_loop(lambda v: v[0, 0] < 10, lambda v: v + 1, x)


def _forever(x):
    return _forever(x + 1)


COMPILE_FUNCTION = [
    case(lambda c: ditto_compiler.compile(None, X), "compile needs a function, not NoneType", "fn-None"),
    case(lambda c: ditto_compiler.compile(3, X), "compile needs a function, not int", "fn-int"),
    case(lambda c: ditto_compiler.compile("matmul", X, W), "compile needs a function, not str", "fn-str"),
    case(lambda c: ditto_compiler.compile([matmul], X, W), "compile needs a function, not list", "fn-list"),
    case(lambda c: ditto_compiler.compile(X, X), "compile needs a function, not ndarray", "fn-array"),
    case(lambda c: compile_(X, fn=lambda x: x.no_such_attribute), "JAX could not lower.*AttributeError", "fn-raises"),
    case(lambda c: compile_(X, fn=lambda x: x.reshape(7)), "JAX could not lower.*TypeError", "fn-bad-reshape"),
    case(lambda c: compile_(X, X, X), "JAX could not lower.*TypeError", "fn-wrong-arity"),
    case(lambda c: compile_(X, fn=lambda x: 1 if x[0, 0] > 0 else 0), "JAX could not lower.*Tracer", "fn-python-if"),
    case(lambda c: compile_(X, fn=lambda x: "text"), "JAX could not lower.*str", "fn-returns-str"),
    case(lambda c: compile_(X, fn=lambda x: object()), "JAX could not lower", "fn-returns-object"),
    case(lambda c: compile_(X, fn=jnp.sort), "'stablehlo.sort' is not supported", "jnp.sort"),
    case(lambda c: compile_(X, fn=lambda x: jnp.argsort(x)), "'stablehlo.sort' is not supported", "jnp.argsort"),
    case(lambda c: compile_(X, fn=_while), "'stablehlo.while' is not supported", "lax.while_loop"),
    case(
        lambda c: compile_(X, fn=lambda x: lax.fori_loop(0, 3, lambda i, v: v * 2, x)),
        "'stablehlo.while' is not supported",
        "lax.fori_loop",
    ),
    case(
        lambda c: compile_(X, fn=lambda x: lax.cond(x[0, 0] > 0, lambda v: v, lambda v: -v, x)),
        "'stablehlo.case' is not supported",
        "lax.cond",
    ),
    case(lambda c: compile_(X, fn=jnp.fft.fft), "'stablehlo.fft' is not supported", "jnp.fft"),
    case(
        lambda c: compile_(X, fn=lambda x: lax.bitcast_convert_type(x, jnp.int32)),
        "'stablehlo.bitcast_convert' is not supported",
        "bitcast",
    ),
    case(
        lambda c: compile_(X, fn=lambda x: x + jax.random.normal(jax.random.PRNGKey(0), x.shape)),
        "is not supported",
        "jax.random",
    ),
    case(
        lambda c: compile_(X, fn=lambda x: x.astype(jnp.complex64)),
        "no ring type for element type complex<f32>",
        "returns-complex",
    ),
    case(lambda c: compile_(X, fn=_forever), "JAX could not lower the function: RecursionError", "fn-recursion"),
    case(
        lambda c: compile_(X, fn=lambda x: jax.pure_callback(np.sin, jax.ShapeDtypeStruct(x.shape, x.dtype), x)),
        "is not supported",
        "pure_callback",
    ),
    case(
        lambda c: compile_(X, fn=lambda x: x + jnp.zeros((2**33, 1, 1))),
        "elements, more than the limit",
        "huge-constant",
    ),
]

COMPILE_ARGUMENTS = [
    case(lambda c: compile_("abc", fn=lambda x: x), "JAX could not lower.*str", "arg-str"),
    case(lambda c: compile_(object(), fn=lambda x: x), "JAX could not lower.*object", "arg-object"),
    case(lambda c: compile_(None, fn=lambda x: x * 2), "JAX could not lower", "arg-None"),
    case(lambda c: compile_(np.array(["a", "b"]), fn=lambda x: x), "JAX could not lower", "arg-str-array"),
    case(lambda c: compile_(np.array([object()]), fn=lambda x: x), "JAX could not lower", "arg-object-array"),
    case(
        lambda c: compile_(X.astype(np.complex64), fn=lambda x: x * 2),
        r"argument \[0\] has dtype complex64, which fixed point cannot encode",
        "arg-complex",
    ),
    case(
        lambda c: compile_(X.astype(jnp.bfloat16), fn=lambda x: x * 2),
        r"argument \[0\] has dtype bfloat16, which fixed point cannot encode",
        "arg-bfloat16",
    ),
    case(
        lambda c: compile_({"w": W, "z": X.astype(np.complex64)}, fn=lambda p: p["w"]),
        r"argument \[0\]\['z'\] has dtype complex64",
        "arg-complex-leaf",
    ),
    case(
        lambda c: compile_(np.array(["2020-01-01"], dtype="datetime64[D]"), fn=lambda x: x),
        "JAX could not lower",
        "arg-datetime",
    ),
    case(
        lambda c: compile_(2**100, fn=lambda x: x * 2), "JAX could not lower the function: OverflowError", "arg-bigint"
    ),
    case(lambda c: compile_((i for i in range(3)), fn=lambda x: x), "JAX could not lower.*generator", "arg-generator"),
    case(lambda c: compile_([[1.0, 2.0], [3.0]], fn=jnp.asarray), "JAX could not lower", "arg-ragged-list"),
    case(
        lambda c: compile_(np.ones((0, 3), F32), fn=lambda x: x.sum()),
        r"argument \[0\] has no elements \(shape \[0, 3\]\)",
        "arg-empty",
    ),
    case(
        lambda c: compile_(X, np.ones((3, 0), F32), fn=lambda x, e: x * 2),
        r"argument \[1\] has no elements",
        "arg-empty-unused",
    ),
    case(
        lambda c: compile_(jax.ShapeDtypeStruct((2**33,), jnp.float32), fn=lambda x: x * 2),
        "elements, more than the limit",
        "arg-huge-shape",
    ),
    case(
        lambda c: compile_(jax.ShapeDtypeStruct((2**20, 2**20), jnp.float32), fn=lambda x: x.sum()),
        "elements, more than the limit",
        "arg-huge-2d",
    ),
]

# -- public= ------------------------------------------------------------------------------------------------
PUBLIC = [
    case(lambda c: compile_(public="no"), "`public` must be .* it holds 'no'", "str"),
    case(lambda c: compile_(public="false"), "`public` must be .* it holds 'false'", "str-false"),
    case(lambda c: compile_(public="0"), "`public` must be .* it holds '0'", "str-digit"),
    case(lambda c: compile_(public=1.5), "`public` must be .* it holds 1.5", "float"),
    case(lambda c: compile_(public=NAN), "`public` must be .* it holds nan", "nan"),
    case(lambda c: compile_(public=[True, 2]), "`public` must be .* it holds 2", "bool-and-int"),
    case(lambda c: compile_(public=[0.0]), "`public` must be .* it holds 0.0", "float-argnum"),
    case(
        lambda c: compile_(public={"x": True}), "`public` must be argument numbers or a pytree prefix", "dict-for-tuple"
    ),
    case(lambda c: compile_(public=(True,)), "`public` must be argument numbers or a pytree prefix", "too-short"),
    case(
        lambda c: compile_(public=(True, False, True)),
        "`public` must be argument numbers or a pytree prefix",
        "too-long",
    ),
    case(
        lambda c: compile_(public=(None, True)), "`public` must be argument numbers or a pytree prefix", "None-prefix"
    ),
    case(lambda c: compile_(public=2), "public argnum 2 out of range for 2 arguments", "argnum-2"),
    case(lambda c: compile_(public=-1), "public argnum -1 out of range", "argnum-negative"),
    case(lambda c: compile_(public=[0, 7]), "public argnum 7 out of range", "argnum-list"),
    case(lambda c: compile_(public=np.int64(9)), "public argnum 9 out of range", "argnum-numpy"),
    case(lambda c: compile_(public=object()), "`public` must be .* it holds <object", "object"),
    case(lambda c: compile_(public=np.array([True, False])), "`public` must be .* it holds array", "bool-array"),
    case(lambda c: compile_(public=b"yes"), "`public` must be .* it holds b'yes'", "bytes"),
    case(
        lambda c: ditto_compiler.compile(lambda p, x: p["w"] * x, {"w": X}, X, public=({"a": True}, False)),
        r"`public` must be .* the arguments are PyTreeDef\(\(\{'w': \*\}, \*\)\), `public` is PyTreeDef\(\(\{'a'",
        "wrong-keys",
    ),
]


def test_public_argnum_1_and_pytree_prefixes_are_fine():
    assert compile_(public=1).signature.public == (False, True)
    assert compile_(public=np.int64(0)).signature.public == (True, False)
    assert compile_(public=(False, True)).signature.public == (False, True)
    assert compile_(public=[]).signature.public == (False, False)


# -- policy= and policy files ---------------------------------------------------------------------------------
def policy_file(content):
    return lambda c: compile_(
        policy=c.file("policy.json", content if isinstance(content, (str, bytes)) else json.dumps(content))
    )


POLICY = [
    case(
        lambda c: compile_(policy=None),
        "policy must be a name, a JSON policy file or a RingPolicy, not NoneType",
        "None",
    ),
    case(lambda c: compile_(policy=64), "policy must be .* not int", "int"),
    case(lambda c: compile_(policy=["ditto"]), "policy must be .* not list", "list"),
    case(lambda c: compile_(policy=b"ditto"), "policy must be .* not bytes", "bytes"),
    case(lambda c: compile_(policy=True), "policy must be .* not bool", "bool"),
    case(lambda c: compile_(policy="DITTO"), "unknown ring policy 'DITTO'", "unknown-name"),
    case(lambda c: compile_(policy=""), "unknown ring policy ''", "empty"),
    case(lambda c: compile_(policy="auto "), "unknown ring policy 'auto '", "trailing-space"),
    case(
        lambda c: compile_(policy="/no/such/policy.json"), "unknown ring policy '/no/such/policy.json'", "missing-file"
    ),
    case(lambda c: compile_(policy=str(c.tmp)), "unknown ring policy", "directory"),
    case(lambda c: compile_(policy="a\0b"), "unknown ring policy", "nul-in-path"),
    case(policy_file(""), "policy.json is not a ring policy file \\(not valid JSON", "empty-file"),
    case(policy_file('{"base": "ditto"'), "policy.json is not a ring policy file \\(not valid JSON", "truncated"),
    case(policy_file(b"\xff\xfe\x00binary"), "cannot read ring policy file .*policy.json: 'utf-8' codec", "binary"),
    case(
        policy_file(deep_json()),
        "policy.json is not a ring policy file \\(its JSON nests too deeply\\)",
        "deeply-nested",
    ),
    case(policy_file([]), "policy.json: a policy file holds a JSON object", "list"),
    case(policy_file("null"), "policy.json: a policy file holds a JSON object", "null"),
    case(policy_file({"bases": "ditto"}), r"policy.json: unknown keys \['bases'\]", "unknown-key"),
    case(policy_file({"base": "auto"}), "policy.json: base must be one of fxp64, ditto", "base-auto"),
    case(policy_file({"base": 3}), "policy.json: base must be one of fxp64, ditto, not 3", "base-int"),
    case(policy_file({"base": [1]}), r"policy.json: base must be one of fxp64, ditto, not \[1\]", "base-list"),
    case(policy_file({"base": None}), "policy.json: base must be one of fxp64, ditto, not None", "base-null"),
    case(policy_file({"rings": [32, 10]}), "policy.json: rings must map names", "rings-list"),
    case(
        policy_file({"rings": {"x": "large"}}),
        r"policy.json: rings.x: ring must be \[bits, fraction_bits\]",
        "ring-name",
    ),
    case(policy_file({"rings": {"x": [32]}}), r"rings.x: ring must be \[bits, fraction_bits\]", "ring-short"),
    case(policy_file({"rings": {"x": [33, 10]}}), "policy.json: rings.x: unsupported ring width 33", "ring-width"),
    case(
        policy_file({"rings": {"x": [64, 70]}}),
        "policy.json: rings.x: a 64-bit ring cannot hold 70 fraction bits",
        "ring-fraction",
    ),
    case(
        policy_file({"rings": {"x": [64, -5]}}),
        "policy.json: rings.x: a ring has at least 0 fraction bits, not -5",
        "ring-negative-fraction",
    ),
    case(policy_file({"rings": {"x": [True, 10]}}), r"rings.x: ring must be \[bits, fraction_bits\]", "ring-bool"),
    case(policy_file({"rings": {"x": [64.0, 18]}}), r"rings.x: ring must be \[bits, fraction_bits\]", "ring-float"),
    case(policy_file({"rules": 5}), "policy.json: rules must be a list of rules, not int", "rules-int"),
    case(policy_file({"rules": "abc"}), "policy.json: rules must be a list", "rules-str"),
    case(policy_file({"rules": {"op": "pphlo.dot"}}), "policy.json: rules must be a list", "rules-dict"),
    case(policy_file({"rules": [5]}), r"rules\[0\]: a rule needs a ring and an op and/or a location", "rule-int"),
    case(policy_file({"rules": [{}]}), r"rules\[0\]: a rule needs a ring", "rule-empty"),
    case(policy_file({"rules": [{"op": "pphlo.dot"}]}), r"rules\[0\]: a rule needs a ring", "rule-no-ring"),
    case(policy_file({"rules": [{"ring": "large"}]}), r"rules\[0\]: a rule needs a ring and an op", "rule-no-match"),
    case(policy_file({"rules": [{"op": 5, "ring": "large"}]}), r"rules\[0\]: op must be a string", "rule-op-int"),
    case(policy_file({"rules": [{"op": None, "ring": "large"}]}), r"rules\[0\]: op must be a string", "rule-op-null"),
    case(
        policy_file({"rules": [{"location": 5, "ring": "large"}]}),
        r"rules\[0\]: location must be a string",
        "rule-loc-int",
    ),
    case(
        policy_file({"rules": [{"location": ["a"], "ring": "large"}]}),
        r"rules\[0\]: location must be a string",
        "rule-loc-list",
    ),
    case(
        policy_file({"rules": [{"location": "(", "ring": "large"}]}),
        r"rules\[0\]: bad location pattern",
        "rule-loc-regex",
    ),
    case(
        policy_file({"rules": [{"op": "pphlo.dot", "ring": "medium"}]}), r"rules\[0\]: ring must be", "rule-ring-name"
    ),
    case(
        policy_file({"rules": [{"op": "pphlo.dot", "ring": [32, 40]}]}),
        r"policy.json: rules\[0\]: a 32-bit ring cannot hold 40 fraction bits",
        "rule-ring-bits",
    ),
    case(
        policy_file({"rules": [{"op": "pphlo.dot", "ring": {"bits": 32}}]}),
        r"rules\[0\]: ring must be",
        "rule-ring-dict",
    ),
    case(
        policy_file({"rules": [{"op": "pphlo.dot", "ring": "large", "where": "x"}]}),
        r"rules\[0\]: unknown keys \['where'\]",
        "rule-unknown-key",
    ),
]

# -- margin=, precision=, gelu=, softmax=, calibration=, pipeline= ---------------------------------------------------
OPTIONS = [
    *(
        case(
            lambda c, v=v: compile_(policy="auto", margin=v),
            f"margin: the guard margin must be at least 1 \\(a finite number\\), not {s}",
            f"margin-{s}",
        )
        for v, s in [
            (None, "None"),
            ("4", "'4'"),
            (-1, "-1"),
            (0.5, "0.5"),
            (NAN, "nan"),
            (INF, "inf"),
            (True, "True"),
            ([4], r"\[4\]"),
        ]
    ),
    case(
        lambda c: compile_(margin=None), "margin: the guard margin must be at least 1 .* not None", "margin-None-fxp64"
    ),
    *(
        case(
            lambda c, v=v: compile_(policy="auto", precision=v),
            f"precision must be an integer from 0 to 18 \\(bits\\), not {s}",
            f"precision-{s}",
        )
        for v, s in [(None, "None"), ("6", "'6'"), (-1, "-1"), (99, "99"), (1.5, "1.5"), (NAN, "nan"), (True, "True")]
    ),
    case(
        lambda c: compile_(precision="6"), "precision must be an integer from 0 to 18 .* not '6'", "precision-str-fxp64"
    ),
    case(lambda c: compile_(gelu=None), "gelu must be a string, not NoneType", "gelu-None"),
    case(lambda c: compile_(gelu=1), "gelu must be a string, not int", "gelu-int"),
    case(
        lambda c: compile_(gelu="bogus"), "gelu must be one of exact, quad, puma, relu-fit, not 'bogus'", "gelu-unknown"
    ),
    case(lambda c: compile_(gelu="QUAD"), "gelu must be one of .* not 'QUAD'", "gelu-case"),
    case(lambda c: compile_(softmax=["ditto"]), "softmax must be a string, not list", "softmax-list"),
    case(
        lambda c: compile_(softmax="ditto2"),
        "softmax must be one of exact, 2quad, ditto, exp-fit, not 'ditto2'",
        "softmax-unknown",
    ),
    case(
        lambda c: compile_(policy="auto", calibration=5),
        "calibration must be a tuple of arguments like the example arguments, not int",
        "calibration-int",
    ),
    case(
        lambda c: compile_(policy="auto", calibration="ab"), "calibration must be a tuple .* not str", "calibration-str"
    ),
    case(
        lambda c: compile_(policy="auto", calibration=(X,)),
        "calibration inputs must have the structure of the example arguments",
        "calibration-count",
    ),
    case(
        lambda c: compile_(policy="auto", calibration=(W, X)),
        r"calibration argument \[0\] has shape \[3, 2\], expected \[2, 3\]",
        "calibration-shape",
    ),
    case(
        lambda c: compile_(policy="auto", calibration=(np.full((2, 3), "a"), W)),
        r"calibration argument \[0\] has dtype <U1, which fixed point cannot encode",
        "calibration-str-array",
    ),
    case(
        lambda c: compile_(policy="auto", calibration=(X * NAN, W)),
        r"calibration argument \[0\] holds NaN or infinity",
        "calibration-nan",
    ),
    case(
        lambda c: compile_(policy="auto", calibration=(X, W * INF)),
        r"calibration argument \[1\] holds NaN or infinity",
        "calibration-inf",
    ),
    case(
        lambda c: compile_(policy="auto", calibration=(object(), W)),
        r"calibration argument \[0\] has shape \[\]",
        "calibration-object",
    ),
    case(
        lambda c: compile_(policy="ditto", calibration=(X, W)),
        "calibration is only used by policies auto and optimal",
        "calibration-unused",
    ),
    case(
        lambda c: ditto_compiler.compile(
            lookup, TABLE, IDS, policy="auto", calibration=(TABLE, np.array([1, 2, 99], np.int32))
        ),
        r"token id 99 is outside the vocabulary \[0, 8\)",
        "calibration-token-id",
    ),
    case(
        lambda c: compile_(pipeline=5),
        "pipeline must be a pass pipeline string or a sequence of passes, not int",
        "pipeline-int",
    ),
    case(
        lambda c: compile_(pipeline=["fuse-scales"]),
        r"pipeline\[0\] must be a pass object \(an xDSL ModulePass\), not 'fuse-scales'",
        "pipeline-list-of-str",
    ),
    case(
        lambda c: compile_(pipeline=[None]), r"pipeline\[0\] must be a pass object .* not None", "pipeline-list-of-None"
    ),
    case(
        lambda c: compile_(pipeline=[type(frontend_passes()[0])]),
        r"pipeline\[0\] must be a pass object .* not <class '.*InlinePrivateFunctionsPass'>",
        "pipeline-class",
    ),
    case(lambda c: compile_(pipeline="no-such-pass"), "bad pass pipeline 'no-such-pass'", "pipeline-unknown"),
    case(lambda c: compile_(pipeline="{"), "bad pass pipeline '{': .* Expected pass name here", "pipeline-syntax"),
    case(
        lambda c: compile_(pipeline="legalize-to-pphlo,annotate-rings{policy=bogus}"),
        "unknown ring policy 'bogus'",
        "pipeline-bad-option",
    ),
    case(lambda c: compile_(pipeline="approximate-nonlinear{gelu=bogus}"), "gelu must be one of", "pipeline-bad-gelu"),
    case(lambda c: compile_(pipeline=""), "the module has no ring types; run annotate-rings first", "pipeline-empty"),
    case(
        lambda c: compile_(pipeline="annotate-rings"),
        "is not PPHLO: annotate-rings runs after legalize-to-pphlo",
        "pipeline-order",
    ),
]


@pytest.mark.parametrize("call, message", COMPILE_FUNCTION + COMPILE_ARGUMENTS)
def test_compile_refuses_the_function_or_its_arguments(c, call, message):
    refuses(call, c, message)


def test_compile_refuses_an_op_the_importer_cannot_read(c):
    # LAPACK's LU is a custom_call whose attributes no dialect here defines. The message is the importer's
    # parse error, which draws the line and a caret over several lines (importer.py, another engineer's).
    refuses(
        lambda c: compile_(np.eye(3, dtype=F32), fn=jnp.linalg.inv),
        c,
        "(?s)malformed IR: .*is not registered",
        one_line=False,
    )


def test_good_options_in_numpy_types_and_lists_are_taken(c):
    auto = compile_(policy="auto", calibration=[X, W], margin=np.float32(4), precision=np.int64(6))
    assert [choice["ring"] for choice in auto.ring_choices] == [[32, 10]]
    assert compile_(public=np.int64(1)).signature.public == (False, True)
    np.testing.assert_allclose(c.prog.run(X, W, timeout_s=np.int64(60)), X @ W, atol=1e-3)
    np.testing.assert_allclose(c.prog.emulate(X, W, seed=np.uint8(3)), X @ W, atol=1e-3)


@pytest.mark.parametrize("call, message", PUBLIC)
def test_compile_refuses_public(c, call, message):
    refuses(call, c, message)


@pytest.mark.parametrize("call, message", POLICY)
def test_compile_refuses_policy(c, call, message):
    refuses(call, c, message)


@pytest.mark.parametrize("call, message", OPTIONS)
def test_compile_refuses_options(c, call, message):
    refuses(call, c, message)


# -- Program.run and Program.emulate: arguments and options ------------------------------------------------------
ARGUMENTS = [  # (program, args) -> the call; run and emulate check them the same way (Program._flat_inputs)
    case(lambda p: (p.prog, ()), "arguments have structure .* compiled for", "no-args"),
    case(lambda p: (p.prog, (X,)), "arguments have structure .* compiled for", "too-few"),
    case(lambda p: (p.prog, (X, W, X)), "arguments have structure .* compiled for", "too-many"),
    case(lambda p: (p.prog, ((X, W),)), "arguments have structure .* compiled for", "one-tuple"),
    case(lambda p: (p.prog, (X, {"w": W})), "arguments have structure .* compiled for", "dict-for-array"),
    case(lambda p: (p.prog, (X, None)), "arguments have structure .* compiled for", "None"),
    case(lambda p: (p.prog, (X, [[1.0, 2.0], [3.0]])), "arguments have structure .* compiled for", "ragged-list"),
    case(lambda p: (p.tree, ({"w": X}, X)), "arguments have structure .* compiled for", "missing-key"),
    case(lambda p: (p.tree, ({"w": X, "b": X, "c": X}, X)), "arguments have structure .* compiled for", "extra-key"),
    case(lambda p: (p.prog, (X, W.T)), r"argument \[1\] has shape \[2, 3\], expected \[3, 2\]", "wrong-shape"),
    case(lambda p: (p.prog, (X[0], W)), r"argument \[0\] has shape \[3\], expected \[2, 3\]", "wrong-rank"),
    case(lambda p: (p.tree, ({"w": X, "b": W}, X)), r"argument \[0\]\['b'\] has shape \[3, 2\]", "tree-wrong-shape"),
    case(lambda p: (p.prog, ("abc", W)), r"argument \[0\] has shape \[\], expected \[2, 3\]", "str"),
    case(lambda p: (p.prog, (object(), W)), r"argument \[0\] has shape \[\], expected \[2, 3\]", "object"),
    case(
        lambda p: (p.prog, (np.full((2, 3), "a"), W)),
        r"argument \[0\] has dtype <U1, which fixed point cannot encode",
        "str-array",
    ),
    case(lambda p: (p.prog, (np.full((2, 3), None), W)), r"argument \[0\] has dtype object", "object-array"),
    case(lambda p: (p.prog, (X.astype(np.complex64), W)), r"argument \[0\] has dtype complex64", "complex"),
    case(
        lambda p: (p.prog, (X.astype(np.int32), W)),
        r"argument \[0\] has dtype int32, expected a float",
        "int-for-float",
    ),
    case(lambda p: (p.prog, (X * NAN, W)), r"argument \[0\] holds NaN or infinity", "nan"),
    case(lambda p: (p.prog, (X * INF, W)), r"argument \[0\] holds NaN or infinity", "inf"),
    case(lambda p: (p.prog, (-X * INF, W)), r"argument \[0\] holds NaN or infinity", "minus-inf"),
    case(
        lambda p: (p.prog, (X * 1e30, W)),
        r"argument \[0\] holds 5e\+29, outside the fixed-point range of the 64-bit ring",
        "huge",
    ),
    case(lambda p: (p.mixed, (X, W * 1e7)), r"argument \[1\] holds 2.5e\+06, outside .* 32-bit ring", "outside-32-bit"),
    case(
        lambda p: (p.prog, (X.astype(np.float64) * 1e300, W)), r"argument \[0\] holds 5e\+299, outside", "huge-float64"
    ),
    case(
        lambda p: (p.ints, (IDS.astype(F32), X)),
        r"argument \[0\] has dtype float32, expected integers",
        "float-for-int",
    ),
    case(
        lambda p: (p.ints, (IDS.astype(np.int64) * 2**40, X)),
        r"argument \[0\] holds values outside the range of i32",
        "int-out-of-range",
    ),
    case(
        lambda p: (p.ints, (IDS.astype(np.uint64) * 2**62, X)),
        r"argument \[0\] holds values outside the range of i32",
        "uint64",
    ),
    case(lambda p: (p.ints, (IDS.astype(np.complex64), X)), r"argument \[0\] has dtype complex64", "complex-for-int"),
    case(
        lambda p: (p.lookup, (TABLE, np.array([1, 2, 8], np.int32))),
        r"token id 8 is outside the vocabulary \[0, 8\)",
        "token-id-too-big",
    ),
    case(
        lambda p: (p.lookup, (TABLE, np.array([1, -1, 2], np.int32))),
        r"token id -1 is outside the vocabulary",
        "token-id-negative",
    ),
    case(
        lambda p: (p.lookup, (TABLE, IDS + 0.5)),
        r"argument \[1\] has dtype float64, expected integers",
        "token-id-float",
    ),
    case(lambda p: (p.lookup, (TABLE, IDS[:2])), r"argument \[1\] has shape \[2\], expected \[3\]", "token-ids-shape"),
]


@pytest.mark.parametrize("call, message", ARGUMENTS)
def test_emulate_refuses_bad_arguments(c, call, message):
    prog, args = call(c)
    refuses(lambda c: prog.emulate(*args), c, message)


@pytest.mark.parametrize("call, message", ARGUMENTS)
def test_run_refuses_bad_arguments_before_any_party_starts(c, call, message, monkeypatch):
    import ditto_compiler.program

    monkeypatch.setattr(ditto_compiler.program, "execute", None)  # a party started: TypeError, not DittoError
    prog, args = call(c)
    refuses(lambda c: prog.run(*args), c, message)


RUN_OPTIONS = [
    case(
        lambda c: c.prog.run(X, W, mode="bogus"), "mode must be one of threads, processes, not 'bogus'", "mode-unknown"
    ),
    case(lambda c: c.prog.run(X, W, mode="THREADS"), "mode must be one of .* not 'THREADS'", "mode-case"),
    case(lambda c: c.prog.run(X, W, mode=None), "mode must be one of .* not None", "mode-None"),
    case(lambda c: c.prog.run(X, W, mode=0), "mode must be one of .* not 0", "mode-int"),
    case(lambda c: c.prog.run(X, W, mode=["threads"]), r"mode must be one of .* not \['threads'\]", "mode-list"),
    case(lambda c: c.prog.run(X, W, mode=np.array(["threads", "x"])), "mode must be one of", "mode-array"),
    case(
        lambda c: c.prog.run(X, W, upcast="bogus"),
        "upcast must be one of ditto, generic, not 'bogus'",
        "upcast-unknown",
    ),
    case(lambda c: c.prog.run(X, W, upcast=None), "upcast must be one of .* not None", "upcast-None"),
    case(lambda c: c.prog.run(X, W, upcast=["ditto"]), r"upcast must be one of .* not \['ditto'\]", "upcast-list"),
    case(lambda c: c.prog.run(X, W, upcast=np.array(["ditto", "x"])), "upcast must be one of", "upcast-array"),
    *(
        case(
            lambda c, v=v: c.prog.run(X, W, timeout_s=v),
            rf"timeout_s must be a number of seconds in \(0, 86400\], not {s}",
            f"timeout-{s}",
        )
        for v, s in [
            (0, "0"),
            (-1, "-1"),
            (NAN, "nan"),
            (INF, "inf"),
            ("60", "'60'"),
            (None, "None"),
            (True, "True"),
            (1e9, "1000000000.0"),
            ([60], r"\[60\]"),
        ]
    ),
]


@pytest.mark.parametrize("call, message", RUN_OPTIONS)
def test_run_refuses_bad_options(c, call, message):
    refuses(call, c, message)


EMULATE_OPTIONS = [
    case(
        lambda c: c.prog.emulate(X, W, on_overflow="bogus"),
        "on_overflow must be 'raise' or 'record', not 'bogus'",
        "on-overflow",
    ),
    case(
        lambda c: c.prog.emulate(X, W, on_overflow=None),
        "on_overflow must be 'raise' or 'record', not None",
        "on-overflow-None",
    ),
    case(lambda c: c.prog.emulate(X, W, on_overflow=["raise"]), "on_overflow must be", "on-overflow-list"),
    case(
        lambda c: c.prog.emulate(X, W, truncation="round"),
        "truncation must be 'floor' or 'stochastic', not 'round'",
        "truncation",
    ),
    case(
        lambda c: c.prog.emulate(X, W, truncation=3),
        "truncation must be 'floor' or 'stochastic', not 3",
        "truncation-int",
    ),
    case(lambda c: c.prog.emulate(X, W, seed="x"), "seed must be a non-negative integer, not 'x'", "seed-str"),
    case(lambda c: c.prog.emulate(X, W, seed=-1), "seed must be a non-negative integer, not -1", "seed-negative"),
    case(lambda c: c.prog.emulate(X, W, seed=1.5), "seed must be a non-negative integer, not 1.5", "seed-float"),
    case(lambda c: c.prog.emulate(X, W, seed=None), "seed must be a non-negative integer, not None", "seed-None"),
    case(lambda c: c.prog.emulate(X, W, seed=True), "seed must be a non-negative integer, not True", "seed-bool"),
    case(lambda c: c.prog.emulate(X, W, seed=[1]), r"seed must be a non-negative integer, not \[1\]", "seed-list"),
]


@pytest.mark.parametrize("call, message", EMULATE_OPTIONS)
def test_emulate_refuses_bad_options(c, call, message):
    refuses(call, c, message)


# -- Program.save, load_plan / Plan.load --------------------------------------------------------------------------
SAVE = [
    case(
        lambda c: c.prog.save(str(c.tmp / "no" / "such" / "dir.json")), "cannot write program .*dir.json", "missing-dir"
    ),
    case(lambda c: c.prog.save(str(c.tmp)), "cannot write program", "directory"),
    case(lambda c: c.prog.save(c.mixed_file + "/inside-a-file.json"), "cannot write program", "under-a-file"),
    case(lambda c: c.prog.save(""), "cannot write program", "empty"),
    case(lambda c: c.prog.save("a\0b.json"), "cannot write program", "nul"),
    case(lambda c: c.prog.save(None), "program path must be a string or a path, not NoneType", "None"),
    case(lambda c: c.prog.save(5), "program path must be a string or a path, not int", "int"),
    case(lambda c: c.prog.save(["x.json"]), "program path must be a string or a path, not list", "list"),
    case(
        lambda c: c.prog.save("/dev/null/x.json"),
        "cannot write program /dev/null/x.json: .*Not a directory",
        "under-dev-null",
    ),
]

LOAD = [
    case(
        lambda c: load_plan("/no/such/plan.json"),
        "cannot read ditto-compiler program file /no/such/plan.json",
        "missing",
    ),
    case(lambda c: load_plan(str(c.tmp)), "cannot read ditto-compiler program file", "directory"),
    case(lambda c: load_plan("a\0b.json"), "cannot read ditto-compiler program file", "nul"),
    case(lambda c: load_plan(""), "cannot read ditto-compiler program file", "empty-path"),
    case(lambda c: load_plan(None), "program path must be a string or a path, not NoneType", "None"),
    case(lambda c: load_plan(5), "program path must be a string or a path, not int", "int"),
    case(lambda c: Plan.load(b"plan.json"), "program path must be a string or a path, not bytes", "bytes"),
    case(
        lambda c: load_plan(c.file("empty.json", "")),
        "empty.json is not a ditto-compiler program file .*not valid JSON",
        "empty-file",
    ),
    case(
        lambda c: load_plan(c.file("cut.json", Path(c.mixed_file).read_text()[:500])),
        "cut.json is not a ditto-compiler program file .*not valid JSON",
        "truncated",
    ),
    case(
        lambda c: load_plan(c.file("text.json", "hello")),
        "is not a ditto-compiler program file .*not valid JSON",
        "text",
    ),
    case(
        lambda c: load_plan(c.file("bin.json", b"\x89PNG\xff\xfe\x00")),
        "cannot read ditto-compiler program file .*bin.json",
        "binary",
    ),
    case(
        lambda c: load_plan(c.file("deep.json", deep_json())),
        "deep.json is not a ditto-compiler program file \\(its JSON nests too deeply\\)",
        "deeply-nested",
    ),
    case(
        lambda c: load_plan(c.file("deepobj.json", '{"a":' * 100_000 + "1" + "}" * 100_000)),
        "deepobj.json is not a ditto-compiler program file",
        "deep-object",
    ),
    case(lambda c: load_plan(c.file("null.json", "null")), "null.json is not a ditto-compiler program file", "null"),
    case(lambda c: load_plan(c.file("list.json", "[]")), "list.json is not a ditto-compiler program file", "list"),
    case(lambda c: load_plan(c.file("nan.json", "NaN")), "nan.json is not a ditto-compiler program file", "nan"),
    case(lambda c: Plan.from_json(None), "plan is not a ditto-compiler program file", "from-json-None"),
    case(lambda c: Plan.from_json("ditto-plan/1"), "plan is not a ditto-compiler program file", "from-json-str"),
    case(
        lambda c: Plan.from_json({"format": ["ditto-plan/1"]}),
        "plan is not a ditto-compiler program file",
        "from-json-unhashable-format",
    ),
]


@pytest.mark.parametrize("call, message", SAVE + LOAD)
def test_save_and_load_refuse_bad_paths_and_files(c, call, message):
    refuses(call, c, message)


def _edit(path: str, value=None, delete: bool = False):
    """An edit of the plan's JSON at a dotted path (list indices as numbers)."""

    def apply(data):
        *parents, last = [int(p) if p.lstrip("-").isdigit() else p for p in path.split(".")]
        for key in parents:
            data = data[key]
        if delete:
            del data[last]
        else:
            data[last] = value

    return apply


MATMUL = "steps.0.matmul"
SEGMENT = "steps.1.segment"
CONVERSION = "steps.2.conversion"
PLAN_EDITS = [  # edits of the mixed plan: inputs v0, v1 (32-bit), v0 @ v1 -> v2, a 32-bit segment v2 -> v3, v3 converted to v4 (64-bit), ...
    (_edit("format", "ditto-plan/3"), "is not a ditto-compiler program file", "format"),
    (_edit("format", delete=True), "is not a ditto-compiler program file", "no-format"),
    (_edit("spu", "0.0.1"), "was compiled for SPU 0.0.1, this runtime is", "spu-version"),
    (_edit("spu", 10), "plan.spu: must be str, got int", "spu-int"),
    (_edit("spu", delete=True), "plan: missing 'spu'", "no-spu"),
    (_edit("extra", 1), r"plan: unknown keys \['extra'\]", "unknown-key"),
    (_edit("rings", "32"), "plan.rings: must be list, got str", "rings-str"),
    (_edit("rings", []), "rings: a plan needs at least one ring", "rings-empty"),
    (_edit("rings.0", 32), r"rings\[0\]: must be a JSON object", "ring-int"),
    (_edit("rings.0.field_bits", 33), r"rings\[0\]: unsupported ring width 33", "ring-width"),
    (_edit("rings.0.field_bits", True), r"rings\[0\].field_bits: must be int, got bool", "ring-bool"),
    (_edit("rings.0.field_bits", 32.0), r"rings\[0\].field_bits: must be int, got float", "ring-float"),
    (_edit("rings.0.fraction_bits", 40), r"rings\[0\]: a 32-bit ring cannot hold 40 fraction bits", "ring-fraction"),
    (
        _edit("rings.0.fraction_bits", -3),
        r"rings\[0\].fraction_bits: a ring has at least 0 fraction bits, not -3",
        "ring-negative-fraction",
    ),
    (_edit("rings.0.fraction_bits", delete=True), r"rings\[0\]: missing 'fraction_bits'", "ring-no-fraction"),
    (_edit("rings.1.field_bits", 32), r"rings\[1\]: a second 32-bit ring", "ring-twice"),
    (_edit("rings.0.bits", 32), r"rings\[0\]: unknown keys \['bits'\]", "ring-unknown-key"),
    (_edit("inputs", {}), "plan.inputs: must be list, got dict", "inputs-dict"),
    (_edit("inputs.0", "v0"), r"inputs\[0\]: must be a JSON object", "input-str"),
    (_edit("inputs.0.name", "0v"), r"inputs\[0\].name: '0v' is not a valid variable name", "name-digit"),
    (_edit("inputs.0.name", "x" * 200), r"inputs\[0\].name: .* is not a valid variable name", "name-long"),
    (_edit("inputs.0.name", "a b"), r"inputs\[0\].name: 'a b' is not a valid variable name", "name-space"),
    (_edit("inputs.0.name", 0), r"inputs\[0\].name: must be str, got int", "name-int"),
    (_edit("inputs.1.name", "v0"), r"inputs\[1\]: variable 'v0' is defined twice", "name-twice"),
    (_edit("inputs.0.field_bits", 128), r"inputs\[0\].field_bits: the plan has no 128-bit ring", "input-ring"),
    (_edit("inputs.0.secret", "yes"), r"inputs\[0\].secret: must be bool, got str", "secret-str"),
    (_edit("inputs.0.secret", 1), r"inputs\[0\].secret: must be bool, got int", "secret-int"),
    (_edit("inputs.0.kind", "float"), r"inputs\[0\].kind: must be one of fixed, int, bool, not 'float'", "kind"),
    (_edit("inputs.0.kind", "int"), r"inputs\[0\]: missing 'width'", "int-no-width"),
    (_edit("inputs.0.shape", "2x3"), r"inputs\[0\].shape: must be list, got str", "shape-str"),
    (
        _edit("inputs.0.shape", [-2, 3]),
        r"inputs\[0\].shape: must list at most 16 non-negative integers",
        "shape-negative",
    ),
    (
        _edit("inputs.0.shape", [2.0, 3]),
        r"inputs\[0\].shape: must list at most 16 non-negative integers",
        "shape-float",
    ),
    (
        _edit("inputs.0.shape", [True, 3]),
        r"inputs\[0\].shape: must list at most 16 non-negative integers",
        "shape-bool",
    ),
    (_edit("inputs.0.shape", [1] * 17), r"inputs\[0\].shape: must list at most 16 non-negative integers", "shape-rank"),
    (_edit("inputs.0.shape", [2**40, 2**40]), r"inputs\[0\].shape: .* has more than 2147483648 elements", "shape-huge"),
    (_edit("inputs.0.shape", [10**400]), r"inputs\[0\].shape: .* elements", "shape-absurd"),
    (
        _edit("inputs.0.width", 32),
        r"inputs\[0\].width: only an int variable has a width, not a fixed one",
        "fixed-with-width",
    ),
    (_edit("inputs.0.color", 1), r"inputs\[0\]: unknown keys \['color'\]", "input-unknown-key"),
    (_edit("steps", None), "plan.steps: must be list, got NoneType", "steps-null"),
    (
        _edit("steps.0", []),
        r"steps\[0\]: must be \{\"segment\": ...\}, \{\"conversion\": ...\} or \{\"matmul\": ...\}",
        "step-list",
    ),
    (_edit("steps.0", {}), r"steps\[0\]: must be", "step-empty"),
    (_edit("steps.0", {"segment": {}, "conversion": {}}), r"steps\[0\]: must be", "step-both"),
    (
        _edit(MATMUL + ".lhs.name", "v9"),
        r"steps\[0\].matmul.lhs: uses 'v9' before any step defines it",
        "matmul-undefined",
    ),
    (
        _edit(MATMUL + ".result.shape", [2, 3]),
        r"steps\[0\].matmul: shapes \[2, 3\] @ \[3, 2\] -> \[2, 3\] are not a \(batched\) matrix product",
        "matmul-shape",
    ),
    (
        _edit(MATMUL + ".rhs.secret", False),
        r"steps\[0\].matmul: multiplies secret fixed-point values only",
        "matmul-public",
    ),
    (
        _edit(MATMUL + ".result.field_bits", 64),
        r"steps\[0\].matmul.lhs: 'v0' is in the 32-bit ring, not the 64-bit one",
        "matmul-ring",
    ),
    (_edit(MATMUL + ".bias", 1), r"steps\[0\].matmul: unknown keys \['bias'\]", "matmul-unknown-key"),
    (_edit(SEGMENT, "code"), r"steps\[1\].segment: must be a JSON object", "segment-str"),
    (
        _edit(SEGMENT + ".field_bits", 64),
        r"steps\[1\].segment.inputs\[0\]: 'v2' is in the 32-bit ring, not the 64-bit one",
        "segment-ring",
    ),
    (
        _edit(SEGMENT + ".field_bits", 128),
        r"steps\[1\].segment.field_bits: the plan has no 128-bit ring",
        "segment-no-ring",
    ),
    (
        _edit(SEGMENT + ".inputs", ["v9", "v1"]),
        r"steps\[1\].segment.inputs\[0\]: uses 'v9' before any step defines it",
        "use-before-define",
    ),
    (_edit(SEGMENT + ".inputs", [["v0"], "v1"]), r"steps\[1\].segment.inputs\[0\]: uses \['v0'\] before", "input-list"),
    (_edit(SEGMENT + ".inputs", "v0"), r"steps\[1\].segment.inputs: must be list, got str", "inputs-str"),
    (
        _edit(SEGMENT + ".outputs", ["v0"]),
        r"steps\[1\].segment.outputs\[0\]: variable 'v0' is defined twice",
        "redefine",
    ),
    (
        _edit(SEGMENT + ".outputs", [{"name": "v2"}]),
        r"steps\[1\].segment.outputs\[0\]: .* is not a valid variable name",
        "output-dict",
    ),
    (_edit(SEGMENT + ".code", 5), r"steps\[1\].segment.code: must be str, got int", "code-int"),
    (_edit(SEGMENT + ".code", "import os"), r"steps\[1\].segment.code: is not a PPHLO module", "code-python"),
    (_edit(SEGMENT + ".code", delete=True), r"steps\[1\].segment: missing 'code'", "no-code"),
    (
        _edit(CONVERSION + ".source.name", "v9"),
        r"steps\[2\].conversion.source: uses 'v9' before",
        "conversion-undefined",
    ),
    (
        _edit(CONVERSION + ".target.field_bits", 32),
        r"steps\[2\].conversion: converts a value into the ring it is already in",
        "conversion-same-ring",
    ),
    (
        _edit(CONVERSION + ".target.shape", [4]),
        r"steps\[2\].conversion: source and target differ in more than their ring",
        "conversion-shape",
    ),
    (
        _edit(CONVERSION + ".prepare", "garbage"),
        r"steps\[2\].conversion.prepare: is not a PPHLO module",
        "prepare-garbage",
    ),
    (_edit(CONVERSION + ".location", 5), r"steps\[2\].conversion.location: must be str, got int", "location-int"),
    (_edit(CONVERSION + ".source", "v2"), r"steps\[2\].conversion.source: must be dict, got str", "source-str"),
    (_edit("outputs.0.name", "v99"), r"outputs\[0\]: uses 'v99' before any step defines it", "output-undefined"),
    (_edit("outputs.0.field_bits", 32), r"outputs\[0\]: 'v5' is in the 64-bit ring, not the 32-bit one", "output-ring"),
    (_edit("outputs", [5]), r"outputs\[0\]: must be a JSON object", "output-int"),
    (_edit("encodings", {}), "plan.encodings: must be list, got dict", "encodings-dict"),
    (
        _edit("encodings", [{"argument": 0, "source": 1, "depth": 3, "shape": [2, 3]}]),
        r"encodings\[0\]: encoded inputs must follow|one-hot",
        "encoding-order",
    ),
    (
        _edit("encodings", [{"argument": 5, "source": 0, "depth": 3, "shape": [2, 3]}]),
        r"encodings\[0\]: refers to an input the plan does not have",
        "encoding-index",
    ),
    (
        _edit("encodings", [{"argument": 1, "source": 0, "depth": 0, "shape": [3, 0]}]),
        r"encodings\[0\]: a one-hot of depth 0",
        "encoding-depth",
    ),
    (
        _edit("encodings", [{"argument": 1, "source": 0, "depth": "2", "shape": [3, 2]}]),
        r"encodings\[0\].depth: must be int, got str",
        "encoding-depth-str",
    ),
    (_edit("encodings", [5]), r"encodings\[0\]: must be a JSON object", "encoding-int"),
]


@pytest.mark.parametrize("edit, message", [pytest.param(e, m, id=i) for e, m, i in PLAN_EDITS])
def test_a_malformed_plan_is_refused_on_load(c, edit, message):
    data = copy.deepcopy(c.plan_json)
    edit(data)
    path = c.file("edited.json", json.dumps(data))
    refuses(lambda c: load_plan(path), c, "edited.json.*" + message)
    refuses(lambda c: Plan.from_json(data, "edited"), c, "^edited.*" + message)


def test_the_unedited_plan_loads(c):
    assert load_plan(c.mixed_file).inputs == c.mixed.plan.inputs


# -- Plan.check_inputs and runtime.executor.execute -------------------------------------------------------------------
CHECK_INPUTS = [
    case(
        lambda c: c.prog.plan.check_inputs(None),
        "inputs must be a sequence of arrays \\(a list, one per input\\), not NoneType",
        "None",
    ),
    case(
        lambda c: c.prog.plan.check_inputs(5),
        "inputs must be a sequence of arrays \\(a list, one per input\\), not int",
        "int",
    ),
    case(
        lambda c: c.prog.plan.check_inputs(X),
        "inputs must be a sequence of arrays \\(a list, one per input\\), not ndarray",
        "array",
    ),
    case(lambda c: c.prog.plan.check_inputs([X]), "the program takes 2 inputs, got 1", "too-few"),
    case(
        lambda c: c.prog.plan.check_inputs([X, W], names=["x"]), "names must name each of the 2 inputs", "names-short"
    ),
    case(lambda c: c.prog.plan.check_inputs([X, W.T]), r"input 1 has shape \[2, 3\], expected \[3, 2\]", "shape"),
    case(lambda c: c.prog.plan.check_inputs([X, W * NAN]), "input 1 holds NaN or infinity", "nan"),
    case(lambda c: c.prog.plan.check_inputs(["ab", W]), r"input 0 has shape \[\]", "str"),
]

EXECUTE = [
    case(lambda c: execute(None, [X, W]), "execute needs a Plan, not NoneType", "plan-None"),
    case(lambda c: execute(c.prog.plan.to_json(), [X, W]), "execute needs a Plan, not dict", "plan-json"),
    case(
        lambda c: execute(c.prog.plan, None),
        "inputs must be a sequence of arrays \\(a list, one per input\\), not NoneType",
        "inputs-None",
    ),
    case(
        lambda c: execute(c.prog.plan, 5),
        "inputs must be a sequence of arrays \\(a list, one per input\\), not int",
        "inputs-int",
    ),
    case(lambda c: execute(c.prog.plan, [X]), "the plan takes 2 inputs, got 1", "too-few"),
    case(lambda c: execute(c.prog.plan, {"x": X, "w": W}), r"inputs must be a sequence .* not dict", "inputs-dict"),
    case(
        lambda c: execute(c.prog.plan, (x for x in [X, W])),
        r"inputs must be a sequence .* not generator",
        "inputs-generator",
    ),
    case(lambda c: execute(c.lookup.plan, [TABLE, IDS]), "the plan takes 3 inputs, got 2", "encodings-missing"),
    case(lambda c: execute(c.prog.plan, ["abc", "def"]), r"input 0 has shape \[\], expected \[2, 3\]", "strs"),
    case(lambda c: execute(c.prog.plan, [X, W.T]), r"input 1 has shape \[2, 3\], expected \[3, 2\]", "shape"),
    case(lambda c: execute(c.prog.plan, [X, W * NAN]), "input 1 holds NaN or infinity", "nan"),
    case(lambda c: execute(c.prog.plan, [X * 1e30, W]), "input 0 holds 5e\\+29, outside the fixed-point range", "huge"),
    case(lambda c: execute(c.prog.plan, [X.astype(object), W]), "input 0 has dtype object", "object"),
    case(
        lambda c: execute(c.ints.plan, [IDS * 1.5, X]), "input 0 has dtype float64, expected integers", "float-for-int"
    ),
    case(
        lambda c: execute(c.prog.plan, [X, W], mode="bogus"),
        "mode must be one of threads, processes, not 'bogus'",
        "mode",
    ),
    case(lambda c: execute(c.prog.plan, [X, W], mode={}), "mode must be one of .* not {}", "mode-dict"),
    case(lambda c: execute(c.prog.plan, [X, W], upcast=0), "upcast must be one of .* not 0", "upcast"),
    case(lambda c: execute(c.prog.plan, [X, W], upcast={}), "upcast must be one of .* not {}", "upcast-dict"),
    case(
        lambda c: execute(c.prog.plan, [X, W], timeout_s="1"),
        r"timeout_s must be a number of seconds in \(0, 86400\], not '1'",
        "timeout",
    ),
]


@pytest.mark.parametrize("call, message", CHECK_INPUTS + EXECUTE)
def test_check_inputs_and_execute_refuse_bad_inputs(c, call, message):
    refuses(call, c, message)


def test_a_plan_whose_program_is_not_pphlo_fails_as_a_ditto_error(c):
    data = copy.deepcopy(c.prog.plan.to_json())
    data["steps"][1]["segment"]["code"] = '"builtin.module"() ({ garbage }) {pphlo.version = "x"} : () -> ()'
    refuses(lambda c: execute(Plan.from_json(data), [X, W]), c, "secure execution failed in party")


# -- distill.student.student_forward ---------------------------------------------------------------------------------
STUDENT = [
    case(lambda c: student_forward(None), "student_forward needs a compiled Program, not NoneType", "None"),
    case(lambda c: student_forward("prog"), "student_forward needs a compiled Program, not str", "str"),
    case(lambda c: student_forward(c.prog.plan), "student_forward needs a compiled Program, not Plan", "plan"),
    case(
        lambda c: student_forward(c.prog, truncation="round"),
        "truncation must be 'floor' or 'stochastic', not 'round'",
        "truncation",
    ),
    case(
        lambda c: student_forward(c.prog, truncation=None),
        "truncation must be 'floor' or 'stochastic', not None",
        "truncation-None",
    ),
    case(lambda c: student_forward(c.prog)(X), "arguments have structure .* compiled for", "too-few"),
    case(lambda c: student_forward(c.prog)(X, W.T), r"argument \[1\] has shape \[2, 3\], expected \[3, 2\]", "shape"),
    case(lambda c: student_forward(c.prog)("abc", W), r"argument \[0\] has shape \[\], expected \[2, 3\]", "str"),
    case(lambda c: student_forward(c.prog)(np.full((2, 3), "a"), W), r"argument \[0\] has dtype <U1", "str-array"),
    case(
        lambda c: student_forward(c.prog)(X.astype(np.complex64), W), r"argument \[0\] has dtype complex64", "complex"
    ),
    case(
        lambda c: student_forward(c.ints)(IDS * 1.5, X),
        r"argument \[0\] has dtype float64, expected integers",
        "float-ids",
    ),
    case(
        lambda c: student_forward(c.prog, truncation="stochastic")(X, W),
        "stochastic truncation needs a PRNG key",
        "no-key",
    ),
    case(
        lambda c: student_forward(c.prog, truncation="stochastic")(X, W, key="abc"),
        "key must be a JAX PRNG key .* not str",
        "key-str",
    ),
    case(
        lambda c: student_forward(c.prog, truncation="stochastic")(X, W, key=5),
        "key must be a JAX PRNG key .* not int",
        "key-int",
    ),
    case(
        lambda c: student_forward(c.prog, truncation="stochastic")(X, W, key=np.ones(3)),
        r"key must be a JAX PRNG key .* not float64 array of shape \(3,\)",
        "key-array",
    ),
    case(
        lambda c: jax.jit(student_forward(c.prog))(X, W.T),
        r"argument \[1\] has shape \[2, 3\], expected \[3, 2\]",
        "jit-shape",
    ),
]


@pytest.mark.parametrize("call, message", STUDENT)
def test_student_forward_refuses_bad_arguments(c, call, message):
    refuses(call, c, message)


# -- models.hf: argument checks before any model is built ---------------------------------------------------------------
HF = [
    case(lambda c: hf.bert_case("bogus", 8), "unknown BERT config 'bogus'", "bert-config"),
    case(lambda c: hf.bert_case(None, 8), "unknown BERT config None: use minilm, tiny", "bert-config-None"),
    case(lambda c: hf.bert_case(["tiny"], 8), r"unknown BERT config \['tiny'\]", "bert-config-list"),
    case(lambda c: hf.bert_case("tiny", 0), "--seq must be between 1 and 512 for BERT, not 0", "bert-seq-0"),
    case(lambda c: hf.bert_case("tiny", 513), "--seq must be between 1 and 512 for BERT, not 513", "bert-seq-big"),
    case(lambda c: hf.bert_case("tiny", "8"), "--seq must be between 1 and 512 for BERT, not '8'", "bert-seq-str"),
    case(lambda c: hf.bert_case("tiny", 8.5), "--seq must be between 1 and 512 for BERT, not 8.5", "bert-seq-float"),
    case(lambda c: hf.bert_case("tiny", None), "--seq must be between 1 and 512 for BERT, not None", "bert-seq-None"),
    case(lambda c: hf.bert_case("tiny", True), "--seq must be between 1 and 512 for BERT, not True", "bert-seq-bool"),
    case(lambda c: hf.gpt2_case("large-ish", 8), "unknown GPT-2 config 'large-ish'", "gpt2-config"),
    case(lambda c: hf.gpt2_case({}, 8), "unknown GPT-2 config {}", "gpt2-config-dict"),
    case(lambda c: hf.gpt2_case("tiny", -1), "--seq must be between 1 and 1024 for GPT-2, not -1", "gpt2-seq"),
    case(lambda c: hf.gpt2_case("tiny", NAN), "--seq must be between 1 and 1024 for GPT-2, not nan", "gpt2-seq-nan"),
    case(lambda c: hf.gpt2_case("tiny", 2000), "--seq must be between 1 and 1024 for GPT-2, not 2000", "gpt2-seq-big"),
    case(lambda c: hf.checkpoint_case(c.tmp, 8, name=5), "name must be a string, not int", "ckpt-name"),
    case(
        lambda c: hf.checkpoint_case(None, 8),
        "checkpoint directory must be a string or a path, not NoneType",
        "ckpt-None",
    ),
    case(lambda c: hf.checkpoint_case(5, 8), "checkpoint directory must be a string or a path, not int", "ckpt-int"),
    case(
        lambda c: hf.checkpoint_case("/no/such/checkpoint", 8),
        "/no/such/checkpoint is not a Hugging Face checkpoint",
        "ckpt-missing-str",
    ),
    case(
        lambda c: hf.checkpoint_case(Path("/no/such/checkpoint"), 8), "is not a Hugging Face checkpoint", "ckpt-missing"
    ),
    case(lambda c: hf.checkpoint_case(c.tmp, 8), "is not a Hugging Face checkpoint .*no config.json", "ckpt-no-config"),
    case(lambda c: hf.checkpoint_case(Path(c.mixed_file), 8), "is not a Hugging Face checkpoint", "ckpt-file"),
    case(lambda c: hf.checkpoint_case(c.tmp, "8"), "--seq must be an integer, not '8'", "ckpt-seq-str"),
    case(lambda c: hf.checkpoint_case(c.tmp, 8, text=5), "text must be a string, not int", "ckpt-text"),
]


@pytest.mark.parametrize("call, message", HF)
def test_hf_cases_check_their_arguments(c, call, message):
    refuses(call, c, message)


def _checkpoint(c, name, config_text):
    folder = c.tmp / name
    folder.mkdir(exist_ok=True)
    (folder / "config.json").write_text(config_text)
    return folder


HF_CHECKPOINTS = [  # refused before transformers reads them (it guesses a model type from the folder's name)
    case(
        lambda c: hf.checkpoint_case(_checkpoint(c, "cfg-text", "not json"), 8),
        "cfg-text/config.json is not a Hugging Face config",
        "config-not-json",
    ),
    case(
        lambda c: hf.checkpoint_case(_checkpoint(c, "cfg-empty", "{}"), 8),
        "cfg-empty: model type None is not supported",
        "config-no-type",
    ),
    case(
        lambda c: hf.checkpoint_case(_checkpoint(c, "cfg-list", "[]"), 8),
        "cfg-list: model type None is not supported",
        "config-list",
    ),
    case(
        lambda c: hf.checkpoint_case(_checkpoint(c, "cfg-llama", '{"model_type": "llama"}'), 8),
        "model type 'llama' is not supported",
        "llama",
    ),
    case(
        lambda c: hf.checkpoint_case(_checkpoint(c, "cfg-type", '{"model_type": ["bert"]}'), 8),
        r"model type \['bert'\] is not supported",
        "type-list",
    ),
    case(
        lambda c: hf.checkpoint_case(_checkpoint(c, "cfg-deep", deep_json()), 8),
        "config.json is not a Hugging Face config \\(its JSON nests too deeply\\)",
        "config-deep",
    ),
    case(
        lambda c: hf.checkpoint_case(_binary_config(c), 8),
        "cannot read Hugging Face config .*cfg-binary/config.json",
        "config-binary",
    ),
]


def _binary_config(c):
    folder = c.tmp / "cfg-binary"
    folder.mkdir(exist_ok=True)
    (folder / "config.json").write_bytes(b"\xff\xfe{}")
    return folder


@pytest.mark.parametrize("call, message", HF_CHECKPOINTS)
def test_hf_checkpoints_that_are_not_models_are_refused(c, call, message):
    refuses(call, c, message)


def test_a_checkpoint_without_weights_is_refused(c):
    pytest.importorskip("transformers")
    folder = _checkpoint(c, "no-weights", json.dumps({"model_type": "bert", "vocab_size": 8, "hidden_size": 8}))
    refuses(lambda c: hf.checkpoint_case(folder, 4), c, "no-weights: cannot load the checkpoint")


def test_without_transformers_a_good_case_names_the_extra(c, monkeypatch):
    monkeypatch.setitem(sys.modules, "transformers", None)  # `import transformers` raises ImportError
    refuses(
        lambda c: hf.bert_case("tiny", 8),
        c,
        r"Hugging Face models need the models extra: pip install 'ditto-compiler\[models\]'",
    )
    refuses(lambda c: hf.gpt2_case("tiny", 8), c, r"pip install 'ditto-compiler\[models\]'")


def test_a_checkpoint_is_refused_a_seq_beyond_its_positions(c):
    pytest.importorskip("transformers")
    config = {"model_type": "bert", "vocab_size": 8, "hidden_size": 8, "max_position_embeddings": 16}
    folder = _checkpoint(c, "short", json.dumps(config))
    refuses(lambda c: hf.checkpoint_case(folder, 17), c, "--seq must be between 1 and 16 for bert, not 17")


# -- frontend.importer.parse_module (its size and nesting guards are the importer's; here: only DittoError) --------------
MAIN = '"func.func"() <{sym_name = "main", function_type = () -> ()}> ({ %s "func.return"() : () -> () }) : () -> ()'
PARSE = [
    case(lambda c: parse_module(None), "must be a str, not NoneType", "None"),
    case(lambda c: parse_module(b'"builtin.module"() ({}) : () -> ()'), "must be a str, not bytes", "bytes"),
    case(lambda c: parse_module(5), "must be a str, not int", "int"),
    case(lambda c: parse_module("garbage"), "'garbage' is not supported", "garbage"),
    case(lambda c: parse_module('"builtin.module"() ({'), "malformed IR", "unterminated"),
    case(
        lambda c: parse_module('"builtin.module"() ({ "x.y"() : () -> () }) : () -> ()'),
        "'x.y' is not supported",
        "unknown-op",
    ),
    case(lambda c: parse_module("(" * 100_000), "nest", "deep-parens"),
    case(lambda c: parse_module('"builtin.module"() ({' * 20_000), "nest", "deep-regions"),
    case(
        lambda c: parse_module('"builtin.module"() {a = ' + "[" * 50_000 + "]" * 50_000 + "} : () -> ()"),
        "nest",
        "deep-attribute",
    ),
    case(
        lambda c: parse_module(
            MAIN
            % '%0 = "stablehlo.constant"() <{value = dense<1.0> : tensor<100000000000xf32>}> : () -> tensor<100000000000xf32>'
        ),
        "more than the limit",
        "huge-splat",
    ),
    case(
        lambda c: parse_module(
            MAIN % '%0 = "stablehlo.constant"() <{value = dense<1> : tensor<i4096>}> : () -> tensor<i4096>'
        ),
        "i4096",
        "wide-int",
    ),
    case(
        lambda c: parse_module('"builtin.module"() ({ "func.return"() : () -> () }) : () -> ()'), "invalid IR", "verify"
    ),
    case(lambda c: parse_module('"builtin.module"() ({}) : () -> ()\x00'), "malformed IR", "nul"),
]


@pytest.mark.parametrize("call, message", PARSE)
def test_parse_module_refuses_malformed_text(c, call, message):
    # xDSL's parse errors draw the line and a caret under it: several lines, the importer's to shorten.
    refuses(call, c, message, one_line=False)
