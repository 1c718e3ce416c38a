"""Fit the division-free erf that `lowering/chlo_expansion.py` uses: erf(x) ~ x * R(x^2 / 16) on [-C, C].

t = x^2 / 16: a power-of-two scaling, which fuse-scales folds into the square's own truncation.

The coefficients of R are a minimax fit (Lawson's iteratively reweighted least
squares on a dense grid of [0, C]; erf is odd, so [0, C] decides). Prints the
coefficients, lowest degree first, and the maximal errors of the fit and of the
clamp at C (erf(C) against 1). Run it to reproduce the constants:

    python tools/fit_erf.py --clamp 3.2 --degree 9
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy.special import erf


def fit(clamp: float, degree: int, points: int = 20001, iterations: int = 100) -> tuple[np.ndarray, float]:
    x = np.linspace(0.0, clamp, points)
    basis = np.stack([x * (x * x / 16.0) ** k for k in range(degree + 1)], axis=1)
    target = erf(x)
    weights = np.ones_like(x)
    for _ in range(iterations):
        coefficients, *_ = np.linalg.lstsq(basis * weights[:, None], target * weights, rcond=None)
        error = np.abs(basis @ coefficients - target)
        weights = weights * np.sqrt(error + 1e-300)
        weights /= weights.max()
    return coefficients, float(np.max(np.abs(basis @ coefficients - target)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clamp", type=float, default=3.2)
    parser.add_argument("--degree", type=int, default=9)
    args = parser.parse_args()
    coefficients, error = fit(args.clamp, args.degree)
    print("coefficients (lowest degree first):")
    for c in coefficients:
        print(f"    {float(c)!r},")
    print(f"max |fit error| {error:.2e}, clamp error {1 - erf(args.clamp):.2e}")


if __name__ == "__main__":
    main()
