"""Three parties as threads of this process whose SPU runtimes outlive a run: what a run keeps stays in them.

A `Session` holds each party's SPU runtime per ring and the counting in-memory links
between them (runtime/channels.py). `run` executes a plan like any transport
(`party.execute_steps`), with two additions for programs that follow one another
(generation: a prefill, then one decode step per token):

* an input may be a `Resident` value: one that is already secret-shared in the
  parties' runtimes (weights shared once with `share`, or a KV cache an earlier run
  kept). Each party reads its own share where it lies; nothing is sent anywhere.
  `convert` moves resident values into another ring inside the parties (a plan of
  conversions only, run like any other), for a program that takes them there.
* an output named in `keep` is not reconstructed: it stays in the parties' runtimes
  and the run returns a `Resident` handle to it. Nobody, the caller included, sees
  it until a later run uses it; `drop` deletes it in every party.

The plan is renamed for the run so that resident values keep their own names
(`Plan.renamed`); every other value a run sets is deleted when it ends. Each run
deals fresh seeds to the pairs of parties for Ditto's upcast protocol, so no mask
is ever reused across runs. A failure in any party ends the session.
"""

from __future__ import annotations

import itertools
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import cast

import numpy as np
import spu.api as spu_api
from spu import libspu
from threadpoolctl import threadpool_limits

from ..diagnostics import DittoError
from ..plan import Conversion, Plan, Variable
from ..ring import RingConfig
from .channels import CountingChannel, MemoryHub
from .cost import Cost, PartyCost
from .party import (
    SEED_PAIRS,
    WORLD_SIZE,
    ProtocolLink,
    categories,
    check_upcast,
    execute_steps,
    first_line,
    plan_cost,
    spu_runtime_config,
)
from .profile import per_op_costs, spu_profile_log
from .upcast import SEED_BYTES, PairSeeds


@dataclass(frozen=True, eq=False)
class Resident:
    """A secret value that lies in a session's parties (each party's share in its own runtime), by `key`."""

    session: Session
    variable: Variable
    key: str

    def __repr__(self) -> str:
        v = self.variable
        return f"Resident({v.kind} {list(v.shape)} in the {v.field_bits}-bit ring, {self.key})"

    def fits(self, variable: Variable) -> bool:
        return self.variable.fits(variable)


def conversion_plan(
    sources: Sequence[Variable],
    targets: Sequence[Variable],
    rings: dict[int, RingConfig],
    spu_options: dict[str, str | int],
) -> Plan:
    """A plan that converts each value of `sources` into the ring of the matching `targets` variable (the same
    value, kind, shape and width, in another of `rings`): one `Conversion` step each, every output secret."""
    from ..lowering.conversions import conversion_programs

    inputs, outputs, steps = [], [], []
    for i, (variable, target) in enumerate(zip(sources, targets, strict=True)):
        source = replace(variable, name=f"convert{i}")
        goal = replace(source, name=f"converted{i}", field_bits=target.field_bits)
        described = f"{variable.kind} {list(variable.shape)} in the {variable.field_bits}-bit ring"
        if goal.field_bits not in rings or goal.field_bits == source.field_bits:
            raise DittoError(f"value {i} ({described}) cannot be converted into the {target.field_bits}-bit ring")
        if replace(goal, name=target.name) != target:
            raise DittoError(f"value {i} ({described}) differs from the target {target} in more than its ring")
        prepare, finish = conversion_programs(source, goal, rings)
        inputs.append(source)
        outputs.append(goal)
        steps.append(Conversion(source, goal, prepare, finish, "resident value"))
    return Plan(rings, inputs, outputs, steps, spu_options=spu_options)


def _run_parties(party: Callable[[int], None]) -> None:
    threads = [threading.Thread(target=party, args=(r,), name=f"spu-party-{r}") for r in range(WORLD_SIZE)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


class Session:
    """The parties of one or more runs of plans on `rings` (with SPU runtime settings `spu_options`)."""

    def __init__(
        self,
        rings: dict[int, RingConfig],
        spu_options: dict[str, str | int] | None = None,
        recv_timeout_s: float = 60.0,
    ):
        self.rings = dict(rings)
        self.spu_options = dict(spu_options or {})
        configs = {k: spu_runtime_config(ring, self.spu_options) for k, ring in self.rings.items()}
        self.hubs = {k: MemoryHub(WORLD_SIZE, recv_timeout_s) for k in self.rings}
        self.protocol_hub = MemoryHub(WORLD_SIZE, recv_timeout_s)
        self.runtimes: list[dict[int, spu_api.Runtime]] = [{} for _ in range(WORLD_SIZE)]
        self._keys = itertools.count()
        self.failed: str | None = None

        def start(rank: int) -> None:  # a runtime's link handshakes with its peers: all three at once
            try:
                self.runtimes[rank] = {k: spu_api.Runtime(self.hubs[k].context(rank), configs[k]) for k in self.rings}
            except BaseException as e:
                for hub in self.links:
                    hub.abort(rank, first_line(e))

        _run_parties(start)
        self._raise_if_failed()

    def _raise_if_failed(self) -> None:
        failed = next((hub for hub in self.links if hub.failed is not None), None)
        if failed is not None:
            # The first party to fail is the root cause; its peers were stopped by it.
            self.failed = f"party {failed.failed_rank}: {failed.failed}"
            raise DittoError(f"secure execution failed in party {failed.failed_rank}: {failed.failed}")

    def close(self) -> None:
        """Release the parties' runtimes and every value they hold; the session runs nothing more."""
        self.runtimes = [{} for _ in range(WORLD_SIZE)]
        self.failed = self.failed or "the session was closed"

    @property
    def links(self) -> tuple[MemoryHub, ...]:
        return (*self.hubs.values(), self.protocol_hub)

    def _check(self, plan: Plan) -> None:
        if self.failed is not None:
            raise DittoError(f"this session's parties have failed ({self.failed}); start a new session")
        if any(self.rings.get(k) != ring for k, ring in plan.rings.items()) or plan.spu_options != self.spu_options:
            raise DittoError("the plan's rings or SPU settings are not this session's")

    def _key(self) -> str:
        return f"resident.{next(self._keys)}"

    def share(self, plan: Plan, index: int, value: np.ndarray) -> Resident:
        """Input `index` of `plan` (a secret value, e.g. a weight), secret-shared into the parties once."""
        self._check(plan)
        variable = plan.inputs[index]
        if not variable.secret:
            raise DittoError(f"input {index} is public: only secret values are kept in the parties")
        io = spu_api.Io(WORLD_SIZE, spu_runtime_config(self.rings[variable.field_bits]))
        try:
            shares = io.make_shares(np.asarray(value), libspu.Visibility.VIS_SECRET)
        except RuntimeError as e:
            raise DittoError(f"cannot share input {index}: {first_line(e)}") from None
        key = self._key()
        for rank in range(WORLD_SIZE):
            self.runtimes[rank][variable.field_bits].set_var(key, shares[rank])
        return Resident(self, variable, key)

    def drop(self, value: Resident) -> None:
        """Delete a resident value in every party."""
        if value.session is not self:
            raise DittoError(f"{value!r} belongs to another session")
        for rank in range(WORLD_SIZE):
            self.runtimes[rank][value.variable.field_bits].del_var(value.key)

    def convert(
        self, values: Sequence[Resident], targets: Sequence[Variable], upcast: str = "ditto"
    ) -> tuple[list[Resident], Cost]:
        """Each resident value in `values` converted into the ring of the matching `targets` variable (which must
        be the same value, kind, shape and width, in another ring) without leaving the parties: one run of a plan
        of `Conversion` steps. The new values are resident too; the old ones stay until dropped."""
        if len(values) != len(targets) or not values:
            raise DittoError(f"convert needs one target per value, got {len(values)} values and {len(targets)} targets")
        for i, value in enumerate(values):
            if not isinstance(value, Resident) or value.session is not self:
                raise DittoError(f"value {i} is {value!r}, not a resident value of this session")
        plan = conversion_plan([v.variable for v in values], targets, self.rings, self.spu_options)
        converted, cost = self.run(plan, list(values), upcast, keep=range(len(targets)))
        return cast(list[Resident], converted), cost  # every output is kept

    def run(
        self,
        plan: Plan,
        inputs: Sequence[np.ndarray | Resident],
        upcast: str = "ditto",
        keep: Sequence[int] = (),
    ) -> tuple[list[np.ndarray | Resident], Cost]:
        """Execute `plan` on `inputs` (encodings applied, checked; `Resident` values where they lie) under
        ABY3; outputs (those numbered in `keep` left in the parties as `Resident` values) and cost."""
        check_upcast(upcast)
        self._check(plan)
        kept = sorted(set(keep))
        if not all(isinstance(i, int) and 0 <= i < len(plan.outputs) for i in kept):
            raise DittoError(f"keep must name outputs of the plan (0 to {len(plan.outputs) - 1}), not {list(keep)!r}")
        names: dict[str, str] = {}
        for i, (variable, value) in enumerate(zip(plan.inputs, inputs)):
            if isinstance(value, Resident):
                if value.session is not self or not value.fits(variable):
                    raise DittoError(f"input {i} is {value!r}, but the plan takes a different value there")
                names[variable.name] = value.key
        kept_keys = {plan.outputs[i].name: self._key() for i in kept}
        plan = plan.renamed(names | kept_keys)
        fresh = [(i, v, x) for i, (v, x) in enumerate(zip(plan.inputs, inputs)) if not isinstance(x, Resident)]
        ios = {k: spu_api.Io(WORLD_SIZE, spu_runtime_config(ring)) for k, ring in plan.rings.items()}
        shares = []
        for i, variable, value in fresh:
            visibility = libspu.Visibility.VIS_SECRET if variable.secret else libspu.Visibility.VIS_PUBLIC
            try:
                shares.append(ios[variable.field_bits].make_shares(np.asarray(value), visibility))
            except RuntimeError as e:
                raise DittoError(f"cannot share input {i}: {first_line(e)}") from None
        # A seed per pair of parties for this run only (dealt by the in-process simulation; across
        # processes each pair agrees on its own). Each party gets only its two pairs.
        seeds = {pair: secrets.token_bytes(SEED_BYTES) for pair in SEED_PAIRS}
        spent = {c: [PartyCost() for _ in range(WORLD_SIZE)] for c in categories(plan)}
        rings = plan.rings
        outputs: list[list[libspu.Share] | None] = [None] * WORLD_SIZE
        transient = plan.variable_names() - set(names.values()) - set(kept_keys.values())
        resident_inputs = {variable.name for variable in plan.inputs} & set(names.values())

        def party(rank: int) -> None:
            def sent() -> tuple[int, int]:
                totals = [hub.counters[rank].snapshot() for hub in (*(self.hubs[k] for k in rings), self.protocol_hub)]
                return sum(b for b, _ in totals), sum(a for _, a in totals)

            @contextmanager
            def measure(category: str) -> Iterator[None]:
                bytes0, actions0 = sent()
                start = time.perf_counter()
                yield
                bytes1, actions1 = sent()
                spent[category][rank].add(PartyCost(bytes1 - bytes0, actions1 - actions0, time.perf_counter() - start))

            runtimes = self.runtimes[rank]
            try:
                peers = {p: CountingChannel(self.protocol_hub, rank, p) for p in range(WORLD_SIZE) if p != rank}
                link = ProtocolLink(rank, PairSeeds({p: s for p, s in seeds.items() if rank in p}), peers)
                mine = iter(s[rank] for s in shares)
                own = [None if v.name in resident_inputs else next(mine) for v in plan.inputs]
                result = execute_steps(plan, runtimes, link, own, upcast, measure)
                outputs[rank] = [None if v.name in kept_keys.values() else r for v, r in zip(plan.outputs, result)]
            except BaseException as e:  # reported below with the party's rank
                for hub in self.links:
                    hub.abort(rank, first_line(e))
            finally:
                for name in transient:  # this run's values leave the party's memory with it
                    for runtime in runtimes.values():
                        runtime.del_var(name)

        protocol_before = [counters.snapshot() for counters in self.protocol_hub.counters]
        with spu_profile_log() as log:
            with threadpool_limits(1, user_api="blas"):  # runtime/matmul.py: one BLAS thread per party
                _run_parties(party)
            by_op = per_op_costs(log.read_text() if log.exists() else "")
        self._raise_if_failed()
        protocol = [counters.snapshot() for counters in self.protocol_hub.counters]
        protocol_cost = PartyCost(
            sum(b - b0 for (b, _), (b0, _) in zip(protocol, protocol_before)),
            sum(a - a0 for (_, a), (_, a0) in zip(protocol, protocol_before)),
        )
        ios_out = {k: spu_api.Io(WORLD_SIZE, spu_runtime_config(ring)) for k, ring in plan.rings.items()}
        results: list[np.ndarray | Resident] = []
        for i, variable in enumerate(plan.outputs):
            if variable.name in kept_keys.values():
                results.append(Resident(self, variable, variable.name))
            else:
                parts = [outputs[r][i] for r in range(WORLD_SIZE)]  # type: ignore[index]
                results.append(ios_out[variable.field_bits].reconstruct(parts))
        return results, plan_cost(plan, spent, by_op, protocol_cost, upcast)
