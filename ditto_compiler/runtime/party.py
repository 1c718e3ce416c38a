"""One party's run of a plan: an SPU runtime per ring, the steps in order, conversions on its shares.

Every party runs the plan's steps in the same order: a segment runs on the runtime
of its ring; a conversion moves a value between the runtimes (its PPHLO programs
come with the plan, lowering/conversions.py):

* Downcast (large -> small ring): the downcast protocol (runtime/downcast.py: one
  round on the parties' own words) drops the surplus fraction bits and reduces mod
  2^k; with `upcast="generic"` (SPU's protocols only) the large runtime truncates
  instead (`prepare`) and each party reduces its words locally. Without surplus
  bits, only the local reduction.
* Upcast (small -> large ring): the small runtime adds the bias 2^(k-2) to the raw
  value (`prepare`; non-negative given Ditto's bound |x| < 2^(k-2)). Then either
  Ditto's protocol (runtime/upcast.py: two online rounds on the parties' own words),
  or the generic method: each party lifts its words and the large runtime runs
  `finish` (SPU's `and` with 2^k - 1, an exact A2B/B2A round trip that removes the
  wrap; then the bias is removed and the fraction bits added).
* Booleans are XOR-shared bits in SPU, independent of the ring: they move unchanged.
* Public values are re-encoded locally.

A matmul step multiplies two secrets of one runtime by ABY3's matmul on the parties'
words (runtime/matmul.py: one round, masked by pairwise randomness) and puts the
untruncated product back into that runtime.

No step reveals anything: every message is one of SPU's own protocol messages or
the matmul's and conversion protocols' masked words, and the local steps only reinterpret a party's
own words. The transports (threads, processes, hosts) all run `execute_steps`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import numpy as np
import spu.api as spu_api
from spu import libspu

from ..diagnostics import DittoError
from ..plan import Conversion, MatMul, Plan, Segment, Variable
from ..ring import RingConfig
from .cost import CONVERSION_PROTOCOL, MATMUL_PROTOCOL, Cost, OpCost, PartyCost, merge_ops
from .downcast import ditto_downcast
from .matmul import aby3_matmul
from .shares import lift_words, public_words, reduce_words, share_words, with_public_words, with_words
from .upcast import PairSeeds, ditto_upcast

WORLD_SIZE = 3
UPCASTS = ("ditto", "generic")
SEED_PAIRS = ((0, 1), (0, 2), (1, 2))
_INT_TYPES = {
    8: libspu.DataType.DT_I8,
    16: libspu.DataType.DT_I16,
    32: libspu.DataType.DT_I32,
    64: libspu.DataType.DT_I64,
}
_FIELDS = {32: libspu.FieldType.FM32, 64: libspu.FieldType.FM64, 128: libspu.FieldType.FM128}


def spu_runtime_config(ring: RingConfig, options: dict[str, str | int] | None = None) -> libspu.RuntimeConfig:
    """SPU's configuration for one ABY3 runtime on `ring`, with its per-op profile on and a plan's
    `spu_options` (validated by plan.py) applied."""
    config = libspu.RuntimeConfig(
        protocol=libspu.ProtocolKind.ABY3, field=_FIELDS[ring.field_bits], fxp_fraction_bits=ring.fraction_bits
    )
    config.enable_pphlo_profile = True
    for key, value in (options or {}).items():
        setattr(config, key, getattr(libspu.RuntimeConfig.ExpMode, value) if key == "fxp_exp_mode" else value)
    return config


def first_line(error: BaseException) -> str:
    """The informative line of an SPU error (its text is framed by 'what:' and a stack trace)."""
    for line in str(error).splitlines():
        line = line.strip()
        if line and line not in ("what:",) and not line.lower().startswith(("stacktrace", "#")):
            return line
    return type(error).__name__


def check_upcast(upcast: str) -> None:
    if upcast not in UPCASTS:
        raise DittoError(f"upcast must be one of {', '.join(UPCASTS)}, not {upcast!r}")


@dataclass
class ProtocolLink:
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


def _executable(name: str, code: str, inputs: Sequence[str], outputs: Sequence[str]) -> libspu.Executable:
    return libspu.Executable(name=name, input_names=list(inputs), output_names=list(outputs), code=code.encode())


@dataclass
class _Programs:
    """The SPU executables of one step."""

    main: libspu.Executable | None = None
    """A segment's program."""
    prepare: libspu.Executable | None = None
    finish: libspu.Executable | None = None


def _programs(plan: Plan) -> list[_Programs]:
    programs = []
    for index, step in enumerate(plan.steps):
        if isinstance(step, Segment):
            programs.append(_Programs(main=_executable(f"segment{index}", step.code, step.inputs, step.outputs)))
            continue
        if isinstance(step, MatMul):
            programs.append(_Programs())
            continue
        src, dst, staged = step.source.name, step.target.name, step.staged
        prepare = step.prepare and _executable(f"convert:{src}", step.prepare, [src], [staged])
        finish = step.finish and _executable(f"convert:{src}", step.finish, [staged], [dst])
        programs.append(_Programs(prepare=prepare or None, finish=finish or None))
    return programs


def uses_protocol(step: Conversion, upcast: str) -> bool:
    """The conversion runs one of this project's protocols: every secret upcast but a boolean's, and a
    downcast that drops fraction bits, unless `upcast` is "generic" (SPU's protocols only)."""
    if upcast != "ditto" or not step.source.secret or step.source.kind == "bool":
        return False
    return step.is_upcast or step.prepare is not None


def spu_runs(plan: Plan, upcast: str) -> list[int]:
    """How many SPU program runs each step makes (to attribute a party's profiler log to steps)."""
    runs = []
    for step in plan.steps:
        if isinstance(step, Segment):
            runs.append(1)
        elif isinstance(step, MatMul):
            runs.append(0)
        elif not step.source.secret or step.source.kind == "bool":
            runs.append(0)
        else:
            prepare = step.prepare is not None and (step.is_upcast or not uses_protocol(step, upcast))
            runs.append(int(prepare) + int(step.finish is not None and upcast == "generic"))
    return runs


def _convert(
    index: int,
    conversion: Conversion,
    programs: _Programs,
    rings: dict[int, RingConfig],
    runtimes: dict[int, spu_api.Runtime],
    link: ProtocolLink,
    upcast: str,
) -> None:
    src, dst = conversion.source, conversion.target
    source, target = runtimes[src.field_bits], runtimes[dst.field_bits]
    fraction_shift = rings[dst.field_bits].fraction_bits - rings[src.field_bits].fraction_bits
    if not src.secret:
        share = source.get_var(src.name)
        _, raw = public_words(share)
        raw = raw.astype(np.int64)
        if src.kind == "fixed":
            raw = raw << fraction_shift if fraction_shift >= 0 else raw >> -fraction_shift
        target.set_var(dst.name, with_public_words(share, raw, dst.field_bits))
        return
    if src.kind == "bool":
        target.set_var(dst.name, source.get_var(src.name))  # XOR-shared bits: ring-independent
        return
    data_type = libspu.DataType.DT_F32 if src.kind == "fixed" else _INT_TYPES[dst.width]

    def protocol(run: Callable[..., np.ndarray], share: libspu.Share, shift: int) -> None:
        """One of the conversion protocols on this party's words of `share`; the result into `target`."""
        words = share_words(share)
        words = run(link.rank, words, src.field_bits, dst.field_bits, shift, link.seeds, index, link.send, link.recv)
        target.set_var(dst.name, with_words(share, words, data_type))

    if not conversion.is_upcast and uses_protocol(conversion, upcast):
        protocol(ditto_downcast, source.get_var(src.name), -fraction_shift)  # fixed point losing bits
        return
    if not conversion.is_upcast:
        staged = src.name
        if programs.prepare is not None:
            source.run(programs.prepare)
            staged = conversion.staged
        share = source.get_var(staged)
        target.set_var(dst.name, with_words(share, reduce_words(share_words(share), dst.field_bits), data_type))
        return
    if programs.prepare is None or programs.finish is None:
        raise DittoError(f"the plan's upcast of {src.name} lacks its programs")
    source.run(programs.prepare)  # y = raw x + 2^(k-2)
    share = source.get_var(conversion.staged)
    if upcast == "ditto":
        protocol(ditto_upcast, share, fraction_shift if src.kind == "fixed" else 0)
        return
    lifted = with_words(share, lift_words(share_words(share), dst.field_bits), libspu.DataType.DT_I64)
    target.set_var(conversion.staged, lifted)
    target.run(programs.finish)


def _matmul(index: int, step: MatMul, runtimes: dict[int, spu_api.Runtime], link: ProtocolLink) -> None:
    runtime = runtimes[step.field_bits]
    shares = [runtime.get_var(v.name) for v in (step.lhs, step.rhs)]
    lhs, rhs = (share_words(share).T.reshape(2, *v.shape) for share, v in zip(shares, (step.lhs, step.rhs)))
    words = aby3_matmul(link.rank, lhs, rhs, step.field_bits, link.seeds, index, link.send, link.recv)
    flat = words.reshape(2, -1).T
    runtime.set_var(step.result.name, with_words(shares[0], flat, libspu.DataType.DT_F32, step.result.shape))


def execute_steps(
    plan: Plan,
    runtimes: dict[int, spu_api.Runtime],
    link: ProtocolLink,
    input_shares: Sequence[libspu.Share | None],
    upcast: str,
    measure: Callable[[str], AbstractContextManager[None]],
) -> list[libspu.Share]:
    """One party's whole run: inputs in, every step in order, its output shares out.

    An input share that is None is already in the runtime under the input's name (runtime/session.py).
    `measure(category)` wraps each step ("32-bit", "64-bit" or "conversions") to count its cost.
    """
    programs = _programs(plan)
    for variable, share in zip(plan.inputs, input_shares):
        if share is not None:
            runtimes[variable.field_bits].set_var(variable.name, share)
    for index, (step, step_programs) in enumerate(zip(plan.steps, programs)):
        if isinstance(step, Segment):
            with measure(f"{step.field_bits}-bit"):
                runtimes[step.field_bits].run(step_programs.main)
        elif isinstance(step, MatMul):
            with measure(f"{step.field_bits}-bit"):
                _matmul(index, step, runtimes, link)
        else:
            with measure("conversions"):
                _convert(index, step, step_programs, plan.rings, runtimes, link, upcast)
    return [runtimes[v.field_bits].get_var(v.name) for v in plan.outputs]


def share_inputs(plan: Plan, inputs: Sequence[np.ndarray], first: int = 0) -> list[list[libspu.Share]]:
    """Per input (the plan's inputs from `first` on), the three parties' shares, in the ring each input enters."""
    ios = {k: spu_api.Io(WORLD_SIZE, spu_runtime_config(ring)) for k, ring in plan.rings.items()}
    shares = []
    for index, (variable, value) in enumerate(zip(plan.inputs[first:], inputs), start=first):
        visibility = libspu.Visibility.VIS_SECRET if variable.secret else libspu.Visibility.VIS_PUBLIC
        try:
            shares.append(ios[variable.field_bits].make_shares(np.asarray(value), visibility))
        except RuntimeError as e:
            raise DittoError(f"cannot share input {index}: {first_line(e)}") from None
    return shares


def reconstruct(
    plan: Plan, outputs: Sequence[Sequence[libspu.Share]], variables: Sequence[Variable] | None = None
) -> list[np.ndarray]:
    """Plaintext outputs from the three parties' shares of `variables` (default: the plan's outputs)."""
    ios = {k: spu_api.Io(WORLD_SIZE, spu_runtime_config(ring)) for k, ring in plan.rings.items()}
    return [
        ios[v.field_bits].reconstruct([outputs[r][i] for r in range(WORLD_SIZE)])
        for i, v in enumerate(plan.outputs if variables is None else variables)
    ]


def categories(plan: Plan) -> list[str]:
    """The parts of a plan's cost: each ring's runtime, then the conversions."""
    conversions = ["conversions"] if any(isinstance(s, Conversion) for s in plan.steps) else []
    return [*(f"{k}-bit" for k in plan.rings), *conversions]


def plan_cost(
    plan: Plan, spent: dict[str, list[PartyCost]], by_op: dict[str, OpCost], protocol: PartyCost, upcast: str
) -> Cost:
    """The cost of a run from each category's per-party figures, SPU's per-op profile and the
    protocols' own messages (added to `by_op` as pseudo-ops, so per-op bytes add up). `protocol` counts
    the messages of both; the matmuls' share is exact (one word per output element and party)."""
    by_ring = {name: Cost(parties) for name, parties in spent.items()}
    parties = [PartyCost() for _ in range(WORLD_SIZE)]
    for part in spent.values():
        for total, party in zip(parties, part):
            total.add(party)
    matmuls = [s for s in plan.steps if isinstance(s, MatMul)]
    matmul = OpCost(
        len(matmuls),
        sum(s.send_bytes for s in matmuls),
        WORLD_SIZE * len(matmuls),
    )
    conversion = OpCost(
        sum(1 for s in plan.steps if isinstance(s, Conversion) and uses_protocol(s, upcast)),
        protocol.send_bytes - matmul.send_bytes,
        protocol.send_actions - matmul.send_actions,
    )
    for name, cost in ((MATMUL_PROTOCOL, matmul), (CONVERSION_PROTOCOL, conversion)):
        if cost.send_bytes:
            by_op = merge_ops(by_op, {name: cost})
    return Cost(parties, by_ring, by_op)
