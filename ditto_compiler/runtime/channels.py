"""In-process links between SPU parties that count what each party sends.

SPU's `link.create_mem` gives no per-party statistics to Python, and its profiler
writes all parties' figures to one process-wide log without saying which party
wrote which line. These channels carry the same messages through queues and
count bytes and send actions per party, deterministically. They also bound every
receive, so a party that dies makes its peers fail instead of hanging.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass

from spu import libspu


class PartyFailure(Exception):
    """Raised in a party when a peer has failed or a receive timed out."""


@dataclass
class LinkCounters:
    send_bytes: int = 0
    send_actions: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def count(self, nbytes: int) -> None:
        with self._lock:
            self.send_bytes += nbytes
            self.send_actions += 1

    def snapshot(self) -> tuple[int, int]:
        with self._lock:
            return self.send_bytes, self.send_actions


class MemoryHub:
    """The shared wires between `world_size` in-process parties."""

    def __init__(self, world_size: int, recv_timeout_s: float):
        self.world_size = world_size
        self.recv_timeout_s = recv_timeout_s
        self.counters = [LinkCounters() for _ in range(world_size)]
        self._queues: dict[tuple[int, int, str], queue.SimpleQueue[bytes]] = {}
        self._lock = threading.Lock()
        self.failed: str | None = None
        self.failed_rank: int | None = None

    def wire(self, src: int, dst: int, key: str) -> queue.SimpleQueue[bytes]:
        with self._lock:
            return self._queues.setdefault((src, dst, key), queue.SimpleQueue())

    def abort(self, rank: int, reason: str) -> None:
        """Record the first failure; every party's next receive then stops."""
        with self._lock:
            if self.failed is None:
                self.failed, self.failed_rank = reason, rank

    def context(self, rank: int) -> libspu.link.Context:
        desc = libspu.link.Desc()
        for r in range(self.world_size):
            desc.add_party(f"party{r}", f"mem:{r}")
        channels = [None if peer == rank else CountingChannel(self, rank, peer) for peer in range(self.world_size)]
        return libspu.link.create_with_channels(desc, rank, channels)


class CountingChannel(libspu.link.IChannel):
    """One direction-pair of a party's link; SPU calls the CamelCase methods."""

    def __init__(self, hub: MemoryHub, rank: int, peer: int):
        super().__init__()
        self.hub, self.rank, self.peer = hub, rank, peer
        self.counters = hub.counters[rank]

    def SendAsync(self, key: str, data: bytes) -> None:  # noqa: N802 (SPU's name)
        self.counters.count(len(data))
        self.hub.wire(self.rank, self.peer, key).put(bytes(data))

    Send = SendAsync
    SendAsyncThrottled = SendAsync

    def Recv(self, key: str) -> bytes:  # noqa: N802
        wire = self.hub.wire(self.peer, self.rank, key)
        deadline = time.monotonic() + self.hub.recv_timeout_s
        while True:
            if self.hub.failed is not None:
                raise PartyFailure(f"party {self.rank}: stopped because {self.hub.failed}")
            try:
                return wire.get(timeout=0.05)
            except queue.Empty:
                if time.monotonic() > deadline:
                    reason = (
                        f"party {self.rank} got no message from party {self.peer} within {self.hub.recv_timeout_s:g} s"
                    )
                    self.hub.abort(self.rank, reason)
                    raise PartyFailure(reason) from None

    def TestSend(self, timeout: int) -> None:  # noqa: N802
        pass

    def TestRecv(self) -> None:  # noqa: N802
        pass

    def WaitLinkTaskFinish(self) -> None:  # noqa: N802
        pass

    def Abort(self) -> None:  # noqa: N802
        self.hub.abort(self.rank, f"party {self.rank} aborted its link")

    def SetThrottleWindowSize(self, size: int) -> None:  # noqa: N802
        pass

    def SetChunkParallelSendSize(self, size: int) -> None:  # noqa: N802
        pass

    def SetRecvTimeout(self, timeout_ms: int) -> None:  # noqa: N802
        pass
