"""Mixed-ring secure execution: one SPU runtime per ring per party, conversions on shares.

Every party runs the plan's steps in the same order: a segment runs on the runtime
of its ring; a conversion moves a value between the runtimes.

* Downcast (large -> small ring): the large runtime drops the surplus fraction bits
  (one secure truncation), then each party reduces its share words mod 2^k locally.
* Upcast (small -> large ring): the small runtime adds the integer bias 2^(k-2) to the
  raw value (non-negative, given Ditto's bound |x| < 2^(k-2)). Then either Ditto's
  protocol (`runtime/upcast.py`: two online rounds on the parties' own words), or the
  generic method: each party lifts its words and the large runtime masks the lifted
  value to k bits (SPU's `and`: an exact A2B/B2A round trip that removes the wrap),
  removes the bias and adds the fraction bits.
* Booleans are XOR-shared bits in SPU, independent of the ring: they move unchanged.
* Public values are re-encoded locally.

No step reveals anything: every message is one of SPU's own protocol messages, and
the local steps only reinterpret a party's own words.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import spu.api as spu_api
from spu import libspu
from spu import version as spu_version

from ..diagnostics import DittoError
from ..lowering.split_rings import Conversion, RingPlan, Segment, Variable
from ..ring import RingConfig
from .channels import CountingChannel, MemoryHub
from .executor import WORLD_SIZE, Cost, PartyCost, _first_line, run_threads, spu_runtime_config
from .profile import UPCAST_PROTOCOL, OpCost, merge, per_op_costs, spu_profile_log
from .shares import lift_words, public_words, reduce_words, share_words, with_public_words, with_words
from .upcast import PairSeeds, ditto_upcast

_INT_TYPES = {
    8: libspu.DataType.DT_I8,
    16: libspu.DataType.DT_I16,
    32: libspu.DataType.DT_I32,
    64: libspu.DataType.DT_I64,
}


def _tensor(shape: Sequence[int], element: str, secret: bool = True) -> str:
    element = f"!pphlo.secret<{element}>" if secret else element
    return f"tensor<{'x'.join(map(str, shape))}{'x' if shape else ''}{element}>"


def _constant(name: str, shape: Sequence[int], value: str, element: str) -> str:
    t = _tensor(shape, element, secret=False)
    return f'%{name} = "pphlo.constant"() <{{value = dense<{value}> : {t}}}> : () -> {t}'


def _program(arg: str, result: str, body: list[str]) -> str:
    lines = "\n    ".join(body)
    return (
        f'"builtin.module"() ({{\n  "func.func"() <{{function_type = ({arg}) -> {result}, sym_name = "main"}}> ({{\n'
        f"  ^bb0(%x: {arg}):\n    {lines}\n  }}) : () -> ()\n"
        f'}}) {{pphlo.version = "{spu_version.__version__}"}} : () -> ()\n'
    )


def _int_element(variable: Variable) -> str:
    return f"i{variable.width}"


class _ConversionPrograms:
    """The small SPU programs a conversion runs before and after its local step."""

    def __init__(self, conversion: Conversion, rings: dict[int, RingConfig]):
        src, dst = conversion.source, conversion.target
        self.src_ring, self.dst_ring = rings[src.field_bits], rings[dst.field_bits]
        self.prepare: libspu.Executable | None = None
        self.finish: libspu.Executable | None = None
        self.staged = f"{src.name}.to{dst.field_bits}"
        if not src.secret or src.kind == "bool":
            return
        if dst.field_bits not in (32, 64) or src.field_bits not in (32, 64):
            raise DittoError(f"ring conversion {src.field_bits} -> {dst.field_bits} bits is not supported")
        shape, k_s = src.shape, src.field_bits
        if dst.field_bits < k_s:
            surplus = self.src_ring.fraction_bits - self.dst_ring.fraction_bits
            if src.kind == "fixed" and surplus:
                f = _tensor(shape, "f32")
                body = [
                    _constant("c", shape, repr(2.0**-surplus), "f32"),
                    f'%y = "pphlo.multiply"(%x, %c) : ({f}, {_tensor(shape, "f32", False)}) -> {f}',
                    f'"func.return"(%y) : ({f}) -> ()',
                ]
                self.prepare = self._executable(_program(f, f, body), src.name, self.staged)
            return
        bias = str(2 ** (k_s - 2))
        raw = f"i{k_s}"
        source_type = _tensor(shape, "f32" if src.kind == "fixed" else _int_element(src))
        biased = _tensor(shape, raw)
        prepare, value = [], "%x"
        if src.kind == "fixed":  # the raw ring element
            prepare.append(f'%r = "pphlo.bitcast_convert"(%x) : ({source_type}) -> {biased}')
            value = "%r"
        elif _int_element(src) != raw:
            prepare.append(f'%r = "pphlo.convert"(%x) : ({source_type}) -> {biased}')
            value = "%r"
        prepare += [
            _constant("b", shape, bias, raw),
            f'%y = "pphlo.add"({value}, %b) : ({biased}, {_tensor(shape, raw, False)}) -> {biased}',
            f'"func.return"(%y) : ({biased}) -> ()',
        ]
        self.prepare = self._executable(_program(source_type, biased, prepare), src.name, self.staged)
        lifted = _tensor(shape, "i64")
        public64 = _tensor(shape, "i64", False)
        finish = [
            _constant("m", shape, str(2**k_s - 1), "i64"),
            f'%a = "pphlo.and"(%x, %m) : ({lifted}, {public64}) -> {lifted}',
            _constant("b", shape, bias, "i64"),
            f'%u = "pphlo.subtract"(%a, %b) : ({lifted}, {public64}) -> {lifted}',
        ]
        if src.kind == "fixed":
            extra = self.dst_ring.fraction_bits - self.src_ring.fraction_bits
            if extra < 0:
                raise DittoError("an upcast that lowers the fraction bits is not supported")
            result_type = _tensor(shape, "f32")
            finish += [
                _constant("s", shape, str(2**extra), "i64"),
                f'%w = "pphlo.multiply"(%u, %s) : ({lifted}, {public64}) -> {lifted}',
                f'%y = "pphlo.bitcast_convert"(%w) : ({lifted}) -> {result_type}',
            ]
        else:
            result_type = _tensor(shape, _int_element(dst))
            finish.append(f'%y = "pphlo.convert"(%u) : ({lifted}) -> {result_type}')
        finish.append(f'"func.return"(%y) : ({result_type}) -> ()')
        self.finish = self._executable(_program(lifted, result_type, finish), self.staged, dst.name)

    @staticmethod
    def _executable(code: str, source: str, target: str) -> libspu.Executable:
        return libspu.Executable(
            name=f"convert:{source}", input_names=[source], output_names=[target], code=code.encode()
        )


@dataclass
class _ProtocolLink:
    """What Ditto's upcast needs from a party: its rank, pairwise seeds and a message link.

    `channels` map a peer to an object with `SendAsync(key, data)` and `Recv(key)`.
    """

    rank: int
    seeds: PairSeeds
    channels: dict[int, Any]

    def send(self, peer: int, key: str, data: bytes) -> None:
        self.channels[peer].SendAsync(key, data)

    def recv(self, peer: int, key: str) -> bytes:
        return self.channels[peer].Recv(key)


def _convert(
    index: int,
    conversion: Conversion,
    programs: _ConversionPrograms,
    runtimes: dict[int, spu_api.Runtime],
    link: _ProtocolLink,
    upcast: str,
) -> None:
    src, dst = conversion.source, conversion.target
    source, target = runtimes[src.field_bits], runtimes[dst.field_bits]
    if not src.secret:
        share = source.get_var(src.name)
        _, raw = public_words(share)
        raw = raw.astype(np.int64)
        if src.kind == "fixed":
            shift = programs.dst_ring.fraction_bits - programs.src_ring.fraction_bits
            raw = raw << shift if shift >= 0 else raw >> -shift
        target.set_var(dst.name, with_public_words(share, raw, dst.field_bits))
        return
    if src.kind == "bool":
        target.set_var(dst.name, source.get_var(src.name))  # XOR-shared bits: ring-independent
        return
    if dst.field_bits < src.field_bits:
        staged = programs.staged if programs.prepare is not None else src.name
        if programs.prepare is not None:
            source.run(programs.prepare)
        share = source.get_var(staged)
        data_type = libspu.DataType.DT_F32 if src.kind == "fixed" else _INT_TYPES[dst.width]
        target.set_var(dst.name, with_words(share, reduce_words(share_words(share), dst.field_bits), data_type))
        return
    assert programs.prepare is not None and programs.finish is not None
    source.run(programs.prepare)  # y = raw x + 2^(k-2)
    share = source.get_var(programs.staged)
    if upcast == "ditto":
        shift = programs.dst_ring.fraction_bits - programs.src_ring.fraction_bits if src.kind == "fixed" else 0
        words = ditto_upcast(
            link.rank,
            share_words(share),
            src.field_bits,
            dst.field_bits,
            shift,
            link.seeds,
            index,
            link.send,
            link.recv,
        )
        data_type = libspu.DataType.DT_F32 if src.kind == "fixed" else _INT_TYPES[dst.width]
        target.set_var(dst.name, with_words(share, words, data_type))
        return
    lifted = with_words(share, lift_words(share_words(share), dst.field_bits), libspu.DataType.DT_I64)
    target.set_var(programs.staged, lifted)
    target.run(programs.finish)


UPCASTS = ("ditto", "generic")
SEED_PAIRS = ((0, 1), (0, 2), (1, 2))


def _executables(plan: RingPlan) -> tuple[dict[int, libspu.Executable], dict[int, _ConversionPrograms]]:
    segments = {
        index: libspu.Executable(
            name=f"segment{index}", input_names=list(s.inputs), output_names=list(s.outputs), code=s.code.encode()
        )
        for index, s in enumerate(plan.steps)
        if isinstance(s, Segment)
    }
    conversions = {
        index: _ConversionPrograms(s, plan.rings) for index, s in enumerate(plan.steps) if isinstance(s, Conversion)
    }
    return segments, conversions


def spu_runs(plan: RingPlan, upcast: str) -> list[int]:
    """How many SPU program runs each step makes (for attributing a party's profiler log)."""
    _, conversions = _executables(plan)
    runs = []
    for index, step in enumerate(plan.steps):
        if isinstance(step, Segment):
            runs.append(1)
        else:
            programs = conversions[index]
            finish = programs.finish is not None and upcast == "generic"
            runs.append(int(programs.prepare is not None) + int(finish))
    return runs


def execute_steps(
    rank: int,
    plan: RingPlan,
    runtimes: dict[int, spu_api.Runtime],
    link: _ProtocolLink,
    input_shares: Sequence[libspu.Share],
    upcast: str,
    measure: Callable[[str], AbstractContextManager[None]],
) -> list[libspu.Share]:
    """One party's whole run: inputs in, every step in order, its output shares out."""
    segments, conversions = _executables(plan)
    for variable, share in zip(plan.inputs, input_shares):
        runtimes[variable.field_bits].set_var(variable.name, share)
    for index, step in enumerate(plan.steps):
        if isinstance(step, Segment):
            with measure(f"{step.field_bits}-bit"):
                runtimes[step.field_bits].run(segments[index])
        else:
            with measure("conversions"):
                _convert(index, step, conversions[index], runtimes, link, upcast)
    return [runtimes[v.field_bits].get_var(v.name) for v in plan.outputs]


def categories(plan: RingPlan) -> list[str]:
    return [*(f"{k}-bit" for k in plan.rings), "conversions"]


def share_inputs(plan: RingPlan, inputs: Sequence[np.ndarray]) -> list[list[libspu.Share]]:
    """Per input, the three parties' shares, in the ring each input lives in."""
    ios = {k: spu_api.Io(WORLD_SIZE, spu_runtime_config(ring)) for k, ring in plan.rings.items()}
    shares = []
    for variable, value in zip(plan.inputs, inputs):
        visibility = libspu.Visibility.VIS_SECRET if variable.secret else libspu.Visibility.VIS_PUBLIC
        shares.append(ios[variable.field_bits].make_shares(np.asarray(value), visibility))
    return shares


def reconstruct(plan: RingPlan, outputs: Sequence[Sequence[libspu.Share]]) -> list[np.ndarray]:
    """Plaintext outputs from the three parties' output shares."""
    ios = {k: spu_api.Io(WORLD_SIZE, spu_runtime_config(ring)) for k, ring in plan.rings.items()}
    return [
        ios[v.field_bits].reconstruct([outputs[r][i] for r in range(WORLD_SIZE)]) for i, v in enumerate(plan.outputs)
    ]


def check_upcast(upcast: str) -> None:
    if upcast not in UPCASTS:
        raise DittoError(f"upcast must be one of {', '.join(UPCASTS)}, not {upcast!r}")


def run_mixed(
    plan: RingPlan, inputs: Sequence[np.ndarray], upcast: str = "ditto", recv_timeout_s: float = 60.0
) -> tuple[list[np.ndarray], Cost]:
    """Execute `plan` under ABY3 with three parties as threads; return outputs and cost.

    `upcast` picks Ditto's protocol (two online rounds, a few words per element) or the
    generic method (SPU's A2B/B2A round trip), which needs no protocol code of ours.
    """
    check_upcast(upcast)
    configs = {k: spu_runtime_config(ring) for k, ring in plan.rings.items()}
    for config in configs.values():
        config.enable_pphlo_profile = True
    shares = share_inputs(plan, inputs)
    hubs = {k: MemoryHub(WORLD_SIZE, recv_timeout_s) for k in plan.rings}
    protocol_hub = MemoryHub(WORLD_SIZE, recv_timeout_s)
    # Setup: a seed per pair of parties (dealt here by the in-process simulation; in
    # process mode each pair agrees on its own). Each party gets only its two pairs.
    seeds = {pair: secrets.randbits(63) for pair in SEED_PAIRS}
    spent = {c: [[0, 0, 0.0] for _ in range(WORLD_SIZE)] for c in categories(plan)}
    outputs: list[list[libspu.Share] | None] = [None] * WORLD_SIZE

    def party(rank: int) -> None:
        def sent() -> tuple[int, int]:
            totals = [hub.counters[rank].snapshot() for hub in (*hubs.values(), protocol_hub)]
            return sum(b for b, _ in totals), sum(a for _, a in totals)

        @contextmanager
        def measure(category: str) -> Iterator[None]:
            bytes0, actions0 = sent()
            start = time.perf_counter()
            yield
            bytes1, actions1 = sent()
            record = spent[category][rank]
            record[0] += bytes1 - bytes0
            record[1] += actions1 - actions0
            record[2] += time.perf_counter() - start

        try:
            runtimes = {k: spu_api.Runtime(hubs[k].context(rank), configs[k]) for k in plan.rings}
            peers = {peer: CountingChannel(protocol_hub, rank, peer) for peer in range(WORLD_SIZE) if peer != rank}
            own = PairSeeds({pair: seed for pair, seed in seeds.items() if rank in pair})
            link = _ProtocolLink(rank, own, peers)
            outputs[rank] = execute_steps(rank, plan, runtimes, link, [s[rank] for s in shares], upcast, measure)
        except BaseException as e:  # reported below with the party's rank
            for hub in (*hubs.values(), protocol_hub):
                hub.abort(rank, _first_line(e))

    with spu_profile_log() as log:
        run_threads(party)
        by_op = per_op_costs(log.read_text() if log.exists() else "")
    failed = next((hub for hub in (*hubs.values(), protocol_hub) if hub.failed is not None), None)
    if failed is not None:
        raise DittoError(f"secure execution failed in party {failed.failed_rank}: {failed.failed}")
    cost = cost_from(plan, spent)
    protocol = [counters.snapshot() for counters in protocol_hub.counters]
    cost.by_op = with_protocol(by_op, sum(b for b, _ in protocol), sum(a for _, a in protocol), plan, upcast)
    return reconstruct(plan, outputs), cost  # type: ignore[arg-type]


def with_protocol(
    by_op: dict[str, OpCost], sent_bytes: int, send_actions: int, plan: RingPlan, upcast: str
) -> dict[str, OpCost]:
    """`by_op` plus Ditto's upcast protocol messages as one pseudo-op (see runtime/profile.py)."""
    if not sent_bytes:
        return by_op
    upcasts = sum(1 for s in plan.steps if isinstance(s, Conversion) and s.target.field_bits > s.source.field_bits)
    return merge(by_op, {UPCAST_PROTOCOL: OpCost(upcasts if upcast == "ditto" else 0, sent_bytes, send_actions)})


def cost_from(plan: RingPlan, spent: dict[str, list[list[float]]]) -> Cost:
    """Cost totals and per-category figures from each party's [bytes, actions, seconds]."""
    names = categories(plan)
    by_ring = {c: Cost([PartyCost(int(b), int(a), s) for b, a, s in spent[c]]) for c in names}
    parties = [
        PartyCost(
            int(sum(spent[c][r][0] for c in names)),
            int(sum(spent[c][r][1] for c in names)),
            sum(spent[c][r][2] for c in names),
        )
        for r in range(WORLD_SIZE)
    ]
    return Cost(parties, by_ring)
