"""The `optimal` ring policy: every value's ring chosen to minimise the modelled cost.

With two rings, choosing a ring per op is an exact s-t minimum cut (Kolmogorov and
Zabih's construction for binary labellings with submodular pairwise terms). Source
side = the large ring, sink side = the small ring:

* op v: an edge s -> v weighted by v's cost in the small ring (cut when v is
  small) and v -> t weighted by its cost in the large ring (cut when v is large).
  A ring v cannot use (an op SPU's 32-bit runtime cannot run, an integer wider than
  the ring, a value that does not fit it on the calibration inputs) has no edge:
  an infinite weight.
* value u consumed by ops C(u): a conversion is paid once per value and direction,
  as `annotate-rings` creates it. An upcast node h_u with h_u -> u weighted by the
  upcast of u, and v -> h_u unbounded for v in C(u): if some consumer is large, h_u
  is on the source side, and cutting h_u -> u costs the upcast exactly when u is
  small. Symmetrically a downcast node g_u with u -> g_u weighted by the downcast
  and g_u -> v unbounded.

The cut's weight is the modelled cost of the program it labels, so the result is
never worse under the model than any other labelling that fits, `fxp64`
(everything large, no conversions) and `ditto` (where it fits) included. Costs come
from the measured model (cost_model.py), scalarised by `objective`: bytes, or the
time on the paper's LAN or WAN (rounds x RTT + the busiest party's bytes /
bandwidth + local seconds). Entry arguments are nodes too (sharing an input costs
nothing in either ring); public values take no part (they are encoded per use).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import networkx as nx
from xdsl.dialects import func
from xdsl.dialects.builtin import IntegerType, ModuleOp
from xdsl.ir import Block, Operation, SSAValue

from ..diagnostics import DittoError, describe_location
from ..dialects.secret import base_element_type, is_secret
from ..network import NETWORKS
from ..ring import RingConfig
from .auto_policy import Stats, check_options, fits_small_ring
from .ring_policy import LARGE, SMALL, RingPolicy

if TYPE_CHECKING:
    from ..cost_model import CostModel, Estimate

OBJECTIVES = ("bytes", "lan", "wan")


@dataclass(frozen=True)
class Placement:
    """What the cut chose for one op, and what that saves against the large ring."""

    op: str
    location: str | None
    ring: tuple[int, int]
    small_feasible: bool
    cost_large: float
    cost_small: float

    def as_dict(self) -> dict[str, object]:
        saved = self.cost_large - self.cost_small if self.ring[0] < LARGE.field_bits else 0.0
        return {
            "op": self.op,
            "location": self.location,
            "ring": list(self.ring),
            "small_ring_possible": self.small_feasible,
            "cost_large": self.cost_large,
            "cost_small": self.cost_small if math.isfinite(self.cost_small) else None,
            "saved": saved,
        }


@dataclass(frozen=True)
class Solution:
    policy: RingPolicy
    placements: list[Placement]
    cost: float
    """Modelled cost of the chosen labelling (conversions included), in the objective's unit."""
    cost_all_large: float
    """Modelled cost of everything in the large ring (`fxp64`)."""


def scalar(estimate: Estimate, objective: str) -> float:
    """`estimate` in the objective's unit: bytes, or seconds on the paper's LAN / WAN."""
    if objective == "bytes":
        return estimate.send_bytes
    busiest = estimate.send_bytes / 3  # every party sends about a third under ABY3
    return NETWORKS[objective].modelled_seconds(estimate.seconds, estimate.rounds, busiest)


def _elements(value: SSAValue) -> int:
    return math.prod(value.type.get_shape())  # type: ignore[union-attr]


def _fits_width(values: Sequence[SSAValue], ring: RingConfig) -> bool:
    for value in values:
        element = base_element_type(value.type)  # type: ignore[arg-type]
        if isinstance(element, IntegerType) and element.width.data > ring.field_bits:
            return False
    return True


def solve(
    module: ModuleOp,
    seen: dict[object, Stats],
    objective: str = "bytes",
    margin: float = 4.0,
    precision: int = 0,
    model: CostModel | None = None,
    small: RingConfig = SMALL,
    large: RingConfig = LARGE,
) -> Solution:
    """The cost-optimal labelling of the legalized `module` with rings `small` and `large`, under the value
    ranges `seen` (its `observed_stats`; see the module's docstring)."""
    if objective not in OBJECTIVES:
        raise DittoError(f"objective must be one of {', '.join(OBJECTIVES)}, not {objective!r}")
    check_options(margin, precision)
    if model is None:
        from ..cost_model import CostModel

        model = CostModel.load()
    entries = [op for op in module.ops if isinstance(op, func.FuncOp)]
    if len(entries) != 1:
        raise DittoError("policy optimal needs a module with exactly one function")
    entry = entries[0]

    nodes: list[Operation | SSAValue] = [a for a in entry.args if is_secret(a.type)]
    nodes += [op for op in entry.body.block.ops if any(is_secret(r.type) for r in op.results)]
    graph = nx.DiGraph()
    graph.add_nodes_from(["s", "t"])
    costs: dict[Operation | SSAValue, tuple[float, float, bool]] = {}
    for node in nodes:
        if isinstance(node, Operation):
            in_large = scalar(model.op(node, large), objective)
            small_ok = _fits_width([*node.operands, *node.results], small) and fits_small_ring(
                node, seen, margin, precision, small
            )
            in_small = scalar(model.op(node, small), objective) if small_ok else math.inf
        else:
            in_large = 0.0
            small_ok = _fits_width([node], small) and fits_small_ring_value(node, seen, margin, small)
            in_small = 0.0 if small_ok else math.inf
        if not math.isfinite(in_large):
            raise DittoError(
                f"the cost model has no finite cost for '{_name(node)}' in the {large.field_bits}-bit ring"
            )
        costs[node] = (in_large, in_small, small_ok and math.isfinite(in_small))
        graph.add_edge(node, "t", capacity=in_large)
        if math.isfinite(in_small):
            graph.add_edge("s", node, capacity=in_small)
        else:
            graph.add_edge("s", node)  # no capacity: unbounded
    members = set(nodes)
    for value in _secret_values(nodes):
        consumers = {use.operation for use in value.uses} & members
        if not consumers:
            continue
        up = scalar(model.conversion(_elements(value), small, large), objective)
        down = scalar(model.conversion(_elements(value), large, small), objective)
        producer = value if isinstance(value.owner, Block) else value.owner
        graph.add_edge(("up", value), producer, capacity=up)
        graph.add_edge(producer, ("down", value), capacity=down)
        for consumer in consumers:
            graph.add_edge(consumer, ("up", value))
            graph.add_edge(("down", value), consumer)
    try:
        cut, (large_side, _) = nx.minimum_cut(graph, "s", "t")
    except nx.NetworkXUnbounded:
        raise DittoError("no ring labelling has a finite modelled cost") from None

    decided: dict[Operation | SSAValue, RingConfig] = {}
    placements = []
    for node in nodes:
        ring = large if node in large_side else small
        decided[node] = ring
        cost_large, cost_small, small_ok = costs[node]
        if isinstance(node, Operation):
            placements.append(
                Placement(
                    node.name, describe_location(node.location), (ring.field_bits, ring.fraction_bits),
                    small_ok, cost_large, cost_small,
                )
            )  # fmt: skip
    total_large = sum(c[0] for c in costs.values())
    return Solution(RingPolicy("optimal", small, large, decided=decided), placements, float(cut), total_large)


def fits_small_ring_value(value: SSAValue, seen: dict[object, object], margin: float, small: RingConfig) -> bool:
    """An entry argument fits the small ring (its values, not a product's)."""
    stats = seen.get(value)
    if stats is None:
        return False
    bound = 2.0 ** (small.field_bits - 2 - small.fraction_bits)
    return stats.max_abs * margin < bound  # type: ignore[attr-defined]


def _secret_values(nodes: Sequence[Operation | SSAValue]) -> list[SSAValue]:
    values: list[SSAValue] = []
    for node in nodes:
        outputs = node.results if isinstance(node, Operation) else [node]
        values += [v for v in outputs if is_secret(v.type)]
    return values


def _name(node: Operation | SSAValue) -> str:
    return node.name if isinstance(node, Operation) else "argument"
