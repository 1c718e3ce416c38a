"""SecretFlow SPU's PPHLO dialect: the subset ditto-compiler emits.

Mirrors `src/libspu/dialect/pphlo/IR/ops.td` of SPU. Visibility is in the type
(`!pphlo.secret<T>`, see `secret.py`). Ops are printed in MLIR's generic form,
which SPU's runtime parses; every SPU program the compiler emits, ring
conversions included, is built from these ops.

Verifiers check shapes and visibility: an op's result is secret exactly when one
of its data operands is secret (SPU's visibility rule for every op emitted here).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import ClassVar

import numpy as np
from xdsl.dialects.builtin import (
    AnyFloat,
    ArrayAttr,
    BoolAttr,
    DenseArrayBase,
    DenseIntOrFPElementsAttr,
    IntAttr,
    IntegerAttr,
    StringAttr,
    TensorType,
    i1,
    i64,
)
from xdsl.ir import Attribute, Dialect, Operation, ParametrizedAttribute, SSAValue
from xdsl.irdl import (
    IRDLOperation,
    irdl_attr_definition,
    irdl_op_definition,
    operand_def,
    opt_prop_def,
    param_def,
    prop_def,
    region_def,
    result_def,
    traits_def,
    var_operand_def,
    var_result_def,
)
from xdsl.irdl.operations import SameVariadicOperandSize
from xdsl.parser import AttrParser
from xdsl.printer import Printer
from xdsl.traits import IsTerminator, NoMemoryEffect, RecursiveMemoryEffect
from xdsl.utils.exceptions import VerifyException

from .fxp import IntType, ring_of
from .secret import SecretType, base_element_type, is_secret

_FLOAT_DTYPES = {16: np.float16, 32: np.float32, 64: np.float64}


def float_values(attr: DenseIntOrFPElementsAttr) -> np.ndarray:
    """The values of a float dense attribute as a flat array, read from its buffer
    (`get_values()` builds a Python tuple: 14 ms for a 128 x 3072 splat)."""
    element = attr.get_element_type()
    dtype = _FLOAT_DTYPES.get(getattr(element, "bitwidth", 0))
    if dtype is None:
        return np.asarray(attr.get_values(), dtype=np.float64)
    return np.frombuffer(attr.data.data, dtype=dtype)


def splat_value(value: SSAValue) -> float | None:
    """The single float of a public constant splat behind `value`, through broadcasts and reshapes."""
    owner = value.owner
    while isinstance(owner, (BroadcastOp, ReshapeOp)):
        owner = owner.operand.owner
    if not isinstance(owner, ConstantOp) or not isinstance(owner.value.get_element_type(), AnyFloat):
        return None
    values = float_values(owner.value)
    if values.size == 0 or not np.all((values == values[0]) | (np.isnan(values) & np.isnan(values[0]))):
        return None
    return float(values[0])


def public_splat(value: float, like: TensorType) -> list[Operation]:
    """A public scalar constant broadcast to `like`'s shape (the last op's result is the value): shape-sized
    constant data would be materialised by every later pass."""
    element = base_element_type(like)
    scalar = ConstantOp(DenseIntOrFPElementsAttr.from_list(TensorType(element, []), [value]))
    if not like.get_shape():
        return [scalar]
    return [scalar, BroadcastOp(scalar.output, [], TensorType(element, like.get_shape()))]


def _shape(value: SSAValue | Attribute) -> tuple[int, ...]:
    type_ = value.type if isinstance(value, SSAValue) else value
    assert isinstance(type_, TensorType)
    return type_.get_shape()


def _check_visibility(op: IRDLOperation, inputs: Sequence[SSAValue]) -> None:
    expected = any(is_secret(v.type) for v in inputs)
    for result in op.results:
        if is_secret(result.type) != expected:
            vis = "secret" if expected else "public"
            raise VerifyException(f"'{op.name}' result must be {vis}: {result.type}")


def _i64_array(values: Sequence[int]) -> DenseArrayBase:
    return DenseArrayBase.from_list(i64, list(values))


# ---------------------------------------------------------------------------
# Attributes


@irdl_attr_definition
class DotDimensionNumbersAttr(ParametrizedAttribute):
    """`#pphlo.dot<lhs_batching_dimensions = [..], ...>`, SPU's dot_general dims."""

    name = "pphlo.dot"
    lhs_batching_dimensions: ArrayAttr[IntAttr] = param_def()
    rhs_batching_dimensions: ArrayAttr[IntAttr] = param_def()
    lhs_contracting_dimensions: ArrayAttr[IntAttr] = param_def()
    rhs_contracting_dimensions: ArrayAttr[IntAttr] = param_def()

    FIELDS: ClassVar[tuple[str, ...]] = (
        "lhs_batching_dimensions",
        "rhs_batching_dimensions",
        "lhs_contracting_dimensions",
        "rhs_contracting_dimensions",
    )

    @staticmethod
    def get(
        lhs_batch: Sequence[int],
        rhs_batch: Sequence[int],
        lhs_contract: Sequence[int],
        rhs_contract: Sequence[int],
    ) -> DotDimensionNumbersAttr:
        dims = (lhs_batch, rhs_batch, lhs_contract, rhs_contract)
        return DotDimensionNumbersAttr(*(ArrayAttr(IntAttr(d) for d in ds) for ds in dims))

    def dims(self, field: str) -> tuple[int, ...]:
        return tuple(d.data for d in getattr(self, field).data)

    def print_parameters(self, printer: Printer) -> None:
        fields = [f"{f} = [{', '.join(map(str, self.dims(f)))}]" for f in self.FIELDS if self.dims(f)]
        printer.print_string("<" + ", ".join(fields) + ">")

    @classmethod
    def parse_parameters(cls, parser: AttrParser) -> Sequence[Attribute]:
        values: dict[str, list[int]] = {f: [] for f in cls.FIELDS}

        def parse_field() -> None:
            key = parser.parse_identifier()
            if key not in values:
                parser.raise_error(f"unknown dot dimension field '{key}'")
            parser.parse_punctuation("=")
            values[key] = parser.parse_comma_separated_list(parser.Delimiter.SQUARE, parser.parse_integer)

        parser.parse_comma_separated_list(parser.Delimiter.ANGLE, parse_field)
        return [ArrayAttr(IntAttr(d) for d in values[f]) for f in cls.FIELDS]


# ---------------------------------------------------------------------------
# Elementwise ops


class ElementwiseOp(IRDLOperation):
    """Base: operands and result share a shape; result secret iff an operand is."""

    traits = traits_def(NoMemoryEffect())

    def verify_(self) -> None:
        shape = _shape(self.results[0])
        for operand in self.operands:
            if _shape(operand) != shape:
                raise VerifyException(
                    f"'{self.name}' operand shape {list(_shape(operand))} does not match result shape {list(shape)}"
                )
        _check_visibility(self, self.operands)


class UnaryOp(ElementwiseOp):
    operand = operand_def(TensorType)
    result = result_def(TensorType)

    def __init__(self, operand: SSAValue, result_type: Attribute | None = None):
        super().__init__(operands=[operand], result_types=[result_type or operand.type])


class BinaryOp(ElementwiseOp):
    lhs = operand_def(TensorType)
    rhs = operand_def(TensorType)
    result = result_def(TensorType)

    def __init__(self, lhs: SSAValue, rhs: SSAValue, result_type: Attribute):
        super().__init__(operands=[lhs, rhs], result_types=[result_type])


def is_boolean(element: Attribute) -> bool:
    """i1, or a boolean held in a ring (`!fxp.int<k, 1>`)."""
    return element == i1 or (isinstance(element, IntType) and element.w == 1)


class CompareOp(BinaryOp):
    def verify_(self) -> None:
        super().verify_()
        assert isinstance(self.result.type, TensorType)
        if not is_boolean(base_element_type(self.result.type)):
            raise VerifyException(f"'{self.name}' must produce a boolean, got {self.result.type}")


@irdl_op_definition
class AbsOp(UnaryOp):
    """Elementwise |x|."""

    name = "pphlo.abs"


@irdl_op_definition
class CeilOp(UnaryOp):
    """Elementwise ceiling."""

    name = "pphlo.ceil"


@irdl_op_definition
class ConvertOp(UnaryOp):
    """Elementwise type conversion (fixed point <-> integer <-> bool)."""

    name = "pphlo.convert"


@irdl_op_definition
class CosineOp(UnaryOp):
    """Elementwise cos."""

    name = "pphlo.cosine"


@irdl_op_definition
class ExpOp(UnaryOp):
    """Elementwise e^x."""

    name = "pphlo.exponential"


@irdl_op_definition
class FloorOp(UnaryOp):
    """Elementwise floor."""

    name = "pphlo.floor"


@irdl_op_definition
class LogOp(UnaryOp):
    """Elementwise natural log."""

    name = "pphlo.log"


@irdl_op_definition
class Log1pOp(UnaryOp):
    """Elementwise log(1 + x)."""

    name = "pphlo.log_plus_one"


@irdl_op_definition
class LogisticOp(UnaryOp):
    """Elementwise sigmoid."""

    name = "pphlo.logistic"


@irdl_op_definition
class NegOp(UnaryOp):
    """Elementwise -x."""

    name = "pphlo.negate"


@irdl_op_definition
class NotOp(UnaryOp):
    """Elementwise logical/bitwise not."""

    name = "pphlo.not"


@irdl_op_definition
class ReciprocalOp(UnaryOp):
    """Elementwise 1/x."""

    name = "pphlo.reciprocal"


@irdl_op_definition
class RoundOp(UnaryOp):
    """Round half away from zero."""

    name = "pphlo.round_nearest_afz"


@irdl_op_definition
class RsqrtOp(UnaryOp):
    """Elementwise 1/sqrt(x)."""

    name = "pphlo.rsqrt"


@irdl_op_definition
class SignOp(UnaryOp):
    """Elementwise sign."""

    name = "pphlo.sign"


@irdl_op_definition
class SineOp(UnaryOp):
    """Elementwise sin."""

    name = "pphlo.sine"


@irdl_op_definition
class SqrtOp(UnaryOp):
    """Elementwise sqrt."""

    name = "pphlo.sqrt"


@irdl_op_definition
class TanhOp(UnaryOp):
    """Elementwise tanh."""

    name = "pphlo.tanh"


@irdl_op_definition
class AddOp(BinaryOp):
    """Elementwise x + y."""

    name = "pphlo.add"


@irdl_op_definition
class SubtractOp(BinaryOp):
    """Elementwise x - y."""

    name = "pphlo.subtract"


@irdl_op_definition
class MulOp(BinaryOp):
    """Elementwise x * y."""

    name = "pphlo.multiply"


@irdl_op_definition
class DivOp(BinaryOp):
    """Elementwise x / y."""

    name = "pphlo.divide"


@irdl_op_definition
class MaxOp(BinaryOp):
    """Elementwise max."""

    name = "pphlo.maximum"


@irdl_op_definition
class MinOp(BinaryOp):
    """Elementwise min."""

    name = "pphlo.minimum"


@irdl_op_definition
class PowOp(BinaryOp):
    """Elementwise x ** y."""

    name = "pphlo.power"


@irdl_op_definition
class RemOp(BinaryOp):
    """Elementwise remainder."""

    name = "pphlo.remainder"


@irdl_op_definition
class AndOp(BinaryOp):
    """Elementwise and."""

    name = "pphlo.and"


@irdl_op_definition
class OrOp(BinaryOp):
    """Elementwise or."""

    name = "pphlo.or"


@irdl_op_definition
class XorOp(BinaryOp):
    """Elementwise xor."""

    name = "pphlo.xor"


@irdl_op_definition
class ShiftLeftOp(BinaryOp):
    """Elementwise shift left."""

    name = "pphlo.shift_left"


@irdl_op_definition
class ShiftRightArithmeticOp(BinaryOp):
    """Arithmetic shift right."""

    name = "pphlo.shift_right_arithmetic"


@irdl_op_definition
class ShiftRightLogicalOp(BinaryOp):
    """Logical shift right."""

    name = "pphlo.shift_right_logical"


@irdl_op_definition
class EqualOp(CompareOp):
    """x == y."""

    name = "pphlo.equal"


@irdl_op_definition
class NotEqualOp(CompareOp):
    """x != y."""

    name = "pphlo.not_equal"


@irdl_op_definition
class LessOp(CompareOp):
    """x < y."""

    name = "pphlo.less"


@irdl_op_definition
class LessEqualOp(CompareOp):
    """x <= y."""

    name = "pphlo.less_equal"


@irdl_op_definition
class GreaterOp(CompareOp):
    """x > y."""

    name = "pphlo.greater"


@irdl_op_definition
class GreaterEqualOp(CompareOp):
    """x >= y."""

    name = "pphlo.greater_equal"


@irdl_op_definition
class SelectOp(ElementwiseOp):
    """pred ? on_true : on_false, elementwise; a secret predicate makes the result secret."""

    name = "pphlo.select"
    pred = operand_def(TensorType)
    on_true = operand_def(TensorType)
    on_false = operand_def(TensorType)
    result = result_def(TensorType)

    def __init__(self, pred: SSAValue, on_true: SSAValue, on_false: SSAValue, result_type: Attribute):
        super().__init__(operands=[pred, on_true, on_false], result_types=[result_type])

    def verify_(self) -> None:
        if _shape(self.pred) == ():  # scalar predicate broadcasts
            _check_visibility(self, self.operands)
            return
        super().verify_()


@irdl_op_definition
class ClampOp(ElementwiseOp):
    """min(max(operand, min), max); scalar bounds broadcast."""

    name = "pphlo.clamp"
    min = operand_def(TensorType)
    operand = operand_def(TensorType)
    max = operand_def(TensorType)
    result = result_def(TensorType)

    def __init__(self, lo: SSAValue, operand: SSAValue, hi: SSAValue, result_type: Attribute):
        super().__init__(operands=[lo, operand, hi], result_types=[result_type])

    def verify_(self) -> None:
        shape = _shape(self.result)
        for bound in (self.min, self.max):
            if _shape(bound) not in ((), shape):
                raise VerifyException(
                    f"'{self.name}' bound shape {list(_shape(bound))} is neither scalar nor {list(shape)}"
                )
        _check_visibility(self, self.operands)


# ---------------------------------------------------------------------------
# Constants and shape ops


@irdl_op_definition
class ConstantOp(IRDLOperation):
    """A public constant."""

    name = "pphlo.constant"
    value = prop_def(DenseIntOrFPElementsAttr)
    output = result_def(TensorType)
    traits = traits_def(NoMemoryEffect())

    def __init__(self, value: DenseIntOrFPElementsAttr, result_type: Attribute | None = None):
        super().__init__(properties={"value": value}, result_types=[result_type or value.type])

    def verify_(self) -> None:
        if is_secret(self.output.type):
            raise VerifyException("'pphlo.constant' must be public")
        # A ring-typed constant keeps its plain value; the ring says how it is encoded.
        if ring_of(self.output.type) is not None:
            if self.value.type.get_shape() != _shape(self.output):
                raise VerifyException("'pphlo.constant' value shape must equal result shape")
        elif self.value.type != self.output.type:
            raise VerifyException("'pphlo.constant' value type must equal result type")


@irdl_op_definition
class IotaOp(IRDLOperation):
    """Public 0, 1, 2, ... along `iota_dimension`."""

    name = "pphlo.iota"
    iota_dimension = prop_def(IntegerAttr)
    output = result_def(TensorType)
    traits = traits_def(NoMemoryEffect())

    def __init__(self, dimension: int, result_type: TensorType):
        super().__init__(properties={"iota_dimension": IntegerAttr(dimension, i64)}, result_types=[result_type])

    def verify_(self) -> None:
        if is_secret(self.output.type):
            raise VerifyException("'pphlo.iota' must be public")
        if not 0 <= self.iota_dimension.value.data < len(_shape(self.output)):
            raise VerifyException("'pphlo.iota' iota_dimension out of range")


class DataMovementOp(IRDLOperation):
    """Base for single-operand shape ops: visibility passes through unchanged."""

    operand = operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(NoMemoryEffect())

    def verify_(self) -> None:
        _check_visibility(self, [self.operand])
        assert isinstance(self.operand.type, TensorType) and isinstance(self.result.type, TensorType)
        if base_element_type(self.operand.type) != base_element_type(self.result.type):
            raise VerifyException(f"'{self.name}' must not change the element type")
        self.verify_shape()

    def verify_shape(self) -> None:
        pass


@irdl_op_definition
class BitcastConvertOp(DataMovementOp):
    """The raw ring element reinterpreted: a fixed-point value as the integer that encodes it, or back.

    SPU changes only the type's label; the shares stay as they are (local, free).
    """

    name = "pphlo.bitcast_convert"

    def __init__(self, operand: SSAValue, result_type: Attribute):
        super().__init__(operands=[operand], result_types=[result_type])

    def verify_(self) -> None:
        _check_visibility(self, [self.operand])
        if _shape(self.operand) != _shape(self.result):
            raise VerifyException("'pphlo.bitcast_convert' must not change the shape")


@irdl_op_definition
class BroadcastOp(DataMovementOp):
    name = "pphlo.broadcast"
    broadcast_dimensions = prop_def(DenseArrayBase)

    def __init__(self, operand: SSAValue, dims: Sequence[int], result_type: Attribute):
        super().__init__(
            operands=[operand], result_types=[result_type], properties={"broadcast_dimensions": _i64_array(dims)}
        )

    def verify_shape(self) -> None:
        dims = self.broadcast_dimensions.get_values()
        src, dst = _shape(self.operand), _shape(self.result)
        if len(dims) != len(src):
            raise VerifyException("'pphlo.broadcast' needs one broadcast dimension per operand dimension")
        for i, d in enumerate(dims):
            if not 0 <= d < len(dst) or src[i] not in (1, dst[d]):
                raise VerifyException(f"'pphlo.broadcast' operand dimension {i} cannot map to result dimension {d}")


@irdl_op_definition
class ReshapeOp(DataMovementOp):
    name = "pphlo.reshape"

    def __init__(self, operand: SSAValue, result_type: Attribute):
        super().__init__(operands=[operand], result_types=[result_type])

    def verify_shape(self) -> None:
        if math.prod(_shape(self.operand)) != math.prod(_shape(self.result)):
            raise VerifyException("'pphlo.reshape' must preserve the number of elements")


@irdl_op_definition
class TransposeOp(DataMovementOp):
    name = "pphlo.transpose"
    permutation = prop_def(DenseArrayBase)

    def __init__(self, operand: SSAValue, permutation: Sequence[int], result_type: Attribute):
        super().__init__(
            operands=[operand], result_types=[result_type], properties={"permutation": _i64_array(permutation)}
        )

    def verify_shape(self) -> None:
        perm = self.permutation.get_values()
        src = _shape(self.operand)
        if sorted(perm) != list(range(len(src))):
            raise VerifyException("'pphlo.transpose' permutation is not a permutation of the operand dimensions")
        if tuple(src[p] for p in perm) != _shape(self.result):
            raise VerifyException("'pphlo.transpose' result shape does not match the permutation")


@irdl_op_definition
class ReverseOp(DataMovementOp):
    name = "pphlo.reverse"
    dimensions = prop_def(DenseArrayBase)

    def __init__(self, operand: SSAValue, dims: Sequence[int], result_type: Attribute):
        super().__init__(operands=[operand], result_types=[result_type], properties={"dimensions": _i64_array(dims)})


@irdl_op_definition
class SliceOp(DataMovementOp):
    name = "pphlo.slice"
    start_indices = prop_def(DenseArrayBase)
    limit_indices = prop_def(DenseArrayBase)
    strides = prop_def(DenseArrayBase)

    def __init__(
        self,
        operand: SSAValue,
        start: Sequence[int],
        limit: Sequence[int],
        strides: Sequence[int],
        result_type: Attribute,
    ):
        props = {"start_indices": _i64_array(start), "limit_indices": _i64_array(limit), "strides": _i64_array(strides)}
        super().__init__(operands=[operand], result_types=[result_type], properties=props)

    def verify_shape(self) -> None:
        start, limit, strides = (a.get_values() for a in (self.start_indices, self.limit_indices, self.strides))
        src = _shape(self.operand)
        if not len(start) == len(limit) == len(strides) == len(src):
            raise VerifyException("'pphlo.slice' needs start, limit and stride per dimension")
        if any(s <= 0 for s in strides) or any(not 0 <= lo <= hi <= d for lo, hi, d in zip(start, limit, src)):
            raise VerifyException("'pphlo.slice' needs 0 <= start <= limit <= dimension and positive strides")
        expected = tuple(-(-(hi - lo) // s) for lo, hi, s in zip(start, limit, strides))
        if expected != _shape(self.result):
            raise VerifyException(f"'pphlo.slice' result shape must be {list(expected)}")


@irdl_op_definition
class DynamicSliceOp(IRDLOperation):
    """Slice at runtime start indices (scalar integer tensors)."""

    name = "pphlo.dynamic_slice"
    operand = operand_def(TensorType)
    start_indices = var_operand_def(TensorType)
    slice_sizes = prop_def(DenseArrayBase)
    result = result_def(TensorType)
    traits = traits_def(NoMemoryEffect())

    def __init__(self, operand: SSAValue, starts: Sequence[SSAValue], sizes: Sequence[int], result_type: Attribute):
        super().__init__(
            operands=[operand, list(starts)], result_types=[result_type], properties={"slice_sizes": _i64_array(sizes)}
        )

    def verify_(self) -> None:
        _check_visibility(self, self.operands)
        if tuple(self.slice_sizes.get_values()) != _shape(self.result):
            raise VerifyException("'pphlo.dynamic_slice' result shape must equal slice_sizes")


@irdl_op_definition
class ConcatenateOp(IRDLOperation):
    name = "pphlo.concatenate"
    inputs = var_operand_def(TensorType)
    dimension = prop_def(IntegerAttr)
    result = result_def(TensorType)
    traits = traits_def(NoMemoryEffect())

    def __init__(self, inputs: Sequence[SSAValue], dimension: int, result_type: Attribute):
        super().__init__(
            operands=[list(inputs)], result_types=[result_type], properties={"dimension": IntegerAttr(dimension, i64)}
        )

    def verify_(self) -> None:
        _check_visibility(self, self.inputs)
        dim = self.dimension.value.data
        ranks = {len(_shape(v)) for v in (*self.inputs, self.result)}
        if len(ranks) != 1 or not 0 <= dim < ranks.pop():
            raise VerifyException("'pphlo.concatenate' needs operands and result of one rank, and dimension within it")
        total = sum(_shape(v)[dim] for v in self.inputs)
        if total != _shape(self.result)[dim]:
            raise VerifyException("'pphlo.concatenate' result dimension must be the sum of the inputs'")


@irdl_op_definition
class PadOp(IRDLOperation):
    name = "pphlo.pad"
    operand = operand_def(TensorType)
    padding_value = operand_def(TensorType)
    edge_padding_low = prop_def(DenseArrayBase)
    edge_padding_high = prop_def(DenseArrayBase)
    interior_padding = prop_def(DenseArrayBase)
    result = result_def(TensorType)
    traits = traits_def(NoMemoryEffect())

    def __init__(
        self,
        operand: SSAValue,
        pad: SSAValue,
        low: Sequence[int],
        high: Sequence[int],
        interior: Sequence[int],
        result_type: Attribute,
    ):
        props = {
            "edge_padding_low": _i64_array(low),
            "edge_padding_high": _i64_array(high),
            "interior_padding": _i64_array(interior),
        }
        super().__init__(operands=[operand, pad], result_types=[result_type], properties=props)

    def verify_(self) -> None:
        _check_visibility(self, self.operands)


# ---------------------------------------------------------------------------
# Contractions and reductions


@irdl_op_definition
class DotOp(IRDLOperation):
    """Matrix product of 1-D/2-D operands."""

    name = "pphlo.dot"
    lhs = operand_def(TensorType)
    rhs = operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(NoMemoryEffect())

    def __init__(self, lhs: SSAValue, rhs: SSAValue, result_type: Attribute):
        super().__init__(operands=[lhs, rhs], result_types=[result_type])

    def verify_(self) -> None:
        _check_visibility(self, self.operands)
        lhs, rhs = _shape(self.lhs), _shape(self.rhs)
        if not (1 <= len(lhs) <= 2 and 1 <= len(rhs) <= 2) or lhs[-1] != rhs[0]:
            raise VerifyException(f"'pphlo.dot' cannot contract {list(lhs)} with {list(rhs)}")


@irdl_op_definition
class DotGeneralOp(IRDLOperation):
    """Batched contraction, as stablehlo.dot_general."""

    name = "pphlo.dot_general"
    lhs = operand_def(TensorType)
    rhs = operand_def(TensorType)
    dot_dimension_numbers = prop_def(DotDimensionNumbersAttr)
    result = result_def(TensorType)
    traits = traits_def(NoMemoryEffect())

    def __init__(self, lhs: SSAValue, rhs: SSAValue, dims: DotDimensionNumbersAttr, result_type: Attribute):
        super().__init__(operands=[lhs, rhs], result_types=[result_type], properties={"dot_dimension_numbers": dims})

    def verify_(self) -> None:
        _check_visibility(self, self.operands)
        dims = self.dot_dimension_numbers
        lhs, rhs = _shape(self.lhs), _shape(self.rhs)
        lb, rb = dims.dims("lhs_batching_dimensions"), dims.dims("rhs_batching_dimensions")
        lc, rc = dims.dims("lhs_contracting_dimensions"), dims.dims("rhs_contracting_dimensions")
        if len(lb) != len(rb) or len(lc) != len(rc):
            raise VerifyException("'pphlo.dot_general' lhs and rhs dimension lists differ in length")
        for side, shape, named in (("lhs", lhs, (*lb, *lc)), ("rhs", rhs, (*rb, *rc))):
            if len(set(named)) != len(named) or any(not 0 <= d < len(shape) for d in named):
                raise VerifyException(
                    f"'pphlo.dot_general' {side} batching and contracting dimensions {list(named)} "
                    f"must be distinct dimensions of its rank-{len(shape)} operand"
                )
        for a, b in (*zip(lb, rb), *zip(lc, rc)):
            if lhs[a] != rhs[b]:
                raise VerifyException(
                    f"'pphlo.dot_general' lhs dimension {a} ({lhs[a]}) != rhs dimension {b} ({rhs[b]})"
                )
        free_l = [lhs[i] for i in range(len(lhs)) if i not in lb and i not in lc]
        free_r = [rhs[i] for i in range(len(rhs)) if i not in rb and i not in rc]
        expected = tuple([lhs[i] for i in lb] + free_l + free_r)
        if expected != _shape(self.result):
            raise VerifyException(f"'pphlo.dot_general' result shape must be {list(expected)}")


@irdl_op_definition
class ReturnOp(IRDLOperation):
    """Terminator of reduce regions."""

    name = "pphlo.return"
    results_ = var_operand_def(TensorType)
    traits = traits_def(IsTerminator(), NoMemoryEffect())

    def __init__(self, values: Sequence[SSAValue]):
        super().__init__(operands=[list(values)])


@irdl_op_definition
class FreeOp(IRDLOperation):
    """Release `operand` in SPU's runtime: its executor keeps every value until freed."""

    name = "pphlo.free"
    operand = operand_def(TensorType)

    def __init__(self, value: SSAValue):
        super().__init__(operands=[value])


@irdl_op_definition
class ReduceOp(IRDLOperation):
    """Reduce `inputs` over `dimensions` with the body region, seeded by `init_values`."""

    name = "pphlo.reduce"
    inputs = var_operand_def(TensorType)
    init_values = var_operand_def(TensorType)
    dimensions = prop_def(DenseArrayBase)
    result = var_result_def(TensorType)
    body = region_def("single_block")
    irdl_options = (SameVariadicOperandSize(),)
    traits = traits_def(RecursiveMemoryEffect())

    def verify_(self) -> None:
        _check_visibility(self, self.operands)
        block = self.body.block
        if len(block.args) != 2 * len(self.inputs):
            raise VerifyException("'pphlo.reduce' body needs two arguments per input")
        for arg, result in zip(block.args, [*self.result, *self.result]):
            if is_secret(arg.type) != is_secret(result.type):
                raise VerifyException("'pphlo.reduce' body argument visibility must match the result's")


@irdl_op_definition
class CustomCallOp(IRDLOperation):
    """SPU intrinsic call, e.g. `spu.gather` with its dims in `pphlo.attributes`."""

    name = "pphlo.custom_call"
    inputs = var_operand_def(TensorType)
    call_target_name = prop_def(StringAttr)
    has_side_effect = opt_prop_def(BoolAttr)
    result = var_result_def(TensorType)

    def __init__(
        self,
        inputs: Sequence[SSAValue],
        target: str,
        result_types: Sequence[Attribute],
        attributes: dict[str, Attribute] | None = None,
    ):
        super().__init__(
            operands=[list(inputs)],
            result_types=[list(result_types)],
            properties={"call_target_name": StringAttr(target)},
            attributes=attributes or {},
        )


PPHLO = Dialect(
    "pphlo",
    [
        AbsOp,
        CeilOp,
        ConvertOp,
        CosineOp,
        ExpOp,
        FloorOp,
        LogOp,
        Log1pOp,
        LogisticOp,
        NegOp,
        NotOp,
        ReciprocalOp,
        RoundOp,
        RsqrtOp,
        SignOp,
        SineOp,
        SqrtOp,
        TanhOp,
        AddOp,
        SubtractOp,
        MulOp,
        DivOp,
        MaxOp,
        MinOp,
        PowOp,
        RemOp,
        AndOp,
        OrOp,
        XorOp,
        ShiftLeftOp,
        ShiftRightArithmeticOp,
        ShiftRightLogicalOp,
        EqualOp,
        NotEqualOp,
        LessOp,
        LessEqualOp,
        GreaterOp,
        GreaterEqualOp,
        SelectOp,
        ClampOp,
        ConstantOp,
        IotaOp,
        BitcastConvertOp,
        BroadcastOp,
        ReshapeOp,
        TransposeOp,
        ReverseOp,
        SliceOp,
        DynamicSliceOp,
        ConcatenateOp,
        PadOp,
        DotOp,
        DotGeneralOp,
        ReturnOp,
        FreeOp,
        ReduceOp,
        CustomCallOp,
    ],
    [SecretType, DotDimensionNumbersAttr],
)
