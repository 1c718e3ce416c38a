"""`ditto-pipeline{policy=... gelu=... softmax=...}`: the whole default pipeline as one pass, for ditto-opt."""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass


@dataclass(frozen=True)
class DittoPipelinePass(ModulePass):
    name = "ditto-pipeline"

    policy: str = "fxp64"
    gelu: str = "exact"
    softmax: str = "exact"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        from ..pipeline import default_pipeline, run_pipeline

        run_pipeline(op, default_pipeline(self.policy, gelu=self.gelu, softmax=self.softmax))
