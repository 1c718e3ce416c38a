"""The model owner's and the clients' side of a cluster of resident parties (runtime/server.py).

    owner = ClusterClient(cluster, cluster.identity("owner.pem", "owner.key"))
    owner.deploy("bert", plan, weights)              # once: each party gets only its shares of the weights
    client = ClusterClient(cluster, cluster.identity("client-alice.pem", "client-alice.key"))
    outputs, cost = client.query("bert", [ids, mask])  # many times: only the inputs' shares travel

Every input is checked exactly as `Program.run` checks it before anything is shared. The
outputs come back as shares from the three parties and are put together here, so only
the querying client learns them. Errors are `DittoError`s naming the party at fault.
"""

from __future__ import annotations

import queue
import secrets
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from spu import libspu

from ..diagnostics import DittoError
from ..plan import Plan
from .cost import Cost
from .deployment import Cluster, connect
from .party import WORLD_SIZE, check_upcast, reconstruct, share_inputs
from .processes import process_cost, read_result
from .tls import Identity
from .wire import MAX_FRAME, decode_message, encode_message, read_frame, share_to_wire, write_frame


@dataclass(frozen=True)
class Deployed:
    """What `describe` says about a model (the three parties agree on it)."""

    plan: Plan
    weights: int
    """How many of the plan's inputs are the owner's weights (the rest come with each query)."""
    upcast: str


@dataclass(frozen=True)
class Traffic:
    """Bytes between this client and the parties (outside the parties' own protocol traffic)."""

    uploaded: int
    downloaded: int
    seconds: float


class ClusterClient:
    """Requests to a cluster's parties under `identity` (None for an insecure cluster)."""

    def __init__(self, cluster: Cluster, identity: Identity | None, connect_timeout_s: float | None = None):
        if (identity is None) != cluster.insecure:
            raise DittoError("this cluster uses TLS: a client needs a certificate" if identity is None else
                             "this cluster is insecure (no TLS): a client has no certificate")  # fmt: skip
        self.cluster, self.identity = cluster, identity
        self.connect_timeout_s = cluster.recv_timeout_s if connect_timeout_s is None else connect_timeout_s
        self._context = identity.client_context() if identity is not None else None
        self._deployed: dict[str, Deployed] = {}
        self.last_traffic = Traffic(0, 0, 0.0)

    # -- one request --------------------------------------------------------------------
    def _connect(self, rank: int) -> socket.socket:
        return connect(self.cluster, rank, self._context, self.connect_timeout_s)

    def _call(self, rank: int, request: bytes) -> dict[str, Any]:
        """Send one request to party `rank`; its reply's header and blobs (a refusal is a DittoError)."""
        with self._connect(rank) as connection, connection.makefile("rwb") as stream:
            try:
                write_frame(stream, request)
                reply = read_frame(stream, f"party {rank}'s reply")
            except OSError as e:
                raise DittoError(f"party {rank} closed its connection: {e}") from None
        if reply is None:
            raise DittoError(f"party {rank} closed its connection without replying")
        header, _ = decode_message(reply, f"party {rank}'s reply")
        if header.get("status") != "ok":
            raise DittoError(str(header.get("message", f"party {rank} refused")))
        return header

    # -- the model owner --------------------------------------------------------------------
    def deploy(self, model: str, plan: Plan, weights: Sequence[np.ndarray], upcast: str = "ditto") -> Traffic:
        """Upload `plan` and each party's shares of `weights` (the plan's first inputs) as `model`."""
        check_upcast(upcast)
        checked = plan.check_weights(weights)
        shares = share_inputs(plan, checked)
        plan_json = plan.to_json()
        start = time.perf_counter()
        requests = _per_party(
            {"request": "deploy", "model": model, "plan": plan_json, "upcast": upcast}, "weights", shares
        )
        for rank, request in enumerate(requests):
            self._call(rank, request)
        uploaded = sum(map(len, requests))
        self._deployed.pop(model, None)
        self.last_traffic = Traffic(uploaded, 0, time.perf_counter() - start)
        return self.last_traffic

    def remove(self, model: str) -> None:
        for rank in range(WORLD_SIZE):
            self._call(rank, encode_message({"request": "remove", "model": model}, []))
        self._deployed.pop(model, None)

    # -- clients ----------------------------------------------------------------------------
    def describe(self, model: str) -> Deployed:
        """The model's plan and how its inputs split between weights and queries, as all three parties hold it."""
        if model not in self._deployed:
            answers = [
                self._call(rank, encode_message({"request": "describe", "model": model}, []))
                for rank in range(WORLD_SIZE)
            ]
            first = answers[0]
            for rank, answer in enumerate(answers[1:], start=1):
                if (answer.get("plan"), answer.get("weights"), answer.get("upcast")) != (
                    first.get("plan"),
                    first.get("weights"),
                    first.get("upcast"),
                ):
                    raise DittoError(f"parties 0 and {rank} hold different models named {model!r}")
            plan = Plan.from_json(first.get("plan"), f"model {model!r}")
            weights = first.get("weights")
            if not isinstance(weights, int) or not 0 <= weights <= plan.user_inputs:
                raise DittoError(f"party 0 describes model {model!r} with {weights!r} weights")
            self._deployed[model] = Deployed(plan, weights, str(first.get("upcast")))
        return self._deployed[model]

    def status(self, rank: int) -> dict[str, Any]:
        header = self._call(rank, encode_message({"request": "status"}, []))
        return {k: v for k, v in header.items() if k != "status"}

    def query(self, model: str, inputs: Sequence[np.ndarray]) -> tuple[list[np.ndarray], Cost]:
        """Run `model` on `inputs` (the plan's inputs after the weights): the outputs, which only this
        client can put together, and the parties' cost for this query (the weights' upload excluded)."""
        deployed = self.describe(model)
        plan = deployed.plan
        flat = plan.check_inputs(inputs, first=deployed.weights)
        shares = share_inputs(plan, flat, first=deployed.weights)
        query_id = secrets.token_hex(16)
        requests = _per_party({"request": "query", "model": model, "query": query_id}, "inputs", shares)
        start = time.perf_counter()
        answers = self._gather(requests, query_id)
        results = [read_result(plan, answers[rank], rank) for rank in range(WORLD_SIZE)]
        failed = [(rank, message) for rank, (outputs, message, _) in enumerate(results) if outputs is None]
        if failed:
            raise DittoError(str(failed[0][1]))
        outputs = reconstruct(plan, [outputs for outputs, _, _ in results])  # type: ignore[misc]
        cost = process_cost(plan, deployed.upcast, [steps for _, steps, _ in results], [log for _, _, log in results])  # type: ignore[misc]
        self.last_traffic = Traffic(sum(map(len, requests)), sum(map(len, answers)), time.perf_counter() - start)
        return outputs, cost

    def _gather(self, requests: list[bytes], query_id: str) -> list[bytes]:
        """Send each party its query and collect the three answers. A party whose connection closes is
        named at once; a failed query is reported as party 0 (which orders the jobs) explains it."""
        events: queue.Queue[tuple[int, bytes | None, str]] = queue.Queue()
        connections: list[socket.socket] = []
        try:
            for rank in range(WORLD_SIZE):
                connections.append(self._connect(rank))
        except DittoError:
            for connection in connections:
                connection.close()
            raise

        def ask(rank: int) -> None:
            try:
                with connections[rank].makefile("rwb") as stream:
                    write_frame(stream, requests[rank])
                    answer = read_frame(stream, f"party {rank}'s answer", MAX_FRAME)
                events.put((rank, answer, "" if answer is not None else "closed its connection before answering"))
            except (OSError, DittoError) as e:
                events.put((rank, None, f"closed its connection before answering ({e or type(e).__name__})"))

        for rank in range(WORLD_SIZE):
            threading.Thread(target=ask, args=(rank,), daemon=True).start()
        answers: dict[int, bytes] = {}
        try:
            while len(answers) < WORLD_SIZE:
                rank, answer, problem = events.get()
                if answer is None:
                    raise DittoError(f"query {query_id} failed: party {rank} {problem}")
                answers[rank] = answer
                header, _ = decode_message(answer, f"party {rank}'s answer")
                if header.get("status") != "ok" and rank == 0:
                    raise DittoError(str(header.get("message", "party 0 gave no reason")))
        finally:
            for connection in connections:
                connection.close()
        return [answers[rank] for rank in range(WORLD_SIZE)]


def _per_party(header: dict[str, Any], field: str, shares: list[list[libspu.Share]]) -> list[bytes]:
    """Each party's request: `header` with its own share of every value listed under `field`."""
    requests = []
    for rank in range(WORLD_SIZE):
        blobs: list[bytes] = []
        requests.append(encode_message({**header, field: [share_to_wire(s[rank], blobs) for s in shares]}, blobs))
    return requests


def run_once(
    cluster: Cluster, identity: Identity | None, plan: Plan, inputs: Sequence[np.ndarray], upcast: str = "ditto"
) -> tuple[list[np.ndarray], Cost, Traffic]:
    """`ditto drive`: one query on a cluster with every input the caller's (deployed under a one-off name with
    no weights, queried, removed): the outputs, the parties' cost, the bytes to and from the parties."""
    client = ClusterClient(cluster, identity)
    name = f"once-{secrets.token_hex(6)}"
    client.deploy(name, plan, [], upcast)
    try:
        outputs, cost = client.query(name, list(inputs))
        return outputs, cost, client.last_traffic
    finally:
        client.remove(name)
