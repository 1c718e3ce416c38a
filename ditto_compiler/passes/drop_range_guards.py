"""`drop-range-guards`: range guards that the calibration inputs never trip are removed.

Legalization guards an SPU kernel whose input range is narrower than the ring's: rsqrt
is right only below 2^f, so its input is compared with public bounds (`x >= bounds`,
marked RANGE_GUARD_ATTR) and selects on the flags rescale it (RsqrtToPPHLO). The
comparison costs a secure comparison's rounds per norm, about 25 on the 64-bit ring: on
MiniLM's 13 norms, 330 of 3,025 rounds. A LayerNorm's variance on real text stays far
below the bounds, so there the guard is pure cost.

A guard is dropped when its input's largest |value| on the calibration inputs, times
`margin`, stays below its smallest bound: the rule (and margin) by which `auto` and
`optimal` trust a value to fit the 32-bit ring. Its flags are then false on every input
the policy trusts, so every select on them takes its unflagged operand, and the
comparison, the flags and the rescaling become dead and are erased. An input beyond the
margin would make the kernel wrong, as it would overflow the small ring; fixed policies
(`fxp64`, `ditto`) have no calibration and keep every guard.

Runs on legalized PPHLO, before `annotate-rings`; `compile` runs it for the calibrated
policies on the same observed ranges as their ring choice (one emulation).
"""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)

from ..diagnostics import DittoError, op_error
from ..dialects import pphlo
from ..interpreter import constant_values
from ..rewriting import KeepLocations
from ..ring import RANGE_GUARD_ATTR
from .auto_policy import UNKNOWN, Stats, check_options, load_calibration, observed_stats
from .fold_identity_products import refuse_ring_types

_MOVES = (pphlo.SliceOp, pphlo.ReshapeOp, pphlo.BroadcastOp)


def _source(value: SSAValue) -> Operation | None:
    """The op that made `value`, seen through slices, reshapes and broadcasts (None for a block argument)."""
    owner = value.owner
    while isinstance(owner, _MOVES):
        owner = owner.operands[0].owner
    return owner if isinstance(owner, Operation) else None


def guard_bound(guard: Operation) -> float:
    """The smallest bound of a marked `x >= bounds` (a diagnostic if it is not one)."""
    bounds = _source(guard.operands[1]) if isinstance(guard, pphlo.GreaterEqualOp) else None
    if not isinstance(bounds, pphlo.ConstantOp):
        raise op_error(guard, f"is marked {RANGE_GUARD_ATTR} but is not a comparison x >= public constant bounds")
    return float(constant_values(bounds).min())


def never_trips(guard: Operation, seen: dict[object, Stats], margin: float) -> bool:
    """On the calibration inputs behind `seen`, `guard`'s input times `margin` stays below its smallest bound."""
    return seen.get(guard.operands[0].owner, UNKNOWN).max_abs * margin < guard_bound(guard)


@dataclass(frozen=True)
class SelectUnflagged(RewritePattern):
    """select(flag, a, b) -> b, where the flag comes (through slices and reshapes) from a dropped guard."""

    dropped: Set[Operation]

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: pphlo.SelectOp, rewriter: PatternRewriter) -> None:
        if _source(op.pred) in self.dropped:
            rewriter.replace(op, [], [op.on_false])


def drop_range_guards(module: ModuleOp, seen: dict[object, Stats], margin: float = 4.0) -> int:
    """Remove from the legalized `module` the guards that never trip on the inputs `seen` was observed on
    (see the module's docstring); how many were dropped."""
    check_options(margin, 0)
    dropped = frozenset(
        op for op in module.walk() if RANGE_GUARD_ATTR in op.attributes and never_trips(op, seen, margin)
    )
    if dropped:
        # The applier erases the ops the selects leave dead: flags, comparison, rescaling.
        applier = GreedyRewritePatternApplier([KeepLocations(SelectUnflagged(dropped))], dce_enabled=True)
        PatternRewriteWalker(applier).rewrite_module(module)
        kept = [op for op in dropped if op.parent is not None]
        if kept:
            raise op_error(kept[0], "is a range guard whose flags are used by something other than selects")
    return len(dropped)


@dataclass(frozen=True)
class DropRangeGuardsPass(ModulePass):
    name = "drop-range-guards"

    calibration: str = ""
    """An .npz of the entry function's inputs (numpy.savez(path, *inputs)), as for annotate-rings."""
    margin: float = 4.0
    """A guard goes when its input's largest |value| times margin stays below its smallest bound."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        refuse_ring_types(op, self.name)
        if not self.calibration:
            raise DittoError("drop-range-guards needs calibration inputs (drop-range-guards{calibration=FILE})")
        drop_range_guards(op, observed_stats(op, load_calibration(self.calibration)), self.margin)
