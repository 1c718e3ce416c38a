"""The model owner's and the clients' side of a cluster of resident parties (runtime/server.py).

    owner = ClusterClient(cluster, cluster.identity("owner.pem", "owner.key"))
    owner.deploy("bert", plan, weights)              # once: each party gets only its shares of the weights
    client = ClusterClient(cluster, cluster.identity("client-alice.pem", "client-alice.key"))
    outputs, cost = client.query("bert", [ids, mask])  # many times: only the inputs' shares travel

Every input is checked exactly as `Program.run` checks it before anything is shared. The
outputs come back as shares from the three parties and are put together here, so only
the querying client learns them. Errors are `DittoError`s naming the party at fault.

A query can leave outputs in the parties as this client's secret state (`keep=`): it gets a
`Held` handle for each, which a later query passes as an input. Nobody, this client
included, sees a held value; each party holds its own share (runtime/server.py).
"""

from __future__ import annotations

import contextlib
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
from ..plan import Plan, Variable, check_value
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


@dataclass(frozen=True)
class Held:
    """A value of this client's secret state in the cluster's parties, by `name`."""

    variable: Variable
    name: str

    def __repr__(self) -> str:
        v = self.variable
        return f"Held({v.kind} {list(v.shape)} in the {v.field_bits}-bit ring, {self.name})"

    def fits(self, variable: Variable) -> bool:
        return self.variable.fits(variable)


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

    def query(
        self, model: str, inputs: Sequence[np.ndarray | Held], keep: Sequence[int] = ()
    ) -> tuple[list[np.ndarray | Held], Cost]:
        """Run `model` on `inputs` (the plan's inputs after the weights; a `Held` value where it lies): the
        outputs, which only this client can put together, and the parties' cost for this query (the weights'
        upload excluded). The outputs numbered in `keep` stay in the parties: `Held` handles come back for them.
        Held inputs are used up once the query is sent (the parties drop them), whether it succeeds or not."""
        deployed = self.describe(model)
        plan, first = deployed.plan, deployed.weights
        kept = sorted(set(keep))
        if not all(isinstance(i, int) and 0 <= i < len(plan.outputs) for i in kept):
            raise DittoError(f"keep must name outputs of the plan (0 to {len(plan.outputs) - 1}), not {list(keep)!r}")
        held = {first + i: v for i, v in enumerate(inputs) if isinstance(v, Held)}
        for number, value in held.items():
            if any(e.source == number for e in plan.encodings):
                raise DittoError(f"input {number} holds token ids: it comes with the query, not from held values")
            if not value.fits(plan.inputs[number]):
                raise DittoError(f"input {number} is {value!r}, but model {model!r} takes a different value there")
        if len(inputs) != plan.user_inputs - first:
            plan.check_inputs(inputs, first=first)  # names the count that is wrong
        variables = plan.inputs
        checked = [
            v
            if number in held
            else check_value(f"input {number}", variables[number], v, plan.rings[variables[number].field_bits])
            for number, v in enumerate(inputs, start=first)
        ]
        flat = plan.encode_inputs(checked, first)
        given = [(number, v) for number, v in enumerate(flat, start=first) if number not in held]
        shares = [share_inputs(plan, [v], first=number)[0] for number, v in given]
        query_id = secrets.token_hex(16)
        names = {i: secrets.token_hex(16) for i in kept}
        header = {
            "request": "query",
            "model": model,
            "query": query_id,
            "from_state": {str(number): value.name for number, value in held.items()},
            "keep": {str(i): name for i, name in names.items()},
        }
        requests = _per_party(header, "inputs", shares)
        start = time.perf_counter()
        try:
            answers = self._gather(requests, query_id)
            results = [read_result(plan, answers[rank], rank, kept) for rank in range(WORLD_SIZE)]
            failed = [message for outputs, message, _ in results if outputs is None]
            if failed:
                raise DittoError(str(failed[0]))
        except DittoError:
            if names:  # parties whose own part succeeded hold what this query kept: nothing will use it
                self._forget(list(names.values()), quiet=True)
            raise
        sent = [v for i, v in enumerate(plan.outputs) if i not in names]
        opened = iter(reconstruct(plan, [outputs for outputs, _, _ in results], sent))  # type: ignore[misc]
        outputs = [Held(v, names[i]) if i in names else next(opened) for i, v in enumerate(plan.outputs)]
        cost = process_cost(plan, deployed.upcast, [steps for _, steps, _ in results], [log for _, _, log in results])  # type: ignore[misc]
        self.last_traffic = Traffic(sum(map(len, requests)), sum(map(len, answers)), time.perf_counter() - start)
        return outputs, cost

    def forget(self, values: Sequence[Held], quiet: bool = False) -> None:
        """Drop held values in every party (those already used up are ignored). `quiet`: in every party that
        answers (after a failure, one of them may be down)."""
        self._forget([v.name for v in values], quiet)

    def _forget(self, names: list[str], quiet: bool) -> None:
        request = encode_message({"request": "forget", "values": names}, [])
        for rank in range(WORLD_SIZE):
            with contextlib.suppress(*((DittoError,) if quiet else ())):
                self._call(rank, request)

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
