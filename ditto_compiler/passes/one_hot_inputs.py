"""`one-hot-inputs`: an embedding lookup by secret token ids becomes a one-hot input times the table.

A secret `gather` costs one secure comparison per (token, vocabulary entry) and a
conversion of each result to arithmetic shares: for MiniLM at sequence 128 that is
3.9 M comparisons, about a gigabyte. When the ids are a function input (through
reshapes, converts and JAX's negative-index wrap, which are checked by evaluating
them), the owner of the ids can encode them as one-hot rows in the clear before
sharing them (the plan's `encodings`, see plan.py), and the lookup is a matmul. The new
argument records what it is (`ditto.one_hot_of = i`: the one-hot of argument i). The gather's
out-of-range handling stays as JAX wrote it (a few comparisons per token).

Public ids are left to legalize-to-pphlo (a local `spu.gather`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import (
    ArrayAttr,
    DictionaryAttr,
    FunctionType,
    IntegerAttr,
    IntegerType,
    ModuleOp,
    StringAttr,
    TensorType,
    i64,
)
from xdsl.ir import BlockArgument, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import Rewriter
from xdsl_jax.dialects import stablehlo as shlo

from ..dialects.stablehlo import is_row_lookup
from ..lowering.legalize_to_pphlo import VISIBILITY_ATTR
from ..plan import OneHotInput
from .nonlinear_recognition import closed_slice, evaluate, shape_of

ONE_HOT_ATTR = "ditto.one_hot_of"


def one_hot_encodings(fn: func.FuncOp) -> list[OneHotInput]:
    """The one-hot arguments this pass gave `fn`, in argument order."""
    found = []
    attrs = fn.arg_attrs.data if fn.arg_attrs is not None else []
    for index, (arg, entries) in enumerate(zip(fn.args, attrs)):
        source = entries.data.get(ONE_HOT_ATTR)
        if isinstance(source, IntegerAttr) and isinstance(arg.type, TensorType):
            shape = tuple(arg.type.get_shape())
            found.append(OneHotInput(index, source.value.data, shape[-1], shape))
    return found


def _source_argument(ids: SSAValue, block_args: list[BlockArgument], vocab: int) -> BlockArgument | None:
    """The integer function argument `ids` equals, element for element, for every valid id."""
    for arg in block_args:
        if not isinstance(arg.type, TensorType) or not isinstance(arg.type.get_element_type(), IntegerType):
            continue
        if ids is arg:
            return arg
        ops = closed_slice(ids, arg)
        if ops is None:
            continue
        shape = shape_of(arg)
        probe = np.random.default_rng(0).integers(0, vocab, size=shape).astype(np.float64)
        got = evaluate(ops, arg, ids, probe)
        if got is not None and np.array_equal(got.reshape(-1), probe.reshape(-1)):
            return arg
    return None


@dataclass(frozen=True)
class OneHotInputsPass(ModulePass):
    name = "one-hot-inputs"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for fn in [f for f in op.ops if isinstance(f, func.FuncOp) and f.sym_visibility != StringAttr("private")]:
            for gather in [g for g in fn.walk() if isinstance(g, shlo.GatherOp)]:
                if is_row_lookup(gather):
                    self._rewrite(fn, gather)

    @staticmethod
    def _rewrite(fn: func.FuncOp, gather: shlo.GatherOp) -> None:
        table = shape_of(gather.operand)
        source = _source_argument(gather.start_indices, list(fn.args), table[0])
        if source is None:
            return
        attrs = list(fn.arg_attrs.data) if fn.arg_attrs is not None else [DictionaryAttr({})] * len(fn.args)
        if attrs[source.index].data.get(VISIBILITY_ATTR) == StringAttr("public"):
            return  # public ids: a local gather
        element = gather.operand.type.get_element_type()  # type: ignore[attr-defined]
        batch = list(shape_of(gather.start_indices)[:-1])
        one_hot = fn.body.block.insert_arg(TensorType(element, [*batch, table[0]]), len(fn.args))
        attrs.append(DictionaryAttr({ONE_HOT_ATTR: IntegerAttr(source.index, i64)}))
        fn.arg_attrs = ArrayAttr(attrs)
        fn.function_type = FunctionType.from_lists([a.type for a in fn.args], fn.function_type.outputs.data)
        rank = len(batch)
        dims = [ArrayAttr([IntegerAttr(d, i64) for d in ds]) for ds in ([], [], [rank], [0])]
        product = shlo.DotGeneralOp.create(
            operands=[one_hot, gather.operand],
            result_types=[gather.results[0].type],
            properties={"dot_dimension_numbers": shlo.DotAttr(*dims)},
        )
        product.location = gather.location
        Rewriter.replace_op(gather, product)
