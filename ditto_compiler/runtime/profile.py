"""Per-op communication from SPU's profiler log, summed over the parties.

SPU's profiler writes, after each program run, a block naming the program
("SPU execution NAME completed") followed by one line per op. In thread mode the
three parties share one process-wide log without saying who wrote a line; per-op
sums over all parties are nevertheless exact. Blocks are attributed to the
program named by the header above them; a party may, rarely, print its block
while a peer is still printing the previous program's, which can move a few
lines between programs but never changes the totals.
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
_HEADER = re.compile(r"SPU execution (\S+) completed")


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


def per_op_costs(log_text: str, include: str | None = None) -> dict[str, OpCost]:
    """Op name -> totals over every party in `log_text`, most bytes first; with `include`,
    only the ops of programs whose name matches that regular expression."""
    totals: dict[str, OpCost] = {}
    program = ""
    for line in log_text.splitlines():
        if header := _HEADER.search(line):
            program = header.group(1)
        elif (op := _OP_LINE.search(line)) and (include is None or re.fullmatch(include, program)):
            name, count, seconds, sent, actions = op.groups()
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
