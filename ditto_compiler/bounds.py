"""Bounds on PPHLO values proved from the IR alone: what `bounded-exp` and `legalize-to-pphlo`'s exp guard rely on.

A lower bound comes from `max(x, c)` or `select(x < c, c, x)` with a public constant c; an
upper bound from constants, maxima of bounded values, and `x - m` where m is x's own
maximum over some dimensions broadcast back to where each element came from (what
`jax.nn.softmax` exports), checked dimension by dimension.
"""

from __future__ import annotations

from xdsl.ir import SSAValue

from .dialects import pphlo


def _select_floor(value: SSAValue) -> tuple[SSAValue, float] | None:
    """(x, c) when `value` is select(x < c, c, x) with a public constant c."""
    owner = value.owner
    if not isinstance(owner, pphlo.SelectOp) or not isinstance(less := owner.pred.owner, pphlo.LessOp):
        return None
    bound = pphlo.splat_value(owner.on_true)
    if bound is None or less.lhs is not owner.on_false or pphlo.splat_value(less.rhs) != bound:
        return None
    return owner.on_false, bound


def lower_bound(value: SSAValue) -> float | None:
    """A constant that every element of `value` is at least, where the IR proves one."""
    if (constant := pphlo.splat_value(value)) is not None:
        return constant
    if (floored := _select_floor(value)) is not None:
        return floored[1]
    if isinstance(owner := value.owner, pphlo.MaxOp):
        bounds = [b for v in owner.operands if (b := lower_bound(v)) is not None]
        return max(bounds) if bounds else None
    return None


def upper_bound(value: SSAValue) -> float | None:
    """A constant that every element of `value` is at most, where the IR proves one."""
    if (constant := pphlo.splat_value(value)) is not None:
        return constant
    if (floored := _select_floor(value)) is not None:
        above = upper_bound(floored[0])
        return None if above is None else max(above, floored[1])
    owner = value.owner
    if isinstance(owner, pphlo.MaxOp):
        bounds = [upper_bound(v) for v in owner.operands]
        return None if None in bounds else max(bounds)  # type: ignore[type-var]
    if isinstance(owner, pphlo.SubtractOp) and dominates(owner.rhs, owner.lhs):
        return 0.0
    return None


def _is_max_body(reduce: pphlo.ReduceOp) -> bool:
    ops = list(reduce.body.block.ops)
    return (
        len(ops) == 2
        and isinstance(ops[0], pphlo.MaxOp)
        and set(ops[0].operands) == set(reduce.body.block.args)
        and tuple(ops[1].operands) == (ops[0].results[0],)
    )


def _unit_free(shape: tuple[int, ...]) -> list[int]:
    return [i for i, n in enumerate(shape) if n != 1]


def dominates(bound: SSAValue, x: SSAValue) -> bool:
    """bound[i] >= x[i] for every i: `bound` is x's maximum over some dimensions (possibly maxed with other
    values), broadcast back so that every kept dimension lands where it came from."""
    shape = x.type.get_shape()  # type: ignore[union-attr]
    return bound.type.get_shape() == shape and _dominates(bound, x, list(range(len(shape))))  # type: ignore[union-attr]


def _dominates(value: SSAValue, x: SSAValue, lands: list[int]) -> bool:
    """`dominates`, where dimension i of `value` lands on dimension lands[i] of x (-1: on none)."""
    owner = value.owner
    if isinstance(owner, pphlo.BroadcastOp):
        return _dominates(owner.operand, x, [lands[d] for d in owner.broadcast_dimensions.get_values()])
    if isinstance(owner, pphlo.ReshapeOp):
        src, dst = owner.operand.type.get_shape(), owner.result.type.get_shape()  # type: ignore[union-attr]
        kept_src, kept_dst = _unit_free(src), _unit_free(dst)
        if [src[i] for i in kept_src] != [dst[i] for i in kept_dst]:
            return False  # a reshape that regroups dimensions
        moved = dict(zip(kept_src, (lands[i] for i in kept_dst)))
        return _dominates(owner.operand, x, [moved.get(i, -1) for i in range(len(src))])
    if isinstance(owner, pphlo.MaxOp):
        return any(_dominates(v, x, lands) for v in owner.operands)
    if isinstance(owner, pphlo.ReduceOp):
        if len(owner.inputs) != 1 or owner.inputs[0] is not x or not _is_max_body(owner):
            return False
        shape = x.type.get_shape()  # type: ignore[union-attr]
        reduced = set(owner.dimensions.get_values())
        kept = [d for d in range(len(shape)) if d not in reduced]
        return all(lands[j] == d or shape[d] == 1 for j, d in enumerate(kept))
    return False
