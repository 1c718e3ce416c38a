"""Near-minimax polynomial fits for the compiler's fitted functions (bounded-exp, relu-fit, exp-fit)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def lawson(
    basis: np.ndarray,
    target: np.ndarray,
    iterations: int,
    error: Callable[[np.ndarray], np.ndarray] | None = None,
) -> np.ndarray:
    """Coefficients c with basis @ c ~ target: least squares reweighted towards the worst points (Lawson's
    algorithm), which approaches the minimax fit. `error` measures a fit's pointwise error where the residual
    of basis @ c is not what counts (a fitted form raised to a power)."""
    weights = np.ones(len(target))
    for _ in range(iterations):
        coefficients = np.linalg.lstsq(basis * weights[:, None], target * weights, rcond=None)[0]
        residual = np.abs(basis @ coefficients - target) if error is None else error(coefficients)
        weights = weights * np.sqrt(residual / residual.max() + 1e-3)
        weights /= weights.max()
    return coefficients
