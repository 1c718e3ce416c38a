"""IR-to-IR passes, one per module, and the registry `ditto-opt` and pipelines look them up in."""

from __future__ import annotations

from collections.abc import Callable

from xdsl.passes import ModulePass, PassPipeline
from xdsl.utils.exceptions import ArgSpecParseError

from ..diagnostics import DittoError


def all_passes() -> dict[str, Callable[[], type[ModulePass]]]:
    """Every pass ditto-compiler provides, by its pipeline name (imported when first used)."""

    def inline_private_functions() -> type[ModulePass]:
        from .inline_private_functions import InlinePrivateFunctionsPass

        return InlinePrivateFunctionsPass

    def one_hot_inputs() -> type[ModulePass]:
        from .one_hot_inputs import OneHotInputsPass

        return OneHotInputsPass

    def expand_dynamic_update_slice() -> type[ModulePass]:
        from .expand_dynamic_update_slice import ExpandDynamicUpdateSlicePass

        return ExpandDynamicUpdateSlicePass

    def approximate_nonlinear() -> type[ModulePass]:
        from .approximate_nonlinear import ApproximateNonlinearPass

        return ApproximateNonlinearPass

    def row_reciprocals() -> type[ModulePass]:
        from .row_reciprocals import RowReciprocalsPass

        return RowReciprocalsPass

    def legalize_to_pphlo() -> type[ModulePass]:
        from ..lowering.legalize_to_pphlo import LegalizeToPPHLOPass

        return LegalizeToPPHLOPass

    def bounded_exp() -> type[ModulePass]:
        from .bounded_exp import BoundedExpPass

        return BoundedExpPass

    def drop_range_guards() -> type[ModulePass]:
        from .drop_range_guards import DropRangeGuardsPass

        return DropRangeGuardsPass

    def fold_identity_products() -> type[ModulePass]:
        from .fold_identity_products import FoldIdentityProductsPass

        return FoldIdentityProductsPass

    def fold_bool_comparisons() -> type[ModulePass]:
        from .fold_bool_comparisons import FoldBoolComparisonsPass

        return FoldBoolComparisonsPass

    def annotate_rings() -> type[ModulePass]:
        from .annotate_rings import AnnotateRingsPass

        return AnnotateRingsPass

    def fuse_scales() -> type[ModulePass]:
        from .fuse_scales import FuseScalesPass

        return FuseScalesPass

    def eliminate_redundant_casts() -> type[ModulePass]:
        from .eliminate_redundant_casts import EliminateRedundantCastsPass

        return EliminateRedundantCastsPass

    def insert_deallocation() -> type[ModulePass]:
        from ..lowering.insert_deallocation import InsertDeallocationPass

        return InsertDeallocationPass

    def ditto_pipeline() -> type[ModulePass]:
        from ..pipeline import DittoPipelinePass

        return DittoPipelinePass

    return {
        "inline-private-functions": inline_private_functions,
        "one-hot-inputs": one_hot_inputs,
        "expand-dynamic-update-slice": expand_dynamic_update_slice,
        "approximate-nonlinear": approximate_nonlinear,
        "row-reciprocals": row_reciprocals,
        "legalize-to-pphlo": legalize_to_pphlo,
        "bounded-exp": bounded_exp,
        "fold-identity-products": fold_identity_products,
        "fold-bool-comparisons": fold_bool_comparisons,
        "drop-range-guards": drop_range_guards,
        "annotate-rings": annotate_rings,
        "fuse-scales": fuse_scales,
        "eliminate-redundant-casts": eliminate_redundant_casts,
        "insert-deallocation": insert_deallocation,
        "ditto-pipeline": ditto_pipeline,
    }


def parse_pipeline(spec: str) -> list[ModulePass]:
    """Pass objects from a pipeline in xdsl-opt syntax (`a,b{option=value}`)."""
    try:
        return list(PassPipeline.parse_spec(all_passes(), spec).passes)
    except (ValueError, ArgSpecParseError) as e:
        # xDSL's message draws the spec and a caret over several lines: keep what it says.
        lines = [line.strip() for line in str(e).splitlines() if line.strip()]
        reason = " ".join(dict.fromkeys([lines[0], lines[-1]])) if lines else type(e).__name__
        raise DittoError(f"bad pass pipeline {spec!r}: {reason}") from None
