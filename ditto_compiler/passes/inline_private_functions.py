"""Inline every `func.call` to a private `func.func`, then drop the dead callees.

JAX outlines helpers (`_take`, `_where`, `relu`, ...) as private functions; the
rest of the pipeline works on a single entry function.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import BlockArgument
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import PatternRewriter, RewritePattern, op_type_rewrite_pattern
from xdsl.rewriter import InsertPoint
from xdsl.traits import SymbolTable

from ..diagnostics import op_error
from ..rewriting import rewrite_walker


class InlineCall(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: func.CallOp, rewriter: PatternRewriter) -> None:
        callee = SymbolTable.lookup_symbol(op, op.callee)
        if not isinstance(callee, func.FuncOp) or callee.is_declaration:
            raise op_error(op, f"calls {op.callee}, which has no body to inline")
        body = callee.body.clone()
        block = body.block
        terminator = block.last_op
        assert isinstance(terminator, func.ReturnOp)
        # A returned block argument stands for the call's operand once inlined.
        returned = [
            op.arguments[v.index] if isinstance(v, BlockArgument) and v.block is block else v
            for v in terminator.arguments
        ]
        rewriter.erase(terminator, safe_erase=False)
        rewriter.inline_block(block, InsertPoint.before(op), op.arguments)
        rewriter.replace(op, [], returned)


@dataclass(frozen=True)
class InlinePrivateFunctionsPass(ModulePass):
    name = "inline-private-functions"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        rewrite_walker(InlineCall()).rewrite_module(op)
        for fn in list(op.ops):
            if isinstance(fn, func.FuncOp) and fn.sym_visibility is not None and fn.sym_visibility.data == "private":
                fn.detach()
                fn.erase()
