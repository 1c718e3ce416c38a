"""`ditto-opt` on hostile input: a one-line user error (exit 1), never an internal error, a traceback or a hang.

The reproducers come from issue 10's fuzzing; tools/fuzz_ditto_opt.py finds more (docs/robustness.md).
"""

import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

import pytest

from ditto_compiler import DittoError
from ditto_compiler.cli.ditto_opt import main
from ditto_compiler.frontend.importer import InputLimits, parse_module, prepare_stablehlo_text

REPO = Path(__file__).resolve().parents[2]


def ditto_opt(capsys, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = main([*argv])
    out, err = capsys.readouterr()
    return rc, out, err


def user_error(capsys, tmp_path, text: str | bytes, *argv: str) -> str:
    """Runs ditto-opt on `text`; asserts a user error and returns its message."""
    path = tmp_path / "input.mlir"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    start = time.perf_counter()
    rc, _, err = ditto_opt(capsys, str(path), *argv)
    assert time.perf_counter() - start < 10
    assert rc == 1, err
    assert err.startswith("ditto-opt: error: ") and "Traceback" not in err and "internal error" not in err
    return err


def func(body: str, args: str = "%arg0: tensor<2x3xf32>", result: str = "tensor<2x3xf32>") -> str:
    return f"func.func @main({args}) -> {result} {{\n  {body}\n}}\n"


ONE_LINE_ERRORS = {
    "hex float wider than its type (was OverflowError)": (
        func('%0 = "stablehlo.constant"() {value = dense<0xFFFFFFFFFF> : tensor<f32>} : () -> tensor<f32>\n'
             "  func.return %0 : tensor<f32>", "", "tensor<f32>"),
        (),
        "input.mlir:2:40: hexadecimal f32 literal 0xFFFFFFFFFF has more than 32 bits",
    ),
    "pphlo.dot_general dimension out of range (was IndexError)": (
        func('%0 = "pphlo.dot_general"(%arg0, %arg0) <{dot_dimension_numbers = #pphlo.dot<'
             "lhs_contracting_dimensions = [7], rhs_contracting_dimensions = [0]>}> "
             ": (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<3x3xf32>\n  func.return %arg0 : tensor<2x3xf32>"),
        (),
        "'pphlo.dot_general' lhs batching and contracting dimensions [7] must be distinct dimensions",
    ),
    "pphlo.slice with stride 0 (was ZeroDivisionError)": (
        func('%0 = "pphlo.slice"(%arg0) <{start_indices = array<i64: 0, 0>, limit_indices = array<i64: 2, 3>, '
             "strides = array<i64: 0, 1>}> : (tensor<2x3xf32>) -> tensor<2x3xf32>\n  func.return %0 : tensor<2x3xf32>"),
        (),
        "'pphlo.slice' needs 0 <= start <= limit <= dimension and positive strides",
    ),
    "pphlo.concatenate dimension out of range (was IndexError)": (
        func('%0 = "pphlo.concatenate"(%arg0, %arg0) <{dimension = 3 : i64}> '
             ": (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<4x3xf32>\n  func.return %arg0 : tensor<2x3xf32>"),
        (),
        "'pphlo.concatenate' needs operands and result of one rank, and dimension within it",
    ),
    "chlo.erf on a ring type (was AttributeError)": (
        func('%0 = "chlo.erf"(%arg0) : (tensor<3x!fxp.fixed<32, 8>>) -> tensor<3x!fxp.fixed<32, 8>>\n'
             "  func.return %0 : tensor<3x!fxp.fixed<32, 8>>",
             "%arg0: tensor<3x!fxp.fixed<32, 8>>", "tensor<3x!fxp.fixed<32, 8>>"),
        ("-p", "legalize-to-pphlo"),
        "'chlo.erf' takes a tensor of floats, not tensor<3x!pphlo.secret<!fxp.fixed<32, 8>>>",
    ),
    "chlo.erfc on booleans (was ValueError)": (
        func('%0 = "chlo.erfc"(%arg0) : (tensor<3xi1>) -> tensor<3xi1>\n  func.return %0 : tensor<3xi1>',
             "%arg0: tensor<3xi1>", "tensor<3xi1>"),
        ("-p", "legalize-to-pphlo"),
        "'chlo.erfc' takes a tensor of floats",
    ),
    "legalize a function declaration (was AssertionError)": (
        "func.func private @declared(tensor<2xf32>) -> tensor<2xf32>\n",
        ("-p", "legalize-to-pphlo"),
        "@declared must be one block ending in func.return to legalize",
    ),
    "legalize a function without func.return (was an empty AssertionError)": (
        func('"stablehlo.return"(%arg0) : (tensor<2x3xf32>) -> ()'),
        ("-p", "legalize-to-pphlo"),
        "@main must be one block ending in func.return to legalize",
    ),
    "legalize a tuple argument (was an empty AssertionError)": (
        "func.func @main(%x: tuple<f32>) -> tuple<f32> {\n  func.return %x : tuple<f32>\n}\n",
        ("-p", "legalize-to-pphlo"),
        "argument 0 of @main has type tuple<f32>; expected a tensor",
    ),
    "annotate a function declaration (was AssertionError)": (
        "func.func private @declared(tensor<2xf32>) -> tensor<2xf32>\n",
        ("-p", "annotate-rings{policy=ditto}"),
        "@declared must be one block ending in func.return to annotate",
    ),
    "a 50M-element splat (was 27 s and 4.4 GB)": (
        func('%0 = "stablehlo.constant"() {value = dense<1.0> : tensor<50000000xf32>} : () -> tensor<50000000xf32>\n'
             "  func.return %arg0 : tensor<2x3xf32>"),
        (),
        "dense literal of type tensor<50000000x...> has 50000000 elements, more than the limit of 16777216",
    ),
    "120 nested regions (was RecursionError)": (
        '"builtin.module"() ({' * 120 + "}) : () -> ()" * 120,
        (),
        "input.mlir:1:689: brackets nest more than 64 deep",
    ),
    "an integer type of 2^32 - 1 bits (was a 10 s, 512 MB `1 << width`)": (
        func("func.return %arg0 : tensor<2x3xf32>", "%arg0: tensor<2x3xf32>, %arg1: tensor<2xi4294967295>"),
        (),
        "integer type i4294967295 must have 1 to 64 bits",
    ),
    "a stablehlo.constant whose value does not have its type (was ValueError in approximate-nonlinear)": (
        func('%0 = "stablehlo.constant"() <{value = dense<[1.0, 2.0, 3.0]> : tensor<3xf32>}> : () -> tensor<1x2xf32>\n'
             "  func.return %arg0 : tensor<2x3xf32>"),
        (),
        "'stablehlo.constant' value of type tensor<3xf32> must have the result type",
    ),
    "a stablehlo.constant without its value (a KeyError in the check above, once)": (
        func('%0 = "stablehlo.constant"(%arg0) : (tensor<2x3xf32>) -> tensor<2x3xf32>\n  func.return %0 : tensor<2x3xf32>'),
        (),
        "Expected 0 operands, but got 1",
    ),
    "a use before its definition (was KeyError in approximate-nonlinear)": (
        func('%0 = "stablehlo.add"(%1, %1) : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>\n'
             '  %1 = "stablehlo.exponential"(%arg0) : (tensor<2x3xf32>) -> tensor<2x3xf32>\n'
             "  func.return %0 : tensor<2x3xf32>"),
        ("-p", 'ditto-pipeline{gelu="quad"}'),
        "'stablehlo.add' operand 0 is used before it is defined",
    ),
    "an i0 dense array (was ZeroDivisionError in xDSL)": (
        func('%0 = "stablehlo.transpose"(%arg0) <{permutation = array<i0: 0>}> : (tensor<2x3xf32>) -> tensor<2x3xf32>\n'
             "  func.return %0 : tensor<2x3xf32>"),
        (),
        "integer type i0 must have 1 to 64 bits",
    ),
    "a real literal of a complex type (was AssertionError in xDSL's parser)": (
        func('%0 = "stablehlo.constant"() <{value = dense<0.0> : tensor<complex<f32>>}> : () -> tensor<complex<f32>>\n'
             "  func.return %arg0 : tensor<2x3xf32>"),
        (),
        "complex types are not supported",
    ),
    "a missing location alias": (
        func("func.return %arg0 : tensor<2x3xf32> loc(#loc9)"),
        (),
        "input.mlir:2:39: undefined location alias #loc9",
    ),
    "bytes that are not UTF-8": (
        b"func.func @f() {\xff\xfe}\n",
        (),
        "input.mlir is not UTF-8 text (byte 16 is 0xff)",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", ONE_LINE_ERRORS, ids=list(ONE_LINE_ERRORS))
def test_one_line_user_error(capsys, tmp_path, case):
    text, argv, expected = ONE_LINE_ERRORS[case]
    err = user_error(capsys, tmp_path, text, *argv)
    assert expected in err
    assert len(err.strip().splitlines()) == 1, err


def test_missing_and_unreadable_files(capsys, tmp_path):
    rc, _, err = ditto_opt(capsys, str(tmp_path / "nope.mlir"))
    assert (rc, err) == (1, f"ditto-opt: error: cannot read {tmp_path / 'nope.mlir'}: No such file or directory\n")
    rc, _, err = ditto_opt(capsys, str(tmp_path))
    assert (rc, err) == (1, f"ditto-opt: error: cannot read {tmp_path}: Is a directory\n")


def test_out_of_range_integer_literal_is_malformed_ir(capsys, tmp_path):
    # xDSL raises ValueError here; it is reported at the literal like any parse error.
    text = func('%0 = "stablehlo.constant"() <{value = dense<99999999999> : tensor<2xi32>}> : () -> tensor<2xi32>\n'
                "  func.return %arg0 : tensor<2x3xf32>")  # fmt: skip
    err = user_error(capsys, tmp_path, text)
    assert err.startswith("ditto-opt: error: malformed IR:\n") and "input.mlir:2:" in err
    assert "Integer value 99999999999 is out of range for type i32" in err


def test_constant_syntax_needs_dense_elements(capsys, tmp_path):
    # xdsl-jax's custom syntax read `.type` of any attribute (AttributeError on a string).
    err = user_error(capsys, tmp_path, func('%0 = stablehlo.constant "x"\n  func.return %arg0 : tensor<2x3xf32>'))
    assert err.startswith("ditto-opt: error: malformed IR:\n") and "input.mlir:2:27" in err
    assert "'stablehlo.constant' expects a dense elements attribute" in err


def test_unterminated_string_does_not_hang(tmp_path):
    # Unpatched, xDSL's lexer takes hours on 40 characters; this runs in a child so a regression fails, not hangs.
    path = tmp_path / "string.mlir"
    path.write_text('"' + "a" * 5000 + "\n")
    script = "import sys; from ditto_compiler.cli.ditto_opt import main; sys.exit(main(sys.argv[1:]))"
    result = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "End of file reached before closing string literal." in result.stderr


def test_element_limits_are_options(capsys, tmp_path, monkeypatch):
    path = tmp_path / "small.mlir"
    path.write_text(func('%0 = "stablehlo.constant"() {value = dense<1.0> : tensor<4xf32>} : () -> tensor<4xf32>\n'
                         "  func.return %arg0 : tensor<2x3xf32>"))  # fmt: skip
    assert ditto_opt(capsys, str(path))[0] == 0
    rc, _, err = ditto_opt(capsys, str(path), "--max-elements", "5")
    assert rc == 1 and "type tensor<2x3x...> has 6 elements, more than the limit of 5 (--max-elements" in err
    rc, _, err = ditto_opt(capsys, str(path), "--max-constant-elements", "3")
    assert rc == 1 and "dense literal of type tensor<4x...> has 4 elements, more than the limit of 3" in err
    monkeypatch.setenv("DITTO_MAX_ELEMENTS", "5")
    assert ditto_opt(capsys, str(path))[0] == 1
    with pytest.raises(DittoError, match="has 6 elements, more than the limit of 5"):
        parse_module(path.read_text())
    assert parse_module(path.read_text(), limits=InputLimits(max_elements=6)) is not None
    monkeypatch.setenv("DITTO_MAX_ELEMENTS", "many")
    with pytest.raises(DittoError, match="DITTO_MAX_ELEMENTS must be a positive integer, not 'many'"):
        parse_module(path.read_text())


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out == f"ditto-opt (ditto-compiler) {version('ditto-compiler')}\n"


def test_location_aliases_are_summarised_not_expanded():
    # Each alias names the previous one twice: expanded, #loc60 would be 2^60 characters long.
    aliases = ['#loc0 = loc("model.py":3:4)']
    aliases += [f"#loc{i} = loc(callsite(#loc{i - 1} at #loc{i - 1}))" for i in range(1, 61)]
    # A chain as long as a file, resolved without recursion.
    aliases += ['#loc1000 = loc("jit(f)/tanh"(#loc0))']
    aliases += [f"#loc{i} = loc(#loc{i - 1})" for i in range(1001, 4001)]
    text = func("func.return %arg0 : tensor<2x3xf32> loc(#loc60)") + func(
        "func.return %arg0 : tensor<2x3xf32> loc(#loc4000)"
    ).replace("@main", "@other")
    start = time.perf_counter()
    prepared = prepare_stablehlo_text(text + "\n".join(aliases) + "\n")
    assert time.perf_counter() - start < 2
    assert 'loc("model.py":3:4)' in prepared
    assert 'loc("jit(f)/tanh"("model.py":3:4))' in prepared


def test_location_summary_keeps_the_first_name_and_position():
    # The first name and the first position are each found in the whole expansion, even when
    # an inner alias holds only one of them.
    text = func("func.return %arg0 : tensor<2x3xf32> loc(#loc3)") + "\n".join(
        [
            "#loc1 = loc(unknown)",
            '#loc2 = loc("jit(f)/mul"(#loc1))',
            '#loc3 = loc(callsite(#loc2 at "model.py":8:2))',
        ]
    )
    assert 'loc("jit(f)/mul"("model.py":8:2))' in prepare_stablehlo_text(text)


@pytest.mark.parametrize(
    "text",
    [
        "{-#" * 30000,  # an unterminated resource section, opened many times
        "{-#" + "a" * 100000 + "#-}",  # a long run of key characters
        'func.func @f() loc("' + '\\"' * 50000 + "",  # a location of escaped quotes, never closed
        "dense<" * 30000,
        "#loc = " * 20000,
    ],
    ids=["resource openers", "resource key run", "escaped quotes", "dense openers", "alias definitions"],
)
def test_importer_rewrites_are_linear(text):
    start = time.perf_counter()
    with pytest.raises(DittoError):
        parse_module(text)
    assert time.perf_counter() - start < 5


def test_fuzz_tool_smoke(tmp_path):
    result = subprocess.run(
        [sys.executable, str(REPO / "tools" / "fuzz_ditto_opt.py"), "--files", "2", "--no-jax", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "files: 2  runs: 14" in result.stdout and "internal    0" in result.stdout
