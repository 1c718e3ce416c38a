"""Resident parties (runtime/server.py): mutual TLS, roles, one upload and many queries, bad clients, faults."""

import dataclasses
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest
from clusters import RECV_TIMEOUT_S, make_cluster, port_base, who

import ditto_compiler
import ditto_compiler.runtime.client as client_module
from ditto_compiler import DittoError
from ditto_compiler.runtime.client import ClusterClient, run_once
from ditto_compiler.runtime.deployment import PORTS_PER_PARTY, load_cluster
from ditto_compiler.runtime.server import PartyServer
from ditto_compiler.runtime.tls import identity, make_certificates


def script(name):
    search = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return shutil.which(name, path=search)


def layer(w, x):
    return jnp.exp(-jnp.abs(x @ w)) @ w.T


def heavy(w, x):
    for _ in range(40):
        x = jnp.exp(-jnp.abs(x @ w))
    return x


w_heavy = (np.random.default_rng(5).normal(size=(16, 16)) * 0.3).astype(np.float32)


@pytest.fixture(scope="module")
def model():
    rng = np.random.default_rng(1)
    w = (rng.normal(size=(16, 8)) * 0.3).astype(np.float32)
    x = rng.normal(size=(4, 16)).astype(np.float32)
    prog = ditto_compiler.compile(layer, w, x, policy="ditto")
    prog.run(w, x)
    return prog, w


@pytest.fixture(scope="module")
def tls_cluster(tmp_path_factory, model):
    """Three TLS parties (in this process; each runs its jobs in its own job process) with `layer` deployed."""
    directory = tmp_path_factory.mktemp("cluster")
    cluster = make_cluster(directory)
    servers = [PartyServer(cluster, rank) for rank in range(3)]
    for server in servers:
        server.start()
    prog, w = model
    ClusterClient(cluster, who(cluster, directory, "owner")).deploy("layer", prog.plan, [w])
    yield cluster, directory, servers
    for server in servers:
        server.stop()


def test_two_clients_query_one_upload_and_each_pays_only_its_query(tls_cluster, model):
    cluster, directory, servers = tls_cluster
    prog, w = model
    rng = np.random.default_rng(2)
    results, errors = [], []

    def client(name, count):
        try:
            me = ClusterClient(cluster, who(cluster, directory, f"client-{name}"))
            for _ in range(count):
                x = rng.normal(size=(4, 16)).astype(np.float32)
                outputs, cost = me.query("layer", [x])
                results.append((x, outputs[0], cost, me.last_traffic))
        except Exception as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=client, args=(name, 4)) for name in ("alice", "bob")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(results) == 8
    for x, got, cost, traffic in results:
        np.testing.assert_allclose(got, layer(w, x), atol=0.05)
        # The parties' traffic per query is the program's own, exactly as Program.run counts it.
        assert cost.send_bytes == prog.cost.send_bytes
        assert cost.by_ring.keys() == prog.cost.by_ring.keys()
        # The client uploads its input shares only: far less than the model's weight shares.
        assert 0 < traffic.uploaded < 3 * 4 * 16 * 2 * 8 + 3 * 4096
    for server in servers:
        status = server.status()
        assert status["models"] == ["layer"] and status["jobs"]["ok"] >= 8 and status["jobs"]["failed"] == 0


def test_roles_are_enforced_and_inputs_checked_as_program_run_checks_them(tls_cluster, model):
    cluster, directory, servers = tls_cluster
    prog, w = model
    alice = ClusterClient(cluster, who(cluster, directory, "client-alice"))
    with pytest.raises(DittoError, match="party 0: a 'client-alice' certificate may not deploy"):
        alice.deploy("mine", prog.plan, [w])
    with pytest.raises(DittoError, match="party 0: a 'client-alice' certificate may not remove"):
        alice.remove("layer")
    with pytest.raises(DittoError, match="there is no model 'nothing'"):
        alice.query("nothing", [np.zeros((4, 16), np.float32)])
    bad_inputs = [
        ([np.full((4, 16), np.nan, np.float32)], "not finite|NaN"),
        ([np.full((4, 16), 1e12, np.float32)], "outside|range"),
        ([np.zeros((3, 16), np.float32)], "shape"),
        ([], "takes 1 inputs after the first 1, got 0"),
    ]
    for inputs, message in bad_inputs:
        with pytest.raises(DittoError, match=message):
            alice.query("layer", inputs)
    # A party certificate cannot pose as party 0 to order jobs, nor as the owner.
    party1 = ClusterClient(cluster, cluster.party_identity(1))
    with pytest.raises(DittoError, match="a 'party1' certificate may not deploy"):
        party1.deploy("mine", prog.plan, [w])
    assert all(server.status()["jobs"]["failed"] == 0 for server in servers)


def test_bad_clients_never_stop_a_party(tls_cluster, tmp_path, model):
    cluster, directory, servers = tls_cluster
    prog, w = model
    host, port = cluster.address(0)
    idle = socket.create_connection((host, port))  # holds a connection open, says nothing
    with socket.create_connection((host, port)) as garbage:
        garbage.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + os.urandom(300))
        garbage.settimeout(10)
        try:
            reply = garbage.recv(100)
        except ConnectionResetError:
            reply = b""
        assert reply == b"" or reply[:1] == b"\x15"  # hung up on, perhaps after a TLS alert
    # A certificate from another CA is refused, in either direction.
    make_certificates(tmp_path / "other", 3, ["mallory"])
    mallory = identity(tmp_path / "other", "client-mallory")
    with pytest.raises(DittoError, match="party 0 at .* refused the TLS handshake"):
        ClusterClient(cluster, mallory).describe("layer")
    # A valid certificate, then garbage instead of a request: told so, and dropped.
    context = who(cluster, directory, "client-alice").client_context()
    with socket.create_connection((host, port)) as sock, context.wrap_socket(sock) as tls:
        tls.sendall(b"\x13\x00\x00\x00\x00\x00\x00\x00not a ditto message")
        tls.settimeout(10)
        reply = tls.makefile("rb").read()
    assert b"party 0: the request from 127.0.0.1" in reply and b"not a ditto-compiler message" in reply
    # With all that going on (the idle socket still open), a real query is served.
    x = np.ones((4, 16), np.float32)
    outputs, _ = ClusterClient(cluster, who(cluster, directory, "client-bob")).query("layer", [x])
    np.testing.assert_allclose(outputs[0], layer(w, x), atol=0.05)
    idle.close()
    assert all(server.status()["jobs"]["failed"] == 0 for server in servers)


class Relay:
    """Forwards TCP from each listening port to its target port on localhost, recording every byte."""

    def __init__(self, routes):
        self.captured = bytearray()
        self.lock = threading.Lock()
        self.listeners = []
        for listen, target in routes:
            listener = socket.create_server(("127.0.0.1", listen))
            self.listeners.append(listener)
            threading.Thread(target=self._accept, args=(listener, target), daemon=True).start()

    def _accept(self, listener, target):
        while True:
            try:
                a, _ = listener.accept()
            except OSError:
                return
            try:
                b = socket.create_connection(("127.0.0.1", target))
            except OSError:
                a.close()
                continue
            for src, dst in ((a, b), (b, a)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src, dst):
        try:
            while data := src.recv(1 << 16):
                with self.lock:
                    self.captured += data
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self):
        for listener in self.listeners:
            listener.close()


def share_windows(shares):
    """16-byte pieces of every share word sequence (any one of them in a capture means a share leaked)."""
    windows = set()
    for share in shares:
        for chunk in share.share_chunks:
            data = bytes(chunk)
            windows.update(data[i : i + 16] for i in range(0, len(data) - 16, 16))
    return windows


@pytest.mark.parametrize("insecure", [False, True])
def test_a_relay_on_the_wire_sees_no_share(tmp_path, model, monkeypatch, insecure):
    prog, w = model
    cluster = make_cluster(tmp_path / "cluster", insecure)
    relay_base = port_base()
    # The owner and the client reach party 1 through the relay; parties 1 and 2 reach party 0's links through it.
    via_relay_1 = dataclasses.replace(cluster, ports=(cluster.ports[0], relay_base, cluster.ports[2]))
    via_relay_0 = dataclasses.replace(cluster, ports=(relay_base, *cluster.ports[1:]))
    routes = [(relay_base, cluster.ports[1])] + [
        (relay_base + k, cluster.ports[0] + k) for k in range(1, PORTS_PER_PARTY)
    ]
    relay = Relay(routes)
    servers = [PartyServer(cluster, 0), PartyServer(via_relay_0, 1), PartyServer(via_relay_0, 2)]
    sent = []
    share_inputs = client_module.share_inputs
    monkeypatch.setattr(client_module, "share_inputs", lambda *a, **k: sent.append(share_inputs(*a, **k)) or sent[-1])
    try:
        for server in servers:
            server.start()
        ClusterClient(via_relay_1, who(cluster, tmp_path / "cluster", "owner")).deploy("layer", prog.plan, [w])
        x = np.random.default_rng(3).normal(size=(4, 16)).astype(np.float32)
        alice = ClusterClient(via_relay_1, who(cluster, tmp_path / "cluster", "client-alice"))
        outputs, _ = alice.query("layer", [x])
        np.testing.assert_allclose(outputs[0], layer(w, x), atol=0.05)
    finally:
        for server in servers:
            server.stop()
        relay.close()
    assert not any(server.job_log.parent.exists() for server in servers)  # scratch directories it made are removed
    captured = bytes(relay.captured)
    windows = share_windows(share[1] for shares in sent for share in shares)  # party 1's shares of w and x
    assert len(captured) > 10_000 and len(windows) > 20
    leaked = sum(window in captured for window in windows)
    if insecure:
        assert leaked == len(windows), "the relay must see plaintext shares on an insecure cluster"
        assert b"PRPC" in captured  # SPU's brpc frames, in the clear
    else:
        assert leaked == 0
        assert b"PRPC" not in captured and b"DITTO-WIRE" not in captured
        assert captured.count(b"\x17\x03\x03") > 10  # TLS application-data records


def test_cluster_config_errors(tmp_path):
    path = tmp_path / "cluster.json"
    good = {"parties": [{"host": "a", "port": 9000 + 10 * r, "cert": "c", "key": "k"} for r in range(3)], "ca": "ca"}
    cases = [
        ({"parties": good["parties"][:1], "ca": "ca"}, "'parties' must list 3 parties"),
        ({**good, "parties": [{**good["parties"][0], "port": True}, *good["parties"][1:]]}, r"parties\[0\].port"),
        ({**good, "parties": [{**good["parties"][0], "host": ""}, *good["parties"][1:]]}, r"parties\[0\].host"),
        ({**good, "recv_timeout_s": math.nan}, "'recv_timeout_s' must be a number"),
        ({**good, "recv_timeout_s": math.inf}, "'recv_timeout_s' must be a number"),
        ({**good, "ca": None}, "'ca' must name the cluster CA"),
        ({**good, "parties": [{"host": "a", "port": 9000 + 10 * r} for r in range(3)]}, r"parties\[0\].cert"),
        ({**good, "authkey": "old"}, "unknown key 'authkey'"),
        ({**good, "insecure": True}, "an insecure cluster has no certificates"),
        ({**good, "parties": [{**p, "port": 9000 + r} for r, p in enumerate(good["parties"])]}, "ports overlap"),
    ]
    for config, message in cases:
        path.write_text(json.dumps(config))
        with pytest.raises(DittoError, match=message):
            load_cluster(str(path))
    path.write_text(json.dumps(good))
    cluster = load_cluster(str(path))
    with pytest.raises(DittoError, match="this cluster uses TLS: give your certificate and key"):
        cluster.identity(None, None)
    with pytest.raises(DittoError, match="party 0: cert file .* does not exist"):
        PartyServer(cluster, 0)
    result = subprocess.run([script("ditto"), "party", "--config", str(tmp_path / "missing.json"), "--rank", "0"],
                            capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 1 and result.stderr.startswith("ditto: error: cannot read cluster config")


def test_commands_end_to_end_and_named_faults(tmp_path, model):
    """`ditto certs`, three `ditto party` processes, `ditto deploy`, `ditto query`, the one-shot path; then a stalled
    party and a killed one are named to the client within the receive timeout + 5 s, and the survivors serve on."""
    prog, w = model
    prog.save(str(tmp_path / "layer.json"))
    certs = tmp_path / "certs"
    ditto = script("ditto")
    made = subprocess.run([ditto, "certs", "--out", str(certs), "--port", str(port_base(3)), "--clients", "alice"],
                          capture_output=True, text=True)  # fmt: skip
    assert made.returncode == 0, made.stderr
    config = json.loads((certs / "cluster.json").read_text())
    config["recv_timeout_s"] = RECV_TIMEOUT_S
    (certs / "cluster.json").write_text(json.dumps(config))
    cluster = load_cluster(str(certs / "cluster.json"))

    def start(rank):
        return subprocess.Popen([ditto, "party", "--config", str(certs / "cluster.json"), "--rank", str(rank)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip

    def command(*args):
        return subprocess.run([ditto, *args, "--config", str(certs / "cluster.json")], capture_output=True, text=True,
                              timeout=120)  # fmt: skip

    x = np.random.default_rng(4).normal(size=(4, 16)).astype(np.float32)
    np.savez(tmp_path / "weights.npz", w)
    np.savez(tmp_path / "query.npz", x)
    parties = [start(rank) for rank in range(3)]
    try:
        owner = ["--cert", str(certs / "owner.pem"), "--key", str(certs / "owner.key")]
        alice = ["--cert", str(certs / "client-alice.pem"), "--key", str(certs / "client-alice.key")]
        deployed = command("deploy", *owner, "--program", str(tmp_path / "layer.json"),
                           "--weights", str(tmp_path / "weights.npz"), "--name", "layer")  # fmt: skip
        assert deployed.returncode == 0, deployed.stderr
        queried = command("query", *alice, "--model", "layer", "--inputs", str(tmp_path / "query.npz"),
                          "--out", str(tmp_path / "out.npz"))  # fmt: skip
        assert queried.returncode == 0, queried.stderr
        driven, _, _ = run_once(
            cluster, cluster.identity(*(str(certs / f"owner.{e}") for e in ("pem", "key"))), prog.plan, [w, x]
        )  # `ditto drive`'s path: a thin client of the same servers
        np.testing.assert_allclose(driven[0], layer(w, x), atol=0.05)
        with np.load(tmp_path / "out.npz") as result:
            np.testing.assert_allclose(result["arr_0"], layer(w, x), atol=0.05)
        refused = command("query", "--model", "layer", "--inputs", str(tmp_path / "query.npz"),
                          "--out", str(tmp_path / "x.npz"))  # fmt: skip
        assert refused.returncode == 1 and "give your certificate and key" in refused.stderr

        client = ClusterClient(cluster, cluster.identity(str(certs / "owner.pem"), str(certs / "owner.key")))
        heavy_prog = ditto_compiler.compile(heavy, w_heavy, x, policy="fxp64")
        client.deploy("heavy", heavy_prog.plan, [w_heavy])
        client.query("heavy", [x])  # about a second with warm links

        def during_a_query(action):
            threading.Timer(0.3, action).start()
            began = time.monotonic()
            with pytest.raises(DittoError) as failure:
                client.query("heavy", [x])
            return str(failure.value), time.monotonic() - began

        # A stalled (or partitioned) party: named once its peers' receives have timed out.
        message, took = during_a_query(lambda: parties[2].send_signal(signal.SIGSTOP))
        assert "party 2 did not report" in message and took < RECV_TIMEOUT_S + 5
        parties[2].send_signal(signal.SIGCONT)
        # A killed party: named at once.
        message, took = during_a_query(parties[2].kill)
        assert "party 2 closed its connection before answering" in message and took < RECV_TIMEOUT_S + 5
        parties[2].wait()
        # The survivors stay up; with party 2 back (it lost its models), the next query is served.
        parties[2] = start(2)
        client.deploy("layer", prog.plan, [w])
        outputs, _ = client.query("layer", [x])
        np.testing.assert_allclose(outputs[0], layer(w, x), atol=0.05)
        assert all(p.poll() is None for p in parties)
        assert client.status(0)["jobs"]["failed"] >= 1  # the killed query may have been withdrawn before it ran
    finally:
        for p in parties:
            p.send_signal(signal.SIGCONT)
            p.terminate()
        logs = [p.communicate(timeout=30)[1] for p in parties]
    assert "FAILED" in logs[0] and "party 2 did not report" in logs[0]
    assert "Segmentation fault" not in "".join(logs)


def test_the_leader_names_the_party_that_caused_a_failure():
    culprit = PartyServer._culprit
    timeout = "party 1: Get data timeout, key=ditto-ring64"
    assert culprit({1: ("closed", "party 2 stopped during query q"), 2: ("failed", timeout)}, "", 2).startswith(
        "party 2 stopped"
    )
    assert culprit({1: ("failed", timeout)}, "party 0: timeout", 2).startswith("party 2 did not report")
    assert culprit({1: ("failed", "party 1: input 1 is malformed"), 2: ("failed", timeout)}, "", 2) == (
        "party 1: input 1 is malformed"
    )
    assert culprit({1: ("ok", ""), 2: ("ok", "")}, "party 0: its job process died (signal 11)", 2) == (
        "party 0: its job process died (signal 11)"
    )


def accumulate(w, h, x):
    h = h + x @ w
    return jnp.sum(h), h


def test_outputs_kept_as_a_clients_secret_state(tls_cluster, model):
    """A query can keep outputs in the parties (never sent to anyone) and a later one take them as inputs: only
    the client that kept them, only where the plan takes such a value, and each value only once."""
    cluster, directory, servers = tls_cluster
    rng = np.random.default_rng(7)
    w = (rng.normal(size=(16, 8)) * 0.3).astype(np.float32)
    xs = [rng.normal(size=(4, 16)).astype(np.float32) for _ in range(2)]
    h0 = np.zeros((4, 8), np.float32)
    prog = ditto_compiler.compile(accumulate, w, h0, xs[0], policy="fxp64")
    prog.run(w, h0, xs[0])
    ClusterClient(cluster, who(cluster, directory, "owner")).deploy("acc", prog.plan, [w])
    alice = ClusterClient(cluster, who(cluster, directory, "client-alice"))
    bob = ClusterClient(cluster, who(cluster, directory, "client-bob"))

    outputs, cost = alice.query("acc", [h0, xs[0]], keep=[1])
    held = outputs[1]
    assert isinstance(held, client_module.Held) and held.variable == prog.plan.outputs[1]
    np.testing.assert_allclose(outputs[0], np.sum(xs[0] @ w), rtol=1e-3)
    assert cost.send_bytes == prog.cost.send_bytes
    # The kept value stays in the parties: each holds one share of it, and alice's answers carried none of it.
    assert [s.status()["state_values"] for s in servers] == [1, 1, 1]
    downloaded = alice.last_traffic.downloaded
    opened, _ = alice.query("acc", [h0, xs[0]])
    assert isinstance(opened[1], np.ndarray)
    assert alice.last_traffic.downloaded - downloaded >= 3 * 4 * 8 * 2 * 8  # the three parties' shares of h

    with pytest.raises(DittoError, match="party 0: the client's state holds no value"):
        bob.query("acc", [held, xs[1]])  # another certificate reaches only its own state
    with pytest.raises(DittoError, match="input 1 is Held.*takes a different value there"):
        alice.query("layer", [held])
    forged = client_module.Held(model[0].plan.inputs[1], held.name)  # passes the client's own check
    with pytest.raises(DittoError, match=r"party 0: state value '[0-9a-f]+' is fixed \[4, 8\] in the 64-bit ring"):
        alice.query("layer", [forged])  # the parties check it too; the refused query used nothing up
    with pytest.raises(DittoError, match=r"keep must name outputs of the plan \(0 to 1\)"):
        alice.query("acc", [held, xs[1]], keep=[2])

    outputs, _ = alice.query("acc", [held, xs[1]], keep=[1])
    np.testing.assert_allclose(outputs[0], np.sum((xs[0] + xs[1]) @ w), rtol=1e-3)
    with pytest.raises(DittoError, match="holds no value"):
        alice.query("acc", [held, xs[1]])  # used up by the query that took it
    assert [s.status()["state_values"] for s in servers] == [1, 1, 1]
    alice.forget([outputs[1]])
    assert [s.status()["state_values"] for s in servers] == [0, 0, 0]
    ClusterClient(cluster, who(cluster, directory, "owner")).remove("acc")
