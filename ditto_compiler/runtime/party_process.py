"""One party of `mode="processes"`: `python -m ditto_compiler.runtime.party_process`.

Reads its job (runtime/processes.py `party_job`) from stdin, runs it over brpc, and
writes its answer to stdout (SPU and anything else that prints go to stderr). The
driver keeps stdin open while it waits; when stdin closes first, the driver is gone,
and the party removes its scratch directory and exits instead of waiting forever.
"""

from __future__ import annotations

import faulthandler
import os
import shutil
import sys
import tempfile
import threading
from pathlib import Path

from ..diagnostics import DittoError
from ..plan import Plan
from .netem import NETWORKS
from .party import first_line
from .processes import party_failure, party_result, run_party
from .profile import configure_spu_log
from .wire import read_message, share_from_wire

ORPHANED = 3
"""Exit code of a party whose driver went away."""


def _watch_driver(scratch: Path) -> None:
    """Exit as soon as the driver closes our stdin (it died, or gave up on this job)."""
    sys.stdin.buffer.read()
    shutil.rmtree(scratch, ignore_errors=True)
    os._exit(ORPHANED)


def main() -> int:
    faulthandler.enable(sys.stderr)
    answer = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # only the answer goes to the driver's pipe
    scratch = Path(tempfile.mkdtemp(prefix="ditto-party-"))
    log = scratch / "spu.log"
    try:
        header, blobs = read_message(sys.stdin.buffer, "the party's job")
        threading.Thread(target=_watch_driver, args=(scratch,), daemon=True).start()
        rank = header["rank"]
        plan = Plan.from_json(header["plan"], "the party's plan")
        shares = [share_from_wire(s, blobs, "the party's job") for s in header["inputs"]]
        configure_spu_log(log)
        outputs, steps = run_party(
            rank,
            plan,
            shares,
            header["addresses"],
            header["upcast"],
            int(header["recv_timeout_ms"]),
            NETWORKS[header["network"]] if header.get("network") is not None else None,
        )
        result = party_result(outputs, steps, log.read_text() if log.exists() else "")
    except (DittoError, KeyError, TypeError, ValueError) as e:
        result = party_failure(str(e) if isinstance(e, DittoError) else f"malformed job: {e!r}")
    except BaseException as e:  # SPU's errors, a peer's timeout: told to the driver
        result = party_failure(first_line(e), log.read_text() if log.exists() else "")
    answer.write(result)
    answer.flush()
    shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
