"""Pass registry and the default compilation pipeline."""

from __future__ import annotations

from collections.abc import Callable

from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass, PassPipeline
from xdsl.utils.exceptions import ArgSpecParseError

from .diagnostics import DittoError
from .dialects import make_context

POLICIES = ("fxp64", "ditto")


def default_pipeline(
    policy: str = "fxp64", calibration: str = "", report: str = "", gelu: str = "exact", softmax: str = "exact"
) -> str:
    """The pipeline `ditto_compiler.compile` runs (also `ditto-opt -p ditto-pipeline`):

    inline-private-functions           one entry function
    one-hot-inputs                     lookups by secret token ids: one-hot inputs times the table
    approximate-nonlinear{gelu,softmax} MPC-friendly GeLU and Softmax (exact: unchanged)
    row-reciprocals                    one reciprocal / rsqrt per row, not per element
    legalize-to-pphlo                  StableHLO -> PPHLO, visibility decided
    annotate-rings{policy}             ring types, explicit casts and truncations
    fuse-scales                        fewer truncations
    eliminate-redundant-casts          fewer, smaller ring conversions

    `policy` is `fxp64`, `ditto`, `auto` (with `calibration`, an .npz of inputs, and
    optionally a `report` path) or the path of a JSON policy file.
    """
    options = {"policy": policy, "calibration": calibration, "report": report, "gelu": gelu, "softmax": softmax}
    for value in options.values():
        if '"' in value:
            raise DittoError(f"a pipeline option cannot contain a double quote: {value}")
    annotate = " ".join(f'{key}="{options[key]}"' for key in ("policy", "calibration", "report") if options[key])
    return (
        "inline-private-functions,one-hot-inputs,"
        f'approximate-nonlinear{{gelu="{gelu}" softmax="{softmax}"}},row-reciprocals,'
        f"legalize-to-pphlo,annotate-rings{{{annotate}}},fuse-scales,eliminate-redundant-casts"
    )


def all_passes() -> dict[str, Callable[[], type[ModulePass]]]:
    """Every pass ditto-compiler provides, by its pipeline name."""

    def inline_private_functions():
        from .passes.inline_private_functions import InlinePrivateFunctionsPass

        return InlinePrivateFunctionsPass

    def one_hot_inputs():
        from .passes.one_hot_inputs import OneHotInputsPass

        return OneHotInputsPass

    def approximate_nonlinear():
        from .passes.approximate_nonlinear import ApproximateNonlinearPass

        return ApproximateNonlinearPass

    def row_reciprocals():
        from .passes.row_reciprocals import RowReciprocalsPass

        return RowReciprocalsPass

    def annotate_rings():
        from .passes.annotate_rings import AnnotateRingsPass

        return AnnotateRingsPass

    def eliminate_redundant_casts():
        from .passes.eliminate_redundant_casts import EliminateRedundantCastsPass

        return EliminateRedundantCastsPass

    def ditto_pipeline():
        from .passes.ditto_pipeline import DittoPipelinePass

        return DittoPipelinePass

    def fuse_scales():
        from .passes.fuse_scales import FuseScalesPass

        return FuseScalesPass

    def legalize_to_pphlo():
        from .lowering.legalize_to_pphlo import LegalizeToPPHLOPass

        return LegalizeToPPHLOPass

    return {
        "inline-private-functions": inline_private_functions,
        "one-hot-inputs": one_hot_inputs,
        "approximate-nonlinear": approximate_nonlinear,
        "row-reciprocals": row_reciprocals,
        "legalize-to-pphlo": legalize_to_pphlo,
        "annotate-rings": annotate_rings,
        "fuse-scales": fuse_scales,
        "eliminate-redundant-casts": eliminate_redundant_casts,
        "ditto-pipeline": ditto_pipeline,
    }


def run_pipeline(module: ModuleOp, spec: str) -> None:
    """Apply the passes in `spec` (xdsl-opt syntax) to `module` in place."""
    try:
        pipeline = PassPipeline.parse_spec(all_passes(), spec)
    except (ValueError, ArgSpecParseError) as e:
        raise DittoError(f"bad pass pipeline {spec!r}: {e}") from None
    pipeline.apply(make_context(), module)
