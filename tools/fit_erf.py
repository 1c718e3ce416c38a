"""Fit the division-free erf that `lowering/chlo_expansion.py` uses: erf(x) ~ x * R(x^2 / 16) on [-C, C].

t = x^2 / 16: a power-of-two scaling, which fuse-scales folds into the square's own truncation.
R is constrained to give exactly erf = 1 at the clamp C (R(C^2/16) = 1/C): beyond it the
error is then 1 - erf(x) <= 1 - erf(C) and shrinks, so GeLU's x/2 * erf error stays bounded
for every |x| (an unconstrained fit's endpoint error would grow with x). Within that
constraint the fit is minimax (Lawson's iteratively reweighted least squares on a dense
grid of [0, C]; erf is odd, so [0, C] decides). Prints the coefficients of R, lowest degree
first, and the maximal errors of erf and of GeLU (0.5 x (1 + erf(x / sqrt 2)), on [-20, 20]).
Run it to reproduce the constants:

    python tools/fit_erf.py --clamp 3.0 --degree 8
"""

from __future__ import annotations

import argparse

import numpy as np
from numpy.polynomial import polynomial
from scipy.special import erf


def fit(clamp: float, degree: int, points: int = 20001, iterations: int = 100) -> tuple[np.ndarray, float]:
    """R's coefficients (lowest degree first) and the maximal |erf error| on [0, clamp]."""
    x = np.linspace(0.0, clamp, points)
    t, t_clamp = x * x / 16.0, clamp * clamp / 16.0
    # R(t) = 1/C + (t - t_C) Q(t): the constraint holds for every Q of degree - 1.
    basis = np.stack([x * (t - t_clamp) * t**k for k in range(degree)], axis=1)
    target = erf(x) - x / clamp
    weights = np.ones_like(x)
    for _ in range(iterations):
        q, *_ = np.linalg.lstsq(basis * weights[:, None], target * weights, rcond=None)
        error = np.abs(basis @ q - target)
        weights = weights * np.sqrt(error + 1e-300)
        weights /= weights.max()
    r = polynomial.polyadd([1.0 / clamp], polynomial.polymul([-t_clamp, 1.0], q))
    return r, float(np.max(np.abs(basis @ q - target)))


def erf_approximation(x: np.ndarray, clamp: float, r: np.ndarray) -> np.ndarray:
    clamped = np.clip(x, -clamp, clamp)
    return clamped * polynomial.polyval(clamped * clamped / 16.0, r)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clamp", type=float, default=3.0)
    parser.add_argument("--degree", type=int, default=8)
    args = parser.parse_args()
    r, _ = fit(args.clamp, args.degree)
    print("coefficients (lowest degree first):")
    for c in r:
        print(f"    {float(c)!r},")
    x = np.linspace(-20.0, 20.0, 200001)
    erf_error = np.abs(erf_approximation(x, args.clamp, r) - erf(x)).max()
    z = x / np.sqrt(2.0)
    gelu_error = np.abs(0.5 * x * (erf_approximation(z, args.clamp, r) - erf(z))).max()
    print(f"max |erf error| {erf_error:.2e}, max |GeLU error| {gelu_error:.2e}")


if __name__ == "__main__":
    main()
