"""One party process: `python -m ditto_compiler.runtime.party_process SCRATCH` (processes.spawn_party).

Reads jobs (runtime/processes.py `job_message`) from stdin, each a length-prefixed frame,
runs each over its links and writes each answer, length-prefixed, to stdout (SPU and
anything else that prints go to stderr). A job that keeps its links leaves them open
for the next job (a resident party, runtime/server.py); any other job is the process's
last. The process exits
- with 0 when stdin ends between jobs, or after its last job;
- with FAILED after a failed job that kept its links (they may be broken: its server
  starts a fresh process);
- at once with ORPHANED when stdin closes while a job runs (the driver is gone), after
  removing its scratch directory.
It leaves through `os._exit`: SPU's link threads are never torn down under a live peer.
"""

from __future__ import annotations

import faulthandler
import os
import shutil
import sys
import threading
from pathlib import Path
from typing import IO, Any

from threadpoolctl import threadpool_limits

from ..diagnostics import DittoError
from ..network import NETWORKS
from ..plan import Plan
from .party import WORLD_SIZE, first_line
from .processes import PartyLinks, party_failure, party_result, run_job
from .profile import configure_spu_log
from .tls import Identity
from .wire import decode_message, read_frame, share_from_wire, write_frame

ORPHANED = 3
"""Exit code of a party whose driver went away."""
FAILED = 4
"""Exit code of a resident party after a failed job."""


class _Party:
    def __init__(self, scratch: Path, answers: IO[bytes]):
        self.scratch, self.answers = scratch, answers
        self.log = scratch / "spu.log"
        configure_spu_log(self.log)
        self.links: PartyLinks | None = None

    def job(self, frames: list[bytes]) -> tuple[bool, bool]:
        """Run the job in `frames` (taken out, so that its bytes are freed once decoded) and write its
        answer: (succeeded, keeps its links)."""
        keep, start = False, self.log.stat().st_size if self.log.exists() else 0
        try:
            header, blobs = decode_message(frames.pop(), "the party's job")
            keep = header.get("keep_links") is True
            plan = Plan.from_json(header["plan"], "the party's plan")
            shares = [share_from_wire(s, blobs, "the party's job") for s in header["inputs"]]
            del blobs  # the shares hold their own copies
            links = self._links(header)
            outputs, steps = run_job(plan, shares, links, header["upcast"])
            if not keep:
                links.close()
            answer, ok = party_result(outputs, steps, self._log_since(start)), True
        except (DittoError, KeyError, TypeError, ValueError) as e:
            answer, ok = party_failure(str(e) if isinstance(e, DittoError) else f"malformed job: {e!r}"), False
        except BaseException as e:  # SPU's errors, a peer's timeout: told to the driver
            answer, ok = party_failure(first_line(e), self._log_since(start)), False
        write_frame(self.answers, answer)
        return ok, keep

    def _links(self, header: dict[str, Any]) -> PartyLinks:
        tls = header.get("tls")
        if header["rank"] not in range(WORLD_SIZE) or isinstance(header["rank"], bool):
            raise DittoError(f"the job's rank must be 0, 1 or 2, not {header['rank']!r}")
        wanted = PartyLinks(
            header["rank"],
            header["addresses"],
            int(header["recv_timeout_ms"]),
            NETWORKS[header["network"]] if header.get("network") is not None else None,
            None if tls is None else Identity(Path(tls["cert"]), Path(tls["key"]), Path(tls["ca"])),
        )
        if self.links is None or (self.links.rank, self.links.addresses) != (wanted.rank, wanted.addresses):
            self.links = wanted
        return self.links

    def _log_since(self, offset: int) -> str:
        if not self.log.exists():
            return ""
        with self.log.open(errors="replace") as f:
            f.seek(offset)
            return f.read()

    def leave(self, code: int) -> None:
        self.answers.flush()
        shutil.rmtree(self.scratch, ignore_errors=True)
        sys.stderr.flush()
        os._exit(code)


def main() -> None:
    faulthandler.enable(sys.stderr)
    threadpool_limits(1, user_api="blas")  # runtime/matmul.py: one BLAS thread per party (its docstring)
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # only answers go to the driver's pipe
    party = _Party(Path(sys.argv[1]), answers)

    def run(frames: list[bytes]) -> None:
        ok, keep = party.job(frames)
        if not keep:
            party.leave(0)
        if not ok:
            party.leave(FAILED)

    jobs = sys.stdin.buffer
    try:
        frame = read_frame(jobs, "the party's jobs")
        while frame is not None:
            worker = threading.Thread(target=run, args=([frame],), daemon=True)
            frame = None
            worker.start()
            following = read_frame(jobs, "the party's jobs")  # the next job, or the end of stdin
            if following is None and worker.is_alive():
                party.leave(ORPHANED)
            worker.join()
            frame = following
    except DittoError as e:  # a malformed frame from the driver
        print(f"party process: {e}", file=sys.stderr)
        party.leave(FAILED)
    party.leave(0)


if __name__ == "__main__":
    main()
