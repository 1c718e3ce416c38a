"""Run a PPHLO module under 3-party ABY3 on SPU's runtime, all parties in one process."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import spu.api as spu_api
from spu import libspu

from ..diagnostics import DittoError
from ..ring import RingConfig
from .channels import MemoryHub
from .profile import OpCost, per_op_costs, spu_profile_log

WORLD_SIZE = 3


def spu_runtime_config(ring: RingConfig) -> libspu.RuntimeConfig:
    """SPU's configuration for one ABY3 runtime on `ring`."""
    fields = {32: libspu.FieldType.FM32, 64: libspu.FieldType.FM64, 128: libspu.FieldType.FM128}
    return libspu.RuntimeConfig(
        protocol=libspu.ProtocolKind.ABY3,
        field=fields[ring.field_bits],
        fxp_fraction_bits=ring.fraction_bits,
    )


@dataclass
class PartyCost:
    send_bytes: int
    send_actions: int
    seconds: float


@dataclass
class Cost:
    """Communication and time of one secure execution.

    SPU's ABY3 assigns protocol roles at random, so a few messages move between
    parties from run to run; totals over the parties do not. Hence:
    `send_bytes` and `send_actions` sum all parties (deterministic); `rounds` is
    send actions per party, averaged over the three (deterministic); `seconds` is
    the slowest party's execution time. `parties` keeps each party's own figures.
    """

    parties: list[PartyCost] = field(default_factory=list)
    by_ring: dict[str, Cost] = field(default_factory=dict)
    """For mixed-ring runs: the same figures for each ring's runtime and for the conversions."""
    by_op: dict[str, OpCost] = field(default_factory=dict)
    """PPHLO op name -> SPU's profile of it, over all parties, rings and conversion programs,
    plus `ditto.upcast` for the upcast protocol's own messages; most bytes first. The bytes
    add up to `send_bytes`."""

    @property
    def send_bytes(self) -> int:
        return sum(p.send_bytes for p in self.parties)

    @property
    def send_actions(self) -> int:
        return sum(p.send_actions for p in self.parties)

    @property
    def rounds(self) -> float:
        return self.send_actions / len(self.parties) if self.parties else 0.0

    @property
    def seconds(self) -> float:
        return max((p.seconds for p in self.parties), default=0.0)

    def as_dict(self) -> dict[str, object]:
        return {
            "send_bytes": self.send_bytes,
            "send_actions": self.send_actions,
            "rounds": self.rounds,
            "seconds": self.seconds,
            "parties": [p.__dict__ for p in self.parties],
            "by_op": {name: c.__dict__ for name, c in self.by_op.items()},
            **({"by_ring": {k: c.as_dict() for k, c in self.by_ring.items()}} if self.by_ring else {}),
        }


def _first_line(error: BaseException) -> str:
    """The informative line of an SPU error (its text is framed by 'what:' and a stack trace)."""
    for line in str(error).splitlines():
        line = line.strip()
        if line and line not in ("what:",) and not line.lower().startswith(("stacktrace", "#")):
            return line
    return type(error).__name__


def run_threads(party: Callable[[int], None]) -> None:
    """Run `party(rank)` for the three parties as threads and wait for all of them."""
    threads = [threading.Thread(target=party, args=(r,), name=f"spu-party-{r}") for r in range(WORLD_SIZE)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def run_secure(
    code: str,
    inputs: Sequence[np.ndarray],
    secret: Sequence[bool],
    num_outputs: int,
    ring: RingConfig = RingConfig(),
    name: str = "main",
    recv_timeout_s: float = 60.0,
) -> tuple[list[np.ndarray], Cost]:
    """Execute PPHLO `code` on secret-shared `inputs`; return plaintext outputs and cost
    (with SPU's per-op profile in `cost.by_op`)."""
    config = spu_runtime_config(ring)
    config.enable_pphlo_profile = True
    io = spu_api.Io(WORLD_SIZE, config)
    shares = []
    for index, (value, is_secret) in enumerate(zip(inputs, secret)):
        visibility = libspu.Visibility.VIS_SECRET if is_secret else libspu.Visibility.VIS_PUBLIC
        try:
            shares.append(io.make_shares(np.asarray(value), visibility))
        except RuntimeError as e:
            raise DittoError(f"cannot share input {index}: {_first_line(e)}") from None
    input_names = [f"in{i}" for i in range(len(inputs))]
    output_names = [f"out{i}" for i in range(num_outputs)]
    executable = libspu.Executable(name=name, input_names=input_names, output_names=output_names, code=code.encode())

    hub = MemoryHub(WORLD_SIZE, recv_timeout_s)
    outputs: list[list[libspu.Share] | None] = [None] * WORLD_SIZE
    costs: list[PartyCost | None] = [None] * WORLD_SIZE

    def party(rank: int) -> None:
        try:
            runtime = spu_api.Runtime(hub.context(rank), config)
            for input_name, share in zip(input_names, shares):
                runtime.set_var(input_name, share[rank])
            bytes0, actions0 = hub.counters[rank].snapshot()
            start = time.perf_counter()
            runtime.run(executable)
            seconds = time.perf_counter() - start
            bytes1, actions1 = hub.counters[rank].snapshot()
            outputs[rank] = [runtime.get_var(n) for n in output_names]
            costs[rank] = PartyCost(bytes1 - bytes0, actions1 - actions0, seconds)
        except BaseException as e:  # reported below, with the party's rank
            hub.abort(rank, _first_line(e))

    with spu_profile_log() as log:
        run_threads(party)
        by_op = per_op_costs(log.read_text() if log.exists() else "")

    if hub.failed is not None:
        # The first party to fail is the root cause; its peers were stopped by it.
        raise DittoError(f"secure execution failed in party {hub.failed_rank}: {hub.failed}")

    results = []
    for i in range(num_outputs):
        results.append(io.reconstruct([outputs[r][i] for r in range(WORLD_SIZE)]))  # type: ignore[index]
    return results, Cost([c for c in costs if c is not None], by_op=by_op)
