"""Read StableHLO text, as `jax.jit(...).lower(...)` prints it, into an xDSL module.

JAX's generic-form output has three things xDSL cannot take as they are:

* float literals written as bit patterns (`dense<0xFF800000> : tensor<f32>` is
  -inf), which xDSL reads as integers; they are rewritten as the equivalent
  quoted little-endian blob, which xDSL decodes bit-exactly;
* location aliases (`loc(#loc12)` with `#loc12 = ...` after the module), which
  xDSL rejects; each is resolved and folded to `loc("jax/op/name"("file":L:C))`;
* `dense_resource<blob>` constants with their bytes in a trailing
  `{-# dialect_resources ... #-}` section; they are inlined as dense blobs.

Before xDSL sees the text, `check_input_limits` bounds what parsing would
materialise or recurse on (docs/robustness.md): elements per shaped type and per
dense literal, and bracket nesting. Every rewrite here runs in linear time.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

import numpy as np
from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Operation, OpResult
from xdsl.parser import Parser
from xdsl.utils.exceptions import ParseError, VerifyException
from xdsl.utils.mlir_lexer import MLIRLexer

from ..diagnostics import DittoError, describe_location
from ..dialects import make_context

_FLOAT_DTYPES = {"f16": np.float16, "bf16": None, "f32": np.float32, "f64": np.float64}
_DENSE_FLOAT = re.compile(r'dense<([^<>"]*)>(\s*:\s*tensor<((?:\d+x)*)(f16|bf16|f32|f64)>)')
_NUMBER = re.compile(r"0x[0-9A-Fa-f]+|[-+]?(?:inf|nan|\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)")
_LOC_ALIAS_DEF = re.compile(r"^(#loc\d*)\s*=\s*(.*)$", re.MULTILINE)
_LOC_ALIAS_REF = re.compile(r"#loc\d*\b")
# A string literal, or an unterminated one up to the end of its line, as one
# token: scanning never restarts inside a literal, so it stays linear.
_STRING = r'"(?:[^"\\\n]++|\\.)*+"?'
_LOC_STRING = re.compile(r'"(?:[^"\\\n]++|\\.)*+(")?')
_LOC_POSITION_SUFFIX = re.compile(r":\d+:\d+")
# Anchored at the start of a key, so a long run of key characters is read once.
_RESOURCE_ENTRY = re.compile(r'(?<![\w.$-])([\w.$-]++)\s*+:\s*+"(0x[0-9A-Fa-f]*+)"')
_DENSE_RESOURCE = re.compile(r"dense_resource<([\w.$-]+)>")
_UNREGISTERED = re.compile(r"Operation ([\w.]+) is not registered")

# xDSL 0.73 lexes string literals with `"(?:[^"...]+|\\...)*"`: a `+` nested in a
# `*` backtracks exponentially when the closing quote is missing (a 42-byte
# unterminated literal takes hours). The possessive form accepts exactly the
# same literals and fails in linear time.
_XDSL_STRING_LITERAL = r'"(?:[^"\\\n\v\f]+|\\(?:["nt\\]|[0-9A-Fa-f]{2}))*"'
if MLIRLexer._unescaped_characters_regex.pattern == _XDSL_STRING_LITERAL:
    MLIRLexer._unescaped_characters_regex = re.compile(r'"(?:[^"\\\n\v\f]++|\\(?:["nt\\]|[0-9A-Fa-f]{2}))*+"')


# Limits on the input, checked on the text before anything is parsed.

DEFAULT_MAX_ELEMENTS = 1 << 26
"""Elements of any one tensor, vector or memref type (GPT-2 medium's embedding table has 51.5M)."""
DEFAULT_MAX_CONSTANT_ELEMENTS = 1 << 24
"""Elements of any one dense literal: xDSL materialises every element, a splat included, as a Python object."""
MAX_NESTING = 64
"""Brackets (regions, attributes, types) open at once: xDSL's parser, verifier and printer recurse on them."""


@dataclass(frozen=True)
class InputLimits:
    """What `check_input_limits` allows; `from_environment` reads DITTO_MAX_ELEMENTS and DITTO_MAX_CONSTANT_ELEMENTS."""

    max_elements: int = DEFAULT_MAX_ELEMENTS
    max_constant_elements: int = DEFAULT_MAX_CONSTANT_ELEMENTS
    max_nesting: int = MAX_NESTING

    @staticmethod
    def from_environment() -> InputLimits:
        return InputLimits(
            max_elements=_positive_int_from_environment("DITTO_MAX_ELEMENTS", DEFAULT_MAX_ELEMENTS),
            max_constant_elements=_positive_int_from_environment(
                "DITTO_MAX_CONSTANT_ELEMENTS", DEFAULT_MAX_CONSTANT_ELEMENTS
            ),
        )


def _positive_int_from_environment(variable: str, default: int) -> int:
    value = os.environ.get(variable, "").strip()
    if not value:
        return default
    if not value.isdecimal() or int(value) == 0:
        raise DittoError(f"{variable} must be a positive integer, not {value!r}")
    return int(value)


_LIMIT_TOKEN = re.compile(
    rf"(?P<skip>//[^\n]*+|{_STRING}|->)|(?P<shaped>\b(?:tensor|vector|memref)<)|(?P<dense>\bdense<)"
    r"|(?P<complex>\bcomplex<)|(?P<open>[(\[{<])|(?P<close>[)\]}>])"
    r"|(?P<integer>(?<![\w$.%@^#!-])[su]?i(?P<width>\d++)\b)"
)
_ELEMENT_INTEGER_WIDTH = re.compile(r"[su]?i(?P<width>\d++)\b")
MAX_INTEGER_WIDTH = 64
"""xDSL stores integers of 1 to 64 bits (i0 divides by zero), and computes `1 << width` on wider ones."""
_SHAPE_DIMENSIONS = re.compile(r"\s*+((?:(?:\d++|\?|\[\s*+\d++\s*+\])\s*+x\s*+)*+)")
_DENSE_LITERAL_TYPE = re.compile(r"\s*+:\s*+(?:tensor|vector)<")
_DIGITS = re.compile(r"\d+")


def _where(text: str, position: int, source_name: str, first_line: int) -> str:
    """`source_name:line:col` of `position` in `text`."""
    line = first_line + text.count("\n", 0, position)
    column = position - text.rfind("\n", 0, position)
    return f"{source_name}:{line}:{column}"


def _shape_elements(dimensions: str) -> int | None:
    """The product of the static dimensions; None if one has more than 18 digits (int() refuses thousands)."""
    elements = 1
    for digits in _DIGITS.findall(dimensions):
        if len(digits) > 18:
            return None
        elements *= int(digits)
    return elements


def check_input_limits(text: str, limits: InputLimits, source_name: str = "<input>", first_line: int = 1) -> None:
    """Refuse text whose parse would materialise more elements, or recurse deeper, than `limits` allow.

    Dynamic dimensions (`?`) count as empty. The location in an error is `source_name:line:col`,
    lines counted from `first_line` (a chunk of a split input starts later).
    """

    def refuse(position: int, message: str) -> DittoError:
        return DittoError(message, location=_where(text, position, source_name, first_line))

    def check_shape(kind: str, type_start: int, dimensions: re.Match[str], limit: int, option: str) -> None:
        elements = _shape_elements(dimensions.group(1))
        if elements is None or elements > limit:
            shown = text[type_start : min(dimensions.end(1), type_start + 50)]
            count = "a dimension of over 18 digits" if elements is None else f"{elements} elements"
            raise refuse(
                type_start,
                f"{kind} {shown}...> has {count}, more than the limit of {limit}"
                f" (--{option} or DITTO_{option.upper().replace('-', '_')})",
            )

    def check_integer_width(integer: re.Match[str]) -> None:
        width = integer.group("width")
        if len(width) > 2 or not 1 <= int(width) <= MAX_INTEGER_WIDTH:
            shown = integer.group(0) if len(integer.group(0)) <= 24 else integer.group(0)[:21] + "..."
            raise refuse(integer.start(), f"integer type {shown} must have 1 to {MAX_INTEGER_WIDTH} bits")

    depth = 0
    dense_depths: list[int] = []  # the depth outside each open dense literal
    for token in _LIMIT_TOKEN.finditer(text):
        kind = token.lastgroup
        if kind == "close":
            if depth:
                depth -= 1
                if dense_depths and dense_depths[-1] == depth:
                    dense_depths.pop()
                    if literal_type := _DENSE_LITERAL_TYPE.match(text, token.end()):
                        dimensions = _SHAPE_DIMENSIONS.match(text, literal_type.end())
                        type_start = literal_type.end() - len("tensor<")
                        check_shape(
                            "dense literal of type",
                            type_start,
                            dimensions,
                            limits.max_constant_elements,
                            "max-constant-elements",
                        )
        elif kind in ("open", "shaped", "dense"):
            depth += 1
            if depth > limits.max_nesting:
                raise refuse(token.start(), f"brackets nest more than {limits.max_nesting} deep")
            if kind == "dense":
                dense_depths.append(depth - 1)
            elif kind == "shaped":
                dimensions = _SHAPE_DIMENSIONS.match(text, token.end())
                check_shape("type", token.start(), dimensions, limits.max_elements, "max-elements")
                # An element type right after the dimensions follows an `x`, which the token pattern cannot see.
                if integer := _ELEMENT_INTEGER_WIDTH.match(text, dimensions.end()):
                    check_integer_width(integer)
        elif kind == "integer":
            check_integer_width(token)
        elif kind == "complex":
            # ditto-compiler computes on reals, and xDSL's parser fails assertions on some complex literals.
            raise refuse(token.start(), "complex types are not supported")


def _hex_floats_to_blobs(text: str, source_name: str, first_line: int) -> str:
    def where(position: int) -> str:
        return _where(text, position, source_name, first_line)

    def fix(match: re.Match[str]) -> str:
        literal, type_suffix, dims, elem = match.groups()
        if "0x" not in literal:
            return match.group(0)
        dtype = _FLOAT_DTYPES[elem]
        if dtype is None:
            raise DittoError("hex bf16 constants are not supported", location=where(match.start()))
        width = np.dtype(dtype).itemsize
        values = []
        for token in _NUMBER.findall(literal):
            if token.startswith("0x"):
                bits = int(token, 16)
                if bits >> (8 * width):
                    raise DittoError(
                        f"hexadecimal {elem} literal {token} has more than {8 * width} bits",
                        location=where(match.start()),
                    )
                values.append(np.frombuffer(bits.to_bytes(width, "little"), dtype)[0])
            else:
                with np.errstate(over="ignore"):  # out of range is +-inf, as MLIR reads it
                    values.append(dtype(float(token)))
        count = _shape_elements(dims)
        if len(values) not in (1, count):
            elements = "more than 10**18" if count is None else count
            raise DittoError(
                f"dense literal has {len(values)} values for {elements} elements", location=where(match.start())
            )
        blob = np.asarray(values, dtype=dtype).tobytes().hex().upper()
        return f'dense<"0x{blob}">{type_suffix}'

    return _DENSE_FLOAT.sub(fix, text)


def _balanced_end(text: str, open_index: int) -> int | None:
    """Index just past the parenthesis that closes the one at `open_index`, if any."""
    depth = 0
    in_string = False
    i = open_index
    while i < len(text):
        ch = text[i]
        if in_string:
            if ch == "\\":
                i += 1
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return None


def _resolve_locations(text: str, source_name: str, first_line: int) -> str:
    aliases = {m.group(1): m.group(2) for m in _LOC_ALIAS_DEF.finditer(text)}
    text = _LOC_ALIAS_DEF.sub("", text)

    def where(position: int) -> str:
        return _where(text, position, source_name, first_line)

    summaries: dict[str, str] = {}

    def summarise(root: str, position: int) -> str:
        # Aliases are summarised, not expanded: a chain of aliases each naming the previous
        # one twice would expand exponentially. Iterative, since chains can be long.
        pending = [root]
        visiting: set[str] = set()
        while pending:
            name = pending[-1]
            if name in summaries:
                pending.pop()
                continue
            if name not in aliases:
                raise DittoError(f"undefined location alias {name}", location=where(position))
            unresolved = [ref for ref in _LOC_ALIAS_REF.findall(aliases[name]) if ref not in summaries]
            if unresolved:
                if name in visiting:
                    raise DittoError(f"location alias {name} refers to itself", location=where(position))
                visiting.add(name)
                pending.extend(unresolved)
                continue
            body = _LOC_ALIAS_REF.sub(lambda m: summaries[m.group(0)], aliases[name])
            summaries[name] = _summary_text(*_location_summary(body))
            pending.pop()
        return summaries[root]

    out: list[str] = []
    pos = 0
    while (start := text.find("loc(", pos)) != -1:
        if start > 0 and (text[start - 1].isalnum() or text[start - 1] in "_#."):
            out.append(text[pos : start + 4])
            pos = start + 4
            continue
        end = _balanced_end(text, start + 3)
        if end is None:
            raise DittoError("unbalanced parentheses in a location", location=where(start))
        body = _LOC_ALIAS_REF.sub(lambda m: summarise(m.group(0), start), text[start + 4 : end - 1])
        out.append(text[pos:start])
        out.append(_compact_location(body))
        pos = end
    out.append(text[pos:])
    return "".join(out)


def _location_summary(body: str) -> tuple[str | None, str | None]:
    """The first name (`"name"(`) and the first file position (`"file":L:C`) in a location's text."""
    name = position = None
    for literal in _LOC_STRING.finditer(body):
        if literal.group(1) is None:  # unterminated
            continue
        if name is None and body.startswith("(", literal.end()):
            name = literal.group(0)
        elif position is None and (suffix := _LOC_POSITION_SUFFIX.match(body, literal.end())):
            position = literal.group(0) + suffix.group(0)
        if name is not None and position is not None:
            break
    return name, position


def _summary_text(name: str | None, position: str | None) -> str:
    """Text in which `_location_summary` finds `name` and `position` again."""
    if name is not None:
        return f"{name}({position or ''})"
    return position or ""


def _compact_location(body: str) -> str:
    """`loc(NAME(FILE:L:C))` from the outermost name and innermost position in `body`."""
    name, position = _location_summary(body)
    if name and position:
        return f"loc({name}({position}))"
    if position:
        return f"loc({position})"
    return "loc(unknown)"


def _inline_resources(text: str, source_name: str, first_line: int) -> str:
    start = text.find("{-#")
    end = text.find("#-}", start + 3) if start != -1 else -1
    if end == -1:
        return text
    blobs = {key: value for key, value in _RESOURCE_ENTRY.findall(text, start + 3, end)}
    text = text[:start] + text[end + 3 :]

    def where(position: int) -> str:
        return _where(text, position, source_name, first_line)

    def inline(m: re.Match[str]) -> str:
        key = m.group(1)
        if key not in blobs:
            raise DittoError(
                f"dense_resource<{key}> has no data (was it elided when printing?)", location=where(m.start())
            )
        # The first 4 bytes of a resource blob are its alignment, not data.
        return f'dense<"0x{blobs[key][10:]}">'

    return _DENSE_RESOURCE.sub(inline, text)


def prepare_stablehlo_text(text: str, source_name: str = "<input>", first_line: int = 1) -> str:
    """Rewrite JAX's StableHLO text into a form xDSL parses exactly.

    Errors name `source_name:line:col`, lines counted from `first_line`. Each step keeps
    the lines of what it does not remove, so positions in its input are the user's.
    """

    text = _inline_resources(text, source_name, first_line)
    text = _resolve_locations(text, source_name, first_line)
    return _hex_floats_to_blobs(text, source_name, first_line)


def parse_text(
    text: str,
    source_name: str = "<input>",
    *,
    limits: InputLimits,
    ctx: Context | None = None,
    first_line: int = 1,
    allow_implicit_module: bool = True,
) -> ModuleOp:
    """Prepare, bound and parse (not verify) StableHLO text; malformed text raises ParseError or DittoError."""
    text = prepare_stablehlo_text(text, source_name, first_line)
    check_input_limits(text, limits, source_name, first_line)
    parser = Parser(ctx or make_context(), text, source_name)
    try:
        module = parser.parse_module(allow_implicit_module)
    except ValueError as e:
        # xDSL raises ValueError, not ParseError, for a literal it cannot represent (an
        # integer outside its type's range): report it where the parser stopped.
        parser.raise_error(str(e))
    check_dominance(module)
    return module


def check_dominance(module: ModuleOp) -> None:
    """Every operand is defined before the op that uses it (or an op enclosing that one).

    xDSL's verifier does not check this, and every pass that evaluates or rewrites in
    program order relies on it. Ops directly in a module (a graph region) are exempt.
    """
    position: dict[Operation, int] = {}
    for op in module.walk():
        for region in op.regions:
            for block in region.blocks:
                position.update((inner, i) for i, inner in enumerate(block.ops))
    for op in module.walk():
        for index, operand in enumerate(op.operands):
            if not isinstance(operand, OpResult):
                continue
            block = operand.op.parent_block()
            if block is None or isinstance(block.parent_op(), ModuleOp):
                continue
            user: Operation | None = op
            while user is not None and user.parent_block() is not block:
                user = user.parent_op()
            if user is None or position[user] <= position[operand.op]:
                where = describe_location(op.location)
                raise DittoError(f"operand {index} is used before it is defined", op=op.name, location=where)


def parse_module(text: str, source_name: str = "<input>", limits: InputLimits | None = None) -> ModuleOp:
    """Parse and verify StableHLO/chlo/PPHLO text; errors become DittoError.

    `limits` default to `InputLimits.from_environment()`.
    """
    if not isinstance(text, str):
        raise DittoError(f"the IR to parse must be a str, not {type(text).__name__}")
    try:
        module = parse_text(text, source_name, limits=limits or InputLimits.from_environment())
    except ParseError as e:
        unknown = _UNREGISTERED.fullmatch(e.msg)
        if unknown is not None:
            loc = e.span.get_location()
            raise DittoError(
                "is not supported: no ditto-compiler dialect defines it",
                op=unknown.group(1),
                location=f"{loc.file}:{loc.line}:{loc.col}",
            ) from None
        raise DittoError(f"malformed IR: {e}") from None
    try:
        module.verify()
    except VerifyException as e:
        raise DittoError(f"invalid IR: {e}") from None
    return module
