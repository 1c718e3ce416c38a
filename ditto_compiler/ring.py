"""A fixed-point ring: width k, fraction bits f, and the value range that follows."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .diagnostics import DittoError

SATURATION_BITS = 15

PRECISE_ATTR = "ditto.precise"
"""Marks an op whose precision ring policies must not trade away (an exact function's
expansion): it computes in the policy's large ring."""

RANGE_GUARD_ATTR = "ditto.range_guard"
"""Marks a comparison `x >= bounds` (public bounds) that legalization added to keep a
kernel's input in its range; `drop-range-guards` removes it where calibration shows
it never fires."""


@dataclass(frozen=True)
class RingConfig:
    """Values are x * 2^f encoded in the integers mod 2^k (SPU's FM32/FM64/FM128)."""

    field_bits: int = 64
    fraction_bits: int = 18

    def __post_init__(self) -> None:
        if self.field_bits not in (32, 64, 128):
            raise DittoError(f"unsupported ring width {self.field_bits}; use 32, 64 or 128")
        if not isinstance(self.fraction_bits, int) or isinstance(self.fraction_bits, bool) or self.fraction_bits < 0:
            raise DittoError(f"fraction bits must be a non-negative integer, not {self.fraction_bits!r}")
        if self.integer_bits < 4:
            raise DittoError(f"a {self.field_bits}-bit ring cannot hold {self.fraction_bits} fraction bits")

    @property
    def integer_bits(self) -> int:
        """Magnitude bits left after the fraction, the sign and one bit of headroom for sums."""
        return self.field_bits - self.fraction_bits - 2

    @property
    def max_magnitude(self) -> float:
        """Values must satisfy |x| < 2^(k-f-2)."""
        return 2.0**self.integer_bits

    @property
    def saturation(self) -> float:
        """Stand-in for +-infinity: 2^15, or half the integer bits where that is less (a product of two
        must still fit). 2^15 plus any attention score also fits the 32-bit ring at 12 fraction bits with
        the `auto` margin, so a masked Softmax (its max and exp floor) can be computed in either ring."""
        return 2.0 ** min(self.integer_bits // 2, SATURATION_BITS)

    @property
    def exp_floor(self) -> float:
        """Below this, e^x is under half the least significant bit 2^-f."""
        return -(self.fraction_bits + 1) * math.log(2.0)

    def saturate(self, values: np.ndarray) -> np.ndarray | None:
        """`values` with what this ring cannot hold replaced, or None if all fit.

        JAX writes minus infinity as -inf or float32's most negative value (causal
        masks, max seeds); encoded as is they wrap around. Beyond the range they
        become +-`saturation`; NaN (jnp.take's fill value) becomes 0.
        """
        data = np.asarray(values, dtype=np.float64)
        if np.all(np.abs(data) < self.max_magnitude):
            return None
        data = np.where(np.isnan(data), 0.0, data)
        return np.where(np.abs(data) >= self.max_magnitude, np.sign(data) * self.saturation, data)
