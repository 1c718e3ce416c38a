"""Three party processes on loopback, talking over SPU's brpc links.

The driver secret-shares the inputs, starts one process per party and reconstructs
the outputs; each party process opens one brpc link per ring (and one for Ditto's
upcast protocol), runs the same steps as in thread mode and returns its output
shares. A party that dies or never connects makes the others fail when a receive
times out, and the driver reports which party failed and why.

Traffic on SPU's links is read from each party's own profiler log (one log per
process, so every line is that party's); protocol messages are counted as sent.
"""

from __future__ import annotations

import faulthandler
import multiprocessing as mp
import queue as queue_module
import re
import secrets
import socket
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from spu import libspu

from ..diagnostics import DittoError
from ..lowering.split_rings import RingPlan
from .executor import WORLD_SIZE, Cost, _first_line, spu_runtime_config
from .mixed import (
    SEED_PAIRS,
    _ProtocolLink,
    categories,
    check_upcast,
    cost_from,
    execute_steps,
    reconstruct,
    share_inputs,
    spu_runs,
    with_protocol,
)
from .profile import merge, per_op_costs
from .upcast import PairSeeds

_LINK_DETAILS = re.compile(r"Link details: total send bytes (\d+), recv bytes \d+, send actions (\d+)")


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def serialize(share: libspu.Share) -> tuple[bytes, list[bytes]]:
    return bytes(share.meta), [bytes(c) for c in share.share_chunks]


def deserialize(data: tuple[bytes, list[bytes]]) -> libspu.Share:
    share = libspu.Share()
    share.meta, share.share_chunks = data[0], list(data[1])
    return share


def _brpc(link_id: str, addresses: Sequence[str], rank: int, recv_timeout_ms: int) -> libspu.link.Context:
    desc = libspu.link.Desc()
    desc.id = link_id
    desc.recv_timeout_ms = recv_timeout_ms
    desc.connect_retry_times = 40
    desc.connect_retry_interval_ms = 250
    for r, address in enumerate(addresses):
        desc.add_party(f"party{r}", address)
    return libspu.link.create_brpc(desc, rank)


def loopback(ports: dict[str, list[int]]) -> dict[str, list[str]]:
    return {name: [f"127.0.0.1:{port}" for port in group] for name, group in ports.items()}


class _BrpcChannel:
    """A peer on the protocol link; SPU's link keeps messages in order per pair."""

    def __init__(self, context: libspu.link.Context, peer: int, counts: list[int]):
        self.context, self.peer, self.counts = context, peer, counts

    def SendAsync(self, key: str, data: bytes) -> None:  # noqa: N802 (the channel interface)
        self.counts[0] += len(data)
        self.counts[1] += 1
        self.context.send(self.peer, data)

    def Recv(self, key: str) -> bytes:  # noqa: N802
        return bytes(self.context.recv(self.peer))


def run_party(
    rank: int,
    plan: RingPlan,
    inputs: list[tuple[bytes, list[bytes]]],
    addresses: dict[str, list[str]],
    upcast: str,
    recv_timeout_ms: int,
    log_path: str,
) -> tuple[list[tuple[bytes, list[bytes]]], list[tuple[str, int, int, float]]]:
    """One party's run over brpc: its serialized output shares and per-step protocol traffic.

    `addresses` maps each link ("ring32", "ring64", "protocol") to the parties' host:port.
    SPU's own traffic goes to this party's profiler log at `log_path`.
    """
    options = libspu.logging.LogOptions()
    options.system_log_path = log_path
    options.enable_console_logger = False
    libspu.logging.setup_logging(options)
    runtimes, links = {}, []
    for k, ring in plan.rings.items():
        config = spu_runtime_config(ring)
        config.enable_pphlo_profile = True  # the log is this party's traffic record
        links.append(_brpc(f"ditto-ring{k}", addresses[f"ring{k}"], rank, recv_timeout_ms))
        runtimes[k] = libspu_runtime(links[-1], config)
    protocol = _brpc("ditto-protocol", addresses["protocol"], rank, recv_timeout_ms)
    links.append(protocol)
    # Setup: each pair agrees on its own seed over its link; nobody else learns it.
    seeds = {}
    for low, high in SEED_PAIRS:
        if rank == low:
            seeds[(low, high)] = secrets.randbits(63)
            protocol.send(high, seeds[(low, high)].to_bytes(8, "little"))
        elif rank == high:
            seeds[(low, high)] = int.from_bytes(bytes(protocol.recv(low)), "little")
    counts = [0, 0]
    peers = {peer: _BrpcChannel(protocol, peer, counts) for peer in range(WORLD_SIZE) if peer != rank}
    link = _ProtocolLink(rank, PairSeeds(seeds), peers)
    steps: list[tuple[str, int, int, float]] = []

    @contextmanager
    def measure(category: str) -> Iterator[None]:
        bytes0, actions0, start = counts[0], counts[1], time.perf_counter()
        yield
        steps.append((category, counts[0] - bytes0, counts[1] - actions0, time.perf_counter() - start))

    shares = [deserialize(s) for s in inputs]
    outputs = execute_steps(rank, plan, runtimes, link, shares, upcast, measure)
    # Async sends may still be queued; closing a link before its peers have them loses
    # their last messages. stop_link waits until every party's sends are delivered.
    for context in links:
        context.stop_link()
    return [serialize(s) for s in outputs], steps


def _party_process(
    rank: int,
    plan: RingPlan,
    inputs: list[tuple[bytes, list[bytes]]],
    addresses: dict[str, list[str]],
    upcast: str,
    recv_timeout_ms: int,
    log_path: str,
    results: Any,
) -> None:
    crash_log = open(f"{log_path}.crash", "w")  # noqa: SIM115 (open until the process ends)
    faulthandler.enable(crash_log)
    try:
        outputs, steps = run_party(rank, plan, inputs, addresses, upcast, recv_timeout_ms, log_path)
        results.put((rank, "ok", outputs, steps))
    except BaseException as e:  # the driver reports it with this party's rank
        results.put((rank, "error", _first_line(e), None))
    results.close()
    results.join_thread()  # the report is in the pipe before the process can exit


def libspu_runtime(context: libspu.link.Context, config: libspu.RuntimeConfig) -> Any:
    import spu.api as spu_api

    return spu_api.Runtime(context, config)


def run_processes(
    plan: RingPlan,
    inputs: Sequence[np.ndarray],
    upcast: str = "ditto",
    recv_timeout_s: float = 30.0,
    kill: tuple[int, float] | None = None,
) -> tuple[list[np.ndarray], Cost]:
    """Execute `plan` with one process per party on loopback; return outputs and cost.

    `kill=(rank, seconds)` terminates that party after the delay (to test failure handling).
    """
    check_upcast(upcast)
    shares = share_inputs(plan, inputs)
    ports = {name: _free_ports(WORLD_SIZE) for name in [*(f"ring{k}" for k in plan.rings), "protocol"]}
    context = mp.get_context("spawn")
    results = context.Queue()
    with tempfile.TemporaryDirectory(prefix="ditto-parties-") as logs:
        processes = [
            context.Process(
                target=_party_process,
                args=(
                    rank,
                    plan,
                    [serialize(s[rank]) for s in shares],
                    loopback(ports),
                    upcast,
                    int(recv_timeout_s * 1000),
                    f"{logs}/party{rank}.log",
                    results,
                ),
                name=f"ditto-party-{rank}",
                daemon=True,
            )
            for rank in range(WORLD_SIZE)
        ]
        for process in processes:
            process.start()
        if kill is not None:
            time.sleep(kill[1])
            processes[kill[0]].kill()
        reports: dict[int, tuple[str, Any, Any]] = {}
        deadline = time.monotonic() + 4 * recv_timeout_s + 60
        first_death: float | None = None
        while len(reports) < WORLD_SIZE and time.monotonic() < deadline:
            try:
                rank, status, payload, steps = results.get(timeout=0.25)
                reports[rank] = (status, payload, steps)
            except queue_module.Empty:
                exited = [r for r, p in enumerate(processes) if r not in reports and p.exitcode is not None]
                if exited:
                    _drain(results, reports)  # a report sent just before exiting is not a death
                for rank in exited:
                    if rank not in reports:
                        crash = _read(Path(logs) / f"party{rank}.log.crash").strip().splitlines()
                        why = f"party {rank} exited with code {processes[rank].exitcode}"
                        reports[rank] = ("died", f"{why} ({crash[0]})" if crash else why, None)
            if first_death is None and any(status == "died" for status, _, _ in reports.values()):
                first_death = time.monotonic()
            # A dead party: the others fail on their next receive; don't wait longer than that.
            if first_death is not None and time.monotonic() - first_death > recv_timeout_s + 5:
                break
        for process in processes:
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
        logs_text = [_read(Path(logs) / f"party{rank}.log") for rank in range(WORLD_SIZE)]
    died = [r for r, (status, _, _) in reports.items() if status == "died"]
    if died:  # the cause: the others fail (or are stopped) because it stopped answering
        raise DittoError(f"secure execution failed: {reports[died[0]][1]}; the other parties were stopped")
    missing = [r for r in range(WORLD_SIZE) if r not in reports]
    if missing:
        raise DittoError(f"parties {missing} did not finish within {4 * recv_timeout_s + 60:g} s")
    failed = [r for r, (status, _, _) in reports.items() if status == "error"]
    if failed:
        raise DittoError(f"secure execution failed in party {failed[0]}: {reports[failed[0]][1]}")
    outputs = [[deserialize(s) for s in reports[r][1]] for r in range(WORLD_SIZE)]
    cost = process_cost(plan, upcast, [reports[r][2] for r in range(WORLD_SIZE)], logs_text)
    return reconstruct(plan, outputs), cost


def _drain(results: Any, reports: dict[int, tuple[str, Any, Any]]) -> None:
    while True:
        try:
            rank, status, payload, steps = results.get(timeout=0.5)
        except queue_module.Empty:
            return
        reports[rank] = (status, payload, steps)


def _read(path: Path) -> str:
    return path.read_text() if path.exists() else ""


def process_cost(plan: RingPlan, upcast: str, steps: list[list[Any]], logs: list[str]) -> Cost:
    """Attribute each party's logged SPU runs to the steps that made them, plus protocol messages."""
    runs_per_step = spu_runs(plan, upcast)
    spent = {c: [[0, 0, 0.0] for _ in range(WORLD_SIZE)] for c in categories(plan)}
    for rank in range(WORLD_SIZE):
        runs = iter([(int(b), int(a)) for b, a in _LINK_DETAILS.findall(logs[rank])])
        for (category, protocol_bytes, protocol_actions, seconds), count in zip(steps[rank], runs_per_step):
            record = spent[category][rank]
            for _ in range(count):
                spu_bytes, spu_actions = next(runs, (0, 0))
                record[0] += spu_bytes
                record[1] += spu_actions
            record[0] += protocol_bytes
            record[1] += protocol_actions
            record[2] += seconds
    cost = cost_from(plan, spent)
    protocol = [(b, a) for party in steps for _, b, a, _ in party]
    cost.by_op = with_protocol(
        merge(*(per_op_costs(log) for log in logs)),
        sum(b for b, _ in protocol),
        sum(a for _, a in protocol),
        plan,
        upcast,
    )
    return cost
