"""Pass registry and the default compilation pipeline."""

from __future__ import annotations

from collections.abc import Callable

from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass, PassPipeline

from .dialects import make_context

# The order matters: legalization needs a single entry function.
DEFAULT_PIPELINE = "inline-private-functions,legalize-to-pphlo"


def all_passes() -> dict[str, Callable[[], type[ModulePass]]]:
    """Every pass ditto-compiler provides, by its pipeline name."""

    def inline_private_functions():
        from .passes.inline_private_functions import InlinePrivateFunctionsPass

        return InlinePrivateFunctionsPass

    def legalize_to_pphlo():
        from .lowering.legalize_to_pphlo import LegalizeToPPHLOPass

        return LegalizeToPPHLOPass

    return {
        "inline-private-functions": inline_private_functions,
        "legalize-to-pphlo": legalize_to_pphlo,
    }


def run_pipeline(module: ModuleOp, spec: str = DEFAULT_PIPELINE) -> None:
    """Apply the passes in `spec` (xdsl-opt syntax) to `module` in place."""
    PassPipeline.parse_spec(all_passes(), spec).apply(make_context(), module)
