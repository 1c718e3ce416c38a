"""A cluster of three parties on their own hosts: its config, validated.

    {"parties": [{"host": "10.0.0.1", "port": 9100, "cert": "party0.pem", "key": "party0.key"},
                 {"host": "10.0.0.2", "port": 9100, "cert": "party1.pem", "key": "party1.key"},
                 {"host": "10.0.0.3", "port": 9100, "cert": "party2.pem", "key": "party2.key"}],
     "ca": "ca.pem",
     "recv_timeout_s": 30}

Party i serves requests (runtime/server.py) on `port` and talks to the other parties
on port+1 (32-bit ring), port+2 (64-bit ring), port+3 (128-bit ring) and port+4 (the
upcast protocol). Paths are relative to the config file; a host only needs its own key.
`ditto certs` writes the CA, the certificates and this file (runtime/tls.py). Without
TLS, `"insecure": true` (no "ca", "cert", "key"): everything then travels in the clear
and anyone who can connect may do anything, which the parties log as a warning.
"""

from __future__ import annotations

import json
import math
import socket
import ssl
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..diagnostics import DittoError
from ..jsonfile import read_json
from .party import WORLD_SIZE
from .tls import Identity, peer_role

LINK_OFFSETS = {"ring32": 1, "ring64": 2, "ring128": 3, "protocol": 4}
PORTS_PER_PARTY = 1 + max(LINK_OFFSETS.values())
MAX_RECV_TIMEOUT_S = 3600.0


@dataclass(frozen=True)
class Cluster:
    hosts: tuple[str, ...]
    ports: tuple[int, ...]
    recv_timeout_s: float
    ca: Path | None
    """None: the cluster runs without TLS (`"insecure": true`)."""
    certs: tuple[tuple[Path, Path], ...] = ()
    """Each party's certificate and key."""

    @property
    def insecure(self) -> bool:
        return self.ca is None

    def address(self, rank: int) -> tuple[str, int]:
        return self.hosts[rank], self.ports[rank]

    def addresses(self) -> dict[str, list[str]]:
        """Each link's host:port of every party."""
        return {
            link: [f"{host}:{port + offset}" for host, port in zip(self.hosts, self.ports)]
            for link, offset in LINK_OFFSETS.items()
        }

    def party_identity(self, rank: int) -> Identity | None:
        """Party `rank`'s certificate, key and the CA (None without TLS)."""
        if self.ca is None:
            return None
        cert, key = self.certs[rank]
        return Identity(cert, key, self.ca)

    def identity(self, cert: str | None, key: str | None) -> Identity | None:
        """A model owner's or client's identity under this cluster's CA (None without TLS)."""
        if self.ca is None:
            return None
        if not cert or not key:
            raise DittoError("this cluster uses TLS: give your certificate and key (--cert, --key)")
        found = Identity(Path(cert), Path(key), self.ca)
        found.check("your identity")
        return found


def connect(cluster: Cluster, rank: int, context: ssl.SSLContext | None, timeout_s: float) -> socket.socket:
    """A connection to party `rank`'s server (TLS under `context`, its certificate checked to be party
    `rank`'s), retried for `timeout_s` while the party is starting and refuses connections."""
    host, port = cluster.address(rank)
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            sock = socket.create_connection((host, port), timeout=timeout_s)
            break
        except OSError as e:
            if time.monotonic() > deadline or not isinstance(e, ConnectionRefusedError):
                raise DittoError(f"party {rank} at {host}:{port} is not reachable: {e}") from None
            time.sleep(0.2)
    if context is None:
        sock.settimeout(None)
        return sock
    try:
        connection = context.wrap_socket(sock)
    except TimeoutError:
        sock.close()
        raise DittoError(
            f"party {rank} at {host}:{port} did not answer the TLS handshake within {timeout_s:g} s "
            "(stalled or unreachable)"
        ) from None
    except (OSError, ssl.SSLError) as e:
        sock.close()
        raise DittoError(f"party {rank} at {host}:{port} refused the TLS handshake: {e}") from None
    if peer_role(connection) != f"party{rank}":
        connection.close()
        raise DittoError(f"the server at {host}:{port} is {peer_role(connection)!r}, not party {rank}")
    connection.settimeout(None)
    return connection


def _positive_finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0


def load_cluster(path: str) -> Cluster:
    """The cluster config at `path`, every field checked (each error names the file and the key)."""
    data = read_json(path, "cluster config")
    if not isinstance(data, dict):
        raise DittoError(f"{path}: a cluster config is a JSON object")
    unknown = sorted(set(data) - {"parties", "ca", "recv_timeout_s", "insecure"})
    if unknown:
        raise DittoError(f"{path}: unknown key {unknown[0]!r} (parties, ca, recv_timeout_s, insecure)")
    base = Path(path).parent
    insecure = data.get("insecure", False)
    if not isinstance(insecure, bool):
        raise DittoError(f"{path}: 'insecure' must be true or false")
    parties = data.get("parties")
    if not isinstance(parties, list) or len(parties) != WORLD_SIZE:
        raise DittoError(f"{path}: 'parties' must list {WORLD_SIZE} parties")
    hosts, ports, certs = [], [], []
    for index, party in enumerate(parties):
        where = f"{path}: parties[{index}]"
        if not isinstance(party, dict):
            raise DittoError(f"{where} must be an object with 'host' and 'port'")
        extra = sorted(set(party) - {"host", "port", "cert", "key"})
        if extra:
            raise DittoError(f"{where}: unknown key {extra[0]!r} (host, port, cert, key)")
        host, port = party.get("host"), party.get("port")
        if not isinstance(host, str) or not host or host != host.strip() or any(c.isspace() for c in host):
            raise DittoError(f"{where}.host must be a non-empty host name or address, not {host!r}")
        if not isinstance(port, int) or isinstance(port, bool) or not 0 < port <= 65535 - PORTS_PER_PARTY + 1:
            raise DittoError(
                f"{where}.port must be an integer in [1, {65535 - PORTS_PER_PARTY + 1}] (it and the "
                f"{PORTS_PER_PARTY - 1} ports above it are used), not {port!r}"
            )
        if insecure:
            if "cert" in party or "key" in party:
                raise DittoError(f"{where}: an insecure cluster has no certificates; remove 'cert' and 'key'")
        else:
            for field in ("cert", "key"):
                if not isinstance(party.get(field), str) or not party[field]:
                    raise DittoError(f'{where}.{field} must name a PEM file (or set "insecure": true)')
            certs.append((base / party["cert"], base / party["key"]))
        hosts.append(host)
        ports.append(port)
    for a in range(WORLD_SIZE):
        for b in range(a + 1, WORLD_SIZE):
            if hosts[a] == hosts[b] and abs(ports[a] - ports[b]) < PORTS_PER_PARTY:
                raise DittoError(
                    f"{path}: parties {a} and {b} share host {hosts[a]} and their ports overlap "
                    f"(each uses {PORTS_PER_PARTY} ports from its own)"
                )
    ca = data.get("ca")
    if insecure and ca is not None:
        raise DittoError(f"{path}: an insecure cluster has no CA; remove 'ca'")
    if not insecure and (not isinstance(ca, str) or not ca):
        raise DittoError(f"{path}: 'ca' must name the cluster CA's PEM file (or set \"insecure\": true)")
    timeout = data.get("recv_timeout_s", 30)
    if not _positive_finite(timeout) or timeout > MAX_RECV_TIMEOUT_S:
        raise DittoError(f"{path}: 'recv_timeout_s' must be a number in (0, {MAX_RECV_TIMEOUT_S:g}], not {timeout!r}")
    return Cluster(tuple(hosts), tuple(ports), float(timeout), None if insecure else base / ca, tuple(certs))


def write_cluster(path: str | Path, hosts: list[str], port: int, recv_timeout_s: float = 30) -> None:
    """The config `ditto certs` writes beside the certificates it made (same directory, relative paths)."""
    parties = [
        {"host": host, "port": port + (PORTS_PER_PARTY * rank if hosts.count(host) > 1 else 0),
         "cert": f"party{rank}.pem", "key": f"party{rank}.key"}
        for rank, host in enumerate(hosts)
    ]  # fmt: skip
    config = {"parties": parties, "ca": "ca.pem", "recv_timeout_s": recv_timeout_s}
    try:
        Path(path).write_text(json.dumps(config, indent=2) + "\n")
    except OSError as e:
        raise DittoError(f"cannot write {path}: {e}") from None
