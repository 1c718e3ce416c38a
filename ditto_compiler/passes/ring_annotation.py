"""Ring annotation: the algorithm behind `annotate-rings` (a policy in, ring types out).

Walking ops in program order, each op gets the ring its policy names (or the
widest ring of its operands, for data movement and the arithmetic around linear
layers). Operands in another ring are converted by an explicit `fxp.cast`,
created once per value and ring and shared by all users; public constants are
simply re-encoded in the ring that needs them.

Scale is explicit: a product of !fxp.fixed<k, f1> and !fxp.fixed<k, f2> has
f1 + f2 fraction bits and is followed by an `fxp.truncate` back to the ring's f,
so every truncation the MPC runtime will pay for is an op that passes can count,
merge and fuse. A multiplication by a public constant whose values are all
integers keeps them integers (`!fxp.int<k, 32>`): SPU multiplies a fixed-point
secret by an integer without truncating, which is free and exact (a fixed-point
integer factor costs a truncation and, in this SPU's ABY3, comes out one LSB high).
Every op this creates carries the location of the op it serves.
"""

from __future__ import annotations

import numpy as np
from xdsl.dialects import func
from xdsl.dialects.builtin import (
    AnyFloat,
    DenseIntOrFPElementsAttr,
    FunctionType,
    IntegerType,
    ModuleOp,
    TensorType,
)
from xdsl.ir import Attribute, Block, Operation, SSAValue
from xdsl.rewriter import InsertPoint, Rewriter

from ..diagnostics import DittoError, op_error
from ..dialects import fxp, pphlo
from ..dialects.secret import base_element_type, is_secret, tensor_type
from ..lowering.legalize_to_pphlo import saturated_constant
from ..rewriting import inherit_location
from ..ring import RingConfig
from .ring_policy import RingPolicy

PRODUCTS = frozenset({"pphlo.multiply", "pphlo.dot", "pphlo.dot_general"})
FRESH_CONSTANTS = (pphlo.ConstantOp, pphlo.IotaOp)
INTEGER_FACTOR = IntegerType(32)
"""How an integer-valued constant factor is held (SPU's mixed fixed-point x integer multiply)."""
_SHAPE_OPS = (pphlo.BroadcastOp, pphlo.ReshapeOp, pphlo.TransposeOp, pphlo.SliceOp)


def integer_factor_chain(value: SSAValue) -> list[SSAValue] | None:
    """The values from a float constant of integers (|v| < 2^31) to `value` through shape ops,
    when only multiplications use `value` and nothing else uses the chain; else None."""
    if not value.uses or any(not isinstance(use.operation, pphlo.MulOp) for use in value.uses):
        return None
    chain = [value]
    owner = value.owner
    while isinstance(owner, _SHAPE_OPS):
        source = owner.operand
        if not source.has_one_use():
            return None
        chain.append(source)
        owner = source.owner
    if not isinstance(owner, pphlo.ConstantOp) or not isinstance(owner.value.get_element_type(), AnyFloat):
        return None
    values = pphlo.float_values(owner.value)
    if not values.size or not np.all(np.isfinite(values)) or np.any(np.abs(values) >= 2.0**31):
        return None
    return chain if bool(np.all(values == np.round(values))) else None


def ring_type(plain: Attribute, ring: RingConfig) -> fxp.FixedType | fxp.IntType:
    """The ring element type for a value whose plain element type is `plain`."""
    if isinstance(plain, AnyFloat):
        return fxp.FixedType(ring.field_bits, ring.fraction_bits)
    if isinstance(plain, IntegerType):
        width = plain.width.data
        if width > ring.field_bits:
            raise DittoError(f"an i{width} value cannot live in a {ring.field_bits}-bit ring")
        return fxp.IntType(ring.field_bits, width)
    raise DittoError(f"no ring type for element type {plain}")


class _Annotator:
    def __init__(self, policy: RingPolicy):
        self.policy = policy
        self.plain: dict[SSAValue, Attribute] = {}  # original element type of each value
        # Entry arguments, constant-only computations, and what only moves them around
        # wait untyped until a user that needs a particular ring settles them, so they
        # are encoded straight into that ring (no cast, no double rounding).
        self.pending: set[SSAValue] = set()
        self.casts: dict[tuple[SSAValue, Attribute], SSAValue] = {}
        self.constants: dict[tuple[Operation, Attribute], SSAValue] = {}

    # -- types ----------------------------------------------------------------
    def plain_of(self, value: SSAValue) -> Attribute:
        if value not in self.plain:
            assert isinstance(value.type, TensorType)
            self.plain[value] = base_element_type(value.type)
        return self.plain[value]

    def typed(self, value: SSAValue, ring: RingConfig) -> TensorType:
        assert isinstance(value.type, TensorType)
        return tensor_type(value.type.get_shape(), ring_type(self.plain_of(value), ring), is_secret(value.type))

    def set_type(self, value: SSAValue, new_type: Attribute) -> SSAValue:
        self.plain_of(value)
        self.pending.discard(value)
        new = Rewriter.replace_value_with_new_type(value, new_type)
        self.plain[new] = self.plain.pop(value)
        return new

    def settle(self, value: SSAValue, ring: RingConfig) -> None:
        """Type a pending value, and the pending chain that produces it, in `ring`."""
        owner = value.owner
        if isinstance(owner, Block):
            self.set_type(value, self.typed(value, ring))
            return
        for result in owner.results:
            self.pending.discard(result)
        self.annotate_op(owner, ring)

    # -- operands -------------------------------------------------------------
    def coerce(self, user: Operation, index: int, ring: RingConfig) -> None:
        """Make operand `index` of `user` arrive in `ring`."""
        value = user.operands[index]
        wanted = self.typed(value, ring)
        if value in self.pending:
            self.settle(value, ring)
            value = user.operands[index]
        if value.type == wanted:
            return
        owner = value.owner
        if isinstance(owner, FRESH_CONSTANTS):
            user.operands[index] = self.constant_in(owner, wanted)
            return
        key = (value, wanted)
        if key not in self.casts:
            cast = fxp.CastOp(value, wanted)
            where = InsertPoint.at_start(owner) if isinstance(owner, Block) else InsertPoint.after(owner)
            Rewriter.insert_op(cast, where)
            # A conversion is where its value is made (an argument's: where it is first used).
            inherit_location(cast, user.location if isinstance(owner, Block) else owner.location)
            self.plain[cast.result] = self.plain_of(value)
            self.casts[key] = cast.result
        user.operands[index] = self.casts[key]

    def constant_in(self, op: Operation, wanted: Attribute) -> SSAValue:
        key = (op, wanted)
        if key not in self.constants:
            if isinstance(op, pphlo.ConstantOp):
                element = fxp.ring_of(wanted)
                ring = RingConfig(element.k, element.f) if isinstance(element, fxp.FixedType) else None
                value = op.value if ring is None else saturated_constant(op.value, ring)
                if isinstance(element, fxp.IntType) and isinstance(op.value.get_element_type(), AnyFloat):
                    integers = TensorType(IntegerType(element.w), op.value.type.get_shape())
                    value = DenseIntOrFPElementsAttr.from_list(
                        integers, [int(v) for v in pphlo.float_values(op.value).ravel()]
                    )
                new: Operation = pphlo.ConstantOp(value, wanted)
            else:
                assert isinstance(op, pphlo.IotaOp)
                new = pphlo.IotaOp(op.iota_dimension.value.data, wanted)  # type: ignore[arg-type]
            Rewriter.insert_op(new, InsertPoint.before(op))
            inherit_location(new, op.location)
            self.plain[new.results[0]] = self.plain_of(op.results[0])
            self.constants[key] = new.results[0]
        return self.constants[key]

    def current_ring(self, value: SSAValue, kind: type) -> RingConfig | None:
        """The ring `value` lives in, if it is of `kind` (FixedType or IntType) and already decided."""
        if isinstance(value.owner, FRESH_CONSTANTS) or value in self.pending:
            return None  # constants and pending values adapt to their users
        element = fxp.ring_of(value.type)
        if not isinstance(element, kind):
            return None
        if isinstance(element, fxp.FixedType):
            return RingConfig(element.k, element.f)
        return self.policy.ring_with_bits(element.k)

    # -- ops ------------------------------------------------------------------
    def ring_of_op(self, op: Operation, inherited: RingConfig | None) -> RingConfig | None:
        """The op's ring, or None if it only moves pending values and can wait."""
        if inherited is not None:
            return inherited  # a region (a reduction's body) computes in its op's ring
        chosen = self.policy.ring_for(op)
        if chosen is not None:
            return chosen
        # Real-valued operands decide (a boolean predicate must not drag values into its ring).
        for kind in (fxp.FixedType, fxp.IntType):
            rings = [r for v in op.operands if (r := self.current_ring(v, kind)) is not None]
            if rings:
                return max(rings, key=lambda r: r.field_bits)
        if op.operands and all(v in self.pending or isinstance(v.owner, FRESH_CONSTANTS) for v in op.operands):
            return None  # moves only pending values and constants: its user decides the ring
        return self.policy.default

    def annotate_block(self, block: Block, inherited: RingConfig | None = None) -> None:
        for op in list(block.ops):
            if isinstance(op, FRESH_CONSTANTS):
                continue  # typed per use, in coerce()
            if isinstance(op, (func.ReturnOp, pphlo.ReturnOp)):
                self.annotate_terminator(op, inherited)
                continue
            if op.dialect_name() != "pphlo":
                raise op_error(op, "annotate-rings expects legalized PPHLO; run legalize-to-pphlo first")
            if op.results and all(r in self.pending for r in op.results):
                continue  # already waiting
            ring = self.ring_of_op(op, inherited)
            if ring is None:
                self.pending.update(op.results)
            else:
                self.annotate_op(op, ring)

    def annotate_terminator(self, op: Operation, inherited: RingConfig | None) -> None:
        """A region yields in its op's ring; the function returns values in the rings they have."""
        for index, value in enumerate(op.operands):
            if inherited is not None:
                self.coerce(op, index, inherited)
            elif value in self.pending or isinstance(value.owner, FRESH_CONSTANTS):
                self.coerce(op, index, self.policy.default)

    def annotate_op(self, op: Operation, ring: RingConfig) -> None:
        if isinstance(op, pphlo.MulOp):
            self.keep_integer_factors(op)
        for index in range(len(op.operands)):
            self.coerce(op, index, ring)
        if isinstance(op, pphlo.ReduceOp):
            for result in op.results:
                self.set_type(result, self.typed(result, ring))
            block = op.body.block
            for arg in list(block.args):
                self.set_type(arg, self.typed(arg, ring))
            self.annotate_block(block, inherited=ring)
            return
        if op.name in PRODUCTS and self._is_fixed_product(op):
            self.annotate_product(op, ring)
            return
        for result in op.results:
            self.set_type(result, self.typed(result, ring))

    def keep_integer_factors(self, op: pphlo.MulOp) -> None:
        """A public factor of integers times a secret real stays an integer (no truncation)."""
        for factor, other in ((op.lhs, op.rhs), (op.rhs, op.lhs)):
            if not is_secret(other.type) or not isinstance(self.plain_of(other), AnyFloat):
                continue
            if fxp.ring_of(factor.type) is not None and factor not in self.pending:
                continue  # already typed by another user
            chain = integer_factor_chain(factor)
            for value in chain or ():
                self.plain[value] = INTEGER_FACTOR

    def _is_fixed_product(self, op: Operation) -> bool:
        return all(isinstance(fxp.ring_of(v.type), fxp.FixedType) for v in op.operands)

    def annotate_product(self, op: Operation, ring: RingConfig) -> None:
        """The product carries f1 + f2 fraction bits; an explicit truncation restores f."""
        lhs, rhs = (fxp.ring_of(v.type) for v in op.operands)
        assert isinstance(lhs, fxp.FixedType) and isinstance(rhs, fxp.FixedType)
        result = op.results[0]
        assert isinstance(result.type, TensorType)
        wide = tensor_type(
            result.type.get_shape(), fxp.FixedType(ring.field_bits, lhs.f + rhs.f), is_secret(result.type)
        )
        settled = self.typed(result, ring)
        result = self.set_type(result, wide)
        surplus = lhs.f + rhs.f - ring.fraction_bits
        if surplus <= 0:
            raise op_error(
                op, f"a product with {lhs.f + rhs.f} fraction bits cannot be rescaled to {ring.fraction_bits}"
            )
        truncate = fxp.TruncateOp(result, surplus, settled)
        Rewriter.insert_op(truncate, InsertPoint.after(op))
        inherit_location(truncate, op.location)
        self.plain[truncate.result] = self.plain_of(result)
        result.replace_uses_with_if(truncate.result, lambda use: use.operation is not truncate)


def _erase_dead_constants(module: ModuleOp) -> None:
    for op in list(module.walk()):
        if isinstance(op, FRESH_CONSTANTS) and fxp.ring_of(op.results[0].type) is None and not op.results[0].uses:
            Rewriter.erase_op(op)


def annotate(module: ModuleOp, policy: RingPolicy) -> None:
    """Give every value of the legalized `module` a ring type under `policy`."""
    annotator = _Annotator(policy)
    for fn in module.ops:
        if not isinstance(fn, func.FuncOp):
            continue
        annotator.pending.update(fn.args)
        for arg in list(fn.args):  # arguments a policy placed enter in that ring
            if arg in policy.decided:
                annotator.settle(arg, policy.decided[arg])
        annotator.annotate_block(fn.body.block)
        for arg in list(fn.args):  # arguments nothing used
            if arg in annotator.pending:
                annotator.settle(arg, annotator.policy.default)
        ret = fn.body.block.last_op
        assert isinstance(ret, func.ReturnOp)
        fn.function_type = FunctionType.from_lists([a.type for a in fn.args], [v.type for v in ret.arguments])
    _erase_dead_constants(module)
