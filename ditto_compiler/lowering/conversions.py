"""The PPHLO programs of a ring conversion, built from the `pphlo` dialect.

A conversion of a secret between two rings' runtimes (runtime/party.py runs it):

* Downcast (large -> small ring): `prepare` drops the surplus fraction bits in the
  large ring (one secure truncation, a multiplication by 2^-surplus); each party then
  reduces its share words mod 2^k locally.
* Upcast (small -> large ring): `prepare` adds the integer bias 2^(k-2) to the raw
  ring element in the small ring (non-negative given Ditto's bound |x| < 2^(k-2)).
  The words are lifted, and either Ditto's protocol (runtime/upcast.py) removes the
  wrap, or, for the generic method, `finish` does it in the large ring: SPU's `and`
  with 2^k - 1 (an exact A2B/B2A round trip), minus the bias, times 2^(f' - f).

Public values and booleans (XOR-shared bits, ring-independent) need no program.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from xdsl.dialects import func
from xdsl.dialects.builtin import DenseIntOrFPElementsAttr, FunctionType, IntegerType, ModuleOp, TensorType, f32, i64
from xdsl.ir import Attribute, Block, Region, SSAValue

from ..diagnostics import DittoError
from ..dialects import pphlo
from ..dialects.secret import tensor_type
from ..plan import Variable
from ..ring import RingConfig
from .spu_text import spu_module_text


def _program(argument: TensorType, body: Callable[[Block, SSAValue], SSAValue]) -> str:
    block = Block(arg_types=[argument])
    result = body(block, block.args[0])
    block.add_op(func.ReturnOp(result))
    function = func.FuncOp("main", FunctionType.from_lists([argument], [result.type]), Region(block))
    return spu_module_text(ModuleOp([function]))


def _constant(block: Block, shape: Sequence[int], element: Attribute, value: int | float) -> SSAValue:
    op = pphlo.ConstantOp(DenseIntOrFPElementsAttr.from_list(TensorType(element, shape), [value]))
    block.add_op(op)
    return op.output


def _add(block: Block, op: pphlo.IRDLOperation) -> SSAValue:
    block.add_op(op)
    return op.results[0]


def conversion_programs(
    source: Variable, target: Variable, rings: dict[int, RingConfig]
) -> tuple[str | None, str | None]:
    """(prepare, finish) for converting `source` into `target`'s ring (None where none is needed)."""
    if not source.secret or source.kind == "bool":
        return None, None
    if {source.field_bits, target.field_bits} != {32, 64}:
        raise DittoError(f"ring conversion {source.field_bits} -> {target.field_bits} bits is not supported")
    src, dst = rings[source.field_bits], rings[target.field_bits]
    shape = source.shape
    plain = f32 if source.kind == "fixed" else IntegerType(source.width)
    value_type = tensor_type(shape, plain, True)
    if target.field_bits < source.field_bits:
        surplus = src.fraction_bits - dst.fraction_bits
        if source.kind != "fixed" or surplus <= 0:
            return None, None

        def truncate(block: Block, x: SSAValue) -> SSAValue:
            scale = _constant(block, shape, f32, 2.0**-surplus)
            return _add(block, pphlo.MulOp(x, scale, value_type))

        return _program(value_type, truncate), None

    k = source.field_bits
    raw_type = IntegerType(k)
    biased_type = tensor_type(shape, raw_type, True)
    bias = 2 ** (k - 2)

    def add_bias(block: Block, x: SSAValue) -> SSAValue:
        if source.kind == "fixed":  # the raw ring element
            x = _add(block, pphlo.BitcastConvertOp(x, biased_type))
        elif source.width != k:
            x = _add(block, pphlo.ConvertOp(x, biased_type))
        return _add(block, pphlo.AddOp(x, _constant(block, shape, raw_type, bias), biased_type))

    lifted_type = tensor_type(shape, i64, True)
    extra = dst.fraction_bits - src.fraction_bits
    if source.kind == "fixed" and extra < 0:
        raise DittoError("an upcast that lowers the fraction bits is not supported")

    def unwrap(block: Block, x: SSAValue) -> SSAValue:
        masked = _add(block, pphlo.AndOp(x, _constant(block, shape, i64, 2**k - 1), lifted_type))
        unbiased = _add(block, pphlo.SubtractOp(masked, _constant(block, shape, i64, bias), lifted_type))
        if source.kind != "fixed":
            return _add(block, pphlo.ConvertOp(unbiased, tensor_type(shape, IntegerType(target.width), True)))
        scaled = _add(block, pphlo.MulOp(unbiased, _constant(block, shape, i64, 2**extra), lifted_type))
        return _add(block, pphlo.BitcastConvertOp(scaled, tensor_type(shape, f32, True)))

    return _program(value_type, add_bias), _program(lifted_type, unwrap)
