"""Per-op communication from SPU's profiler log, summed over the parties.

SPU's profiler writes one line per op after each program run. In thread mode the
three parties share one process-wide log without saying who wrote a line (and
their blocks may interleave), so only sums over all parties and all programs are
exact; that is what `per_op_costs` returns. Ditto's upcast protocol sends its
messages outside SPU: executors add them as the pseudo-op `UPCAST_PROTOCOL`, so
a cost's per-op bytes add up to its total.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from spu import libspu

_OP_LINE = re.compile(
    r"- (\S+), executed (\d+) times, duration ([\d.e+-]+)s, send bytes (\d+) recv bytes \d+, send actions (\d+)"
)
UPCAST_PROTOCOL = "ditto.upcast"
"""The messages of Ditto's upcast protocol (runtime/upcast.py), which are not SPU ops."""


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


def _most_bytes_first(totals: dict[str, OpCost]) -> dict[str, OpCost]:
    return dict(sorted(totals.items(), key=lambda kv: -kv[1].send_bytes))


def per_op_costs(log_text: str) -> dict[str, OpCost]:
    """Op name -> totals over every party and program in `log_text`, most bytes first."""
    totals: dict[str, OpCost] = {}
    for name, count, seconds, sent, actions in _OP_LINE.findall(log_text):
        totals.setdefault(name, OpCost()).add(OpCost(int(count), int(sent), int(actions), float(seconds)))
    return _most_bytes_first(totals)


def merge(*parts: dict[str, OpCost]) -> dict[str, OpCost]:
    totals: dict[str, OpCost] = {}
    for part in parts:
        for name, cost in part.items():
            totals.setdefault(name, OpCost()).add(cost)
    return _most_bytes_first(totals)


@contextmanager
def spu_profile_log() -> Iterator[Path]:
    """Send SPU's process-wide log (with the profiler's lines) to a scratch file while inside."""
    with tempfile.TemporaryDirectory(prefix="ditto-profile-") as scratch:
        path = Path(scratch) / "spu.log"
        options = libspu.logging.LogOptions()
        options.system_log_path = str(path)
        options.enable_console_logger = False
        libspu.logging.setup_logging(options)
        yield path
