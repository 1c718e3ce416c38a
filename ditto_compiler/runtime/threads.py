"""The three parties as threads of this process, on counting in-memory links.

Each party has one link per ring and one for Ditto's upcast protocol, all made of
`CountingChannel`s (runtime/channels.py): they count each party's bytes and send
actions exactly, and bound every receive, so a failing party stops its peers at
once and a missing message fails after `recv_timeout_s` instead of hanging.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import spu.api as spu_api
from spu import libspu

from ..diagnostics import DittoError
from ..plan import Plan
from .channels import CountingChannel, MemoryHub
from .cost import Cost, PartyCost
from .party import (
    SEED_PAIRS,
    WORLD_SIZE,
    Held,
    ProtocolLink,
    categories,
    check_upcast,
    execute_steps,
    first_line,
    plan_cost,
    reconstruct,
    share_inputs,
    spu_runtime_config,
)
from .profile import per_op_costs, spu_profile_log
from .upcast import SEED_BYTES, PairSeeds


def _run_parties(party: Callable[[int], None]) -> None:
    threads = [threading.Thread(target=party, args=(r,), name=f"spu-party-{r}") for r in range(WORLD_SIZE)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def run_in_threads(
    plan: Plan,
    inputs: Sequence[np.ndarray | Held],
    upcast: str = "ditto",
    recv_timeout_s: float = 60.0,
    keep: frozenset[int] = frozenset(),
) -> tuple[list[np.ndarray | Held], Cost]:
    """Execute `plan` on `inputs` (encodings applied; `Held` values taken as they are) under ABY3, parties as
    threads; outputs (those numbered in `keep` left with the parties) and cost."""
    check_upcast(upcast)
    configs = {k: spu_runtime_config(ring, plan.spu_options) for k, ring in plan.rings.items()}
    shares = share_inputs(plan, inputs)
    hubs = {k: MemoryHub(WORLD_SIZE, recv_timeout_s) for k in plan.rings}
    protocol_hub = MemoryHub(WORLD_SIZE, recv_timeout_s)
    links = (*hubs.values(), protocol_hub)
    # Setup: a seed per pair of parties (dealt here by the in-process simulation; across
    # processes each pair agrees on its own). Each party gets only its two pairs.
    seeds = {pair: secrets.token_bytes(SEED_BYTES) for pair in SEED_PAIRS}
    spent = {c: [PartyCost() for _ in range(WORLD_SIZE)] for c in categories(plan)}
    outputs: list[list[libspu.Share] | None] = [None] * WORLD_SIZE

    def party(rank: int) -> None:
        def sent() -> tuple[int, int]:
            totals = [hub.counters[rank].snapshot() for hub in links]
            return sum(b for b, _ in totals), sum(a for _, a in totals)

        @contextmanager
        def measure(category: str) -> Iterator[None]:
            bytes0, actions0 = sent()
            start = time.perf_counter()
            yield
            bytes1, actions1 = sent()
            spent[category][rank].add(PartyCost(bytes1 - bytes0, actions1 - actions0, time.perf_counter() - start))

        try:
            runtimes = {k: spu_api.Runtime(hubs[k].context(rank), configs[k]) for k in plan.rings}
            peers = {peer: CountingChannel(protocol_hub, rank, peer) for peer in range(WORLD_SIZE) if peer != rank}
            link = ProtocolLink(rank, PairSeeds({p: s for p, s in seeds.items() if rank in p}), peers)
            outputs[rank] = execute_steps(plan, runtimes, link, [s[rank] for s in shares], upcast, measure)
        except BaseException as e:  # reported below with the party's rank
            for hub in links:
                hub.abort(rank, first_line(e))

    with spu_profile_log() as log:
        _run_parties(party)
        by_op = per_op_costs(log.read_text() if log.exists() else "")
    failed = next((hub for hub in links if hub.failed is not None), None)
    if failed is not None:
        # The first party to fail is the root cause; its peers were stopped by it.
        raise DittoError(f"secure execution failed in party {failed.failed_rank}: {failed.failed}")
    protocol = [counters.snapshot() for counters in protocol_hub.counters]
    protocol_cost = PartyCost(sum(b for b, _ in protocol), sum(a for _, a in protocol))
    return reconstruct(plan, outputs, keep), plan_cost(plan, spent, by_op, protocol_cost, upcast)  # type: ignore[arg-type]
