"""Private text generation: a prefill program and a one-token decode program around a secret KV cache.

    gen = ditto_compiler.compile_generator(model, params, max_len=64, policy="fxp64")
    for step in gen.generate(prompt_ids, max_new_tokens=16):
        print(step.token, step.cost.send_bytes, step.cost.rounds, step.seconds)

The model is an unmodified Hugging Face Flax causal LM (GPT-2, the LLaMA family) with its own
cache (`init_cache`, `past_key_values`, written with dynamic_update_slice at the cache index).
The prefill program runs the prompt and writes the cache; the decode program runs one token at a
public position against it. Between steps the cache stays secret-shared in the parties: it is an
output they keep in their SPU runtimes (`Resident`, runtime/session.py) and the next step's input,
never revealed. Each step's one revealed output is the next token, a greedy argmax computed under
MPC, revealed to the client alone, who shares it back as the next step's (one-hot) input. What is public: the
lengths and positions, as in any fixed-shape secure program. The weights are shared once and
held by the parties for every decode step.

`recompute_program(length)` is the baseline SPU's GPT-2 example uses: the whole model over the
sequence so far, one program per length, for the next token.

A calibrated policy (`auto`, `optimal`, a policy file with base `optimal`) needs `calibration=`, a
calibration prompt: the decode program calibrates on the cache a plaintext prefill of it writes,
each prefill program on its tokens. The min-cut may then put the cache in different rings at the
prefill's outputs and the decode program's inputs and outputs; the parties convert it between
rings where it lies (`Session.convert`), never revealing it.

The parties are threads of this process (`ThreadParties`) unless `deploy` moves the generator to a cluster's
resident parties (`ClusterParties`: processes, hosts, mutual TLS), where the cache is the client's secret state
(runtime/server.py) and never reaches the client either.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from .diagnostics import DittoError
from .models.hf import positions_bounded
from .passes.policy_file import PolicyFile, is_policy_file, load_policy_file
from .passes.ring_policy import BUILTIN, LARGE, SMALL, RingPolicy
from .program import Program, is_calibrated
from .program import compile as compile_program
from .ring import RingConfig
from .runtime.cost import Cost, sum_costs

CACHE_INDEX = "cache_index"
"""The leaf of a Flax attention cache holding its position (public: it is the step number)."""
_CACHE = slice(1, None)
"""A step's outputs: the token, then the cache (kept by the parties)."""


def secure_argmax(logits: Any) -> Any:
    """The index of the largest entry of a 1-D array, as a tournament of (value, index) pairs.

    Each round compares the first ceil(n/2) entries with the last ceil(n/2) (for odd n the
    middle entry meets itself) and keeps the larger of each pair with its index: log2(n)
    rounds of secure comparisons and selects, no secret-dependent shape. A tie keeps the
    earlier entry of its pair.
    """
    import jax.numpy as jnp

    values, index = logits, jnp.arange(logits.shape[0], dtype=jnp.int32)
    while values.shape[0] > 1:
        n = values.shape[0]
        half = (n + 1) // 2
        later = values[n - half :] > values[:half]
        values = jnp.where(later, values[n - half :], values[:half])
        index = jnp.where(later, index[n - half :], index[:half])
    return index[0]


def _policy(policy: Any) -> tuple[Any, bool, dict[int, RingConfig]]:
    """`policy` as `compile` takes it (a PolicyFile by its path), whether it is calibrated, and the rings its
    programs may use (the parties need a runtime for each before the first run)."""
    if isinstance(policy, str) and is_policy_file(policy):
        policy = load_policy_file(policy)
    if isinstance(policy, PolicyFile):
        rings = (policy.large, policy.small, *(rule.ring for rule in policy.rules))
        return policy.path, is_calibrated(policy), {r.field_bits: r for r in rings}
    if isinstance(policy, RingPolicy):
        rings = (policy.nonlinear, policy.linear, *(rule.ring for rule in policy.rules))
        return policy, False, {r.field_bits: r for r in rings}
    if isinstance(policy, str) and policy in BUILTIN:
        return policy, False, {r.field_bits: r for r in (BUILTIN[policy].nonlinear, BUILTIN[policy].linear)}
    if is_calibrated(policy):
        return policy, True, {LARGE.field_bits: LARGE, SMALL.field_bits: SMALL}
    return policy, False, {}  # compile names what is wrong with it


def calibrated_policy(policy: Any) -> bool:
    """Whether `policy` chooses rings from value ranges, so that `compile_generator` needs a calibration prompt."""
    return _policy(policy)[1]


def _check_length(name: str, value: Any, low: int, high: int) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, (bool, np.bool_)) or not low <= value <= high:
        raise DittoError(f"{name} must be an integer in [{low}, {high}], not {value!r}")
    return int(value)


@dataclass
class Step:
    """One generated token: where it went, what it cost."""

    token: int
    position: int
    """Its position in the sequence (prompt length for the first)."""
    cost: Cost
    seconds: float
    """Wall time of the secure step (sharing of the step's own input included)."""
    program: str
    """"prefill", "decode" or "recompute"."""


@dataclass
class Generator:
    """Compiled prefill (one per prompt length, on first use) and decode programs for one model."""

    model: Any
    params: Any
    max_len: int
    options: dict[str, Any]
    decode: Program
    prefills: dict[int, Program] = field(default_factory=dict)
    recomputes: dict[int, Program] = field(default_factory=dict)
    _layout: Any = None
    parties: Any = None
    """Where the programs run (`ThreadParties` until `deploy`): they keep the weights and the cache between runs."""
    calibration: np.ndarray | None = None
    """The calibration prompt of a calibrated policy: each prefill program calibrates on its first tokens."""
    rings: dict[int, RingConfig] = field(default_factory=dict)
    """The rings the policy's programs may use, beyond the decode program's (the parties run one runtime each)."""

    # -- the traced functions ----------------------------------------------------------------------------------
    def _cache(self, kv: Sequence[Any], position: Any) -> Any:
        """The model's cache dict with `kv` as its keys/values and `position` as every layer's index."""
        import jax.numpy as jnp
        from jax import tree_util

        paths, tree = self._layout
        leaves, it = [], iter(kv)
        for path in paths:
            leaves.append(jnp.asarray(position, jnp.int32) if CACHE_INDEX in path else next(it))
        return tree_util.tree_unflatten(tree, leaves)

    def _step(self, params: Any, kv: Sequence[Any], ids: Any, position: Any) -> tuple[Any, list[Any]]:
        import jax.numpy as jnp
        from jax import tree_util

        length = ids.shape[1]
        out = self.model(
            ids,
            attention_mask=jnp.ones((1, self.max_len), jnp.int32),
            position_ids=(position + jnp.arange(length, dtype=jnp.int32))[None, :],
            params=params,
            past_key_values=self._cache(kv, position),
        )
        flat = tree_util.tree_flatten_with_path(out.past_key_values)[0]
        new_kv = [leaf for path, leaf in flat if CACHE_INDEX not in tree_util.keystr(path)]
        return secure_argmax(out.logits[0, -1]), new_kv

    def _empty_kv(self) -> list[np.ndarray]:
        from jax import tree_util

        flat = tree_util.tree_flatten_with_path(self.model.init_cache(1, self.max_len))[0]
        return [np.zeros(leaf.shape, np.float32) for path, leaf in flat if CACHE_INDEX not in tree_util.keystr(path)]

    def _decode_calibration(self, prompt: np.ndarray) -> tuple[Any, ...]:
        """The decode program's calibration arguments: the cache and next token a plaintext (float32) prefill of
        `prompt` gives, at the position after it (an all-zeros cache says nothing of the values it will hold)."""
        import jax

        token, kv = jax.jit(lambda params, kv, ids: self._step(params, kv, ids, 0))(
            self.params, self._empty_kv(), prompt[None, :]
        )
        kv = [np.asarray(x, np.float32) for x in kv]
        return (self.params, kv, np.asarray([[token]], np.int32), np.int32(prompt.size))

    # -- programs ----------------------------------------------------------------------------------------------
    def _options(self, length: int) -> dict[str, Any]:
        """`compile`'s options for a program on `length` token ids after the weights: with a calibrated policy, the
        calibration prompt's first `length` tokens (repeated where it is shorter) as the ids to calibrate on."""
        if self.calibration is None:
            return self.options
        ids = np.resize(self.calibration, length)[None, :].astype(np.int32)
        return self.options | {"calibration": (self.params, ids)}

    def prefill_program(self, length: int) -> Program:
        """The program for a prompt of `length` tokens (compiled on first use)."""
        length = _check_length("prompt length", length, 1, self.max_len - 1)
        if length not in self.prefills:
            kv = self._empty_kv()

            def prefill(params: Any, ids: Any) -> tuple[Any, list[Any]]:
                return self._step(params, kv, ids, 0)

            ids = np.zeros((1, length), np.int32)
            self.prefills[length] = compile_program(prefill, self.params, ids, **self._options(length))
        return self.prefills[length]

    def recompute_program(self, length: int) -> Program:
        """The baseline: the whole model over `length` tokens, for the next one (compiled on first use)."""
        length = _check_length("sequence length", length, 1, self.max_len)
        if length not in self.recomputes:

            def recompute(params: Any, ids: Any) -> Any:
                return secure_argmax(self.model(ids, params=params).logits[0, -1])

            ids = np.zeros((1, length), np.int32)
            self.recomputes[length] = compile_program(recompute, self.params, ids, **self._options(length))
        return self.recomputes[length]

    # -- secure execution --------------------------------------------------------------------------------------
    def deploy(self, owner: Any, client: Any, name: str = "generator") -> None:
        """Run on a cluster's resident parties (runtime/server.py) from now on: the model owner `owner` (a
        `ClusterClient` with an owner's certificate) deploys each program with its weights on first use, under
        `name` and the program's role, and `client` (a `ClusterClient` of the same cluster) queries them; the KV
        cache stays in the parties as the client's secret state."""
        self.close()
        self.parties = ClusterParties(self, owner, client, name)

    def _run(self, program: Program, given: dict[int, Any], keep: slice) -> tuple[list[Any], Cost]:
        """`program` on the parties: the weights where they lie, `given` (input number: array or value held in
        the parties), every other weight shared for this run; the outputs in `keep` stay in the parties.

        The held values in `given` are used up. One in another ring than the program takes (a calibrated policy's
        min-cut chose the cache's rings per program) is converted in the parties first, and the conversion's
        cost is part of the step's."""
        if self.parties is None or self.parties.failed:  # failed parties run nothing more: start new ones
            self.parties = ThreadParties(self)
        plan, costs = program.plan, []
        moving = _moving(plan, given)
        if moving:
            converted, cost = self.parties.convert(list(moving.values()), [plan.inputs[i] for i in moving])
            costs.append(cost)
            given = given | dict(zip(moving, converted))
        outputs, cost = self.parties.run(program, given, keep)
        return outputs, sum_costs(*costs, cost)

    def generate(
        self, prompt: Sequence[int] | np.ndarray, max_new_tokens: int, stop: int | None = None
    ) -> Iterator[Step]:
        """Greedy generation under 3-party MPC, one `Step` per new token as it is revealed to the client.

        `prompt`: token ids. Stops after `max_new_tokens`, at the end of the cache, or after token `stop`.
        """
        ids = self._prompt(prompt)
        max_new_tokens = _check_length("max_new_tokens", max_new_tokens, 1, self.max_len - ids.size)
        weights = self.weight_count
        prefill = self.prefill_program(ids.size)
        start = time.perf_counter()
        outputs, cost = self._run(prefill, {weights: ids[None, :].astype(np.int32)}, _CACHE)
        token, kv = int(np.asarray(outputs[0])), outputs[1:]
        position = ids.size
        yield Step(token, position, cost, time.perf_counter() - start, "prefill")
        try:
            for _ in range(max_new_tokens - 1):
                if token == stop or position + 1 >= self.max_len:
                    return
                start = time.perf_counter()
                given = dict(enumerate(kv, start=weights))
                given |= {weights + len(kv): np.asarray([[token]], np.int32), weights + len(kv) + 1: np.int32(position)}
                outputs, cost = self._run(self.decode, given, _CACHE)  # drops the old cache: the step wrote it anew
                token, kv = int(np.asarray(outputs[0])), outputs[1:]
                position += 1
                yield Step(token, position, cost, time.perf_counter() - start, "decode")
        finally:
            if self.parties is not None:
                self.parties.drop(kv)

    def check(self, prompt: Sequence[int] | np.ndarray) -> None:
        """Emulate the prefill of `prompt` (bit-exact ring arithmetic, in plaintext): a value that would overflow
        its ring under MPC, and so make every later token wrong without a sign, raises a DittoError naming the op.

        SmolLM2's first token carries a 24,926 that RMSNorm squares: past 18 fraction bits' range (generation.md).
        """
        ids = self._prompt(prompt)
        try:
            self.prefill_program(ids.size).emulate(self.params, ids[None, :].astype(np.int32))
        except DittoError as e:
            if "overflows" not in str(e):
                raise
            raise DittoError(
                f"{e}; found by emulating the prefill: under MPC the tokens would be wrong. Give the ring more "
                "integer bits (fewer fraction bits, e.g. a policy file with rings [64, 16])"
            ) from None

    def _prompt(self, prompt: Sequence[int] | np.ndarray) -> np.ndarray:
        ids = np.asarray(prompt)
        if ids.ndim != 1 or ids.dtype.kind not in "iu" or not ids.size:
            raise DittoError(f"the prompt must be a non-empty 1-D array of token ids, not {ids.dtype} {ids.shape}")
        if ids.size >= self.max_len:
            raise DittoError(f"a prompt of {ids.size} tokens leaves no room in a cache of {self.max_len}")
        return ids

    def close(self) -> None:
        """Release the parties and what they hold (weights, cache): a later `generate` starts new threads."""
        if self.parties is not None:
            self.parties.close()
        self.parties = None

    @property
    def weight_count(self) -> int:
        from jax.tree_util import tree_leaves

        return len(tree_leaves(self.params))

    def recompute(self, sequence: Sequence[int] | np.ndarray) -> Step:
        """The baseline's step: the next token after `sequence`, by the whole model over it."""
        ids = np.asarray(sequence, np.int32)
        program = self.recompute_program(ids.size)
        start = time.perf_counter()
        outputs, cost = self._run(program, {self.weight_count: ids[None, :]}, slice(0))
        return Step(int(np.asarray(outputs[0])), ids.size, cost, time.perf_counter() - start, "recompute")

    def plaintext(self, prompt: Sequence[int] | np.ndarray, max_new_tokens: int) -> list[int]:
        """Greedy generation in float32 JAX by the same model without a cache: the tokens to match.

        The sequence is padded to the cache's length at the end (a causal model's outputs at a position do
        not depend on later ones), so one compiled forward serves every step."""
        import jax
        import jax.numpy as jnp

        forward = jax.jit(lambda params, ids, last: jnp.argmax(self.model(ids, params=params).logits[0, last]))
        ids = [int(t) for t in np.asarray(prompt)]
        new = []
        for _ in range(min(max_new_tokens, self.max_len - len(ids))):
            padded = np.zeros((1, self.max_len), np.int32)
            padded[0, : len(ids)] = ids
            token = int(forward(self.params, padded, len(ids) - 1))
            new.append(token)
            ids.append(token)
        return new


def _moving(plan: Any, given: dict[int, Any]) -> dict[int, Any]:
    """The held values in `given` that `plan` takes in another ring (else the same value)."""
    from .runtime.client import Held
    from .runtime.session import Resident

    held = {i: v for i, v in given.items() if isinstance(v, (Resident, Held))}
    return {
        i: v
        for i, v in held.items()
        if not v.fits(plan.inputs[i]) and v.fits(replace(plan.inputs[i], field_bits=v.variable.field_bits))
    }


class ThreadParties:
    """The parties as threads of this process (runtime/session.py), created on first use. The weights are shared
    once, in the decode program's rings; a program that takes a weight in another ring gets it shared for its run."""

    def __init__(self, generator: Generator):
        from .runtime.session import Session

        plan = generator.decode.plan
        self.generator = generator
        # Every ring the policy may use: a prefill (compiled later) may use one the decode program does not.
        self.session = Session(generator.rings | plan.rings, plan.spu_options)
        self.weights: list[Any] | None = None

    def _resident_weights(self, program: Program) -> dict[int, Any]:
        from jax.tree_util import tree_leaves

        from .plan import check_value

        if self.weights is None:
            plan = self.generator.decode.plan
            self.weights = [
                self.session.share(
                    plan, i, check_value(f"weight {i}", plan.inputs[i], w, plan.rings[plan.inputs[i].field_bits])
                )
                for i, w in enumerate(tree_leaves(self.generator.params))
            ]
        return {i: w for i, w in enumerate(self.weights) if w.fits(program.plan.inputs[i])}

    def run(self, program: Program, given: dict[int, Any], keep: slice) -> tuple[list[Any], Cost]:
        from jax.tree_util import tree_leaves

        from .plan import check_value
        from .runtime.session import Resident

        plan, session = program.plan, self.session
        resident = self._resident_weights(program)
        leaves = tree_leaves(self.generator.params)
        values = [resident.get(i, leaves[i] if i < len(leaves) else None) for i in range(plan.user_inputs)]
        for i, value in given.items():
            values[i] = value
        checked = [
            v
            if isinstance(v, Resident)
            else check_value(f"input {i}", plan.inputs[i], v, plan.rings[plan.inputs[i].field_bits])
            for i, v in enumerate(values)
        ]
        inputs = plan.encode_inputs(checked)
        outputs, cost = session.run(plan, inputs, keep=range(len(plan.outputs))[keep])
        for value in given.values():
            if isinstance(value, Resident):
                session.drop(value)
        return outputs, cost

    def convert(self, values: list[Any], targets: list[Any]) -> tuple[list[Any], Cost]:
        """Resident `values` moved into the rings of `targets` in the parties; the old ones are dropped."""
        converted, cost = self.session.convert(values, targets)
        for old in values:
            self.session.drop(old)
        return converted, cost

    @property
    def failed(self) -> bool:
        return self.session.failed is not None

    def drop(self, values: Sequence[Any]) -> None:
        if self.session.failed is None:
            for value in values:
                self.session.drop(value)

    def close(self) -> None:
        self.session.close()


class ClusterParties:
    """Resident parties of a cluster (runtime/server.py): each program (and each conversion of the cache between
    rings) is deployed by the model owner on first use, under `name` plus the program's role; the client's
    queries keep the cache in the parties as its secret state (`Held` values) and take it from there."""

    def __init__(self, generator: Generator, owner: Any, client: Any, name: str):
        self.generator, self.owner, self.client, self.name = generator, owner, client, name
        self.deployed: set[str] = set()
        self.conversions: dict[tuple[Any, ...], str] = {}
        """Each deployed conversion's model name, by what it converts."""

    def _model(self, program: Program) -> str:
        """`program`'s model name on the cluster, deployed with the weights on first use."""
        from jax.tree_util import tree_leaves

        generator = self.generator
        roles = {"decode": generator.decode}
        roles |= {f"prefill{n}": known for n, known in generator.prefills.items()}
        roles |= {f"recompute{n}": known for n, known in generator.recomputes.items()}
        role = next(role for role, known in roles.items() if known is program)
        model = f"{self.name}.{role}"
        if model not in self.deployed:
            self.owner.deploy(model, program.plan, [np.asarray(w) for w in tree_leaves(generator.params)])
            self.deployed.add(model)
        return model

    def convert(self, values: list[Any], targets: list[Any]) -> tuple[list[Any], Cost]:
        """Held `values` moved into the rings of `targets` by a deployed conversion plan (which uses them up)."""
        from .runtime.session import conversion_plan

        key = tuple((v.variable, t) for v, t in zip(values, targets))
        if key not in self.conversions:
            plan = self.generator.decode.plan
            rings = self.generator.rings | plan.rings
            converter = conversion_plan([v.variable for v in values], targets, rings, plan.spu_options)
            model = f"{self.name}.convert{len(self.conversions)}"
            self.owner.deploy(model, converter, [])
            self.conversions[key] = model
        return self.client.query(self.conversions[key], values, keep=range(len(values)))

    failed = False
    """A failed query leaves the parties serving (runtime/server.py)."""

    def run(self, program: Program, given: dict[int, Any], keep: slice) -> tuple[list[Any], Cost]:
        plan = program.plan
        model = self._model(program)
        inputs = [given[i] for i in range(self.generator.weight_count, plan.user_inputs)]
        return self.client.query(model, inputs, keep=range(len(plan.outputs))[keep])

    def drop(self, values: Sequence[Any]) -> None:
        self.client.forget(values, quiet=True)

    def close(self) -> None:
        """Remove the deployed programs (the parties drop their weight shares)."""
        for model in [*self.deployed, *self.conversions.values()]:
            with contextlib.suppress(DittoError):
                self.owner.remove(model)
        self.deployed.clear()
        self.conversions.clear()


def compile_generator(
    model: Any, params: Any, max_len: int, calibration: Sequence[int] | np.ndarray | None = None, **options: Any
) -> Generator:
    """Compile `model` (a Hugging Face Flax causal LM with a cache) for private greedy generation of up to
    `max_len` tokens (prompt included). `options` are `ditto_compiler.compile`'s (policy, gelu, softmax, ...).

    A calibrated policy (`auto`, `optimal`, a policy file with base `optimal`) needs `calibration`: a calibration
    prompt (token ids, at least 2, fewer than `max_len`). Its plaintext prefill gives the decode program a real
    cache and token to calibrate on; each prefill program calibrates on its first tokens."""
    from jax import tree_util

    if not hasattr(model, "init_cache") or not callable(model):
        raise DittoError(f"compile_generator needs a Hugging Face Flax causal LM, not {type(model).__name__}")
    config = getattr(model, "config", None)
    limit = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None)
    max_len = _check_length("max_len", max_len, 2, limit or 1 << 16)
    if "public" in options:
        raise DittoError("compile_generator decides what is public (positions); do not pass public=")
    policy, calibrated, rings = _policy(options.get("policy", "fxp64"))
    if "policy" in options:
        options = options | {"policy": policy}
    prompt = None
    if calibrated:
        if calibration is None:
            raise DittoError(
                f"policy {options['policy']!r} chooses rings from value ranges: give compile_generator "
                "calibration=, a calibration prompt of token ids (the example cache is all zeros)"
            )
        prompt = _calibration_prompt(calibration, max_len, getattr(config, "vocab_size", None))
    elif calibration is not None:
        raise DittoError(
            "calibration is only used by policies auto and optimal and by policy files with base optimal "
            f"(policy is {options.get('policy', 'fxp64')!r})"
        )
    model = positions_bounded(model, params, max_len)
    flat, tree = tree_util.tree_flatten_with_path(model.init_cache(1, max_len))
    layout = ([tree_util.keystr(path) for path, _ in flat], tree)
    generator = Generator(model, params, max_len, options, decode=None, _layout=layout)  # type: ignore[arg-type]
    generator.calibration, generator.rings = prompt, rings
    kv = generator._empty_kv()

    def decode(params: Any, kv: list[Any], token: Any, position: Any) -> tuple[Any, list[Any]]:
        return generator._step(params, kv, token, position)

    example = (params, kv, np.zeros((1, 1), np.int32), np.int32(0))
    extra = {} if prompt is None else {"calibration": generator._decode_calibration(prompt)}
    generator.decode = compile_program(decode, *example, public=3, **options, **extra)
    return generator


def _calibration_prompt(calibration: Any, max_len: int, vocab: int | None) -> np.ndarray:
    try:
        ids = np.asarray(calibration)
    except Exception as e:  # noqa: BLE001 (arbitrary user objects)
        raise DittoError(f"calibration must be a 1-D array of token ids, not {type(e).__name__}: {e}") from None
    if ids.ndim != 1 or ids.dtype.kind not in "iu":
        raise DittoError(f"calibration must be a 1-D array of token ids, not {ids.dtype} {ids.shape}")
    if not 2 <= ids.size < max_len:
        raise DittoError(f"a calibration prompt needs 2 to {max_len - 1} tokens (max_len {max_len}), not {ids.size}")
    if vocab is not None and (ids.min() < 0 or ids.max() >= vocab):
        bad = int(ids.min() if ids.min() < 0 else ids.max())
        raise DittoError(f"calibration token id {bad} is outside the vocabulary [0, {vocab})")
    return ids.astype(np.int32)
