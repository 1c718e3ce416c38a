"""Print a legalized module as the PPHLO text SPU's runtime executes.

SPU runs one ring with one number of fraction bits per runtime, and its multiply
and dot truncate by themselves. A ring-typed module in a single ring therefore
becomes plain PPHLO (fixed point as f32, ring integers as iN) once the explicit
truncations after its products are dropped; the ring tells the runtime how to
configure itself. A module that mixes rings needs the mixed-ring executor.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from spu import version as spu_version
from xdsl.dialects import func
from xdsl.dialects.builtin import FunctionType, IntegerType, ModuleOp, StringAttr, TensorType, f32
from xdsl.ir import Attribute, SSAValue
from xdsl.printer import Printer
from xdsl.rewriter import Rewriter

from ..diagnostics import DittoError, op_error
from ..dialects import fxp, pphlo
from ..ring import RingConfig


@dataclass(frozen=True)
class SpuProgram:
    text: str
    ring: RingConfig | None
    """The ring the module was typed for; None for a module without ring types."""


def _single_ring(module: ModuleOp) -> RingConfig | None:
    """The one ring (k, f) of a ring-typed module; products may carry 2f before their truncation."""
    settled: set[tuple[int, int]] = set()
    int_rings: set[int] = set()
    for op in module.walk():
        if isinstance(op, fxp.CastOp):
            raise DittoError(
                f"the module converts between rings ({op.input.type} -> {op.result.type}); "
                "running it needs the mixed-ring executor"
            )
        values: list[SSAValue] = list(op.results) + [a for r in op.regions for b in r.blocks for a in b.args]
        for value in values:
            element = fxp.ring_of(value.type)
            if isinstance(element, fxp.IntType):
                int_rings.add(element.k)
            elif isinstance(element, fxp.FixedType):
                users = [use.operation for use in value.uses]
                if users and all(isinstance(u, fxp.TruncateOp) for u in users):
                    continue  # a product's wide intermediate
                settled.add((element.k, element.f))
    if not settled and not int_rings:
        return None
    if len(settled) > 1 or len({k for k, _ in settled} | int_rings) > 1:
        rings = ", ".join(f"!fxp.fixed<{k}, {f}>" for k, f in sorted(settled))
        raise DittoError(f"the module mixes rings ({rings}); running it needs the mixed-ring executor")
    k, f = next(iter(settled)) if settled else (next(iter(int_rings)), 0)
    return RingConfig(k, f)


def _plain(type_: Attribute) -> Attribute:
    element = fxp.ring_of(type_)
    if element is None:
        return type_
    assert isinstance(type_, TensorType)
    base = f32 if isinstance(element, fxp.FixedType) else IntegerType(element.w)
    return pphlo.tensor_type(type_.get_shape(), base, pphlo.is_secret(type_))


def _strip_ring_types(module: ModuleOp, ring: RingConfig) -> None:
    for op in list(module.walk()):
        if isinstance(op, fxp.TruncateOp):
            src = fxp.ring_of(op.input.type)
            assert isinstance(src, fxp.FixedType)
            if op.input.owner.name not in ("pphlo.multiply", "pphlo.dot", "pphlo.dot_general") or (
                src.f != 2 * ring.fraction_bits or op.bits.value.data != ring.fraction_bits
            ):
                raise op_error(op, "is not a product's own rescaling; running it needs the mixed-ring executor")
            op.result.replace_all_uses_with(op.input)
            Rewriter.erase_op(op)
    for op in module.walk():
        for value in [*op.results, *(a for r in op.regions for b in r.blocks for a in b.args)]:
            if fxp.ring_of(value.type) is not None:
                Rewriter.replace_value_with_new_type(value, _plain(value.type))
    for op in module.ops:
        if isinstance(op, func.FuncOp):
            ret = op.body.block.last_op
            assert isinstance(ret, func.ReturnOp)
            op.function_type = FunctionType.from_lists([a.type for a in op.args], [v.type for v in ret.arguments])


def to_spu_program(module: ModuleOp) -> SpuProgram:
    """SPU's text for `module` (stamped with the SPU version) and the ring it runs in."""
    module = module.clone()
    for name in list(module.attributes):
        del module.attributes[name]
    # SPU refuses IR stamped for another runtime version, so a mismatch fails loudly.
    module.attributes["pphlo.version"] = StringAttr(spu_version.__version__)
    if module.sym_name is not None:
        module.sym_name = None
    for op in module.walk():
        if op.dialect_name() not in ("pphlo", "func", "builtin", "fxp"):
            raise DittoError(f"'{op.name}' is not PPHLO; run legalize-to-pphlo before emitting SPU code")
        if isinstance(op, func.FuncOp):
            op.arg_attrs = None
            op.res_attrs = None
            op.sym_visibility = None
    ring = _single_ring(module)
    if ring is not None:
        _strip_ring_types(module, ring)
    stream = io.StringIO()
    Printer(stream=stream, print_generic_format=True).print_op(module)
    return SpuProgram(stream.getvalue(), ring)
