"""A resident party: `ditto party` serves one party of a cluster until it is stopped.

Roles, as in the setting of the Ditto and PUMA papers: a model owner uploads a compiled
program and each party's shares of its weights once (`deploy`); clients then send
queries, each carrying only the client's input shares, and alone receive the output
shares, which only they can put together (runtime/client.py). Every connection is
mutual TLS under the cluster's CA (runtime/tls.py), and a certificate's role decides
what its holder may ask: the owner deploys and removes models, clients (and the owner)
query, party 0 orders jobs, anyone with a certificate may ask for a model's plan or the
party's status.

Each party
- accepts connections concurrently; one that fails the TLS handshake, sends a malformed
  or forbidden request, or stays idle past the receive timeout is dropped and logged,
  and nothing else is affected;
- keeps each deployed model's plan and weight shares in memory;
- runs jobs one at a time in its job process (runtime/party_process.py), which keeps its
  links to the other parties open from one job to the next; after a failed job every
  party starts a fresh job process (broken links are never reused).

Queries reach the three parties in any order, so party 0, the leader, orders them: it
takes its queries first come, first served, tells parties 1 and 2 to run query Q on
their control connections, runs its own part and waits for both reports before the
next. A follower runs Q once it has both the order and the client's query (it waits at
most the receive timeout for the query). A failed job is reported to the client naming
the party that caused it: one whose connection closed (it stopped), one that did not
report within GRACE_S of the others (unreachable or stalled), else one whose own job
failed for a reason other than waiting on a peer.

A query may keep outputs in the parties instead of sending them to its client, and take inputs
from what an earlier query kept: the client's *secret state* (a generation's KV cache,
generate.py). Each party holds its own shares of it, per certificate role, under names the client
chooses; a kept output never leaves the party, and a held value is used up by the query that
takes it (or dropped by `forget`). A client reaches only its own state, and a value goes only
where the plan takes a value of its ring, kind and shape.
"""

from __future__ import annotations

import logging
import os
import queue
import re
import select
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spu import libspu

from ..diagnostics import DittoError
from ..plan import Plan, Variable
from .deployment import Cluster, connect
from .party import WORLD_SIZE, check_upcast
from .processes import job_message, party_failure, party_result, spawn_party
from .tls import peer_role
from .wire import MAX_FRAME, decode_message, encode_message, read_frame, share_from_wire, write_frame

LOG = logging.getLogger("ditto.party")
GRACE_S = 3.0
"""How long the leader waits for a follower's report once its own part has failed: a follower stalled
since its peers' receives timed out is named within the receive timeout + GRACE_S."""
HANDSHAKE_S = 10.0
MAX_CONNECTIONS = 64
CONTROL_LIMIT = 1 << 20
"""The largest message between parties' servers (orders and reports are small)."""
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
QUERY_ID = re.compile(r"[0-9a-f]{8,64}")
STATE_NAME = QUERY_ID
"""A held value's name (a client draws it at random, like a query id)."""
MAX_STATE_BYTES = 8 << 30
"""The most a certificate role may hold in one party's memory as secret state."""
TIMEOUT_WORDS = ("timeout", "timed out")


def ok_message(**fields: Any) -> bytes:
    return encode_message({"status": "ok", **fields}, [])


@dataclass
class _Model:
    plan: Plan
    plan_json: dict[str, Any]
    weights: list[libspu.Share]
    upcast: str


@dataclass(frozen=True)
class _Held:
    """One value of a client's secret state: this party's share and what it is."""

    variable: Variable
    share: libspu.Share
    size: int


@dataclass
class _Query:
    id: str
    model: str
    inputs: list[libspu.Share]
    """The plan's inputs after the weights, those taken from the client's state included."""
    role: str = "anyone"
    keep: dict[int, str] = field(default_factory=dict)
    """Outputs (by number) the parties keep as the client's state, under these names."""
    done: threading.Event = field(default_factory=threading.Event)
    answer: bytes = b""
    """The reply to the client: this party's output shares (runtime/processes.party_result) or an error."""


class _JobProcess:
    """The party's job process: jobs in on stdin, answers out on stdout, its log in `log`."""

    def __init__(self, log: Path):
        self.log = log
        with log.open("ab") as errors:
            self.process, self.scratch = spawn_party(stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors)

    def run(self, job: bytes) -> bytes | None:
        """The job's answer, or None if the process died first."""
        assert self.process.stdin is not None and self.process.stdout is not None
        try:
            write_frame(self.process.stdin, job)
            return read_frame(self.process.stdout, "the job process's answer")
        except (OSError, DittoError):
            return None

    def why_it_died(self) -> str:
        code = self.process.wait()
        return f"its job process died ({f'signal {-code}' if code < 0 else f'exit code {code}'})"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()
        shutil.rmtree(self.scratch, ignore_errors=True)


class PartyServer:
    """Party `rank` of `cluster`: `start()` serves in background threads, `stop()` ends it."""

    def __init__(self, cluster: Cluster, rank: int, scratch: str | Path | None = None):
        if not isinstance(rank, int) or isinstance(rank, bool) or not 0 <= rank < WORLD_SIZE:
            raise DittoError(f"rank must be 0, 1 or 2, not {rank!r}")
        self.cluster, self.rank = cluster, rank
        self.identity = cluster.party_identity(rank)
        if self.identity is not None:
            self.identity.check(f"party {rank}")
            self._accepting = self.identity.server_context()
            self._connecting = self.identity.client_context()
        else:
            self._connecting = None
            LOG.warning("party %d: INSECURE cluster: no TLS, no authentication; every byte travels in the clear", rank)
        self.models: dict[str, _Model] = {}
        self.state: dict[str, dict[str, _Held]] = {}
        """Each certificate role's secret state, by name."""
        self._state_lock = threading.Lock()
        self.jobs = {"ok": 0, "failed": 0}
        self._pending: dict[str, _Query] = {}
        self._arrived = threading.Condition()
        self._order: queue.Queue[_Query] = queue.Queue()
        self._job_lock = threading.Lock()
        self._job_process: _JobProcess | None = None
        self._restart_followers = False
        self._listeners: list[threading.Thread] = []
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self._stopping = threading.Event()
        self._own_scratch = scratch is None  # removed by stop(); a scratch the caller named keeps its job log
        self._scratch = Path(scratch or tempfile.mkdtemp(prefix=f"ditto-party{rank}-"))
        self.job_log = self._scratch / "jobs.log"
        host, port = cluster.address(rank)
        try:
            self._listener = socket.create_server((host, port), backlog=MAX_CONNECTIONS)
        except OSError as e:
            raise DittoError(f"party {rank} cannot listen on {host}:{port}: {e}") from None
        self._listener.settimeout(0.5)
        self._threads: list[threading.Thread] = []

    # -- life ---------------------------------------------------------------------------
    def start(self) -> None:
        loops = [self._accept_loop] + ([self._lead_loop] if self.rank == 0 else [])
        for loop in loops:
            thread = threading.Thread(target=loop, name=f"party{self.rank}-{loop.__name__}", daemon=True)
            thread.start()
            self._threads.append(thread)
        LOG.info("party %d: serving on %s:%d", self.rank, *self.cluster.address(self.rank))

    def serve_forever(self) -> None:
        self.start()
        try:
            while not self._stopping.wait(1.0):
                pass
        finally:
            self.stop()

    def stop(self) -> None:
        self._stopping.set()
        self._listener.close()
        with self._arrived:
            self._arrived.notify_all()
        for thread in self._threads:
            thread.join(timeout=5)
        self._abort_job()
        self._end_job_process()
        if self._own_scratch:
            shutil.rmtree(self._scratch, ignore_errors=True)

    def status(self) -> dict[str, Any]:
        """What a soak test watches: models, jobs, and this server's memory, descriptors and threads."""
        rss = 0
        try:
            for line in Path("/proc/self/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1]) * 1024
        except OSError:
            pass
        try:
            fds = len(os.listdir("/proc/self/fd"))
        except OSError:
            fds = -1
        process = self._job_process
        return {
            "rank": self.rank,
            "models": sorted(self.models),
            "jobs": dict(self.jobs),
            "state_values": sum(map(len, self.state.values())),
            "rss_bytes": rss,
            "open_fds": fds,
            "threads": threading.active_count(),
            "job_process": None if process is None or process.process.poll() is not None else process.process.pid,
        }

    # -- connections --------------------------------------------------------------------
    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                sock, peer = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                break  # the listener was closed
            if not self._slots.acquire(blocking=False):
                LOG.warning("party %d: refused %s:%d: %d connections are open", self.rank, *peer[:2], MAX_CONNECTIONS)
                sock.close()
                continue
            threading.Thread(target=self._serve, args=(sock, f"{peer[0]}:{peer[1]}"), daemon=True).start()

    def _serve(self, sock: socket.socket, peer: str) -> None:
        connection: socket.socket = sock
        try:
            sock.settimeout(HANDSHAKE_S)
            role = "anyone"
            if self.identity is not None:
                connection = self._accepting.wrap_socket(sock, server_side=True)
                role = peer_role(connection)  # type: ignore[arg-type]
            connection.settimeout(self.cluster.recv_timeout_s)
            with connection.makefile("rwb") as stream:
                limit = CONTROL_LIMIT if role.startswith("party") else MAX_FRAME
                frame = read_frame(stream, f"party {self.rank}: a request from {peer}", limit)
                if frame is None:
                    return  # connected and left: a port probe
                try:
                    header, blobs = decode_message(frame, f"party {self.rank}: the request from {peer}")
                except DittoError as e:
                    write_frame(stream, party_failure(e.message))
                    raise
                write_frame(stream, self._request(role, header, blobs, connection))
        except (OSError, ssl.SSLError, DittoError, ValueError) as e:
            LOG.warning("party %d: dropped the connection from %s: %s", self.rank, peer, e or type(e).__name__)
        finally:
            connection.close()
            self._slots.release()

    def _request(self, role: str, header: dict[str, Any], blobs: list[bytes], connection: socket.socket) -> bytes:
        kind = header.get("request")
        allowed = {
            "deploy": role in ("owner", "anyone"),
            "remove": role in ("owner", "anyone"),
            "query": role in ("owner", "anyone") or role.startswith("client-"),
            "forget": role in ("owner", "anyone") or role.startswith("client-"),
            "run": self.rank != 0 and role in ("party0", "anyone"),
            "describe": True,
            "status": True,
        }
        if kind not in allowed:
            return party_failure(f"party {self.rank}: unknown request {kind!r}")
        if not allowed[kind]:
            LOG.warning("party %d: refused %r from %r", self.rank, kind, role)
            return party_failure(f"party {self.rank}: a {role!r} certificate may not {kind}")
        try:
            if kind == "deploy":
                return self._deploy(header, blobs)
            if kind == "remove":
                if self.models.pop(self._model_name(header), None) is None:
                    raise DittoError(f"there is no model {header['model']!r}")
                return ok_message()
            if kind == "describe":
                model = self._model(header)
                return ok_message(plan=model.plan_json, weights=len(model.weights), upcast=model.upcast)
            if kind == "status":
                return ok_message(**self.status())
            if kind == "query":
                return self._query(role, header, blobs, connection)
            if kind == "forget":
                return ok_message(forgotten=self._forget(role, header.get("values")))
            return self._follow(header)
        except (DittoError, KeyError, TypeError, ValueError) as e:
            message = e.message if isinstance(e, DittoError) else f"malformed request: {e!r}"
            return party_failure(f"party {self.rank}: {message}")

    def _model_name(self, header: dict[str, Any]) -> str:
        name = header.get("model")
        if not isinstance(name, str) or not NAME.fullmatch(name):
            raise DittoError(f"a model name is 1-64 letters, digits, '.', '_' or '-', not {name!r}")
        return name

    def _model(self, header: dict[str, Any]) -> _Model:
        name = self._model_name(header)
        if name not in self.models:
            raise DittoError(f"there is no model {name!r}")
        return self.models[name]

    def _deploy(self, header: dict[str, Any], blobs: list[bytes]) -> bytes:
        name = self._model_name(header)
        plan = Plan.from_json(header["plan"], "the deployed plan")
        upcast = header.get("upcast", "ditto")
        check_upcast(upcast)
        if not isinstance(header.get("weights"), list):
            raise DittoError("a deployment lists its weight shares")
        weights = [share_from_wire(w, blobs, "the deployment") for w in header["weights"]]
        if len(weights) > plan.user_inputs or any(e.source < len(weights) for e in plan.encodings):
            raise DittoError(f"{len(weights)} weights do not fit the plan's {plan.user_inputs} inputs")
        self.models[name] = _Model(plan, header["plan"], weights, upcast)
        LOG.info("party %d: model %r deployed (%d weight inputs)", self.rank, name, len(weights))
        return ok_message(weights=len(weights))

    # -- queries --------------------------------------------------------------------------
    def _query(self, role: str, header: dict[str, Any], blobs: list[bytes], connection: socket.socket) -> bytes:
        model = self._model(header)
        query_id = header.get("query")
        if not isinstance(query_id, str) or not QUERY_ID.fullmatch(query_id):
            raise DittoError("a query id is 8-64 lowercase hex digits")
        given = [share_from_wire(s, blobs, "the query") for s in header.get("inputs", [])]
        plan, first = model.plan, len(model.weights)
        taking = self._numbered_names(header.get("from_state", {}), range(first, len(plan.inputs)), "input")
        keep = self._numbered_names(header.get("keep", {}), range(len(plan.outputs)), "output")
        expected = len(plan.inputs) - first
        if len(given) + len(taking) != expected:
            raise DittoError(
                f"model {header['model']!r} takes {expected} query inputs, got {len(given)}"
                + (f" and {len(taking)} from the client's state" if taking else "")
            )
        with self._arrived:
            if query_id in self._pending:
                raise DittoError(f"query {query_id} is already here")
            held = self._take_state(role, taking, plan)  # only once the query is sure to be taken
            shares = iter(given)
            inputs = [held[i].share if i in held else next(shares) for i in range(first, len(plan.inputs))]
            query = _Query(query_id, header["model"], inputs, role, keep)
            self._pending[query_id] = query
            self._arrived.notify_all()
        if self.rank == 0:
            self._order.put(query)
        # Wait for the job; a client that hangs up meanwhile withdraws its query (unless it already ran).
        while not query.done.wait(0.5):
            if self._stopping.is_set() or self._client_left(connection):
                with self._arrived:
                    withdrawn = self._pending.pop(query_id, None) is not None
                if withdrawn:
                    LOG.warning("party %d: query %s withdrawn: its client left", self.rank, query_id)
                    return party_failure(f"party {self.rank}: the query was withdrawn")
        return query.answer

    # -- secret state -------------------------------------------------------------------------
    @staticmethod
    def _numbered_names(given: Any, numbers: range, what: str) -> dict[int, str]:
        """A query's {number: name} map of inputs taken from, or outputs kept in, the client's state."""
        if not isinstance(given, dict):
            raise DittoError(f"a query's {what}s for the client's state are a map of {what} numbers to names")
        names: dict[int, str] = {}
        for number, name in given.items():
            if not isinstance(number, str) or not number.isdigit() or int(number) not in numbers:
                last = numbers.stop - 1
                raise DittoError(f"{what} {number!r} is not one of the model's {what}s {numbers.start} to {last}")
            if not isinstance(name, str) or not STATE_NAME.fullmatch(name):
                raise DittoError("a state value's name is 8-64 lowercase hex digits")
            names[int(number)] = name
        if len(set(names.values())) != len(names):
            raise DittoError(f"the query names one state value for two {what}s")
        return names

    def _take_state(self, role: str, taking: dict[int, str], plan: Plan) -> dict[int, _Held]:
        """The held values `taking` names, removed from `role`'s state (a value is used up by the query that
        takes it), each checked against the plan's input it goes to."""
        with self._state_lock:
            mine = self.state.get(role, {})
            for number, name in taking.items():
                if name not in mine:
                    raise DittoError(f"the client's state holds no value {name!r} (for input {number})")
                if not mine[name].variable.fits(plan.inputs[number]):
                    v, want = mine[name].variable, plan.inputs[number]
                    raise DittoError(
                        f"state value {name!r} is {v.kind} {list(v.shape)} in the {v.field_bits}-bit ring; input "
                        f"{number} takes {want.kind} {list(want.shape)} in the {want.field_bits}-bit ring"
                    )
            return {number: mine.pop(name) for number, name in taking.items()}

    def _keep_state(self, query: _Query, plan: Plan, outputs: list[libspu.Share]) -> None:
        """Hold `query`'s kept outputs as its client's state."""
        sizes = {i: len(outputs[i].meta) + sum(len(c) for c in outputs[i].share_chunks) for i in query.keep}
        with self._state_lock:
            mine = self.state.setdefault(query.role, {})
            held = sum(v.size for v in mine.values())
            if held + sum(sizes.values()) > MAX_STATE_BYTES:
                raise DittoError(
                    f"keeping {sum(sizes.values()):,} more bytes would take {query.role!r}'s state past "
                    f"{MAX_STATE_BYTES:,} bytes; forget some of it first"
                )
            for i, name in query.keep.items():
                mine[name] = _Held(plan.outputs[i], outputs[i], sizes[i])

    def _forget(self, role: str, names: Any) -> int:
        """Drop the named values of `role`'s state (names it does not hold are ignored): how many were held."""
        if not isinstance(names, list) or not all(isinstance(n, str) and STATE_NAME.fullmatch(n) for n in names):
            raise DittoError("forget lists state value names (8-64 lowercase hex digits)")
        with self._state_lock:
            mine = self.state.get(role, {})
            return sum(mine.pop(name, None) is not None for name in names)

    @staticmethod
    def _client_left(connection: socket.socket) -> bool:
        """Whether the client closed its end (after its query it sends nothing)."""
        try:
            readable, _, _ = select.select([connection], [], [], 0)
            return bool(readable) and connection.recv(1) == b""
        except OSError:  # ssl.SSLError included
            return True

    def _take(self, query_id: str, wait_s: float) -> _Query | None:
        """The client's query `query_id`, waiting up to `wait_s` for it to arrive."""
        deadline = time.monotonic() + wait_s
        with self._arrived:
            while query_id not in self._pending:
                left = deadline - time.monotonic()
                if left <= 0 or self._stopping.is_set():
                    return None
                self._arrived.wait(left)
            return self._pending.pop(query_id)

    def _follow(self, header: dict[str, Any]) -> bytes:
        """Party 0's order to run a query (parties 1 and 2)."""
        query_id = header.get("query")
        if not isinstance(query_id, str) or not QUERY_ID.fullmatch(query_id):
            raise DittoError("a run order names a query id")
        if header.get("restart") is True:
            self._abort_job()  # a job of the failed query may still be waiting on its peers
            self._end_job_process()
        query = self._take(query_id, self.cluster.recv_timeout_s)
        if query is None:
            return party_failure(f"party {self.rank} never received query {query_id} from its client")
        ok, answer = self._run(query)
        query.answer = answer
        query.done.set()
        return ok_message() if ok else answer

    # -- jobs ---------------------------------------------------------------------------
    def _run(self, query: _Query) -> tuple[bool, bytes]:
        """This party's part of `query`: (succeeded, its answer to the client)."""
        model = self.models.get(query.model)
        if model is None:
            return False, party_failure(f"party {self.rank}: model {query.model!r} was removed")
        job = job_message(
            self.rank,
            model.plan_json,
            [*model.weights, *query.inputs],
            self.cluster.addresses(),
            model.upcast,
            self.cluster.recv_timeout_s,
            identity=self.identity,
            keep_links=True,
        )
        with self._job_lock:
            if self._job_process is None or self._job_process.process.poll() is not None:
                if self._job_process is not None:
                    self._job_process.stop()
                self._job_process = _JobProcess(self.job_log)
            process = self._job_process
            answer = process.run(job)
            try:
                header, _ = decode_message(answer or b"", "the job process's answer")
            except DittoError:
                answer, header = None, {}
            if answer is None:
                answer = party_failure(f"party {self.rank}: {process.why_it_died()}")
                header = {"status": "error", "message": f"party {self.rank}: {process.why_it_died()}"}
            ok = header.get("status") == "ok"
            if not ok:
                process.stop()
                message = str(header.get("message", ""))
                if not message.startswith(f"party {self.rank}"):
                    answer = party_failure(f"party {self.rank}: {message}", str(header.get("log", "")))
            elif query.keep:
                try:
                    answer = self._withhold(query, model.plan, answer)
                except DittoError as e:
                    ok, answer = False, party_failure(f"party {self.rank}: {e.message}")
            self.jobs["ok" if ok else "failed"] += 1
        if ok:
            LOG.info("party %d: query %s done", self.rank, query.id)
        else:
            LOG.warning("party %d: query %s FAILED: %s", self.rank, query.id, decode_message(answer, "")[0]["message"])
        return ok, answer

    def _withhold(self, query: _Query, plan: Plan, answer: bytes) -> bytes:
        """The job's answer without the outputs `query` keeps: those become the client's state here."""
        header, blobs = decode_message(answer, "the job process's answer")
        outputs = [share_from_wire(o, blobs, "the job process's answer") for o in header["outputs"]]
        self._keep_state(query, plan, outputs)
        sent = [o for i, o in enumerate(outputs) if i not in query.keep]
        return party_result(sent, header["steps"], header.get("log", ""), kept=sorted(query.keep))

    def _abort_job(self) -> None:
        """Kill the running job's process (its `_run` then reports the job failed)."""
        process = self._job_process
        if process is not None and process.process.poll() is None:
            process.process.kill()

    def _end_job_process(self) -> None:
        with self._job_lock:
            if self._job_process is not None:
                self._job_process.stop()
                self._job_process = None

    # -- the leader -------------------------------------------------------------------------
    def _lead_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                query = self._order.get(timeout=0.5)
            except queue.Empty:
                continue
            with self._arrived:
                if self._pending.pop(query.id, None) is None:
                    continue  # withdrawn
            try:
                self._lead(query)
            except Exception as e:  # never let one query stop the leader
                LOG.error("party 0: query %s: %s", query.id, e)
                query.answer = party_failure(f"party 0: {e}")
            query.done.set()

    def _lead(self, query: _Query) -> None:
        # Followers still busy with the last query (after a failure) would miss this one's links.
        for thread in self._listeners:
            thread.join(timeout=self.cluster.recv_timeout_s + GRACE_S)
        followers: dict[int, socket.socket] = {}
        try:
            for peer in range(1, WORLD_SIZE):
                followers[peer] = connect(self.cluster, peer, self._connecting, self.cluster.recv_timeout_s)
        except DittoError as e:
            for connection in followers.values():
                connection.close()
            LOG.warning("party 0: query %s not started: %s", query.id, e)
            query.answer = party_failure(f"query {query.id} failed: {e}")
            return
        order = encode_message({"request": "run", "query": query.id, "restart": self._restart_followers}, [])
        reports: dict[int, tuple[str, str]] = {}
        reported = threading.Condition()

        def listen(peer: int, connection: socket.socket) -> None:
            try:
                connection.settimeout(None)
                with connection.makefile("rwb") as stream:
                    write_frame(stream, order)
                    frame = read_frame(stream, f"party {peer}'s report", CONTROL_LIMIT)
                if frame is None:
                    report = ("closed", f"party {peer} stopped during query {query.id} (its connection closed)")
                else:
                    header, _ = decode_message(frame, f"party {peer}'s report")
                    ok = header.get("status") == "ok"
                    report = ("ok", "") if ok else ("failed", str(header.get("message", "no reason given")))
            except (OSError, DittoError) as e:
                report = ("closed", f"party {peer} stopped during query {query.id} ({e or type(e).__name__})")
            finally:
                connection.close()
            with reported:
                reports[peer] = report
                reported.notify_all()
            if report[0] == "closed":
                self._abort_job()  # our part could only wait for it now

        self._listeners = [
            threading.Thread(target=listen, args=(peer, connection), daemon=True)
            for peer, connection in followers.items()
        ]
        for thread in self._listeners:
            thread.start()
        self._restart_followers = False
        ok, answer = self._run(query)
        deadline = time.monotonic() + (GRACE_S if not ok else self.cluster.recv_timeout_s + GRACE_S)
        with reported:
            while len(reports) < len(followers) and (left := deadline - time.monotonic()) > 0:
                reported.wait(left)
            final = dict(reports)
        if ok and all(state == "ok" for state, _ in final.values()) and len(final) == len(followers):
            query.answer = answer
            return
        self._restart_followers = True
        self._end_job_process()
        own = decode_message(answer, "")[0].get("message", "") if not ok else ""
        query.answer = party_failure(f"query {query.id} failed: {self._culprit(final, own, len(followers))}")
        LOG.warning("party 0: %s", decode_message(query.answer, "")[0]["message"])

    @staticmethod
    def _culprit(reports: dict[int, tuple[str, str]], own: str, followers: int) -> str:
        """The one-line cause of a failed query, naming the party that caused it."""
        closed = [message for state, message in reports.values() if state == "closed"]
        if closed:
            return closed[0]
        silent = [peer for peer in range(1, followers + 1) if peer not in reports]
        if silent:
            return f"party {silent[0]} did not report within {GRACE_S:g} s of the others (unreachable or stalled)"
        failures = [message for state, message in reports.values() if state == "failed"] + ([own] if own else [])
        waiting = [m for m in failures if not any(word in m.lower() for word in TIMEOUT_WORDS)]
        return (waiting or failures or ["a party failed"])[0]
