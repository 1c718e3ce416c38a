"""`ditto_compiler.compile`: a JAX function in, a securely runnable program out."""

from __future__ import annotations

import json
import pickle
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from jax.tree_util import tree_flatten, tree_unflatten
from spu import version as spu_version
from xdsl.dialects import func
from xdsl.dialects.builtin import ArrayAttr, DictionaryAttr, ModuleOp, StringAttr

from .diagnostics import DittoError
from .dialects import fxp
from .emulator import EmulationResult, emulate
from .frontend.importer import parse_module
from .frontend.jax_export import FlatSignature, export_stablehlo
from .input_encoding import OneHotInput, encode_inputs, one_hot_inputs
from .lowering.legalize_to_pphlo import VISIBILITY_ATTR
from .lowering.split_rings import RingPlan, plan_rings
from .lowering.spu_text import to_spu_program
from .pipeline import default_pipeline, run_pipeline
from .ring import RingConfig
from .runtime.executor import Cost, run_secure
from .runtime.mixed import run_mixed
from .runtime.processes import run_processes


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


PROGRAM_FORMAT = "ditto-program/1"


def load_plan(path: str) -> RingPlan:
    """The plan `Program.save` wrote (only load files you trust: this unpickles)."""
    try:
        data = pickle.loads(Path(path).read_bytes())
    except (OSError, pickle.UnpicklingError, EOFError) as e:
        raise DittoError(f"cannot read program {path}: {e}") from None
    if not isinstance(data, dict) or data.get("format") != PROGRAM_FORMAT:
        raise DittoError(f"{path} is not a ditto-compiler program file")
    if data["spu"] != spu_version.__version__:
        raise DittoError(f"{path} was compiled for SPU {data['spu']}, this runtime is {spu_version.__version__}")
    return data["plan"]


@dataclass
class Program:
    """A compiled function: its IR at each stage, and a secure `run`."""

    stablehlo: str
    """StableHLO text as JAX exported it."""
    ir: str
    """The module after the pass pipeline (xDSL text, ring types included)."""
    pphlo: str | None
    """Generic-form PPHLO handed to SPU (a single-ring program; see `plan` otherwise)."""
    signature: FlatSignature
    compile_seconds: float
    ring: RingConfig = field(default_factory=RingConfig)
    """The ring SPU's runtime is configured with."""
    module: ModuleOp | None = None
    """The ring-typed module itself (what `emulate` executes)."""
    plan: RingPlan | None = None
    """For a mixed-ring program: the per-ring SPU programs and the conversions between them."""
    cost: Cost | None = None
    """Cost of the latest `run`."""
    emulation: EmulationResult | None = None
    """Overflows and truncation count of the latest `emulate`."""
    ring_choices: list[dict[str, Any]] | None = None
    """What the `auto` policy chose for each op: op, location, ring, max_abs seen."""
    encodings: list[OneHotInput] = field(default_factory=list)
    """Inputs the data owner derives from the user's before sharing (one-hot token ids)."""

    def _flat_inputs(self, args: tuple[Any, ...]) -> list[np.ndarray]:
        leaves, tree = tree_flatten(args)
        sig = self.signature
        if tree != sig.in_tree:
            raise DittoError(f"arguments have structure {tree}, but the program was compiled for {sig.in_tree}")
        flat = []
        for path, leaf, shape, dtype in zip(sig.paths, leaves, sig.shapes, sig.dtypes):
            value = np.asarray(leaf)
            if value.shape != shape:
                raise DittoError(f"argument {path or '<arg>'} has shape {list(value.shape)}, expected {list(shape)}")
            if value.dtype.kind != dtype.kind:
                raise DittoError(f"argument {path or '<arg>'} has dtype {value.dtype}, expected {dtype}")
            if dtype.kind == "f" and value.size:
                # Fixed point wraps around silently outside its range.
                if not np.all(np.isfinite(value)):
                    raise DittoError(
                        f"argument {path or '<arg>'} holds NaN or infinity, which fixed point cannot encode"
                    )
                bound = self.ring.max_magnitude
                worst = float(np.max(np.abs(value)))
                if worst >= bound:
                    raise DittoError(
                        f"argument {path or '<arg>'} holds {worst:g}, outside the {self.ring.field_bits}-bit ring's "
                        f"fixed-point range (|x| < 2^{self.ring.field_bits - self.ring.fraction_bits - 2})"
                    )
            flat.append(value.astype(dtype, copy=False))
        return encode_inputs(self.encodings, flat)

    def save(self, path: str) -> None:
        """Write the executable plan (per-ring SPU programs and conversions) for `ditto drive`."""
        if self.module is None:
            raise DittoError("this program has no ring-typed module to save")
        plan = self.plan or plan_rings(self.module)
        Path(path).write_bytes(pickle.dumps({"format": PROGRAM_FORMAT, "spu": spu_version.__version__, "plan": plan}))

    def emulate(self, *args: Any, on_overflow: str = "raise", truncation: str = "floor", seed: int = 0) -> Any:
        """Plaintext, bit-exact emulation of the ring-typed program (see `ditto_compiler.emulator`).

        A value leaving its ring's safe range raises a DittoError naming the op, or
        with `on_overflow="record"` is listed in `self.emulation.overflows`.
        `truncation="stochastic"` rounds secret truncations as SPU's protocol does
        (randomly, seeded by `seed`) instead of flooring them.
        """
        if self.module is None:
            raise DittoError("this program has no ring-typed module to emulate")
        self.emulation = emulate(self.module, self._flat_inputs(args), on_overflow, truncation=truncation, seed=seed)
        return tree_unflatten(self.signature.out_tree, self.emulation.outputs)

    def run(self, *args: Any, mode: str = "threads", upcast: str = "ditto") -> Any:
        """Run under 3-party ABY3; returns outputs shaped like `fn`'s.

        `mode="threads"` runs the parties in this process; `mode="processes"` runs one
        process per party over SPU's brpc links on loopback. A mixed-ring program
        converts between rings with Ditto's upcast protocol, or with `upcast="generic"`
        through SPU's own A2B/B2A round trip.
        """
        flat = self._flat_inputs(args)
        if mode not in ("threads", "processes"):
            raise DittoError(f"mode must be 'threads' or 'processes', not {mode!r}")
        if mode == "processes":
            if self.module is None:
                raise DittoError("this program has no ring-typed module to run in processes")
            outputs, self.cost = run_processes(self.plan or plan_rings(self.module), flat, upcast)
        elif self.plan is not None:
            outputs, self.cost = run_mixed(self.plan, flat, upcast)
        else:
            assert self.pphlo is not None
            secret = [not p for p in self.signature.public] + [True] * len(self.encodings)
            outputs, self.cost = run_secure(self.pphlo, flat, secret, self.signature.out_tree.num_leaves, self.ring)
        return tree_unflatten(self.signature.out_tree, outputs)


def compile(  # noqa: A001 (the library's verb)
    fn: Callable[..., Any],
    *example_args: Any,
    public: Any = None,
    policy: str = "fxp64",
    calibration: tuple[Any, ...] | None = None,
    margin: float = 4.0,
    precision: int = 6,
    gelu: str = "exact",
    softmax: str = "exact",
    pipeline: str | None = None,
) -> Program:
    """Compile `fn` at the shapes of `example_args` for secure execution.

    Every input leaf is secret unless `public` marks it: argument numbers, or a
    pytree prefix of the arguments with booleans. `policy` picks the rings
    (`fxp64`, `ditto`, `auto` or a JSON policy file). `auto` calibrates on
    `calibration` (arguments like `example_args`; by default `example_args`
    themselves): a matmul goes to the small ring when every value it touches stays
    within 1/`margin` of that ring's range and has an RMS of 2^`precision` steps.
    `gelu` (`exact`, `quad`, `puma`) and `softmax` (`exact`, `2quad`, `ditto`) pick
    MPC-friendly approximations (see passes/approximate_nonlinear.py).
    `pipeline` replaces the whole default pipeline (xdsl-opt syntax) if given.
    """
    start = time.perf_counter()
    stablehlo, signature = export_stablehlo(fn, example_args, public)
    module = parse_module(stablehlo, "<jax>")
    _mark_public_arguments(module, signature.public)
    ring_choices = None
    if policy == "auto" and pipeline is None:
        with tempfile.TemporaryDirectory() as scratch:
            inputs, report = f"{scratch}/calibration.npz", f"{scratch}/choices.json"
            flat, _ = tree_flatten(example_args if calibration is None else tuple(calibration))
            if len(flat) != len(signature.paths):
                raise DittoError("calibration inputs must have the structure of the example arguments")
            np.savez(inputs, *[np.asarray(x) for x in flat])
            spec = default_pipeline("auto", inputs, report, gelu, softmax).replace(
                "annotate-rings{", f"annotate-rings{{margin={float(margin)} precision={int(precision)} ", 1
            )
            run_pipeline(module, spec)
            ring_choices = json.loads(Path(report).read_text())
    else:
        run_pipeline(module, pipeline or default_pipeline(policy, gelu=gelu, softmax=softmax))
    encodings = one_hot_inputs(_entry_function(module))
    pphlo, ring, plan = None, RingConfig(), None
    if len({element.k for _, element in fxp.ring_values(module)}) > 1:
        plan = plan_rings(module)
        ring = plan.rings[max(plan.rings)]
    else:
        emitted = to_spu_program(module)
        pphlo, ring = emitted.text, emitted.ring or RingConfig()
    return Program(
        stablehlo=stablehlo,
        ir=str(module),
        pphlo=pphlo,
        signature=signature,
        compile_seconds=time.perf_counter() - start,
        ring=ring,
        module=module,
        plan=plan,
        ring_choices=ring_choices,
        encodings=encodings,
    )
