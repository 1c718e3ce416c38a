"""The subset of MLIR-HLO's `chlo` dialect that JAX emits for Transformers.

JAX lowers `jax.scipy.special.erf`/`erfc` (Flax BERT's exact GeLU) to `chlo.erf`
and `chlo.erfc`; no xDSL dialect defines them.
"""

from __future__ import annotations

from xdsl.dialects.builtin import TensorType
from xdsl.ir import Attribute, Dialect, SSAValue
from xdsl.irdl import IRDLOperation, irdl_op_definition, operand_def, result_def, traits_def
from xdsl.traits import NoMemoryEffect
from xdsl.utils.exceptions import VerifyException


class _FloatUnaryOp(IRDLOperation):
    operand = operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(NoMemoryEffect())

    def __init__(self, operand: SSAValue, result_type: Attribute | None = None):
        super().__init__(operands=[operand], result_types=[result_type or operand.type])

    def verify_(self) -> None:
        if self.operand.type != self.result.type:
            raise VerifyException(f"'{self.name}' operand and result types must match")


@irdl_op_definition
class ErfOp(_FloatUnaryOp):
    """Gauss error function, elementwise."""

    name = "chlo.erf"


@irdl_op_definition
class ErfcOp(_FloatUnaryOp):
    """Complementary error function 1 - erf(x), elementwise."""

    name = "chlo.erfc"


CHLO = Dialect("chlo", [ErfOp, ErfcOp], [])
