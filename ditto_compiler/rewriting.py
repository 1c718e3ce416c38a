"""Rewriting that keeps source locations.

Diagnostics, JSON policy rules on `"location"` and the conversions' places in a plan
all read an op's location, so no pass may drop it: an op a rewrite creates without
a location of its own inherits the location of the op it rewrites (MLIR's fused
rewrites do the same). Patterns get this from `rewrite_walker`; code that inserts
ops by hand calls `inherit_location`.
"""

from __future__ import annotations

from collections.abc import Iterable

from xdsl.dialects.builtin import LocationAttr, UnknownLoc
from xdsl.ir import Operation
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
)


def inherit_location(ops: Operation | Iterable[Operation], location: LocationAttr) -> None:
    """Give `ops` (and the ops nested in them) `location` where they have none."""
    for op in [ops] if isinstance(ops, Operation) else ops:
        for inner in op.walk():
            if isinstance(inner.location, UnknownLoc):
                inner.location = location


class KeepLocations(RewritePattern):
    """`pattern`, with every op it inserts located where the matched op was."""

    def __init__(self, pattern: RewritePattern):
        self.pattern = pattern

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        def locate(new: Operation) -> None:
            inherit_location(new, op.location)

        rewriter.operation_insertion_handler.append(locate)
        try:
            self.pattern.match_and_rewrite(op, rewriter)
        finally:
            rewriter.operation_insertion_handler.remove(locate)


def rewrite_walker(*patterns: RewritePattern, apply_recursively: bool = True) -> PatternRewriteWalker:
    """A walker applying `patterns` greedily, keeping locations; ops a rewrite leaves dead are erased."""
    return PatternRewriteWalker(
        KeepLocations(GreedyRewritePatternApplier(list(patterns))), apply_recursively=apply_recursively
    )
