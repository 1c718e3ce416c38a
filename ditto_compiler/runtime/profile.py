"""Per-op communication from SPU's profiler log, summed over the parties.

SPU's profiler writes one line per op after each program run. In thread mode the
three parties share one process-wide log without saying who wrote a line (and
their blocks may interleave), so only sums over all parties and all programs are
exact; that is what `per_op_costs` returns. The conversion protocols send their
messages outside SPU: executors add them as the pseudo-op `CONVERSION_PROTOCOL`, so
a cost's per-op bytes add up to its total.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from spu import libspu

from .cost import OpCost, merge_ops

_OP_LINE = re.compile(
    r"- (\S+), executed (\d+) times, duration ([\d.e+-]+)s, send bytes (\d+) recv bytes \d+, send actions (\d+)"
)
_LINK_DETAILS = re.compile(r"Link details: total send bytes (\d+), recv bytes \d+, send actions (\d+)")


def per_op_costs(log_text: str) -> dict[str, OpCost]:
    """Op name -> totals over every party and program in `log_text`, most bytes first."""
    totals: dict[str, OpCost] = {}
    for name, count, seconds, sent, actions in _OP_LINE.findall(log_text):
        totals.setdefault(name, OpCost()).add(OpCost(int(count), int(sent), int(actions), float(seconds)))
    return merge_ops(totals)


def program_runs(log_text: str) -> list[tuple[int, int]]:
    """(send bytes, send actions) of each SPU program run in one party's log, in order."""
    return [(int(b), int(a)) for b, a in _LINK_DETAILS.findall(log_text)]


def configure_spu_log(path: str | Path) -> None:
    """Send SPU's process-wide log (with the profiler's lines) to `path`."""
    options = libspu.logging.LogOptions()
    options.system_log_path = str(path)
    options.enable_console_logger = False
    libspu.logging.setup_logging(options)


@contextmanager
def spu_profile_log() -> Iterator[Path]:
    """Send SPU's process-wide log to a scratch file while inside."""
    with tempfile.TemporaryDirectory(prefix="ditto-profile-") as scratch:
        path = Path(scratch) / "spu.log"
        configure_spu_log(path)
        yield path
