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
connections), sends each party the program and only that party's input shares, and
gets back only that party's output shares; it alone reconstructs the outputs.
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass
from multiprocessing.connection import Client, Listener
from pathlib import Path
from typing import Any

import numpy as np

from ..diagnostics import DittoError
from ..lowering.split_rings import RingPlan
from .executor import WORLD_SIZE, Cost
from .mixed import check_upcast, reconstruct, share_inputs
from .processes import deserialize, process_cost, run_party, serialize

_LINK_OFFSETS = {"ring32": 1, "ring64": 2, "ring128": 3, "protocol": 4}


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
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise DittoError(f"cannot read cluster config {path}: {e}") from None
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
            plan, inputs, upcast = connection.recv()
            with tempfile.TemporaryDirectory(prefix=f"ditto-party{rank}-") as logs:
                log = Path(logs) / "spu.log"
                try:
                    outputs, steps = run_party(
                        rank, plan, inputs, cluster.addresses(), upcast, int(cluster.recv_timeout_s * 1000), str(log)
                    )
                    reply: tuple[Any, ...] = ("ok", outputs, steps)
                except Exception as e:  # told to the driver, with this party's rank
                    reply = ("error", f"party {rank}: {str(e).strip().splitlines()[0] if str(e).strip() else e!r}")
                log_text = log.read_text() if log.exists() else ""
            connection.send((*reply, log_text))


def drive(
    cluster: Cluster, plan: RingPlan, inputs: list[np.ndarray], upcast: str = "ditto"
) -> tuple[list[np.ndarray], Cost]:
    """Share `inputs`, run `plan` on the cluster's parties, reconstruct the outputs."""
    check_upcast(upcast)
    shares = share_inputs(plan, inputs)
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
                    )
                time.sleep(0.2)
    try:
        for rank, connection in enumerate(connections):
            connection.send((plan, [serialize(s[rank]) for s in shares], upcast))
        replies = []
        for rank, connection in enumerate(connections):
            if not connection.poll(cluster.recv_timeout_s * 4 + 60):
                raise DittoError(f"party {rank} did not answer")
            replies.append(connection.recv())
    except (EOFError, ConnectionError) as e:
        raise DittoError(f"lost the connection to a party: {e}") from None
    finally:
        for connection in connections:
            connection.close()
    errors = [reply[1] for reply in replies if reply[0] != "ok"]
    if errors:
        raise DittoError(f"secure execution failed: {errors[0]}")
    outputs = [[deserialize(s) for s in reply[1]] for reply in replies]
    cost = process_cost(plan, upcast, [reply[2] for reply in replies], [reply[3] for reply in replies])
    return reconstruct(plan, outputs), cost
