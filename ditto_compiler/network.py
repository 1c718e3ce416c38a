"""The networks secure runs are measured and modelled on: the Ditto paper's LAN and WAN.

Kept free of SPU and JAX so that passes (the ring assignment's objective) import it cheaply;
`runtime/netem.py` emulates these settings on the parties' links.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Network:
    name: str
    rtt_s: float
    bits_per_s: float

    def as_json(self) -> dict[str, object]:
        return {"emulated": True, "name": self.name, "rtt_ms": self.rtt_s * 1e3, "mbps": self.bits_per_s / 1e6}

    def modelled_seconds(self, compute_s: float, rounds: int, busiest_send_bytes: float) -> float:
        """Compute time + rounds x RTT + the busiest party's bytes / bandwidth."""
        return compute_s + rounds * self.rtt_s + busiest_send_bytes * 8 / self.bits_per_s


NETWORKS = {"lan": Network("lan", 0.4e-3, 5e9), "wan": Network("wan", 40e-3, 400e6)}
"""The Ditto paper's settings: LAN 5 Gbps, 0.4 ms RTT; WAN 400 Mbps, 40 ms RTT."""
