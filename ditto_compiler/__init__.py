"""ditto-compiler: quantization-aware secure Transformer inference over 3-party MPC.

prog = ditto_compiler.compile(fn, *example_args, public=None)
outputs = prog.run(*args)      # 3-party ABY3 on SPU
prog.cost                      # bytes, rounds, seconds
"""

from typing import TYPE_CHECKING, Any

from .diagnostics import DittoError

if TYPE_CHECKING:
    from .program import Program, compile

__all__ = ["DittoError", "Program", "compile"]


def __getattr__(name: str) -> Any:
    # `compile` and `Program` bring in JAX; `ditto-opt`, which never traces a function, starts without it.
    if name in ("Program", "compile"):
        from . import program

        return getattr(program, name)
    raise AttributeError(f"module 'ditto_compiler' has no attribute {name!r}")
