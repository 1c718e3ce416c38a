"""`annotate-rings{policy=...}`: give every PPHLO value a fixed-point ring type.

Runs on legalized PPHLO (see `ring_annotation` for the algorithm). The policy is a
built-in name (`fxp64`, `ditto`), `auto` (rings chosen from value ranges on
calibration inputs, see `auto_policy`), `optimal` (the minimum modelled cost over
the whole dataflow graph, see `optimal_rings`) or a JSON policy file; a library
caller passes a `RingPolicy` object instead (`ring_policy`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass

from ..diagnostics import DittoError, op_error
from ..dialects import fxp
from .auto_policy import calibrate, load_calibration, observed_stats
from .optimal_rings import solve
from .policy_file import is_policy_file, load_policy, load_policy_file
from .ring_annotation import annotate
from .ring_policy import RingPolicy


@dataclass(frozen=True)
class AnnotateRingsPass(ModulePass):
    name = "annotate-rings"

    policy: str = "fxp64"
    """`fxp64`, `ditto`, `auto`, `optimal`, or the path of a JSON policy file (one with base `optimal` needs
    calibration, and its objective and rings replace `objective`)."""
    calibration: str = ""
    """For `auto`, `optimal`: an .npz of the entry function's inputs (numpy.savez(path, *inputs))."""
    margin: float = 4.0
    """For `auto`, `optimal`: a value may use at most 1/margin of the small ring's range."""
    precision: int = 6
    """For `auto`, `optimal`: a real value needs an RMS of at least 2^precision steps of the small ring."""
    objective: str = "bytes"
    """For `optimal`: what to minimise, `bytes` or the time on the paper's `lan` or `wan`."""
    report: str = ""
    """For `auto`, `optimal`: write the per-op choices here as JSON."""
    ring_policy: RingPolicy | None = field(default=None, compare=False, repr=False)
    """A policy object (the library's way); replaces `policy` when given."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        if any(fxp.ring_of(v.type) is not None for o in op.walk() for v in o.results):
            raise DittoError("the module already has ring types; annotate-rings runs once")
        for inner in op.walk():
            if inner.dialect_name() in ("stablehlo", "chlo") or isinstance(inner, func.CallOp):
                raise op_error(inner, "is not PPHLO: annotate-rings runs after legalize-to-pphlo")
            if isinstance(inner, func.FuncOp) and (
                len(inner.body.blocks) != 1 or not isinstance(inner.body.block.last_op, func.ReturnOp)
            ):
                raise DittoError(f"@{inner.sym_name.data} must be one block ending in func.return to annotate")
        annotate(op, self._policy(op))

    def _policy(self, module: ModuleOp) -> RingPolicy:
        if self.ring_policy is not None:
            return self.ring_policy
        file = None
        if self.policy not in ("auto", "optimal"):
            if not is_policy_file(self.policy):
                return load_policy(self.policy)
            file = load_policy_file(self.policy)
            if not file.calibrated:
                return file.ring_policy()
        if not self.calibration:
            raise DittoError(
                f"policy {self.policy} needs calibration inputs "
                f"(annotate-rings{{policy={self.policy} calibration=FILE}})"
            )
        seen = observed_stats(module, load_calibration(self.calibration))
        if self.policy == "auto":
            policy, choices = calibrate(module, seen, self.margin, self.precision)
            report = [c.as_dict() for c in choices]
        else:
            objective, rings = (
                (self.objective, {}) if file is None else (file.objective, {"small": file.small, "large": file.large})
            )
            solution = solve(module, seen, objective, self.margin, self.precision, **rings)
            policy, report = solution.policy, [p.as_dict() for p in solution.placements]
        if self.report:
            try:
                Path(self.report).write_text(json.dumps(report, indent=1))
            except OSError as e:
                raise DittoError(f"cannot write the {self.policy} policy report {self.report}: {e}") from None
        return policy
