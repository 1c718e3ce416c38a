"""The `auto` ring policy: rings chosen from value ranges seen on calibration inputs.

The legalized module is emulated in the 64-bit ring on the user's inputs, recording
each op's largest |value| and its RMS. A matmul (where the small ring pays off)
goes to the 32-bit ring when its result and its operands both

* fit: largest |value| x margin stays below the ring's bound, 2^(k-2-f) for a
  value and 2^(k-2-2f) for a product (whose raw form carries 2f fraction bits), and
* are resolved: a real value's RMS is at least 2^precision of the ring's steps
  2^-f (precision 6: about 1.5% relative error), so small values such as
  LayerNorm's squared deviations or freshly initialised embeddings stay large.

Other ops follow the `ditto` rules: nonlinear functions, comparisons and
reductions in the 64-bit ring, the arithmetic around matmuls with its operands.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from xdsl.dialects import func
from xdsl.dialects.builtin import AnyFloat, ModuleOp
from xdsl.ir import Operation, SSAValue

from ..diagnostics import DittoError, describe_location
from ..dialects.secret import base_element_type
from ..emulator import emulate
from ..plan import Plan
from ..ring import PRECISE_ATTR, RingConfig
from .one_hot_inputs import one_hot_encodings
from .ring_annotation import annotate
from .ring_policy import BUILTIN, CONTRACTIONS, SMALL, SPU_APPROXIMATIONS, RingPolicy

PRODUCTS = frozenset({"pphlo.multiply", "pphlo.dot", "pphlo.dot_general"})
ADAPTS = frozenset({"pphlo.constant", "pphlo.iota"})


@dataclass(frozen=True)
class Stats:
    max_abs: float
    rms: float
    real: bool
    """Whether the values are real (fixed point), so precision matters."""

    def merge(self, other: Stats) -> Stats:
        return Stats(max(self.max_abs, other.max_abs), max(self.rms, other.rms), self.real)


@dataclass(frozen=True)
class Choice:
    op: str
    location: str | None
    ring: tuple[int, int]
    max_abs: float
    rms: float

    def as_dict(self) -> dict[str, object]:
        return {
            "op": self.op,
            "location": self.location,
            "ring": list(self.ring),
            "max_abs": self.max_abs,
            "rms": self.rms,
        }


def _stats(values: np.ndarray, real: bool) -> Stats:
    values = np.asarray(values, dtype=np.float64)
    if not values.size:
        return Stats(0.0, 0.0, real)
    return Stats(float(np.max(np.abs(values))), float(np.sqrt(np.mean(values * values))), real)


def _limit(op: Operation, ring: RingConfig) -> float:
    scale = 2 * ring.fraction_bits if op.name in PRODUCTS else ring.fraction_bits
    return 2.0 ** (ring.field_bits - 2 - scale)


def _fits(op: Operation, stats: Stats, margin: float, precision: int, small: RingConfig) -> bool:
    resolved = not stats.real or stats.rms * 2.0**small.fraction_bits >= 2.0**precision
    return stats.max_abs * margin < _limit(op, small) and resolved


MAX_PRECISION = SMALL.fraction_bits + 8


def check_options(margin: object, precision: object) -> None:
    """`auto`'s options, refused unless margin is a finite number >= 1 and precision an int in [0, MAX_PRECISION]."""
    real = isinstance(margin, (int, float, np.integer, np.floating)) and not isinstance(margin, (bool, np.bool_))
    if not real or not math.isfinite(margin) or margin < 1:  # type: ignore[arg-type]
        raise DittoError(f"margin: the guard margin must be at least 1 (a finite number), not {margin!r}")
    integer = isinstance(precision, (int, np.integer)) and not isinstance(precision, (bool, np.bool_))
    if not integer or not 0 <= precision <= MAX_PRECISION:  # type: ignore[operator]
        raise DittoError(f"precision must be an integer from 0 to {MAX_PRECISION} (bits), not {precision!r}")


def load_calibration(path: str) -> list[np.ndarray]:
    """Calibration inputs saved with `numpy.savez(path, *flat_inputs)` (entry-argument order)."""
    try:
        with np.load(path) as data:
            return [data[f"arr_{i}"] for i in range(len(data.files))]
    except (OSError, ValueError, KeyError, EOFError) as e:
        raise DittoError(f"cannot read calibration inputs from {path}: {e}") from None


def observed_stats(module: ModuleOp, calibration: Sequence[np.ndarray]) -> dict[object, Stats]:
    """Each op's (first result's) and each entry argument's value statistics when the legalized
    `module` runs in the 64-bit ring on `calibration` (emulated)."""
    entry = next((op for op in module.ops if isinstance(op, func.FuncOp)), None)
    if entry is None:
        raise DittoError("module has no function to calibrate")
    calibration = Plan({}, [], [], encodings=one_hot_encodings(entry)).encode_inputs(calibration)
    if len(calibration) != len(entry.args):
        raise DittoError(f"calibration has {len(calibration)} inputs, the function takes {len(entry.args)}")

    probe = module.clone()
    originals = {clone: original for clone, original in zip(probe.walk(), module.walk())}
    annotate(probe, BUILTIN["fxp64"])
    seen: dict[object, Stats] = {}  # by op (its first result) or by entry argument

    def observe(op: Operation, reals: list[np.ndarray]) -> None:
        if op in originals:
            original = originals[op]
            real = isinstance(base_element_type(original.results[0].type), AnyFloat)  # type: ignore[arg-type]
            stats = _stats(reals[0], real)
            seen[original] = seen[original].merge(stats) if original in seen else stats

    emulate(probe, calibration, on_overflow="record", observe=observe)
    for arg, x in zip(entry.args, calibration):
        seen[arg] = _stats(x, np.issubdtype(np.asarray(x).dtype, np.floating))  # type: ignore[index]
    return seen


UNKNOWN = Stats(math.inf, 0.0, True)


def operand_stats(op: Operation, seen: dict[object, Stats]) -> list[Stats]:
    """What `seen` knows of `op`'s operands (constants excepted: they are encoded in any ring)."""
    operands = []
    for value in op.operands:
        owner = value.owner
        if isinstance(owner, Operation):
            if owner.name not in ADAPTS:
                operands.append(seen.get(owner, UNKNOWN))
        else:
            operands.append(seen.get(value, UNKNOWN))
    return operands


def fits_small_ring(
    op: Operation, seen: dict[object, Stats], margin: float, precision: int, small: RingConfig = SMALL
) -> bool:
    """`op` may lose precision (not PRECISE_ATTR, not one of SPU_APPROXIMATIONS), and its result and operands
    all fit, and are resolved in, the small ring."""
    if PRECISE_ATTR in op.attributes or op.name in SPU_APPROXIMATIONS:
        return False
    return all(_fits(op, s, margin, precision, small) for s in [seen.get(op, UNKNOWN), *operand_stats(op, seen)])


def calibrate(
    module: ModuleOp, seen: dict[object, Stats], margin: float = 4.0, precision: int = 6
) -> tuple[RingPolicy, list[Choice]]:
    """An `auto` policy for the legalized `module`, from its `observed_stats`, and what it chose for each op."""
    large = BUILTIN["fxp64"]
    check_options(margin, precision)
    entry = next(op for op in module.ops if isinstance(op, func.FuncOp))
    decided: dict[Operation | SSAValue, RingConfig] = {}
    choices: list[Choice] = []
    for op in entry.body.block.ops:
        if op.name not in CONTRACTIONS:
            continue
        stats = seen.get(op, UNKNOWN)
        ring = SMALL if fits_small_ring(op, seen, margin, precision) else large.nonlinear
        decided[op] = ring
        where = describe_location(op.location)
        choices.append(Choice(op.name, where, (ring.field_bits, ring.fraction_bits), stats.max_abs, stats.rms))
    return RingPolicy("auto", SMALL, large.nonlinear, decided=decided), choices
