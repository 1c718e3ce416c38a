"""Three party processes on loopback, talking over SPU's brpc links.

The driver secret-shares the inputs and starts one process per party from the
package's own entry point (`python -m ditto_compiler.runtime.party_process`), so
the user's script is never re-imported: scripts without an `if __name__ ==
"__main__"` guard and scripts read from stdin work. It sends each party its job
(the plan's JSON and only that party's input shares) on the party's stdin and keeps
the pipe open: a party whose driver dies sees the pipe close, removes its scratch
directory and exits. Each party opens one brpc link per ring (and one for Ditto's
upcast protocol), runs the steps (runtime/party.py) and writes its output shares
and its traffic to stdout. A party that dies or never connects makes the others
fail when a receive times out, and the driver reports which party failed and why.

Traffic on SPU's links is read from each party's own profiler log (one log per
process, so every line is that party's); protocol messages are counted as sent.
"""

from __future__ import annotations

import io
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import spu.api as spu_api
from spu import libspu

from ..diagnostics import DittoError
from ..network import Network
from ..plan import Plan
from .cost import Cost, PartyCost
from .netem import emulated_link
from .party import (
    SEED_PAIRS,
    WORLD_SIZE,
    ProtocolLink,
    categories,
    check_upcast,
    execute_steps,
    plan_cost,
    reconstruct,
    share_inputs,
    spu_runs,
    spu_runtime_config,
)
from .profile import per_op_costs, program_runs
from .tls import Identity
from .upcast import SEED_BYTES, PairSeeds
from .wire import decode_message, encode_message, read_frame, share_from_wire, share_to_wire, write_frame


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def link_names(plan: Plan) -> list[str]:
    return [*(f"ring{k}" for k in plan.rings), "protocol"]


def _brpc(
    link_id: str, addresses: Sequence[str], rank: int, recv_timeout_ms: int, identity: Identity | None
) -> libspu.link.Context:
    desc = libspu.link.Desc()
    desc.id = link_id
    desc.recv_timeout_ms = recv_timeout_ms
    # Connecting retries for at most the receive timeout, then gives up (no lingering retries).
    desc.connect_retry_times = max(4, recv_timeout_ms // 250)
    desc.connect_retry_interval_ms = 250
    for r, address in enumerate(addresses):
        desc.add_party(f"party{r}", address)
    if identity is not None:
        identity.configure_link(desc)
    return libspu.link.create_brpc(desc, rank)


class _BrpcChannel:
    """A peer on the protocol link; SPU's link keeps messages in order per pair."""

    def __init__(self, context: libspu.link.Context, peer: int, counts: PartyCost):
        self.context, self.peer, self.counts = context, peer, counts

    def SendAsync(self, key: str, data: bytes) -> None:  # noqa: N802 (the channel interface)
        self.counts.send_bytes += len(data)
        self.counts.send_actions += 1
        self.context.send(self.peer, data)

    def Recv(self, key: str) -> bytes:  # noqa: N802
        return bytes(self.context.recv(self.peer))


@dataclass
class PartyLinks:
    """One party's links to the others: one SPU link per ring width and one for the conversion protocols
    ("ring32", "ring64", "protocol"), each opened when a job first needs it and kept for the
    next jobs (a resident party) until `close`. Over `network` they are emulated (runtime/netem.py),
    with `identity` they are TLS (runtime/tls.py)."""

    rank: int
    addresses: dict[str, list[str]]
    recv_timeout_ms: int
    network: Network | None = None
    identity: Identity | None = None
    opened: dict[str, libspu.link.Context] = field(default_factory=dict)

    def open(self, names: Sequence[str]) -> None:
        """Open the links `names` not yet open, at once: each takes about a second to connect."""
        missing = [name for name in names if name not in self.opened]
        for name in missing:
            if name not in self.addresses:
                raise DittoError(f"party {self.rank} has no addresses for link {name}")
        with ThreadPoolExecutor(max_workers=max(1, len(missing))) as pool:
            contexts = list(pool.map(self._connect, missing))  # the first failure is raised here
        self.opened.update(zip(missing, contexts))

    def _connect(self, name: str) -> libspu.link.Context:
        group, link_id = self.addresses[name], f"ditto-{name}"
        if self.network is None:
            return _brpc(link_id, group, self.rank, self.recv_timeout_ms, self.identity)
        return emulated_link(link_id, group, self.rank, self.network, self.recv_timeout_ms / 1000)

    def __getitem__(self, name: str) -> libspu.link.Context:
        self.open([name])
        return self.opened[name]

    def close(self) -> None:
        """Async sends may still be queued; closing a link before its peers have them loses
        their last messages. stop_link waits until every party's sends are delivered."""
        for context in self.opened.values():
            context.stop_link()
        self.opened.clear()


def run_job(
    plan: Plan, input_shares: list[libspu.Share], links: PartyLinks, upcast: str
) -> tuple[list[libspu.Share], list[dict[str, Any]]]:
    """One party's run of `plan` over `links`: its output shares and each step's protocol traffic and time.

    SPU's own traffic goes to this process's SPU log (runtime/profile.configure_spu_log).
    """
    rank = links.rank
    links.open([*(f"ring{k}" for k in plan.rings), "protocol"])
    runtimes = {
        k: spu_api.Runtime(links[f"ring{k}"], spu_runtime_config(ring, plan.spu_options))
        for k, ring in plan.rings.items()
    }
    protocol = links["protocol"]
    # Setup: each pair agrees on its own seed for this job over its link; nobody else learns it.
    seeds = {}
    for low, high in SEED_PAIRS:
        if rank == low:
            seed = secrets.token_bytes(SEED_BYTES)
            protocol.send(high, seed)
            seeds[(low, high)] = seed
        elif rank == high:
            seeds[(low, high)] = bytes(protocol.recv(low))
            if len(seeds[(low, high)]) != SEED_BYTES:
                raise DittoError(f"party {rank}: party {low} sent a malformed pair seed")
    counts = PartyCost()
    peers = {peer: _BrpcChannel(protocol, peer, counts) for peer in range(WORLD_SIZE) if peer != rank}
    link = ProtocolLink(rank, PairSeeds(seeds), peers)
    steps: list[dict[str, Any]] = []

    @contextmanager
    def measure(category: str) -> Iterator[None]:
        bytes0, actions0, start = counts.send_bytes, counts.send_actions, time.perf_counter()
        yield
        steps.append(
            {
                "category": category,
                "send_bytes": counts.send_bytes - bytes0,
                "send_actions": counts.send_actions - actions0,
                "seconds": time.perf_counter() - start,
            }
        )

    return execute_steps(plan, runtimes, link, input_shares, upcast, measure), steps


def process_cost(plan: Plan, upcast: str, steps: list[list[dict[str, Any]]], logs: list[str]) -> Cost:
    """Attribute each party's logged SPU runs to the steps that made them, plus protocol messages."""
    runs_per_step = spu_runs(plan, upcast)
    spent = {c: [PartyCost() for _ in range(WORLD_SIZE)] for c in categories(plan)}
    protocol = PartyCost()
    for rank in range(WORLD_SIZE):
        runs = iter(program_runs(logs[rank]))
        for step, count in zip(steps[rank], runs_per_step):
            record = spent[step["category"]][rank]
            for _ in range(count):
                spu_bytes, spu_actions = next(runs, (0, 0))
                record.add(PartyCost(spu_bytes, spu_actions))
            messages = PartyCost(step["send_bytes"], step["send_actions"])
            record.add(PartyCost(messages.send_bytes, messages.send_actions, step["seconds"]))
            protocol.add(messages)
    by_op = per_op_costs("\n".join(logs))
    return plan_cost(plan, spent, by_op, protocol, upcast)


def party_job(
    rank: int,
    plan_json: dict[str, Any],
    shares: Sequence[Sequence[libspu.Share]],
    addresses: dict[str, list[str]],
    upcast: str,
    recv_timeout_s: float,
    network: Network | None = None,
) -> bytes:
    """What a party receives: the plan, only its own input shares, and the network to emulate (if any)."""
    return job_message(rank, plan_json, [s[rank] for s in shares], addresses, upcast, recv_timeout_s, network)


def job_message(
    rank: int,
    plan_json: dict[str, Any],
    own_shares: Sequence[libspu.Share],
    addresses: dict[str, list[str]],
    upcast: str,
    recv_timeout_s: float,
    network: Network | None = None,
    identity: Identity | None = None,
    keep_links: bool = False,
) -> bytes:
    """A job for one party process (runtime/party_process.py): its own shares of every input, its links
    (emulated over `network`, TLS with `identity`), and whether to keep them open for the next job."""
    blobs: list[bytes] = []
    header = {
        "rank": rank,
        "plan": plan_json,
        "inputs": [share_to_wire(share, blobs) for share in own_shares],
        "addresses": addresses,
        "upcast": upcast,
        "recv_timeout_ms": int(recv_timeout_s * 1000),
        "network": network.name if network is not None else None,
        "tls": None
        if identity is None
        else {"cert": str(identity.cert), "key": str(identity.key), "ca": str(identity.ca)},
        "keep_links": keep_links,
    }
    return encode_message(header, blobs)


def party_result(outputs: list[libspu.Share], steps: list[dict[str, Any]], log: str, kept: Sequence[int] = ()) -> bytes:
    """A party's answer: its shares of the outputs, but for those it `kept` (numbered) as the client's state."""
    blobs: list[bytes] = []
    header = {
        "status": "ok",
        "outputs": [share_to_wire(s, blobs) for s in outputs],
        "kept": list(kept),
        "steps": steps,
        "log": log,
    }
    return encode_message(header, blobs)


def party_failure(message: str, log: str = "") -> bytes:
    return encode_message({"status": "error", "message": message, "log": log}, [])


def read_result(
    plan: Plan, data: bytes, rank: int, kept: Sequence[int] = ()
) -> tuple[list[libspu.Share], list[dict[str, Any]], str] | tuple[None, str, str]:
    """A party's answer: (output shares, steps, log), or (None, its error, log). The outputs numbered in `kept`
    stayed in the party (runtime/server.py's secret state), so the answer has the others only."""
    header, blobs = decode_message(data, f"party {rank}'s answer")
    log = header.get("log", "")
    if header.get("status") != "ok":
        return None, str(header.get("message", "no reason given")), log
    if header.get("kept", []) != sorted(kept):
        raise DittoError(f"party {rank} kept outputs {header.get('kept')!r}, not {sorted(kept)!r}")
    outputs = header.get("outputs")
    expected = len(plan.outputs) - len(kept)
    if not isinstance(outputs, list) or len(outputs) != expected:
        raise DittoError(f"party {rank} answered with {len(outputs or [])} outputs, expected {expected}")
    steps = header.get("steps")
    if not isinstance(steps, list) or len(steps) != len(plan.steps):
        raise DittoError(f"party {rank} reported {len(steps or [])} steps, the plan has {len(plan.steps)}")
    return [share_from_wire(o, blobs, f"party {rank}'s answer") for o in outputs], steps, log


def spawn_party(**streams: Any) -> tuple[subprocess.Popen[bytes], Path]:
    """A party process (runtime/party_process.py) and its scratch directory. The caller removes the directory once
    the process has exited: a killed party cannot."""
    scratch = Path(tempfile.mkdtemp(prefix="ditto-party-"))
    command = [sys.executable, "-m", "ditto_compiler.runtime.party_process", str(scratch)]
    return subprocess.Popen(command, **streams), scratch


class _Party:
    """A party process and what it said."""

    def __init__(self, rank: int, job: bytes):
        self.rank = rank
        self.process, self.scratch = spawn_party(stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.answer = b""
        self.errors = b""
        self._readers = [
            threading.Thread(target=self._read, args=("answer", self.process.stdout), daemon=True),
            threading.Thread(target=self._read, args=("errors", self.process.stderr), daemon=True),
        ]
        for reader in self._readers:
            reader.start()
        assert self.process.stdin is not None
        try:
            write_frame(self.process.stdin, job)
        except OSError:
            pass  # it died at once; its exit code says why
        # stdin stays open: the party exits when it closes (the driver is gone).

    def _read(self, attribute: str, stream: Any) -> None:
        setattr(self, attribute, stream.read())

    def result(self, plan: Plan) -> tuple[list[libspu.Share], list[dict[str, Any]], str] | tuple[None, str, str]:
        answer = read_frame(io.BytesIO(self.answer), f"party {self.rank}'s answer")
        if answer is None:
            raise DittoError(f"party {self.rank} answered nothing")
        return read_result(plan, answer, self.rank)

    def finish(self) -> None:
        for reader in self._readers:
            reader.join()
        if self.process.stdin is not None:
            self.process.stdin.close()
        shutil.rmtree(self.scratch, ignore_errors=True)

    def why_it_died(self) -> str:
        code = self.process.returncode
        reason = f"party {self.rank} exited with code {code}" + (" (killed)" if code == -9 else "")
        crash = [line for line in self.errors.decode(errors="replace").splitlines() if line.strip()]
        fatal = next((line for line in crash if "Fatal Python error" in line or "Error" in line), None)
        return f"{reason} ({fatal.strip()})" if fatal else reason


def run_in_processes(
    plan: Plan,
    inputs: Sequence[np.ndarray],
    upcast: str = "ditto",
    recv_timeout_s: float = 30.0,
    kill: tuple[int, float] | None = None,
    network: Network | None = None,
) -> tuple[list[np.ndarray], Cost]:
    """Execute `plan` on `inputs` (encodings applied) with one process per party on loopback.

    `network` makes every message between the parties cross an emulated network (runtime/netem.py).
    `kill=(rank, seconds)` kills that party after the delay (to test failure handling).
    """
    check_upcast(upcast)
    shares = share_inputs(plan, inputs)
    names = link_names(plan)
    ports = {name: free_ports(WORLD_SIZE) for name in names}
    addresses = {name: [f"127.0.0.1:{port}" for port in group] for name, group in ports.items()}
    plan_json = plan.to_json()
    parties: list[_Party] = []
    first_dead: _Party | None = None  # the root cause when a party dies
    try:
        for rank in range(WORLD_SIZE):
            parties.append(_Party(rank, party_job(rank, plan_json, shares, addresses, upcast, recv_timeout_s, network)))
        del shares  # each party has its own now (a large model's shares are several GB)
        if kill is not None:
            time.sleep(kill[1])
            parties[kill[0]].process.kill()
        died_at = 0.0
        while [p.process.poll() for p in parties].count(None):
            if first_dead is None:
                first_dead = next((p for p in parties if p.process.returncode not in (None, 0)), None)
                died_at = time.monotonic()
            # A dead party: the others fail on their next receive; don't wait longer than that.
            if first_dead is not None and time.monotonic() - died_at > recv_timeout_s + 5:
                break
            time.sleep(0.05)
        if first_dead is None:
            first_dead = next((p for p in parties if p.process.returncode not in (None, 0)), None)
    finally:
        for p in parties:
            if p.process.poll() is None:
                p.process.kill()
            p.process.wait()
            p.finish()
    if first_dead is not None and not first_dead.answer:
        # The cause: the others fail (or are stopped) because it stopped answering.
        raise DittoError(f"secure execution failed: {first_dead.why_it_died()}; the other parties were stopped")
    results = {}
    for p in parties:
        if not p.answer:
            continue
        results[p.rank] = p.result(plan)
    silent = [p for p in parties if p.rank not in results]
    if silent:
        raise DittoError(f"secure execution failed: {silent[0].why_it_died()}")
    failed = [rank for rank, (outputs, _, _) in results.items() if outputs is None]
    if failed:
        raise DittoError(f"secure execution failed in party {failed[0]}: {results[failed[0]][1]}")
    outputs = [results[r][0] for r in range(WORLD_SIZE)]
    cost = process_cost(
        plan, upcast, [results[r][1] for r in range(WORLD_SIZE)], [results[r][2] for r in range(WORLD_SIZE)]
    )  # type: ignore[misc]
    return reconstruct(plan, outputs), cost  # type: ignore[arg-type]
