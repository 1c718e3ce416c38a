"""Fixed-point ring types and the ops that move values between them.

`!fxp.fixed<k, f>` is a real number x held as round(x * 2^f) in the integers mod
2^k; `!fxp.int<k, w>` is a w-bit integer (w = 1 for booleans) held in the same
ring. They are PPHLO element types, secret or public:
`tensor<4x!pphlo.secret<!fxp.fixed<32, 8>>>`.

Every change of representation is an explicit op, so its cost is visible:

* `fxp.cast` keeps the real value and changes the ring and/or fraction bits. A
  downcast (k' < k) is local (reduce each share mod 2^k'); an upcast needs a
  protocol (the value must satisfy |x| < 2^(k-2) in the small ring); lowering the
  fraction bits is a truncation.
* `fxp.truncate` drops `bits` fraction bits within a ring (a secure truncation).
* `fxp.rescale` multiplies the real value by 2^-shift for free: the ring elements
  stay, only the fraction bits are relabelled (f -> f + shift).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from xdsl.dialects.builtin import IntAttr, IntegerAttr, TensorType, i64
from xdsl.ir import Attribute, Dialect, Operation, ParametrizedAttribute, SSAValue, TypeAttribute
from xdsl.irdl import (
    IRDLOperation,
    irdl_attr_definition,
    irdl_op_definition,
    operand_def,
    param_def,
    prop_def,
    result_def,
    traits_def,
)
from xdsl.parser import AttrParser
from xdsl.printer import Printer
from xdsl.traits import NoMemoryEffect
from xdsl.utils.exceptions import VerifyException

from .secret import base_element_type, is_secret

RING_WIDTHS = (32, 64, 128)
INT_WIDTHS = (1, 8, 16, 32, 64)


def _parse_two_ints(parser: AttrParser) -> tuple[int, int]:
    parser.parse_punctuation("<")
    first = parser.parse_integer()
    parser.parse_punctuation(",")
    second = parser.parse_integer()
    parser.parse_punctuation(">")
    return first, second


@irdl_attr_definition
class FixedType(ParametrizedAttribute, TypeAttribute):
    """`!fxp.fixed<k, f>`: fixed point with f fraction bits in the ring Z_{2^k}."""

    name = "fxp.fixed"
    ring_bits: IntAttr = param_def()
    fraction_bits: IntAttr = param_def()

    def __init__(self, ring_bits: int, fraction_bits: int):
        super().__init__(IntAttr(ring_bits), IntAttr(fraction_bits))

    @property
    def k(self) -> int:
        return self.ring_bits.data

    @property
    def f(self) -> int:
        return self.fraction_bits.data

    def verify(self) -> None:
        if self.k not in RING_WIDTHS:
            raise VerifyException(f"!fxp.fixed ring width must be one of {RING_WIDTHS}, got {self.k}")
        if not 0 <= self.f <= self.k - 4:
            raise VerifyException(f"!fxp.fixed<{self.k}, {self.f}> leaves no integer bits")

    def print_parameters(self, printer: Printer) -> None:
        printer.print_string(f"<{self.k}, {self.f}>")

    @classmethod
    def parse_parameters(cls, parser: AttrParser) -> Sequence[Attribute]:
        k, f = _parse_two_ints(parser)
        return [IntAttr(k), IntAttr(f)]


@irdl_attr_definition
class IntType(ParametrizedAttribute, TypeAttribute):
    """`!fxp.int<k, w>`: a w-bit integer (w = 1: boolean) in the ring Z_{2^k}."""

    name = "fxp.int"
    ring_bits: IntAttr = param_def()
    width: IntAttr = param_def()

    def __init__(self, ring_bits: int, width: int):
        super().__init__(IntAttr(ring_bits), IntAttr(width))

    @property
    def k(self) -> int:
        return self.ring_bits.data

    @property
    def w(self) -> int:
        return self.width.data

    def verify(self) -> None:
        if self.k not in RING_WIDTHS:
            raise VerifyException(f"!fxp.int ring width must be one of {RING_WIDTHS}, got {self.k}")
        if self.w not in INT_WIDTHS or self.w > self.k:
            raise VerifyException(f"!fxp.int<{self.k}, {self.w}>: width must be one of {INT_WIDTHS} and fit the ring")

    def print_parameters(self, printer: Printer) -> None:
        printer.print_string(f"<{self.k}, {self.w}>")

    @classmethod
    def parse_parameters(cls, parser: AttrParser) -> Sequence[Attribute]:
        k, w = _parse_two_ints(parser)
        return [IntAttr(k), IntAttr(w)]


RingType = FixedType | IntType


def ring_of(type_: Attribute) -> RingType | None:
    """The ring element type of a (possibly secret) tensor type, if it has one."""
    if not isinstance(type_, TensorType):
        return None
    element = base_element_type(type_)
    return element if isinstance(element, (FixedType, IntType)) else None


def ring_values(root: Operation) -> Iterator[tuple[SSAValue, FixedType | IntType]]:
    """Every result and block argument under `root` (included) that has a ring type."""
    for op in root.walk():
        values = [*op.results, *(arg for region in op.regions for block in region.blocks for arg in block.args)]
        for value in values:
            element = ring_of(value.type)
            if element is not None:
                yield value, element


def _same_shape_and_visibility(op: IRDLOperation, src: SSAValue, dst: SSAValue) -> None:
    assert isinstance(src.type, TensorType) and isinstance(dst.type, TensorType)
    if src.type.get_shape() != dst.type.get_shape():
        raise VerifyException(f"'{op.name}' must not change the shape")
    if is_secret(src.type) != is_secret(dst.type):
        raise VerifyException(f"'{op.name}' must not change visibility")


@irdl_op_definition
class CastOp(IRDLOperation):
    """Convert between rings and/or fraction bits, keeping the real value."""

    name = "fxp.cast"
    input = operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(NoMemoryEffect())

    def __init__(self, value: SSAValue, result_type: Attribute):
        super().__init__(operands=[value], result_types=[result_type])

    def verify_(self) -> None:
        _same_shape_and_visibility(self, self.input, self.result)
        src, dst = ring_of(self.input.type), ring_of(self.result.type)
        if src is None or dst is None:
            raise VerifyException("'fxp.cast' converts between !fxp ring types")
        if type(src) is not type(dst):
            raise VerifyException(f"'fxp.cast' cannot turn {src} into {dst}")
        if src == dst:
            raise VerifyException(f"'fxp.cast' from {src} to itself")
        if isinstance(src, IntType) and isinstance(dst, IntType) and src.w != dst.w:
            raise VerifyException("'fxp.cast' keeps the integer width; only the ring changes")

    @property
    def is_upcast(self) -> bool:
        src, dst = ring_of(self.input.type), ring_of(self.result.type)
        assert src is not None and dst is not None
        return dst.k > src.k


@irdl_op_definition
class TruncateOp(IRDLOperation):
    """Drop `bits` fraction bits within a ring: !fxp.fixed<k, f> -> !fxp.fixed<k, f - bits>."""

    name = "fxp.truncate"
    input = operand_def(TensorType)
    bits = prop_def(IntegerAttr)
    result = result_def(TensorType)
    traits = traits_def(NoMemoryEffect())

    def __init__(self, value: SSAValue, bits: int, result_type: Attribute):
        super().__init__(operands=[value], result_types=[result_type], properties={"bits": IntegerAttr(bits, i64)})

    def verify_(self) -> None:
        _same_shape_and_visibility(self, self.input, self.result)
        src, dst = ring_of(self.input.type), ring_of(self.result.type)
        if not isinstance(src, FixedType) or not isinstance(dst, FixedType):
            raise VerifyException("'fxp.truncate' works on !fxp.fixed values")
        bits = self.bits.value.data
        if bits < 1:
            raise VerifyException("'fxp.truncate' must drop at least one bit")
        if dst.k != src.k or dst.f != src.f - bits:
            raise VerifyException(
                f"'fxp.truncate' by {bits} bits turns {src} into !fxp.fixed<{src.k}, {src.f - bits}>, not {dst}"
            )


@irdl_op_definition
class RescaleOp(IRDLOperation):
    """x * 2^-shift by relabelling: !fxp.fixed<k, f> -> !fxp.fixed<k, f + shift>, same ring elements."""

    name = "fxp.rescale"
    input = operand_def(TensorType)
    shift = prop_def(IntegerAttr)
    result = result_def(TensorType)
    traits = traits_def(NoMemoryEffect())

    def __init__(self, value: SSAValue, shift: int, result_type: Attribute):
        super().__init__(operands=[value], result_types=[result_type], properties={"shift": IntegerAttr(shift, i64)})

    def verify_(self) -> None:
        _same_shape_and_visibility(self, self.input, self.result)
        src, dst = ring_of(self.input.type), ring_of(self.result.type)
        if not isinstance(src, FixedType) or not isinstance(dst, FixedType):
            raise VerifyException("'fxp.rescale' works on !fxp.fixed values")
        shift = self.shift.value.data
        if shift == 0:
            raise VerifyException("'fxp.rescale' by 0 does nothing")
        if dst.k != src.k or dst.f != src.f + shift:
            raise VerifyException(
                f"'fxp.rescale' by {shift} turns {src} into !fxp.fixed<{src.k}, {src.f + shift}>, not {dst}"
            )


FXP = Dialect("fxp", [CastOp, TruncateOp, RescaleOp], [FixedType, IntType])
