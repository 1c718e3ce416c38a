"""Read StableHLO text, as `jax.jit(...).lower(...)` prints it, into an xDSL module.

JAX's generic-form output has three things xDSL cannot take as they are:

* float literals written as bit patterns (`dense<0xFF800000> : tensor<f32>` is
  -inf), which xDSL reads as integers; they are rewritten as the equivalent
  quoted little-endian blob, which xDSL decodes bit-exactly;
* location aliases (`loc(#loc12)` with `#loc12 = ...` after the module), which
  xDSL rejects; each is resolved and folded to `loc("jax/op/name"("file":L:C))`;
* `dense_resource<blob>` constants with their bytes in a trailing
  `{-# dialect_resources ... #-}` section; they are inlined as dense blobs.
"""

from __future__ import annotations

import math
import re

import numpy as np
from xdsl.dialects.builtin import ModuleOp
from xdsl.parser import Parser
from xdsl.utils.exceptions import ParseError, VerifyException

from ..diagnostics import DittoError
from ..dialects import make_context

_FLOAT_DTYPES = {"f16": np.float16, "bf16": None, "f32": np.float32, "f64": np.float64}
_DENSE_FLOAT = re.compile(r'dense<([^<>"]*)>(\s*:\s*tensor<((?:\d+x)*)(f16|bf16|f32|f64)>)')
_NUMBER = re.compile(r"0x[0-9A-Fa-f]+|[-+]?(?:inf|nan|\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)")
_LOC_ALIAS_DEF = re.compile(r"^(#loc\d*)\s*=\s*(.*)$", re.MULTILINE)
_LOC_ALIAS_REF = re.compile(r"#loc\d*\b")
_LOC_NAME = re.compile(r'"((?:[^"\\]|\\.)*)"\(')
_LOC_POSITION = re.compile(r'"((?:[^"\\]|\\.)*)":(\d+):(\d+)')
_RESOURCES = re.compile(r"\{-#(.*?)#-\}", re.DOTALL)
_RESOURCE_ENTRY = re.compile(r'([\w.$-]+)\s*:\s*"(0x[0-9A-Fa-f]*)"')
_DENSE_RESOURCE = re.compile(r"dense_resource<([\w.$-]+)>")
_UNREGISTERED = re.compile(r"Operation ([\w.]+) is not registered")


def _hex_floats_to_blobs(text: str) -> str:
    def fix(match: re.Match[str]) -> str:
        literal, type_suffix, dims, elem = match.groups()
        if "0x" not in literal:
            return match.group(0)
        dtype = _FLOAT_DTYPES[elem]
        if dtype is None:
            raise DittoError(f"hex bf16 constants are not supported: dense<{literal}>")
        width = np.dtype(dtype).itemsize
        values = []
        for token in _NUMBER.findall(literal):
            if token.startswith("0x"):
                values.append(np.frombuffer(int(token, 16).to_bytes(width, "little"), dtype)[0])
            else:
                values.append(dtype(float(token)))
        count = math.prod(int(d) for d in dims.split("x") if d)
        if len(values) not in (1, count):
            raise DittoError(f"dense literal has {len(values)} values for {count} elements")
        blob = np.asarray(values, dtype=dtype).tobytes().hex().upper()
        return f'dense<"0x{blob}">{type_suffix}'

    return _DENSE_FLOAT.sub(fix, text)


def _balanced_end(text: str, open_index: int) -> int:
    """Index just past the parenthesis that closes the one at `open_index`."""
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
    raise DittoError("unbalanced parentheses in a location")


def _resolve_locations(text: str) -> str:
    aliases = {m.group(1): m.group(2) for m in _LOC_ALIAS_DEF.finditer(text)}
    text = _LOC_ALIAS_DEF.sub("", text)
    expanded: dict[str, str] = {}

    def expand(body: str, depth: int = 0) -> str:
        if depth > 256:
            raise DittoError("location aliases nest too deeply")

        def sub(m: re.Match[str]) -> str:
            name = m.group(0)
            if name not in expanded:
                if name not in aliases:
                    raise DittoError(f"undefined location alias {name}")
                expanded[name] = expand(aliases[name], depth + 1)
            return expanded[name]

        return _LOC_ALIAS_REF.sub(sub, body)

    out: list[str] = []
    pos = 0
    while (start := text.find("loc(", pos)) != -1:
        if start > 0 and (text[start - 1].isalnum() or text[start - 1] in "_#."):
            out.append(text[pos : start + 4])
            pos = start + 4
            continue
        end = _balanced_end(text, start + 3)
        full = expand(text[start + 4 : end - 1])
        out.append(text[pos:start])
        out.append(_compact_location(full))
        pos = end
    out.append(text[pos:])
    return "".join(out)


def _compact_location(body: str) -> str:
    """`loc(NAME(FILE:L:C))` from the outermost name and innermost position in `body`."""
    name = _LOC_NAME.search(body)
    position = _LOC_POSITION.search(body)
    pos_text = f'"{position.group(1)}":{position.group(2)}:{position.group(3)}' if position else None
    if name and pos_text:
        return f'loc("{name.group(1)}"({pos_text}))'
    if pos_text:
        return f"loc({pos_text})"
    return "loc(unknown)"


def _inline_resources(text: str) -> str:
    match = _RESOURCES.search(text)
    if match is None:
        return text
    blobs = {key: value for key, value in _RESOURCE_ENTRY.findall(match.group(1))}
    text = text[: match.start()] + text[match.end() :]

    def inline(m: re.Match[str]) -> str:
        key = m.group(1)
        if key not in blobs:
            raise DittoError(f"dense_resource<{key}> has no data (was it elided when printing?)")
        # The first 4 bytes of a resource blob are its alignment, not data.
        return f'dense<"0x{blobs[key][10:]}">'

    return _DENSE_RESOURCE.sub(inline, text)


def prepare_stablehlo_text(text: str) -> str:
    """Rewrite JAX's StableHLO text into a form xDSL parses exactly."""
    return _hex_floats_to_blobs(_resolve_locations(_inline_resources(text)))


def parse_module(text: str, source_name: str = "<input>") -> ModuleOp:
    """Parse and verify StableHLO/chlo/PPHLO text; errors become DittoError."""
    try:
        module = Parser(make_context(), prepare_stablehlo_text(text), source_name).parse_module()
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
