"""ditto-compiler: quantization-aware secure Transformer inference over 3-party MPC.

prog = ditto_compiler.compile(fn, *example_args, public=None)
outputs = prog.run(*args)      # 3-party ABY3 on SPU
prog.cost                      # bytes, rounds, seconds
"""

from .diagnostics import DittoError
from .program import Program, compile

__all__ = ["DittoError", "Program", "compile"]
