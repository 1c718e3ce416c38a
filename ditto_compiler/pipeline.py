"""Pass registry and the default compilation pipeline."""

from __future__ import annotations

from collections.abc import Callable

from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass, PassPipeline
from xdsl.utils.exceptions import ArgSpecParseError

from .diagnostics import DittoError
from .dialects import make_context

POLICIES = ("fxp64", "ditto")


def default_pipeline(policy: str = "fxp64") -> str:
    """The pipeline `ditto_compiler.compile` runs: one entry function, PPHLO, then rings.

    `policy` is a built-in ring policy or the path of a JSON policy file.
    """
    if '"' in policy:
        raise DittoError(f"a ring policy name or path cannot contain a double quote: {policy}")
    return f'inline-private-functions,legalize-to-pphlo,annotate-rings{{policy="{policy}"}}'


def all_passes() -> dict[str, Callable[[], type[ModulePass]]]:
    """Every pass ditto-compiler provides, by its pipeline name."""

    def inline_private_functions():
        from .passes.inline_private_functions import InlinePrivateFunctionsPass

        return InlinePrivateFunctionsPass

    def annotate_rings():
        from .passes.annotate_rings import AnnotateRingsPass

        return AnnotateRingsPass

    def legalize_to_pphlo():
        from .lowering.legalize_to_pphlo import LegalizeToPPHLOPass

        return LegalizeToPPHLOPass

    return {
        "inline-private-functions": inline_private_functions,
        "legalize-to-pphlo": legalize_to_pphlo,
        "annotate-rings": annotate_rings,
    }


def run_pipeline(module: ModuleOp, spec: str) -> None:
    """Apply the passes in `spec` (xdsl-opt syntax) to `module` in place."""
    try:
        pipeline = PassPipeline.parse_spec(all_passes(), spec)
    except (ValueError, ArgSpecParseError) as e:
        raise DittoError(f"bad pass pipeline {spec!r}: {e}") from None
    pipeline.apply(make_context(), module)
