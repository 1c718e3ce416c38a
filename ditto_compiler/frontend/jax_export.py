"""Lower a JAX function to StableHLO text and describe its flat inputs and outputs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import jax
import numpy as np
from jax.tree_util import PyTreeDef, keystr, tree_flatten_with_path, tree_leaves, tree_map, tree_structure

from ..diagnostics import DittoError


@dataclass(frozen=True)
class FlatSignature:
    """Leaves of the positional arguments in order, and how to rebuild the outputs."""

    paths: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]
    dtypes: tuple[np.dtype, ...]
    public: tuple[bool, ...]
    in_tree: PyTreeDef
    out_tree: PyTreeDef


def _first_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def public_mask(args: tuple[Any, ...], public: Any) -> list[bool]:
    """One flag per leaf of `args`.

    `public` is None (all secret), argument numbers (an int or a sequence of ints), or
    a pytree prefix of `args` with booleans (True marks a whole subtree public).
    Anything else is refused: a value that merely looks true must never make a
    secret public.
    """
    leaves = tree_leaves(args)
    if public is None:
        return [False] * len(leaves)
    if isinstance(public, (int, np.integer)) and not isinstance(public, (bool, np.bool_)):
        public = [int(public)]
    if isinstance(public, (list, tuple)) and all(
        isinstance(p, (int, np.integer)) and not isinstance(p, (bool, np.bool_)) for p in public
    ):
        for argnum in public:
            if not 0 <= argnum < len(args):
                raise DittoError(f"public argnum {argnum} out of range for {len(args)} arguments")
        return [flag for i, a in enumerate(args) for flag in [i in public] * len(tree_leaves(a))]
    for flag in tree_leaves(public):
        if not isinstance(flag, (bool, np.bool_)):
            raise DittoError(
                "`public` must be argument numbers (an int or a sequence of ints) or a pytree prefix of the "
                f"arguments with booleans; it holds {flag!r}"
            )
    try:
        expanded = tree_map(lambda flag, sub: [bool(flag)] * len(tree_leaves(sub)), public, args)
    except (ValueError, TypeError):  # JAX's message prints the arguments' values: name the structures instead
        raise DittoError(
            "`public` must be argument numbers or a pytree prefix of the arguments: the arguments are "
            f"{tree_structure(args)}, `public` is {tree_structure(public)}"
        ) from None
    return [bool(flag) for flag in tree_leaves(expanded)]  # the per-subtree lists flatten in leaf order


def export_stablehlo(fn: Callable[..., Any], args: Sequence[Any], public: Any = None) -> tuple[str, FlatSignature]:
    """StableHLO generic text of `jax.jit(fn)` at `args`, with debug locations."""
    args = tuple(args)
    try:
        lowered = jax.jit(fn, keep_unused=True).lower(*args)
    except Exception as e:  # JAX tracing errors carry their own explanation (its first line says what)
        raise DittoError(f"JAX could not lower the function: {type(e).__name__}: {_first_line(e)}") from None
    module = lowered.compiler_ir("stablehlo")
    text = module.operation.get_asm(print_generic_op_form=True, enable_debug_info=True, large_elements_limit=None)
    leaves_with_path, in_tree = tree_flatten_with_path(args)
    shapes, dtypes = [], []
    for _, leaf in leaves_with_path:
        aval = jax.core.get_aval(leaf) if not hasattr(leaf, "shape") or not hasattr(leaf, "dtype") else leaf
        shapes.append(tuple(aval.shape))
        dtypes.append(np.dtype(aval.dtype))
    signature = FlatSignature(
        paths=tuple(keystr(path) for path, _ in leaves_with_path),
        shapes=tuple(shapes),
        dtypes=tuple(dtypes),
        public=tuple(public_mask(args, public)),
        in_tree=in_tree,
        out_tree=lowered.out_tree,
    )
    return text, signature
