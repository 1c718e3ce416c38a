"""Parties on separate hosts: `ditto party` on each, `ditto drive` from the data owner.

Cluster config (JSON):

    {"parties": [{"host": "10.0.0.1", "port": 9100},
                 {"host": "10.0.0.2", "port": 9100},
                 {"host": "10.0.0.3", "port": 9100}],
     "authkey": "a secret the driver and the parties share",
     "recv_timeout_s": 30}

Party i listens for the driver on `port` and talks to the other parties on port+1
(32-bit ring), port+2 (64-bit ring) and port+4 (the upcast protocol); 128-bit rings use
port+3. The driver authenticates with `authkey` (HMAC, Python's multiprocessing
connections), sends each party the plan and only that party's input shares, and
gets back only that party's output shares; it alone reconstructs the outputs. Messages
are runtime/wire frames (a JSON header and the shares' bytes), never pickles, and a
party validates the plan it receives before running it.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from multiprocessing.connection import Client, Listener
from pathlib import Path

import numpy as np

from ..diagnostics import DittoError
from ..jsonfile import read_json
from ..plan import Plan
from .cost import Cost
from .party import WORLD_SIZE, check_upcast, first_line, reconstruct, share_inputs
from .processes import party_failure, party_job, party_result, process_cost, read_result, run_party
from .profile import configure_spu_log
from .wire import decode_message, share_from_wire

_LINK_OFFSETS = {"ring32": 1, "ring64": 2, "ring128": 3, "protocol": 4}
MAX_JOB_BYTES = 2**34


@dataclass(frozen=True)
class Cluster:
    hosts: tuple[str, ...]
    ports: tuple[int, ...]
    authkey: bytes
    recv_timeout_s: float

    def addresses(self) -> dict[str, list[str]]:
        return {
            link: [f"{host}:{port + offset}" for host, port in zip(self.hosts, self.ports)]
            for link, offset in _LINK_OFFSETS.items()
        }


def load_cluster(path: str) -> Cluster:
    data = read_json(path, "cluster config")
    parties = data.get("parties") if isinstance(data, dict) else None
    if not isinstance(parties, list) or len(parties) != WORLD_SIZE:
        raise DittoError(f"{path}: 'parties' must list {WORLD_SIZE} parties")
    hosts, ports = [], []
    for index, party in enumerate(parties):
        if (
            not isinstance(party, dict)
            or not isinstance(party.get("host"), str)
            or not isinstance(party.get("port"), int)
        ):
            raise DittoError(f"{path}: parties[{index}] needs a string 'host' and an integer 'port'")
        if not 0 < party["port"] < 65531:
            raise DittoError(f"{path}: parties[{index}].port {party['port']} leaves no room for its link ports")
        hosts.append(party["host"])
        ports.append(party["port"])
    authkey = data.get("authkey")
    if not isinstance(authkey, str) or len(authkey) < 8:
        raise DittoError(f"{path}: 'authkey' must be a string of at least 8 characters")
    timeout = data.get("recv_timeout_s", 30)
    if not isinstance(timeout, (int, float)) or timeout <= 0:
        raise DittoError(f"{path}: 'recv_timeout_s' must be a positive number")
    return Cluster(tuple(hosts), tuple(ports), authkey.encode(), float(timeout))


def serve_party(cluster: Cluster, rank: int) -> None:
    """Wait for the driver, run its job as party `rank`, send back this party's output shares."""
    if not 0 <= rank < WORLD_SIZE:
        raise DittoError(f"rank must be 0, 1 or 2, not {rank}")
    with Listener((cluster.hosts[rank], cluster.ports[rank]), authkey=cluster.authkey) as listener:
        with listener.accept() as connection:
            data = connection.recv_bytes(MAX_JOB_BYTES)
            with tempfile.TemporaryDirectory(prefix=f"ditto-party{rank}-") as logs:
                log = Path(logs) / "spu.log"
                try:
                    header, blobs = decode_message(data, "the driver's job")
                    plan = Plan.from_json(header["plan"], "the driver's plan")
                    shares = [share_from_wire(s, blobs, "the driver's job") for s in header["inputs"]]
                    configure_spu_log(log)
                    outputs, steps = run_party(
                        rank, plan, shares, cluster.addresses(), header["upcast"], int(cluster.recv_timeout_s * 1000)
                    )
                    reply = party_result(outputs, steps, log.read_text() if log.exists() else "")
                except (DittoError, KeyError, TypeError, ValueError) as e:
                    reply = party_failure(
                        f"party {rank}: {e if isinstance(e, DittoError) else f'malformed job: {e!r}'}"
                    )
                except Exception as e:  # told to the driver, with this party's rank
                    reply = party_failure(f"party {rank}: {first_line(e)}")
            connection.send_bytes(reply)


def drive(
    cluster: Cluster, plan: Plan, inputs: list[np.ndarray], upcast: str = "ditto"
) -> tuple[list[np.ndarray], Cost]:
    """Share `inputs` (encodings applied), run `plan` on the cluster's parties, reconstruct the outputs."""
    check_upcast(upcast)
    shares = share_inputs(plan, inputs)
    plan_json = plan.to_json()
    connections = []
    deadline = time.monotonic() + cluster.recv_timeout_s * 2
    for rank in range(WORLD_SIZE):
        while True:
            try:
                connections.append(Client((cluster.hosts[rank], cluster.ports[rank]), authkey=cluster.authkey))
                break
            except (ConnectionRefusedError, OSError) as e:
                if time.monotonic() > deadline:
                    raise DittoError(
                        f"party {rank} at {cluster.hosts[rank]}:{cluster.ports[rank]} is not reachable: {e}"
                    ) from None
                time.sleep(0.2)
    answers = []
    try:
        for rank, connection in enumerate(connections):
            connection.send_bytes(party_job(rank, plan_json, shares, {}, upcast, cluster.recv_timeout_s))
        for rank, connection in enumerate(connections):
            if not connection.poll(cluster.recv_timeout_s * 4 + 60):
                raise DittoError(f"party {rank} did not answer")
            answers.append(read_result(plan, connection.recv_bytes(MAX_JOB_BYTES), rank))
    except (EOFError, ConnectionError) as e:
        raise DittoError(f"lost the connection to party {len(answers)}: {e or type(e).__name__}") from None
    finally:
        for connection in connections:
            connection.close()
    errors = [message for outputs, message, _ in answers if outputs is None]
    if errors:
        raise DittoError(f"secure execution failed: {errors[0]}")
    outputs = [outputs for outputs, _, _ in answers]
    cost = process_cost(plan, upcast, [steps for _, steps, _ in answers], [log for _, _, log in answers])  # type: ignore[misc]
    return reconstruct(plan, outputs), cost  # type: ignore[arg-type]
