"""Print a legalized module as the PPHLO text SPU's runtime executes.

SPU runs one ring with one number of fraction bits per runtime; its multiply and
dot truncate by themselves. A ring-typed module in a single ring is emitted by
its real-value semantics: truncations and fraction-bit casts keep the real value
and disappear (SPU holds every value at its runtime's fraction bits), a rescale
becomes a multiplication by the public constant 2^-shift, and ring types become
f32 / iN; every value is freed after its last use (`insert-deallocation`).
The ring of the entry arguments configures the runtime. A module that
converts between rings needs the mixed-ring executor.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import (
    DenseIntOrFPElementsAttr,
    FunctionType,
    IntegerType,
    ModuleOp,
    StringAttr,
    TensorType,
    f32,
)
from xdsl.ir import Attribute, Block
from xdsl.printer import Printer
from xdsl.rewriter import Rewriter

from ..diagnostics import DittoError
from ..dialects import fxp, pphlo
from ..dialects.secret import is_secret, tensor_type
from ..plan import spu_version
from ..ring import RingConfig
from .insert_deallocation import InsertDeallocationPass


@dataclass(frozen=True)
class SpuProgram:
    text: str
    ring: RingConfig | None
    """The ring the module was typed for; None for a module without ring types."""


def _single_ring(module: ModuleOp) -> RingConfig | None:
    """The ring a ring-typed module runs in, or None for a module without ring types."""
    widths: set[int] = set()
    fractions: list[int] = []  # of the entry arguments: the runtime encodes inputs with them
    for value, element in fxp.ring_values(module):
        widths.add(element.k)
        owner = value.owner
        if (
            isinstance(element, fxp.FixedType)
            and isinstance(owner, Block)
            and isinstance(owner.parent_op(), func.FuncOp)
        ):
            fractions.append(element.f)
    if not widths:
        return None
    if len(widths) > 1:
        raise DittoError(f"the module mixes rings of {sorted(widths)} bits; running it needs the mixed-ring executor")
    if len(set(fractions)) > 1:
        raise DittoError(f"the inputs use different fraction bits {sorted(set(fractions))}; SPU's runtime has one")
    k = widths.pop()
    return RingConfig(k, fractions[0] if fractions else (18 if k >= 64 else 8))


def _check_width(module: ModuleOp, ring: RingConfig) -> RingConfig:
    for _, element in fxp.ring_values(module):
        if element.k != ring.field_bits:
            raise DittoError(f"a {element.k}-bit value in a program for the {ring.field_bits}-bit ring")
    return ring


def _plain(type_: Attribute) -> Attribute:
    element = fxp.ring_of(type_)
    if element is None:
        return type_
    assert isinstance(type_, TensorType)
    base = f32 if isinstance(element, fxp.FixedType) else IntegerType(element.w)
    return tensor_type(type_.get_shape(), base, is_secret(type_))


def _strip_ring_types(module: ModuleOp) -> None:
    for op in list(module.walk()):
        if isinstance(op, (fxp.TruncateOp, fxp.CastOp)):  # real value kept; SPU holds it at its own f
            op.result.replace_all_uses_with(op.input)
            Rewriter.erase_op(op)
        elif isinstance(op, fxp.RescaleOp):
            plain = TensorType(f32, op.result.type.get_shape())  # type: ignore[union-attr]
            factor = pphlo.ConstantOp(DenseIntOrFPElementsAttr.from_list(plain, [2.0**-op.shift.value.data]))
            scaled = pphlo.MulOp(op.input, factor.output, op.result.type)
            Rewriter.replace_op(op, [factor, scaled])
    for value, _ in list(fxp.ring_values(module)):
        Rewriter.replace_value_with_new_type(value, _plain(value.type))
    for op in module.ops:
        if isinstance(op, func.FuncOp):
            ret = op.body.block.last_op
            assert isinstance(ret, func.ReturnOp)
            op.function_type = FunctionType.from_lists([a.type for a in op.args], [v.type for v in ret.arguments])


def spu_module_text(module: ModuleOp) -> str:
    """`module` as SPU's runtime reads it: generic form, stamped with the SPU version it is for."""
    module.attributes["pphlo.version"] = StringAttr(spu_version())
    stream = io.StringIO()
    Printer(stream=stream, print_generic_format=True).print_op(module)
    return stream.getvalue()


def _truncate_arguments(module: ModuleOp, indices: frozenset[int], fraction_bits: int) -> None:
    """Arguments `indices` of the entry hold untruncated products (2f fraction bits in a runtime of f):
    each is first multiplied by the public 2^-f, which SPU truncates as it truncates its own products."""
    entry = next(op for op in module.ops if isinstance(op, func.FuncOp))
    block = entry.body.block
    for index in sorted(indices):
        argument = block.args[index]
        uses = list(argument.uses)
        plain = TensorType(f32, argument.type.get_shape())  # type: ignore[attr-defined]
        three = pphlo.ConstantOp(DenseIntOrFPElementsAttr.from_list(plain, [3 * 2.0**-fraction_bits]))
        two = pphlo.ConstantOp(DenseIntOrFPElementsAttr.from_list(plain, [2 * 2.0**-fraction_bits]))
        factor = pphlo.SubtractOp(three.output, two.output, plain)
        truncated = pphlo.MulOp(argument, factor.result, argument.type)
        block.insert_ops_before([three, two, factor, truncated], block.first_op)  # type: ignore[arg-type]
        for use in uses:
            use.operation.operands[use.index] = truncated.result


def to_spu_program(
    module: ModuleOp, ring: RingConfig | None = None, untruncated: frozenset[int] = frozenset()
) -> SpuProgram:
    """SPU's text for `module` (stamped with the SPU version) and the ring it runs in.

    `ring` fixes the runtime's ring (as the mixed-ring executor does for each segment);
    by default it is derived from the module's types. The entry's arguments `untruncated`
    are products computed outside SPU, truncated first.
    """
    module = module.clone()
    for name in list(module.attributes):
        del module.attributes[name]
    if module.sym_name is not None:
        module.sym_name = None
    for op in module.walk():
        if op.dialect_name() not in ("pphlo", "func", "builtin", "fxp"):
            raise DittoError(f"'{op.name}' is not PPHLO; run legalize-to-pphlo before emitting SPU code")
        if isinstance(op, func.FuncOp):
            op.arg_attrs = None
            op.res_attrs = None
            op.sym_visibility = None
        for name in [n for n in op.attributes if n.startswith("ditto.")]:
            del op.attributes[name]  # the compiler's own marks, no concern of SPU's
    found = _single_ring(module) if ring is None else _check_width(module, ring)
    if found is not None:
        _strip_ring_types(module)
    if untruncated:
        if found is None:
            raise DittoError("an untruncated product needs a ring-typed module")
        _truncate_arguments(module, untruncated, found.fraction_bits)
    InsertDeallocationPass().apply(Context(), module)
    # SPU refuses IR stamped for another runtime version, so a mismatch fails loudly.
    return SpuProgram(spu_module_text(module), found)
