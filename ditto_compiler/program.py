"""`ditto_compiler.compile`: a JAX function in, a securely runnable program out."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from jax.tree_util import tree_flatten, tree_unflatten
from xdsl.dialects import func
from xdsl.dialects.builtin import ArrayAttr, DictionaryAttr, ModuleOp, StringAttr
from xdsl.passes import ModulePass

from .diagnostics import DittoError
from .emulator import EmulationResult, emulate
from .frontend.importer import parse_module
from .frontend.jax_export import FlatSignature, export_stablehlo
from .lowering.legalize_to_pphlo import VISIBILITY_ATTR
from .lowering.split_rings import plan_rings
from .passes import parse_pipeline
from .passes.auto_policy import calibrate, observed_stats
from .passes.auto_policy import check_options as check_auto_options
from .passes.drop_range_guards import drop_range_guards
from .passes.optimal_rings import OBJECTIVES, solve
from .passes.policy_file import MODES, PolicyFile, is_policy_file, load_policy, load_policy_file
from .passes.ring_policy import RingPolicy
from .pipeline import apply_passes, frontend_passes, large_ring, ring_passes
from .plan import OneHotInput, Plan, Segment, Variable, check_value
from .ring import RingConfig
from .runtime.cost import Cost
from .runtime.executor import execute

TRUNCATIONS = ("floor", "stochastic")
CALIBRATED = ("auto", "optimal")
"""Policies that choose rings from value ranges on calibration inputs (by default the example arguments)."""


def is_calibrated(policy: object) -> bool:
    """`policy` (a name, a loaded policy file, a policy object) chooses rings from calibration inputs."""
    return isinstance(policy, str) and policy in CALIBRATED or isinstance(policy, PolicyFile) and policy.calibrated


def _entry_function(module: ModuleOp) -> func.FuncOp:
    for op in module.ops:
        if isinstance(op, func.FuncOp) and op.sym_name.data == "main":
            return op
    raise DittoError("the exported module has no @main function")


def _mark_public_arguments(module: ModuleOp, public: tuple[bool, ...]) -> None:
    entry = _entry_function(module)
    if len(entry.args) != len(public):
        raise DittoError(f"@main has {len(entry.args)} arguments but the inputs have {len(public)} leaves")
    old = entry.arg_attrs.data if entry.arg_attrs is not None else [DictionaryAttr({})] * len(public)
    new = []
    for attrs, is_public in zip(old, public):
        entries = dict(attrs.data)
        if is_public:
            entries[VISIBILITY_ATTR] = StringAttr("public")
        new.append(DictionaryAttr(entries))
    entry.arg_attrs = ArrayAttr(new)


def load_plan(path: str) -> Plan:
    """The plan `Program.save` wrote, validated (see plan.py)."""
    return Plan.load(path)


@dataclass
class Program:
    """A compiled function: its IR at each stage, its plan, and a secure `run`."""

    stablehlo: str
    """StableHLO text as JAX exported it."""
    ir: str
    """The module after the pass pipeline (xDSL text, ring types included)."""
    signature: FlatSignature
    compile_seconds: float
    module: ModuleOp
    """The ring-typed module itself (what `emulate` executes)."""
    plan: Plan
    """What the runtime executes: per-ring SPU programs and the conversions between them."""
    cost: Cost | None = None
    """Cost of the latest `run`."""
    emulation: EmulationResult | None = None
    """Overflows and truncation count of the latest `emulate`."""
    ring_choices: list[dict[str, Any]] | None = None
    """What `auto` chose for each matmul (op, location, ring, max_abs seen), or `optimal` for each
    secret op (op, location, ring, its modelled cost in each ring, what it saved)."""

    @property
    def pphlo(self) -> str | None:
        """The PPHLO SPU runs, for a single-ring program: its programs' texts in order (the matmul steps
        between them run outside SPU); None for a mixed-ring one."""
        if len(self.plan.rings) != 1:
            return None
        return "\n".join(s.code for s in self.plan.steps if isinstance(s, Segment))

    @property
    def ring(self) -> RingConfig:
        """The ring of a single-ring program; for a mixed-ring one, its largest ring."""
        return self.plan.rings[max(self.plan.rings)]

    @property
    def encodings(self) -> list[OneHotInput]:
        """Inputs the data owner derives from the user's before sharing (one-hot token ids)."""
        return self.plan.encodings

    def _flat_inputs(self, args: tuple[Any, ...]) -> list[np.ndarray]:
        """The flat inputs the plan takes, each checked against the ring it enters."""
        leaves, tree = tree_flatten(args)
        if tree != self.signature.in_tree:
            raise DittoError(
                f"arguments have structure {tree}, but the program was compiled for {self.signature.in_tree}"
            )
        names = [f"argument {path or '<arg>'}" for path in self.signature.paths]
        flat = self.plan.check_inputs(leaves, names)
        given = len(self.signature.dtypes)
        return [v.astype(d, copy=False) for v, d in zip(flat[:given], self.signature.dtypes)] + flat[given:]

    def save(self, path: str) -> None:
        """Write the plan as JSON (for `ditto party`/`ditto drive` and `load_plan`)."""
        self.plan.save(path)

    def emulate(self, *args: Any, on_overflow: str = "raise", truncation: str = "floor", seed: int = 0) -> Any:
        """Plaintext, bit-exact emulation of the ring-typed program (see `ditto_compiler.emulator`).

        A value leaving its ring's safe range raises a DittoError naming the op and its
        location, or with `on_overflow="record"` is listed in `self.emulation.overflows`.
        `truncation="stochastic"` rounds secret truncations as SPU's protocol does
        (randomly, seeded by `seed`) instead of flooring them.
        """
        for name, value, allowed in (
            ("on_overflow", on_overflow, ("raise", "record")),
            ("truncation", truncation, TRUNCATIONS),
        ):
            if not isinstance(value, str) or value not in allowed:
                raise DittoError(f"{name} must be {' or '.join(map(repr, allowed))}, not {value!r}")
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, (bool, np.bool_)) or seed < 0:
            raise DittoError(f"seed must be a non-negative integer, not {seed!r}")
        self.emulation = emulate(self.module, self._flat_inputs(args), on_overflow, truncation=truncation, seed=seed)
        return tree_unflatten(self.signature.out_tree, self.emulation.outputs)

    def run(
        self,
        *args: Any,
        mode: str = "threads",
        upcast: str = "ditto",
        timeout_s: float = 60.0,
        network: str | None = None,
    ) -> Any:
        """Run under 3-party ABY3; returns outputs shaped like `fn`'s.

        `mode="threads"` runs the parties in this process; `mode="processes"` runs one
        process per party over SPU's brpc links on loopback. A mixed-ring program
        converts between rings with Ditto's upcast protocol and the downcast protocol, or with
        `upcast="generic"` through SPU's own protocols (an A2B/B2A round trip, a truncation).
        `timeout_s` bounds every wait for a peer.
        `network="lan"|"wan"` (with `mode="processes"`) sends every message across that emulated network.
        """
        outputs, self.cost = execute(self.plan, self._flat_inputs(args), mode, upcast, timeout_s, network)
        return tree_unflatten(self.signature.out_tree, outputs)


def _calibration_inputs(
    calibration: tuple[Any, ...] | None, example_args: tuple[Any, ...], signature: FlatSignature
) -> list[np.ndarray]:
    """The calibration inputs, flat, each checked like an input to the 64-bit ring `auto` calibrates in."""
    flat, tree = tree_flatten(example_args if calibration is None else tuple(calibration))
    if tree != signature.in_tree:
        raise DittoError(
            f"calibration inputs must have the structure of the example arguments ({signature.in_tree}), not {tree}"
        )
    arrays = []
    for path, shape, dtype, value in zip(signature.paths, signature.shapes, signature.dtypes, flat):
        kind = "fixed" if dtype.kind == "f" else "bool" if dtype.kind == "b" else "int"
        variable = Variable("calibration", 64, True, kind, shape, dtype.itemsize * 8 if kind == "int" else 0)
        arrays.append(check_value(f"calibration argument {path or '<arg>'}", variable, value, RingConfig(64, 18)))
    return arrays


def _check_options(
    policy: Any,
    calibration: Any,
    margin: Any,
    precision: Any,
    objective: Any,
    gelu: Any,
    softmax: Any,
    silu: Any,
    pipeline: Any,
) -> tuple[str | RingPolicy | PolicyFile, list[ModulePass] | None]:
    """Every option checked before the function is traced: the policy (loaded, unless `auto` or `optimal`;
    a policy file as a PolicyFile) and the pipeline (parsed), or a DittoError naming the option."""
    if not isinstance(policy, (str, RingPolicy)):
        raise DittoError(f"policy must be a name, a JSON policy file or a RingPolicy, not {type(policy).__name__}")
    for name, value in (("gelu", gelu), ("softmax", softmax), ("silu", silu)):
        modes = MODES[name]
        if not isinstance(value, str):
            raise DittoError(f"{name} must be a string, not {type(value).__name__}")
        if value not in modes:
            raise DittoError(f"{name} must be one of {', '.join(modes)}, not {value!r}")
    check_auto_options(margin, precision)
    if not isinstance(objective, str) or objective not in OBJECTIVES:
        raise DittoError(f"objective must be one of {', '.join(OBJECTIVES)}, not {objective!r}")
    if isinstance(policy, str) and is_policy_file(policy):
        policy = load_policy_file(policy)
        if (gelu, softmax, silu, objective) != ("exact", "exact", "exact", "bytes"):
            raise DittoError(
                f"policy file {policy.name} sets the approximations and the objective; "
                "give gelu, softmax, silu and objective there, not as options"
            )
    if calibration is not None:
        if not isinstance(calibration, (tuple, list)):
            raise DittoError(
                f"calibration must be a tuple of arguments like the example arguments, not {type(calibration).__name__}"
            )
        if not is_calibrated(policy):
            raise DittoError(
                f"calibration is only used by policies auto and optimal and by policy files with base optimal "
                f"(policy is {policy!r})"
            )
    if isinstance(policy, str) and policy not in CALIBRATED:
        policy = load_policy(policy)
    if pipeline is None:
        return policy, None
    if isinstance(pipeline, str):
        return policy, parse_pipeline(pipeline)
    if not isinstance(pipeline, (list, tuple)):
        raise DittoError(
            f"pipeline must be a pass pipeline string or a sequence of passes, not {type(pipeline).__name__}"
        )
    for index, each in enumerate(pipeline):
        if not isinstance(each, ModulePass):
            raise DittoError(f"pipeline[{index}] must be a pass object (an xDSL ModulePass), not {each!r}")
    return policy, list(pipeline)


def _check_arguments(signature: FlatSignature) -> None:
    """Example arguments that fixed point can encode and that hold something."""
    for path, shape, dtype in zip(signature.paths, signature.shapes, signature.dtypes):
        label = f"argument {path or '<arg>'}"
        if dtype.kind not in "biuf":
            raise DittoError(
                f"{label} has dtype {dtype}, which fixed point cannot encode (use floats, integers or bools)"
            )
        if math.prod(shape) == 0:
            raise DittoError(f"{label} has no elements (shape {list(shape)}): secure execution needs at least one")


def compile(  # noqa: A001 (the library's verb)
    fn: Callable[..., Any],
    *example_args: Any,
    public: Any = None,
    policy: str | RingPolicy = "fxp64",
    calibration: tuple[Any, ...] | None = None,
    margin: float = 4.0,
    precision: int = 6,
    objective: str = "bytes",
    gelu: str = "exact",
    softmax: str = "exact",
    pipeline: str | Sequence[ModulePass] | None = None,
    silu: str = "exact",
) -> Program:
    """Compile `fn` at the shapes of `example_args` for secure execution.

    Every input leaf is secret unless `public` marks it: argument numbers (an int or a
    sequence of ints), or a pytree prefix of the arguments with booleans. `policy` picks
    the rings: `fxp64`, `ditto`, `auto`, `optimal`, the path of a JSON policy file, or a
    `RingPolicy`. `auto` calibrates on `calibration` (arguments like `example_args`; by
    default `example_args` themselves): a matmul goes to the small ring when every value
    it touches stays within 1/`margin` of that ring's range and has an RMS of
    2^`precision` steps. `optimal` puts every secret op in the ring that minimises the
    whole program's modelled cost (`objective`: `bytes`, `lan` or `wan`; conversions
    included; passes/optimal_rings.py), under the same fit rule on the calibration inputs.
    `gelu` (`exact`, `quad`, `puma`, `relu-fit`), `softmax` (`exact`, `2quad`, `ditto`, `exp-fit`)
    and `silu` (`exact`, `relu-fit`) pick MPC-friendly approximations (passes/approximate_nonlinear.py).
    A policy file (what `ditto tune` writes; passes/policy_file.py) gives rings and per-location approximations
    at once; with base `optimal` its ring cut is made on `calibration` as above.
    Calibrated policies also drop the range guards (rsqrt's input tiers) that the calibration
    inputs stay `margin` times below (passes/drop_range_guards.py).
    `pipeline` (xdsl-opt syntax, or pass objects) replaces the whole default pipeline.
    Every problem with the function or the options is a `DittoError`.
    """
    try:
        return _compile(
            fn, example_args, public, policy, calibration, margin, precision, objective, gelu, softmax, silu, pipeline
        )
    except RecursionError:
        raise DittoError("the program nests too deeply to compile (Python's recursion limit)") from None
    except MemoryError:
        raise DittoError("the program is too large to compile in this machine's memory") from None


def _compile(
    fn: Callable[..., Any],
    example_args: tuple[Any, ...],
    public: Any,
    policy: str | RingPolicy | PolicyFile,
    calibration: tuple[Any, ...] | None,
    margin: float,
    precision: int,
    objective: str,
    gelu: str,
    softmax: str,
    silu: str,
    pipeline: str | Sequence[ModulePass] | None,
) -> Program:
    if not callable(fn):
        raise DittoError(f"compile needs a function, not {type(fn).__name__}")
    policy, passes = _check_options(policy, calibration, margin, precision, objective, gelu, softmax, silu, pipeline)
    start = time.perf_counter()
    stablehlo, signature = export_stablehlo(fn, example_args, public)
    _check_arguments(signature)
    module = parse_module(stablehlo, "<jax>")
    _mark_public_arguments(module, signature.public)
    ring_choices = None
    if passes is not None:
        apply_passes(module, passes)
    else:
        if isinstance(policy, PolicyFile):
            apply_passes(module, frontend_passes(policy=policy.path, large=large_ring(policy)))
        else:
            apply_passes(module, frontend_passes(gelu, softmax, silu=silu, large=large_ring(policy)))
        if is_calibrated(policy):
            # One emulation on the calibration inputs decides both the guards and the rings.
            seen = observed_stats(module, _calibration_inputs(calibration, example_args, signature))
            drop_range_guards(module, seen, margin)
            if policy == "auto":
                policy, choices = calibrate(module, seen, margin, precision)
                ring_choices = [c.as_dict() for c in choices]
            else:
                file = policy if isinstance(policy, PolicyFile) else None
                goal, rings = (
                    (objective, {}) if file is None else (file.objective, {"small": file.small, "large": file.large})
                )
                solution = solve(module, seen, goal, margin, precision, **rings)
                policy, ring_choices = solution.policy, [p.as_dict() for p in solution.placements]
        elif isinstance(policy, PolicyFile):
            policy = policy.ring_policy()
        apply_passes(module, ring_passes(policy))
    return Program(
        stablehlo=stablehlo,
        ir=str(module),
        signature=signature,
        compile_seconds=time.perf_counter() - start,
        module=module,
        plan=plan_rings(module),
        ring_choices=ring_choices,
    )
