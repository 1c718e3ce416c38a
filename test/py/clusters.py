"""Local clusters of resident parties for tests: free ports, certificates, identities (test helper)."""

import json
import os
import random
import socket

from ditto_compiler.runtime.deployment import PORTS_PER_PARTY, load_cluster, write_cluster
from ditto_compiler.runtime.tls import make_certificates

RECV_TIMEOUT_S = 4


def port_base(count=1):
    """`count` free blocks of PORTS_PER_PARTY consecutive ports each (bases). They are drawn below the kernel's
    ephemeral range (from 32768), where no connection's source port lands, each pytest-xdist worker from its own
    region: a block probed free stays free until the parties bind it."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
    span = (32768 - 10000) // workers
    size = PORTS_PER_PARTY * count
    draw = random.Random()
    while True:
        base = draw.randrange(10000 + worker * span, 10000 + (worker + 1) * span - size)
        probes = []
        try:
            for port in range(base, base + size):
                s = socket.socket()
                probes.append(s)
                s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in probes:
                s.close()


def make_cluster(directory, insecure=False):
    directory.mkdir(parents=True, exist_ok=True)
    base = port_base(3)
    if insecure:
        parties = [{"host": "127.0.0.1", "port": base + PORTS_PER_PARTY * r} for r in range(3)]
        config = {"parties": parties, "insecure": True, "recv_timeout_s": RECV_TIMEOUT_S}
        (directory / "cluster.json").write_text(json.dumps(config))
    else:
        make_certificates(directory, 3, ["alice", "bob"])
        write_cluster(directory / "cluster.json", ["127.0.0.1"] * 3, base, RECV_TIMEOUT_S)
    return load_cluster(str(directory / "cluster.json"))


def who(cluster, directory, role):
    return (
        None if cluster.insecure else cluster.identity(str(directory / f"{role}.pem"), str(directory / f"{role}.key"))
    )
