"""The default compilation pipeline, as pass objects, and how a pipeline is applied.

    inline-private-functions           one entry function
    one-hot-inputs                     lookups by secret token ids: one-hot inputs times the table
    expand-dynamic-update-slice        writes at public positions (KV caches): data movement and a select
    approximate-nonlinear{gelu,softmax,silu} MPC-friendly GeLU, Softmax and SiLU (exact: unchanged)
    row-reciprocals                    one reciprocal / rsqrt per row, not per element
    legalize-to-pphlo                  StableHLO -> PPHLO, visibility decided
    bounded-exp                        e^x on a proved range [lo, 0] as a fitted p(x)^(2^k)
    fold-identity-products             products by public ones are data movement (no truncation)
    fold-bool-comparisons              a converted boolean compared with a constant is the boolean
    drop-range-guards{calibration}     (calibrated policies) guards the calibration never trips removed
    annotate-rings{policy}             ring types, explicit casts and truncations
    fuse-scales                        fewer truncations
    eliminate-redundant-casts          fewer, smaller ring conversions

The module is verified after every pass, so a pass that breaks an invariant (a
secret operand giving a public result, a mistyped cast) is caught where it happens.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass
from xdsl.utils.exceptions import VerifyException

from .diagnostics import DittoError
from .dialects import make_context
from .lowering.legalize_to_pphlo import LegalizeToPPHLOPass
from .passes.annotate_rings import AnnotateRingsPass
from .passes.approximate_nonlinear import ApproximateNonlinearPass
from .passes.bounded_exp import BoundedExpPass
from .passes.eliminate_redundant_casts import EliminateRedundantCastsPass
from .passes.expand_dynamic_update_slice import ExpandDynamicUpdateSlicePass
from .passes.fold_bool_comparisons import FoldBoolComparisonsPass
from .passes.fold_identity_products import FoldIdentityProductsPass
from .passes.fuse_scales import FuseScalesPass
from .passes.inline_private_functions import InlinePrivateFunctionsPass
from .passes.one_hot_inputs import OneHotInputsPass
from .passes.policy_file import PolicyFile, is_policy_file, load_policy_file
from .passes.ring_policy import LARGE, RingPolicy
from .passes.row_reciprocals import RowReciprocalsPass
from .ring import RingConfig


def frontend_passes(
    gelu: str = "exact", softmax: str = "exact", policy: str = "", silu: str = "exact", large: RingConfig = LARGE
) -> list[ModulePass]:
    """StableHLO as JAX exports it, to legalized PPHLO (`policy`: a policy file choosing approximations;
    `large`: the ring SPU's nonlinear kernels will run in, whose range legalization guards)."""
    return [
        InlinePrivateFunctionsPass(),
        OneHotInputsPass(),
        ExpandDynamicUpdateSlicePass(),
        ApproximateNonlinearPass(gelu=gelu, softmax=softmax, silu=silu, policy=policy),
        RowReciprocalsPass(),
        LegalizeToPPHLOPass(field_bits=large.field_bits, fraction_bits=large.fraction_bits),
        BoundedExpPass(),
        FoldIdentityProductsPass(),
        FoldBoolComparisonsPass(),
    ]


def large_ring(policy: str | RingPolicy | PolicyFile) -> RingConfig:
    """The ring SPU's nonlinear kernels run in under `policy`: legalization guards their input ranges for it."""
    if isinstance(policy, PolicyFile):
        return policy.large
    if isinstance(policy, RingPolicy):
        return policy.nonlinear
    return load_policy_file(policy).large if is_policy_file(policy) else LARGE


def ring_passes(policy: str | RingPolicy = "fxp64") -> list[ModulePass]:
    """Legalized PPHLO to ring-typed PPHLO under `policy` (a name, a JSON policy file or a policy object)."""
    annotate = AnnotateRingsPass(ring_policy=policy) if isinstance(policy, RingPolicy) else AnnotateRingsPass(policy)
    return [annotate, FuseScalesPass(), EliminateRedundantCastsPass()]


def default_passes(
    policy: str | RingPolicy = "fxp64", gelu: str = "exact", softmax: str = "exact", silu: str = "exact"
) -> list[ModulePass]:
    """The pipeline of `ditto_compiler.compile` (and of `ditto-opt -p ditto-pipeline`)."""
    return [*frontend_passes(gelu, softmax, silu=silu, large=large_ring(policy)), *ring_passes(policy)]


def apply_passes(module: ModuleOp, passes: Sequence[ModulePass]) -> None:
    """Apply `passes` to `module` in place, verifying the module after each one."""
    ctx = make_context()
    for each in passes:
        each.apply(ctx, module)
        try:
            module.verify()
        except VerifyException as e:
            raise DittoError(f"invalid IR after {each.name}: {e}") from None


@dataclass(frozen=True)
class DittoPipelinePass(ModulePass):
    """`ditto-pipeline{policy=... gelu=... softmax=... silu=...}`: the default pipeline as one pass, for ditto-opt."""

    name = "ditto-pipeline"

    policy: str = "fxp64"
    gelu: str = "exact"
    softmax: str = "exact"
    silu: str = "exact"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        apply_passes(op, default_passes(self.policy, self.gelu, self.softmax, self.silu))
