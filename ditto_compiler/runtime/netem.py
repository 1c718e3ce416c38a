"""An emulated network between party processes: the paper's LAN and WAN, applied to every message.

This machine kind's kernel has no `netem` (no delay qdisc), so the delay is applied
where the messages are: each party's links (every ring's SPU link and the upcast
protocol's) are made of `EmulatedChannel`s, SPU link channels implemented here over
loopback TCP. Each direction of each pair of parties is a full-duplex link of
`bits_per_s` with one-way latency `rtt_s / 2`: a message leaves when the link has
finished sending the ones before it (serialisation time = bytes x 8 / bandwidth) and
arrives one-way latency later. The sender stamps each message with that arrival
time (CLOCK_MONOTONIC, shared by the processes of one machine); the receiver hands it
to SPU no earlier. The bytes themselves cross loopback at full speed, so the
emulation costs no more CPU than the transport. `tools/netem_check.py` and
`test_netem.py` measure ping-pong RTT and bulk throughput through this same path.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections import defaultdict, deque
from collections.abc import Sequence

from spu import libspu

from ..diagnostics import DittoError
from ..network import Network

_FRAME = struct.Struct("<dII")
"""arrival time (s, CLOCK_MONOTONIC), key length, data length"""


def _wait_until(moment: float) -> None:
    """Sleep until `moment` (CLOCK_MONOTONIC); the last 0.2 ms are spun. A sleep, even sleep(0), can
    overshoot by Linux's 50 us timer slack, a quarter of the LAN's one-way latency."""
    while (left := moment - time.monotonic()) > 2e-4:
        time.sleep(left - 2e-4)
    while time.monotonic() < moment:
        pass


def _read_exactly(sock: socket.socket, count: int) -> bytes | None:
    chunks, left = [], count
    while left:
        chunk = sock.recv(min(left, 1 << 22))
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


class EmulatedChannel(libspu.link.IChannel):
    """This party's end of one emulated link to one peer (SPU calls the CamelCase methods)."""

    def __init__(self, sock: socket.socket, network: Network, rank: int, peer: int, recv_timeout_s: float):
        super().__init__()
        self.sock, self.network, self.rank, self.peer = sock, network, rank, peer
        self.recv_timeout_s = recv_timeout_s
        self._send_lock = threading.Lock()
        self._link_free = 0.0  # when this direction has finished sending what it was given
        self._inbox: dict[str, deque[tuple[float, bytes]]] = defaultdict(deque)
        self._arrived = threading.Condition()
        self._closed: str | None = None
        threading.Thread(target=self._read, name=f"netem-{rank}<-{peer}", daemon=True).start()

    # -- sending -------------------------------------------------------------------
    def SendAsync(self, key: str, data: bytes) -> None:  # noqa: N802 (SPU's name)
        data, encoded = bytes(data), key.encode()
        with self._send_lock:
            leaves = max(time.monotonic(), self._link_free) + len(data) * 8 / self.network.bits_per_s
            self._link_free = leaves
            header = _FRAME.pack(leaves + self.network.rtt_s / 2, len(encoded), len(data))
            try:
                if len(data) < 1 << 16:  # one segment: a round trip is two of them
                    self.sock.sendall(header + encoded + data)
                else:
                    self.sock.sendall(header + encoded)
                    self.sock.sendall(data)
            except OSError as e:
                raise DittoError(f"party {self.rank} lost its link to party {self.peer}: {e}") from None

    Send = SendAsync
    SendAsyncThrottled = SendAsync

    # -- receiving ------------------------------------------------------------------
    def _read(self) -> None:
        while True:
            header = _read_exactly(self.sock, _FRAME.size)
            if header is None:
                break
            arrival, key_length, data_length = _FRAME.unpack(header)
            body = _read_exactly(self.sock, key_length + data_length)
            if body is None:
                break
            with self._arrived:
                self._inbox[body[:key_length].decode()].append((arrival, body[key_length:]))
                self._arrived.notify_all()
        with self._arrived:
            self._closed = f"party {self.peer} closed its link to party {self.rank}"
            self._arrived.notify_all()

    def Recv(self, key: str) -> bytes:  # noqa: N802
        deadline = time.monotonic() + self.recv_timeout_s
        with self._arrived:
            while not self._inbox[key]:
                left = deadline - time.monotonic()
                if self._closed is not None:
                    raise DittoError(self._closed)
                if left <= 0:
                    raise DittoError(
                        f"party {self.rank} got no message from party {self.peer} within {self.recv_timeout_s:g} s"
                    )
                self._arrived.wait(min(left, 0.5))
            arrival, data = self._inbox[key].popleft()
        _wait_until(arrival)
        return data

    def TestSend(self, timeout: int) -> None:  # noqa: N802
        pass

    def TestRecv(self) -> None:  # noqa: N802
        pass

    def WaitLinkTaskFinish(self) -> None:  # noqa: N802
        pass  # sends are written before SendAsync returns

    def Abort(self) -> None:  # noqa: N802
        self.close()

    def SetThrottleWindowSize(self, size: int) -> None:  # noqa: N802
        pass

    def SetChunkParallelSendSize(self, size: int) -> None:  # noqa: N802
        pass

    def SetRecvTimeout(self, timeout_ms: int) -> None:  # noqa: N802
        self.recv_timeout_s = timeout_ms / 1000

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


def _parse(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host, int(port)


def connect_peers(rank: int, addresses: Sequence[str], timeout_s: float) -> dict[int, socket.socket]:
    """One TCP connection to every other party: a party accepts from higher ranks and connects to lower ones."""
    sockets: dict[int, socket.socket] = {}
    deadline = time.monotonic() + timeout_s
    higher = len(addresses) - 1 - rank
    if higher:
        listener = socket.create_server(_parse(addresses[rank]), reuse_port=False)
        listener.settimeout(timeout_s)
    for peer in range(rank):
        while True:
            try:
                sock = socket.create_connection(_parse(addresses[peer]), timeout=timeout_s)
                break
            except OSError as e:
                if time.monotonic() > deadline:
                    raise DittoError(f"party {rank} cannot reach party {peer} at {addresses[peer]}: {e}") from None
                time.sleep(0.05)
        sock.sendall(struct.pack("<I", rank))
        sockets[peer] = sock
    if higher:
        with listener:
            for _ in range(higher):
                try:
                    sock, _ = listener.accept()
                except OSError as e:
                    raise DittoError(f"party {rank}: a peer did not connect within {timeout_s:g} s: {e}") from None
                sock.settimeout(timeout_s)
                hello = _read_exactly(sock, 4)
                peer = struct.unpack("<I", hello)[0] if hello else -1
                if not rank < peer < len(addresses) or peer in sockets:
                    sock.close()
                    raise DittoError(f"party {rank}: an unexpected connection on its emulated link")
                sockets[peer] = sock
    for sock in sockets.values():
        sock.settimeout(None)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sockets


def emulated_link(
    link_id: str, addresses: Sequence[str], rank: int, network: Network, recv_timeout_s: float
) -> libspu.link.Context:
    """An SPU link context for party `rank` whose every message crosses `network`."""
    sockets = connect_peers(rank, addresses, recv_timeout_s)
    desc = libspu.link.Desc()
    desc.id = link_id
    for r, address in enumerate(addresses):
        desc.add_party(f"party{r}", address)
    channels = [
        None if peer == rank else EmulatedChannel(sockets[peer], network, rank, peer, recv_timeout_s)
        for peer in range(len(addresses))
    ]
    return libspu.link.create_with_channels(desc, rank, channels)
