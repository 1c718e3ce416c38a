"""StableHLO as xdsl-jax defines it, with one correction.

xdsl-jax 0.6.0 names `stablehlo.compare`'s optional property `comparison_type`,
but StableHLO (and JAX's output) call it `compare_type`; JAX's text would not
verify. `CompareOp` here is the op with StableHLO's property name.
"""

from __future__ import annotations

from xdsl.dialects.builtin import AnyTensorType
from xdsl.ir import Dialect
from xdsl.irdl import IRDLOperation, irdl_op_definition, operand_def, opt_prop_def, prop_def, result_def, traits_def
from xdsl.traits import NoMemoryEffect
from xdsl_jax.dialects import stablehlo as xdsl_jax_stablehlo
from xdsl_jax.dialects.stablehlo import ComparisonDirectionAttr, ComparisonTypeAttr


@irdl_op_definition
class CompareOp(IRDLOperation):
    """Elementwise comparison `lhs <direction> rhs` producing i1."""

    name = "stablehlo.compare"
    lhs = operand_def(AnyTensorType)
    rhs = operand_def(AnyTensorType)
    result = result_def(AnyTensorType)
    comparison_direction = prop_def(ComparisonDirectionAttr)
    compare_type = opt_prop_def(ComparisonTypeAttr)
    traits = traits_def(NoMemoryEffect())


StableHLO = Dialect(
    "stablehlo",
    [CompareOp if op.name == "stablehlo.compare" else op for op in xdsl_jax_stablehlo.StableHLO.operations],
    list(xdsl_jax_stablehlo.StableHLO.attributes),
)
