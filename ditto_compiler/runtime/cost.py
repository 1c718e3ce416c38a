"""What one secure execution cost: per party, per ring (and conversions) and per PPHLO op.

SPU's ABY3 assigns protocol roles at random, so a few messages move between
parties from run to run; totals over the parties do not. Hence `send_bytes` and
`send_actions` sum all parties (deterministic); `rounds` is send actions per party,
averaged over the three (deterministic); `seconds` is the slowest party's time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

CONVERSION_PROTOCOL = "ditto.conversion"
"""The messages of the ring-conversion protocols (runtime/upcast.py, runtime/downcast.py), counted as one
pseudo-op."""
MATMUL_PROTOCOL = "ditto.matmul"
"""The messages of the matmul steps (runtime/matmul.py), counted as one pseudo-op."""


@dataclass
class PartyCost:
    send_bytes: int = 0
    send_actions: int = 0
    seconds: float = 0.0

    def add(self, other: PartyCost) -> None:
        self.send_bytes += other.send_bytes
        self.send_actions += other.send_actions
        self.seconds += other.seconds


@dataclass
class OpCost:
    executions: int = 0
    send_bytes: int = 0
    send_actions: int = 0
    seconds: float = 0.0

    def add(self, other: OpCost) -> None:
        self.executions += other.executions
        self.send_bytes += other.send_bytes
        self.send_actions += other.send_actions
        self.seconds += other.seconds


def merge_ops(*parts: dict[str, OpCost]) -> dict[str, OpCost]:
    """Per-op totals over `parts`, most bytes first."""
    totals: dict[str, OpCost] = {}
    for part in parts:
        for name, cost in part.items():
            totals.setdefault(name, OpCost()).add(cost)
    return dict(sorted(totals.items(), key=lambda kv: -kv[1].send_bytes))


@dataclass
class Cost:
    """Communication and time of one secure execution (see the module's docstring)."""

    parties: list[PartyCost] = field(default_factory=list)
    by_ring: dict[str, Cost] = field(default_factory=dict)
    """The same figures for each ring's runtime ("32-bit", "64-bit") and for "conversions"."""
    by_op: dict[str, OpCost] = field(default_factory=dict)
    """PPHLO op name -> SPU's profile of it, over all parties, rings and conversion programs,
    plus `ditto.conversion` for the conversion protocols' own messages; most bytes first. The bytes
    add up to `send_bytes`."""

    @property
    def send_bytes(self) -> int:
        return sum(p.send_bytes for p in self.parties)

    @property
    def send_actions(self) -> int:
        return sum(p.send_actions for p in self.parties)

    @property
    def rounds(self) -> float:
        return self.send_actions / len(self.parties) if self.parties else 0.0

    @property
    def seconds(self) -> float:
        return max((p.seconds for p in self.parties), default=0.0)

    def to_json(self) -> dict[str, Any]:
        return {
            "send_bytes": self.send_bytes,
            "send_actions": self.send_actions,
            "rounds": self.rounds,
            "seconds": self.seconds,
            "parties": [p.__dict__ for p in self.parties],
            "by_ring": {name: part.to_json() for name, part in self.by_ring.items()},
            "by_op": {name: op.__dict__ for name, op in self.by_op.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Cost:
        return cls(
            [PartyCost(**p) for p in data["parties"]],
            {name: cls.from_json(part) for name, part in data.get("by_ring", {}).items()},
            {name: OpCost(**op) for name, op in data.get("by_op", {}).items()},
        )


def sum_costs(*costs: Cost) -> Cost:
    """The cost of runs one after another (a step's ring conversions, then its program)."""
    parties = [PartyCost() for _ in range(max(len(c.parties) for c in costs))]
    for cost in costs:
        for total, party in zip(parties, cost.parties):
            total.add(party)
    names = dict.fromkeys(name for cost in costs for name in cost.by_ring)
    by_ring = {name: sum_costs(*(c.by_ring[name] for c in costs if name in c.by_ring)) for name in names}
    return Cost(parties, by_ring, merge_ops(*(c.by_op for c in costs)))
