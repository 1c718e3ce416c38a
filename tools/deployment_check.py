"""Measure a TLS cluster of resident parties on this machine (docs/deployment.md records a run).

Makes a CA and certificates, starts three `ditto party` processes on loopback, and as the model owner
deploys a model once; then
* per-query cost: `--queries` queries from `--clients` clients at once (bytes and rounds between the parties,
  bytes to and from the client, seconds), against the one-shot `ditto drive` path (upload everything, query,
  remove) for the same input;
* a soak: each party server's memory, open descriptors and threads before and after the queries;
* with `--faults`: bad clients (raw garbage, an idle socket, a certificate from another CA) and faults (a party
  stalled mid-query, a party killed mid-query): time to the client's error, its message, the survivors' state.

    python tools/deployment_check.py --model layer --queries 100 --clients 2 --faults --json layer.json
    python tools/deployment_check.py --model minilm --queries 4 --clients 2 --json minilm.json
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import ditto_compiler
from ditto_compiler.diagnostics import DittoError
from ditto_compiler.runtime.client import ClusterClient, run_once
from ditto_compiler.runtime.deployment import PORTS_PER_PARTY, load_cluster, write_cluster
from ditto_compiler.runtime.processes import free_ports
from ditto_compiler.runtime.tls import identity, make_certificates

ROOT = Path(__file__).resolve().parents[1]


def _model(name: str):  # noqa: ANN202
    """(program, weights, a function making one query's inputs)."""
    if name == "layer":
        rng = np.random.default_rng(0)
        w = (rng.normal(size=(16, 16)) * 0.3).astype(np.float32)

        def heavy(w, x):
            for _ in range(40):
                x = jnp.exp(-jnp.abs(x @ w))
            return x

        prog = ditto_compiler.compile(heavy, w, rng.normal(size=(4, 16)).astype(np.float32), policy="fxp64")
        return prog, [w], lambda r: [r.normal(size=(4, 16)).astype(np.float32)]
    from ditto_compiler.models.hf import bert_case

    case = bert_case("minilm", 128)
    prog = ditto_compiler.compile(case.forward, *case.args, policy=str(ROOT / "docs/tune/minilm-policy.json"))
    weights = [np.asarray(leaf) for leaf in jax.tree_util.tree_leaves(case.params)]
    return prog, weights, lambda r: [case.ids, case.mask]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=("layer", "minilm"), default="layer")
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--faults", action="store_true")
    parser.add_argument("--recv-timeout", type=float, default=10.0)
    parser.add_argument("--json", metavar="FILE")
    options = parser.parse_args()
    report: dict = {"model": options.model, "queries": options.queries, "clients": options.clients}
    scratch = Path(tempfile.mkdtemp(prefix="ditto-deployment-"))
    names = [f"c{i}" for i in range(options.clients)]
    make_certificates(scratch, 3, names)
    while (base := free_ports(1)[0]) + 3 * PORTS_PER_PARTY >= 65000:
        pass
    write_cluster(scratch / "cluster.json", ["127.0.0.1"] * 3, base, options.recv_timeout)
    cluster = load_cluster(str(scratch / "cluster.json"))
    command = [sys.executable, "-m", "ditto_compiler.cli.ditto", "party", "--config", str(scratch / "cluster.json")]
    logs = [open(scratch / f"party{r}.log", "w") for r in range(3)]  # noqa: SIM115

    def start(rank: int) -> subprocess.Popen:
        return subprocess.Popen([*command, "--rank", str(rank)], stdout=logs[rank], stderr=logs[rank])

    parties = [start(r) for r in range(3)]
    prog, weights, make_query = _model(options.model)
    owner = ClusterClient(cluster, identity(scratch, "owner"))
    try:
        began = time.perf_counter()
        upload = owner.deploy("model", prog.plan, weights)
        report["deploy"] = {"uploaded_bytes": upload.uploaded, "seconds": time.perf_counter() - began}
        rng = np.random.default_rng(1)
        owner.query("model", make_query(rng))  # the job processes start and link up once
        before = [owner.status(r) for r in range(3)]
        records: list[dict] = []
        lock = threading.Lock()

        def client(name: str, count: int) -> None:
            me = ClusterClient(cluster, identity(scratch, f"client-{name}"))
            local = np.random.default_rng(names.index(name))
            for _ in range(count):
                began = time.perf_counter()
                _, cost = me.query("model", make_query(local))
                with lock:
                    records.append({"seconds": time.perf_counter() - began, "send_bytes": cost.send_bytes,
                                    "rounds": cost.rounds, "uploaded": me.last_traffic.uploaded,
                                    "downloaded": me.last_traffic.downloaded})  # fmt: skip

        share = [options.queries // len(names) + (i < options.queries % len(names)) for i in range(len(names))]
        threads = [threading.Thread(target=client, args=(n, k)) for n, k in zip(names, share)]
        began = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - began
        after = [owner.status(r) for r in range(3)]
        report["per_query"] = {
            "count": len(records),
            "median_seconds": statistics.median(r["seconds"] for r in records),
            "throughput_per_s": len(records) / wall,
            "send_bytes": records[0]["send_bytes"],
            "rounds": records[0]["rounds"],
            "client_uploaded_bytes": records[0]["uploaded"],
            "client_downloaded_bytes": records[0]["downloaded"],
        }
        report["soak"] = [
            {k: (b[k], a[k]) for k in ("rss_bytes", "open_fds", "threads", "jobs")} for b, a in zip(before, after)
        ]
        inputs = [*weights, *make_query(rng)]
        began = time.perf_counter()
        _, cost, traffic = run_once(cluster, identity(scratch, "owner"), prog.plan, inputs)
        report["one_shot"] = {"seconds": time.perf_counter() - began, "send_bytes": cost.send_bytes,
                              "uploaded_bytes": traffic.uploaded}  # fmt: skip
        if options.faults:
            report["faults"] = _faults(cluster, scratch, parties, owner, make_query, rng, start)
    finally:
        for p in parties:
            p.send_signal(signal.SIGCONT)
            p.terminate()
        for p in parties:
            p.wait(timeout=30)
    text = [open(scratch / f"party{r}.log").read() for r in range(3)]  # noqa: SIM115
    report["segfaults"] = sum(t.count("Segmentation fault") for t in text)
    print(json.dumps(report, indent=2))
    if options.json:
        Path(options.json).write_text(json.dumps(report, indent=2) + "\n")
    return 0


def _faults(cluster, scratch, parties, owner, make_query, rng, start) -> list[dict]:  # noqa: ANN001
    host, port = cluster.address(0)
    rows = []

    def survivors() -> str:
        states = []
        for rank in range(3):
            try:
                status = owner.status(rank)
                states.append(f"party {rank} up ({status['jobs']['failed']} failed jobs)")
            except DittoError:
                states.append(f"party {rank} down")
        return "; ".join(states)

    def attempt(name: str, action, query: bool = True) -> None:  # noqa: ANN001
        began = time.monotonic()
        message = "no error"
        if query:
            threading.Timer(0.3, action).start()
            try:
                owner.query("model", make_query(rng))
            except DittoError as e:
                message = str(e)
        else:
            message = action()
        rows.append({"fault": name, "seconds_to_error": round(time.monotonic() - began, 2), "message": message,
                     "survivors": survivors()})  # fmt: skip

    def garbage() -> str:
        with socket.create_connection((host, port)) as s:
            s.sendall(b"GET / HTTP/1.1\r\n\r\n" + os.urandom(200))
            try:
                return f"connection closed by party 0 (read {len(s.recv(100))} bytes)"
            except OSError as e:
                return f"connection closed by party 0 ({e})"

    def foreign() -> str:
        make_certificates(scratch / "other", 3, ["mallory"])
        try:
            ClusterClient(cluster, identity(scratch / "other", "client-mallory")).describe("model")
            return "accepted (wrong)"
        except DittoError as e:
            return str(e)

    idle = socket.create_connection((host, port))
    attempt("raw garbage to party 0", garbage, query=False)
    attempt("certificate from another CA", foreign, query=False)
    attempt("an idle socket open, then a query", lambda: None)
    idle.close()
    attempt("party 2 stalled mid-query (SIGSTOP)", lambda: parties[2].send_signal(signal.SIGSTOP))
    parties[2].send_signal(signal.SIGCONT)
    attempt("party 2 killed mid-query (SIGKILL)", parties[2].kill)
    parties[2].wait()
    parties[2] = start(2)
    return rows


if __name__ == "__main__":
    sys.exit(main())
