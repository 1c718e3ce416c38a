"""Inputs the data owner encodes before secret-sharing them.

`one-hot-inputs` gives an embedding lookup whose token ids are a function input a
one-hot input of its own: the owner of the ids, who knows them, computes the
one-hot matrix in the clear and shares it, and the lookup becomes one matmul.
The module records this on the new argument (`ditto.one_hot_of = i`: the one-hot
of argument i); every executor calls `encode_inputs` on the user's inputs first.
What it costs: the owner uploads shares of seq x vocab values instead of seq ids,
once, outside the protocol (like any input); no comparison runs under MPC.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from xdsl.dialects import func
from xdsl.dialects.builtin import IntegerAttr, TensorType

from .diagnostics import DittoError

ONE_HOT_ATTR = "ditto.one_hot_of"


@dataclass(frozen=True)
class OneHotInput:
    argument: int
    """The function argument that takes the one-hot matrix."""
    source: int
    """The function argument holding the token ids."""
    depth: int
    """Vocabulary size (the one-hot's last dimension)."""
    shape: tuple[int, ...]


def one_hot_inputs(fn: func.FuncOp) -> list[OneHotInput]:
    """The one-hot arguments of `fn`, in argument order."""
    found = []
    attrs = fn.arg_attrs.data if fn.arg_attrs is not None else []
    for index, (arg, entries) in enumerate(zip(fn.args, attrs)):
        source = entries.data.get(ONE_HOT_ATTR)
        if isinstance(source, IntegerAttr) and isinstance(arg.type, TensorType):
            shape = tuple(arg.type.get_shape())
            found.append(OneHotInput(index, source.value.data, shape[-1], shape))
    return found


def encode_inputs(encodings: Sequence[OneHotInput], flat: Sequence[np.ndarray]) -> list[np.ndarray]:
    """The user's flat inputs followed by the encoded ones the program takes."""
    encoded = list(flat)
    for e in encodings:
        if e.argument != len(encoded):
            raise DittoError(f"one-hot input {e.argument} does not follow the {len(encoded)} inputs before it")
        ids = np.asarray(flat[e.source])
        if ids.dtype.kind not in "iu":
            raise DittoError(f"input {e.source} holds token ids but has dtype {ids.dtype}")
        if ids.size and (ids.min() < 0 or ids.max() >= e.depth):
            bad = int(ids.min() if ids.min() < 0 else ids.max())
            raise DittoError(f"input {e.source}: token id {bad} is outside the vocabulary [0, {e.depth})")
        one_hot = (ids.reshape(-1, 1) == np.arange(e.depth)).astype(np.float32)
        encoded.append(one_hot.reshape(e.shape))
    return encoded
