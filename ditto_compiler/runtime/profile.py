"""Per-op communication from SPU's profiler log, summed over the parties.

SPU's profiler writes one block per party to a process-wide log without naming
the party; per-op sums over all parties are nevertheless exact and deterministic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_OP_LINE = re.compile(
    r"- (\S+), executed (\d+) times, duration ([\d.e+-]+)s, send bytes (\d+) recv bytes \d+, send actions (\d+)"
)


@dataclass
class OpCost:
    executions: int = 0
    send_bytes: int = 0
    send_actions: int = 0


def per_op_costs(log_text: str) -> dict[str, OpCost]:
    """Op name -> totals over every party found in `log_text`, most bytes first."""
    totals: dict[str, OpCost] = {}
    for name, count, _seconds, sent, actions in _OP_LINE.findall(log_text):
        cost = totals.setdefault(name, OpCost())
        cost.executions += int(count)
        cost.send_bytes += int(sent)
        cost.send_actions += int(actions)
    return dict(sorted(totals.items(), key=lambda kv: -kv[1].send_bytes))
