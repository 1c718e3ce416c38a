"""Dialects of ditto-compiler: StableHLO (from xdsl-jax), a `chlo` subset, SPU's `pphlo`, and `fxp` ring types."""

from collections.abc import Callable

from xdsl.dialects.builtin import Builtin
from xdsl.dialects.func import Func
from xdsl.ir import Dialect

from .chlo import CHLO
from .fxp import FXP
from .pphlo import PPHLO
from .stablehlo import StableHLO


def all_dialects() -> dict[str, Callable[[], Dialect]]:
    """Every dialect a ditto-compiler module may contain, by name."""
    return {
        "builtin": lambda: Builtin,
        "func": lambda: Func,
        "stablehlo": lambda: StableHLO,
        "chlo": lambda: CHLO,
        "pphlo": lambda: PPHLO,
        "fxp": lambda: FXP,
    }


def make_context():
    """An xDSL context with all project dialects loaded."""
    from xdsl.context import Context

    ctx = Context()
    for name, factory in all_dialects().items():
        ctx.register_dialect(name, factory)
    return ctx
