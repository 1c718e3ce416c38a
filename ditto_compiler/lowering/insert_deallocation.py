"""`insert-deallocation`: free every PPHLO value after its last use, as SPU's own compiler does.

SPU's executor keeps each value an op defines until the program ends unless a
`pphlo.free` releases it (its compiler's `insert-deallocation` pass emits those;
this project emits PPHLO itself). Under ABY3 a secret costs each party two ring
words per element, so a long program holds the sum of all its intermediates:
measured, 80 elementwise ops on a 1000x1000 secret grew a three-party process by
4.0 GB without frees and by 0.55 GB with them (and ran 1.7x faster); a
135M-parameter LLaMA prefill did not fit in 24 GB without them.

The rule, per function body (nested regions such as reduce bodies are left as
they are, like SPU's pass does): a value defined by an op of the body is freed
right after the last op of the body that uses it, directly or inside its regions;
a value nothing uses is freed right after its definition. Arguments are never
freed (the runtime holds them as variables the caller set: a session's resident
weights and cache), nor is anything the function returns. Values already freed
are left alone, so the pass is idempotent.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Block, Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint, Rewriter

from ..diagnostics import op_error
from ..dialects import pphlo

_DIALECTS = ("pphlo", "fxp")


def _ancestor_in(block: Block, op: Operation) -> Operation:
    while op.parent_block() is not block:
        parent = op.parent_op()
        assert parent is not None, "a use outside the function that defines the value"
        op = parent
    return op


def _deallocate(block: Block) -> None:
    ops = list(block.ops)
    position = {op: i for i, op in enumerate(ops)}
    terminator = block.last_op
    dying_after: dict[Operation, list[SSAValue]] = {}
    for op in ops:
        if op is terminator:
            break
        if op.dialect_name() not in _DIALECTS:
            raise op_error(op, "is not PPHLO: insert-deallocation runs on the program SPU executes")
        for value in op.results:
            users = [_ancestor_in(block, use.operation) for use in value.uses]
            if any(isinstance(user, pphlo.FreeOp) for user in users) or terminator in users:
                continue
            last = max(users, key=position.__getitem__, default=op)
            dying_after.setdefault(last, []).append(value)
    for last, values in dying_after.items():
        frees = [pphlo.FreeOp(value) for value in values]
        Rewriter.insert_op(frees, InsertPoint.after(last))


@dataclass(frozen=True)
class InsertDeallocationPass(ModulePass):
    name = "insert-deallocation"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for function in op.ops:
            if isinstance(function, func.FuncOp) and function.body.blocks:
                _deallocate(function.body.block)
