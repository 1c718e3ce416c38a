"""Validate the emulated network (runtime/netem.py) through the path the parties use.

Two processes open an emulated SPU link (`emulated_link`) over loopback and measure:
* ping-pong: a 1-byte message there and back, N times: RTT = median round trip;
* bulk: one side sends B bytes in 1 MiB messages, the other acknowledges the last: throughput.

    python tools/netem_check.py --net lan|wan [--pings 50] [--bulk-mb 200] [--json FILE]

The settings are the paper's LAN (5 Gbps, 0.4 ms RTT) and WAN (400 Mbps, 40 ms RTT); the
figures should be within 10% of them (docs/benchmarks.md records a run).
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import statistics
import sys
import time

from ditto_compiler.network import NETWORKS, Network
from ditto_compiler.runtime.netem import emulated_link
from ditto_compiler.runtime.processes import free_ports


def _party(rank: int, addresses: list[str], network: Network, pings: int, bulk_bytes: int, results) -> None:  # noqa: ANN001
    link = emulated_link("netem-check", addresses, rank, network, recv_timeout_s=60)
    peer = 1 - rank
    rtts = []
    for _ in range(pings):
        if rank == 0:
            start = time.monotonic()
            link.send(peer, b"p")
            link.recv(peer)
            rtts.append(time.monotonic() - start)
        else:
            link.recv(peer)
            link.send(peer, b"q")
    chunk = b"\0" * (1 << 20)
    if rank == 0:
        start = time.monotonic()
        for _ in range(bulk_bytes // len(chunk)):
            link.send_async(peer, chunk)
        link.recv(peer)  # the acknowledgement of the last chunk
        # Minus the last chunk's one-way latency and the acknowledgement's way back: serialisation alone.
        elapsed = time.monotonic() - start - network.rtt_s
        results.put({"rtt_ms": statistics.median(rtts) * 1e3, "mbps": bulk_bytes * 8 / elapsed / 1e6})
    else:
        for _ in range(bulk_bytes // len(chunk)):
            link.recv(peer)
        link.send(peer, b"a")
    link.stop_link()


def _measure_path(network: Network, pings: int, bulk_bytes: int) -> dict[str, float]:
    addresses = [f"127.0.0.1:{port}" for port in free_ports(2)]
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    parties = [context.Process(target=_party, args=(r, addresses, network, pings, bulk_bytes, results)) for r in (0, 1)]
    for p in parties:
        p.start()
    figures = results.get(timeout=600)
    for p in parties:
        p.join(timeout=60)
    return figures


def measure(net: str, pings: int = 50, bulk_mb: int = 200) -> dict[str, float]:
    """RTT (ms) and throughput (Mbit/s) of the emulated `net`, measured between two processes.

    `rtt_ms` is what the application sees. `rtt_ms_path` is the same ping-pong with no emulated delay:
    the path's own handling of each message (SPU's link context, Python's threads, loopback). The
    emulation hides the handling done while a message waits out its latency; what remains above the
    setting is the handling after delivery and before the next send, which a real network adds too."""
    setting = NETWORKS[net]
    path = _measure_path(Network("none", 0.0, math.inf), pings, bulk_bytes=1 << 20)
    figures = _measure_path(setting, pings, bulk_mb << 20)
    return {
        **figures,
        "rtt_ms_path": path["rtt_ms"],
        "rtt_ms_setting": setting.rtt_s * 1e3,
        "mbps_setting": setting.bits_per_s / 1e6,
        "pings": pings,
        "bulk_mb": bulk_mb,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--net", choices=sorted(NETWORKS), required=True)
    parser.add_argument("--pings", type=int, default=50)
    parser.add_argument("--bulk-mb", type=int, default=200)
    parser.add_argument("--json", metavar="FILE")
    options = parser.parse_args(argv)
    figures = measure(options.net, options.pings, options.bulk_mb)
    print(
        f"{options.net}: RTT {figures['rtt_ms']:.3f} ms (setting {figures['rtt_ms_setting']:g}; "
        f"the path alone, undelayed: {figures['rtt_ms_path']:.3f} ms), "
        f"throughput {figures['mbps']:.0f} Mbit/s (setting {figures['mbps_setting']:g})"
    )
    if options.json:
        with open(options.json, "w") as f:
            json.dump(figures, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
