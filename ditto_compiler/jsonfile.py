"""Reading a user's JSON file (a plan, a ring policy, a cluster config, a model config) and writing a report or a
policy, each with one kind of error."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .diagnostics import DittoError


def read_json(path: str | Path, what: str) -> Any:
    """The JSON value in `path`, or a DittoError saying why not; `what` names the file's role ("policy file")."""
    try:
        text = Path(path).read_text()
    except (OSError, UnicodeDecodeError, ValueError) as e:  # ValueError: a NUL in the path
        raise DittoError(f"cannot read {what} {path}: {e}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise DittoError(f"{path} is not a {what} (not valid JSON: {e})") from None
    except RecursionError:
        raise DittoError(f"{path} is not a {what} (its JSON nests too deeply)") from None


def write_json(path: str | Path, value: Any, what: str) -> None:
    """Write `value` as indented JSON, or raise a DittoError naming the file's role ("report")."""
    try:
        Path(path).write_text(json.dumps(value, indent=2) + "\n")
    except OSError as e:
        raise DittoError(f"cannot write {what} {path}: {e}") from None
