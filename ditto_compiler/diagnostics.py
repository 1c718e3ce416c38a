"""Errors that name the op and source location instead of surfacing a traceback."""

from __future__ import annotations

from xdsl.dialects.builtin import (
    CallSiteLoc,
    FileLineColLoc,
    FusedLoc,
    NameLoc,
    UnknownLoc,
)
from xdsl.ir import Attribute, Operation
from xdsl.utils.exceptions import DiagnosticException


class DittoError(DiagnosticException):
    """A user-facing compiler or runtime error.

    `op` is the operation name (e.g. ``stablehlo.sort``), `location` a short
    source location such as ``"jit(f)/sort" at model.py:12:8``; both may be None.
    """

    def __init__(self, message: str, *, op: str | None = None, location: str | None = None):
        self.message = message
        self.op = op
        self.location = location
        super().__init__(self.__str__())

    def add_note(self, note: str) -> None:
        """Ignore xDSL's whole-module dumps: the message already names the op and location."""

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location else ""
        what = f"'{self.op}' " if self.op else ""
        return f"{where}{what}{self.message}"


def describe_location(loc: Attribute | None) -> str | None:
    """Render an MLIR location compactly: the op's JAX name and its innermost file position."""
    if loc is None or isinstance(loc, UnknownLoc):
        return None
    names: list[str] = []
    positions: list[str] = []

    def visit(attr: Attribute) -> None:
        if isinstance(attr, NameLoc):
            names.append(attr.desc.data)
            visit(attr.location)
        elif isinstance(attr, FileLineColLoc):
            positions.append(f"{attr.filename.data}:{attr.line.data}:{attr.column.data}")
        elif isinstance(attr, CallSiteLoc):
            visit(attr.callee)
            visit(attr.caller)
        elif isinstance(attr, FusedLoc):
            for inner in attr.locations.data:  # type: ignore[attr-defined]
                visit(inner)

    visit(loc)
    parts = []
    if names:
        parts.append(f'"{names[0]}"')
    if positions:
        parts.append(f"at {positions[0]}")
    return " ".join(parts) or None


def op_error(op: Operation, message: str) -> DittoError:
    """A DittoError about `op`, carrying its name and location."""
    return DittoError(message, op=op.name, location=describe_location(op.location))
