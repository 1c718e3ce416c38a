"""Quantization-aware distillation (MPCFormer's two stages) of a Hugging Face model.

The teacher is the float model. The student is the compiled program itself
(`student.Student`): the forward function is compiled under the chosen policy and
approximations with its hidden states and attention maps as extra outputs, and
the student runs that ring-typed module with fake quantization, so training sees
exactly the rings, truncations and approximations that secure inference runs.

Stage 1 matches every layer's hidden states and attention maps (MSE over real,
unpadded tokens); stage 2 matches the outputs (BERT: MSE of the last hidden state
plus one minus the cosine of the mean-pooled embeddings; GPT-2: soft
cross-entropy of the next-token distribution). One AdamW optimizer with
warmup and cosine decay runs across both. Batches and stochastic truncation are
derived from (seed, step), so a resumed run takes the same path as an
uninterrupted one.

Fidelity is measured with the inference program (outputs only, compiled at the
training batch shape) under SPU-like stochastic truncation: the mean cosine of
student and teacher outputs on the eval split (BERT: mean-pooled sentence
embeddings, as sentence encoders use them; GPT-2: next-token logits).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ..bench import perplexity
from ..diagnostics import DittoError
from ..models.hf import ModelCase
from ..program import Program
from ..program import compile as compile_program
from .data import Corpus, tokenize, train_tokenizer
from .student import student_forward

STATE_FILE = "state.msgpack"
PROGRESS_FILE = "progress.json"
MODEL_DIR = "model"


@dataclass(frozen=True)
class DistillSettings:
    policy: str = "ditto"
    gelu: str | None = "quad"
    """None: as the policy file says (a version-2 file, e.g. from `ditto tune`, chooses per location)."""
    softmax: str | None = "ditto"
    steps: int = 200
    stage1_fraction: float = 0.5
    """Share of the steps spent on hidden-state and attention distillation before output distillation."""
    batch: int = 8
    seq: int = 64
    learning_rate: float = 1e-4
    warmup_fraction: float = 0.1
    eval_every: int = 50
    eval_size: int = 128
    """Eval-split sentences used for fidelity (all of them if fewer)."""
    seed: int = 0
    truncation: str = "stochastic"

    def validate(self) -> None:
        if self.steps < 1 or self.batch < 1 or self.seq < 2 or self.eval_every < 1 or self.eval_size < 2:
            raise DittoError("steps, batch, eval-every must be positive, seq and eval-size at least 2")
        if not 0 <= self.stage1_fraction <= 1:
            raise DittoError(f"stage1_fraction must be in [0, 1], not {self.stage1_fraction}")
        if self.truncation not in ("floor", "stochastic"):
            raise DittoError("truncation must be 'floor' or 'stochastic'")

    @property
    def compile_options(self) -> dict[str, str]:
        """What `compile` gets: the policy, and the approximations unless the policy file gives them."""
        given = {"policy": self.policy, "gelu": self.gelu, "softmax": self.softmax}
        return {k: v for k, v in given.items() if v is not None}

    @property
    def stage1_steps(self) -> int:
        return round(self.steps * self.stage1_fraction)


@dataclass
class Report:
    model: str
    family: str
    data: str
    settings: dict[str, Any]
    train_sentences: int
    eval_sentences: int
    fidelity_before: float = float("nan")
    fidelity_after: float = float("nan")
    metrics_before: dict[str, float] = field(default_factory=dict)
    metrics_after: dict[str, float] = field(default_factory=dict)
    metrics_init: dict[str, float] | None = None
    """With initial student weights other than the teacher's: their metrics."""
    history: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    mpc: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _taps_forward(model: Any, family: str) -> Callable[..., Any]:
    """The model's forward with every hidden state and attention map as extra outputs."""

    def forward(params: Any, ids: Any, mask: Any) -> Any:
        out = model(ids, attention_mask=mask, params=params, output_hidden_states=True, output_attentions=True)
        main = out.logits if family == "gpt2" else out.last_hidden_state
        return main, tuple(out.hidden_states), tuple(out.attentions)

    return forward


def _masked_mean(values: jax.Array, mask: jax.Array) -> jax.Array:
    """Mean of `values` (B, S, ...) over the tokens where `mask` (B, S) is 1."""
    weights = mask.reshape(mask.shape + (1,) * (values.ndim - 2)).astype(values.dtype)
    per_token = values.size // (mask.size or 1)
    return jnp.sum(values * weights) / (jnp.sum(weights) * per_token)


def stage1_loss(student: Any, teacher: Any, mask: jax.Array) -> jax.Array:
    _, hidden_s, attn_s = student
    _, hidden_t, attn_t = teacher
    hidden = sum(_masked_mean((s - t) ** 2, mask) for s, t in zip(hidden_s, hidden_t)) / len(hidden_s)
    # Attention maps are (B, heads, S, S): weight rows by their query token.
    rows = [jnp.swapaxes((s - t) ** 2, 1, 2) for s, t in zip(attn_s, attn_t)]
    attention = sum(_masked_mean(r, mask) for r in rows) / max(len(rows), 1)
    return hidden + attention


def stage2_loss(student: Any, teacher: Any, mask: jax.Array, family: str) -> jax.Array:
    out_s, out_t = student[0], teacher[0]
    if family == "gpt2":  # soft cross-entropy against the teacher's next-token distribution
        target = jax.nn.softmax(out_t, axis=-1)
        return _masked_mean(-jnp.sum(target * jax.nn.log_softmax(out_s, axis=-1), axis=-1, keepdims=True), mask)
    # BERT: the hidden states, and the mean-pooled sentence embedding's direction (what fidelity measures).
    weights = mask[..., None].astype(out_s.dtype)
    emb_s, emb_t = jnp.sum(out_s * weights, 1), jnp.sum(out_t * weights, 1)
    cosine = jnp.sum(emb_s * emb_t, -1) / (jnp.linalg.norm(emb_s, axis=-1) * jnp.linalg.norm(emb_t, axis=-1) + 1e-9)
    return _masked_mean((out_s - out_t) ** 2, mask) + jnp.mean(1 - cosine)


def pooled(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean-pooled sentence embeddings (as sentence-transformers pools all-MiniLM-L6-v2)."""
    weights = mask[..., None].astype(np.float64)
    return (hidden * weights).sum(1) / np.maximum(weights.sum(1), 1)


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = a.astype(np.float64), b.astype(np.float64)
    return (a * b).sum(-1) / np.maximum(np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1), 1e-30)


def compare_outputs(
    family: str, student: np.ndarray, teacher: np.ndarray, ids: np.ndarray, mask: np.ndarray
) -> dict[str, float]:
    """Fidelity of `student` outputs to `teacher` outputs on the same (ids, mask) batch."""
    if family == "gpt2":
        valid = mask.astype(bool)
        metrics = {"fidelity": float(_cosines(student, teacher)[valid].mean())}
        metrics["perplexity_teacher"] = perplexity(teacher, ids, mask)
        metrics["perplexity"] = perplexity(student, ids, mask)
        metrics["next_token_agreement"] = float((student.argmax(-1) == teacher.argmax(-1))[valid].mean())
        return metrics
    emb_s, emb_t = pooled(student, mask), pooled(teacher, mask)
    metrics = {"fidelity": float(_cosines(emb_s, emb_t).mean())}
    metrics["token_cosine"] = float(_cosines(student, teacher)[mask.astype(bool)].mean())
    if len(emb_s) >= 3:
        from scipy.stats import spearmanr

        def similarities(e: np.ndarray) -> np.ndarray:
            unit = e / np.linalg.norm(e, axis=-1, keepdims=True)
            return unit @ unit.T

        sim_s, sim_t = similarities(emb_s), similarities(emb_t)
        upper = np.triu_indices(len(emb_s), 1)
        metrics["pair_ranking_spearman"] = float(spearmanr(sim_s[upper], sim_t[upper]).statistic)
        np.fill_diagonal(sim_s, -np.inf)
        np.fill_diagonal(sim_t, -np.inf)
        metrics["nearest_neighbour_agreement"] = float((sim_s.argmax(1) == sim_t.argmax(1)).mean())
    return metrics


class Distiller:
    """Everything one distillation run needs: model, data, compiled student, optimizer, state."""

    def __init__(
        self,
        case: ModelCase,
        corpus: Corpus,
        settings: DistillSettings,
        log: Callable[[str], None] = print,
        init: Any = None,
    ):
        """`init`: the student's starting weights (default: the teacher's), e.g. an earlier distilled model's."""
        import optax

        settings.validate()
        if case.model is None:
            raise DittoError("distillation needs a model case with its Flax model")
        if case.family not in ("bert", "gpt2"):
            raise DittoError(f"distillation supports BERT and GPT-2 models, not {case.family} ({case.name})")
        self.case, self.corpus, self.settings, self.log = case, corpus, settings, log
        self.family = case.family
        tokenizer = case.tokenizer
        if tokenizer is None:
            vocab = case.model.config.vocab_size
            log(f"training a {vocab}-token tokenizer on the train split ({case.name} has none)")
            tokenizer = train_tokenizer(corpus.train, vocab, self.family)
        self.tokenizer = tokenizer
        self.train_ids, self.train_mask = tokenize(tokenizer, corpus.train, settings.seq)
        eval_texts = corpus.eval[: settings.eval_size]
        self.eval_ids, self.eval_mask = tokenize(tokenizer, eval_texts, settings.seq)
        if self.train_ids.max() >= case.model.config.vocab_size:
            raise DittoError("the tokenizer produces ids outside the model's vocabulary")
        self.teacher_params = case.params
        taps = _taps_forward(case.model, self.family)
        self.teacher = jax.jit(taps)
        example = (case.params, self.train_ids[: settings.batch], self.train_mask[: settings.batch])
        log(f"compiling the student ({settings.policy}, gelu={settings.gelu}, softmax={settings.softmax})")
        options = settings.compile_options
        self.train_program = compile_program(taps, *example, **options)
        self.eval_program = compile_program(case.forward, *example, **options)
        self.student = student_forward(self.train_program, settings.truncation)
        self.student_eval = jax.jit(student_forward(self.eval_program, settings.truncation))
        schedule = optax.warmup_cosine_decay_schedule(
            0.0, settings.learning_rate, max(1, round(settings.steps * settings.warmup_fraction)), settings.steps
        )
        self.optimizer = optax.chain(optax.clip_by_global_norm(1.0), optax.adamw(schedule, weight_decay=0.01))
        self.params = case.params if init is None else init
        shapes = jax.tree_util.tree_map(np.shape, case.params)
        if jax.tree_util.tree_map(np.shape, self.params) != shapes:
            raise DittoError("the initial weights do not have the model's parameter shapes")
        self.opt_state = self.optimizer.init(self.params)
        self.step = 0
        self.history: list[dict[str, Any]] = []
        self._teacher_eval: np.ndarray | None = None  # the teacher's eval outputs, computed once
        self._train_step = jax.jit(self._make_train_step(), static_argnums=(5,))

    # -- training --------------------------------------------------------------------
    def _make_train_step(self) -> Callable[..., Any]:
        import optax

        family = self.family

        def loss_fn(params: Any, teacher_params: Any, ids: jax.Array, mask: jax.Array, key: jax.Array, stage: int):
            teacher = jax.lax.stop_gradient(self.teacher(teacher_params, ids, mask))
            student = self.student(params, ids, mask, key=key)
            return stage1_loss(student, teacher, mask) if stage == 1 else stage2_loss(student, teacher, mask, family)

        def train_step(params: Any, opt_state: Any, teacher_params: Any, batch: Any, key: jax.Array, stage: int):
            loss, grads = jax.value_and_grad(loss_fn)(params, teacher_params, *batch, key, stage)
            updates, opt_state = self.optimizer.update(grads, opt_state, params)
            return optax.apply_updates(params, updates), opt_state, loss

        return train_step

    def batch_at(self, step: int) -> tuple[np.ndarray, np.ndarray]:
        """The training batch of `step`: a seeded permutation per epoch, so resuming replays it."""
        n, b = len(self.train_ids), self.settings.batch
        per_epoch = max(1, n // b)
        epoch, index = divmod(step, per_epoch)
        order = np.random.default_rng([self.settings.seed, epoch]).permutation(n)
        rows = order[index * b : (index + 1) * b]
        if len(rows) < b:
            rows = np.resize(order, b)
        return self.train_ids[rows], self.train_mask[rows]

    def stage_at(self, step: int) -> int:
        return 1 if step < self.settings.stage1_steps else 2

    def train(self, until: int | None = None, out: Path | None = None) -> list[dict[str, Any]]:
        """Train up to step `until` (default: all steps), evaluating and checkpointing every `eval_every`."""
        from tqdm.auto import tqdm

        until = self.settings.steps if until is None else min(until, self.settings.steps)
        base_key = jax.random.PRNGKey(self.settings.seed)
        with tqdm(total=until, initial=self.step, desc="distill", unit="step", dynamic_ncols=True) as bar:
            while self.step < until:
                stage = self.stage_at(self.step)
                key = jax.random.fold_in(base_key, self.step)
                self.params, self.opt_state, loss = self._train_step(
                    self.params, self.opt_state, self.teacher_params, self.batch_at(self.step), key, stage
                )
                loss = float(loss)
                if not math.isfinite(loss):
                    raise DittoError(f"the distillation loss became {loss} at step {self.step}; lower --lr")
                self.step += 1
                entry: dict[str, Any] = {"step": self.step, "stage": stage, "loss": loss}
                bar.set_postfix(stage=stage, loss=f"{loss:.4g}")
                bar.update(1)
                if self.step % self.settings.eval_every == 0 or self.step == until:
                    entry["fidelity"] = self.evaluate()["fidelity"]
                    bar.write(f"step {self.step}: stage {stage} loss {loss:.4g} fidelity {entry['fidelity']:.4f}")
                    self.history.append(entry)
                    if out is not None:
                        self.save_state(out)
                else:
                    self.history.append(entry)
        return self.history

    # -- evaluation ----------------------------------------------------------------------
    def outputs(self, params: Any, ids: np.ndarray, mask: np.ndarray, student: bool) -> np.ndarray:
        """Outputs on every row of (ids, mask), in batches of the compiled shape (the last one padded)."""
        b = self.settings.batch
        key = jax.random.PRNGKey(self.settings.seed + 1)
        chunks = []
        for start in range(0, len(ids), b):
            rows_ids, rows_mask = ids[start : start + b], mask[start : start + b]
            short = b - len(rows_ids)
            if short:
                rows_ids = np.concatenate([rows_ids, np.repeat(rows_ids[:1], short, 0)])
                rows_mask = np.concatenate([rows_mask, np.repeat(rows_mask[:1], short, 0)])
            if student:
                result = self.student_eval(params, rows_ids, rows_mask, key=jax.random.fold_in(key, start))
            else:
                result = self.teacher(self.teacher_params, rows_ids, rows_mask)[0]
            chunks.append(np.asarray(result)[: b - short])
        return np.concatenate(chunks)

    def evaluate(self, params: Any = None) -> dict[str, float]:
        params = self.params if params is None else params
        if self._teacher_eval is None:
            self._teacher_eval = self.outputs(self.teacher_params, self.eval_ids, self.eval_mask, student=False)
        student = self.outputs(params, self.eval_ids, self.eval_mask, student=True)
        return compare_outputs(self.family, student, self._teacher_eval, self.eval_ids, self.eval_mask)

    # -- checkpoints ------------------------------------------------------------------------
    def save_state(self, out: Path) -> None:
        from flax import serialization

        out.mkdir(parents=True, exist_ok=True)
        state = {"params": self.params, "opt_state": self.opt_state}
        (out / STATE_FILE).write_bytes(serialization.to_bytes(state))
        progress = {"step": self.step, "settings": asdict(self.settings), "history": self.history}
        (out / PROGRESS_FILE).write_text(json.dumps(progress, indent=1))

    def load_state(self, out: Path) -> bool:
        """Resume from `out` if it holds a checkpoint of the same settings; False if it holds none."""
        from flax import serialization

        if not (out / PROGRESS_FILE).exists():
            return False
        try:
            progress = json.loads((out / PROGRESS_FILE).read_text())
            saved = progress["settings"]
            blob = (out / STATE_FILE).read_bytes()
        except (OSError, ValueError, KeyError) as e:
            raise DittoError(f"cannot resume from {out}: {e}") from None
        mine = asdict(self.settings)
        changed = [k for k in mine if k != "eval_every" and saved.get(k) != mine[k]]
        if changed:
            raise DittoError(f"cannot resume from {out}: it was trained with other settings ({', '.join(changed)})")
        template = {"params": self.params, "opt_state": self.opt_state}
        try:
            state = serialization.from_bytes(template, blob)
        except (ValueError, KeyError) as e:
            raise DittoError(f"cannot resume from {out}: {e}") from None
        self.params, self.opt_state = state["params"], state["opt_state"]
        self.step, self.history = int(progress["step"]), list(progress["history"])
        return True

    def save_model(self, directory: Path) -> None:
        """The distilled weights as a Hugging Face checkpoint (same shapes), with the tokenizer."""
        self.case.model.save_pretrained(directory, params=jax.device_get(self.params))
        self.tokenizer.save_pretrained(directory)


def mpc_program(distiller: Distiller, params: Any) -> Program:
    """The inference program `mpc_fidelity` runs, for one sentence (the weights are its inputs)."""
    s = distiller.settings
    ids, mask = distiller.eval_ids[:1], distiller.eval_mask[:1]
    return compile_program(distiller.case.forward, params, ids, mask, **s.compile_options)


def mpc_fidelity(
    distiller: Distiller, params: Any, samples: int, log: Callable[[str], None] = print, program: Program | None = None
) -> dict[str, Any]:
    """Fidelity of `samples` eval sentences computed under real 3-party MPC (`Program.run`), with `program`
    (default: `mpc_program(distiller, params)`)."""
    ids, mask = distiller.eval_ids[:samples], distiller.eval_mask[:samples]
    if program is None:
        program = mpc_program(distiller, params)
    outputs, send_bytes, seconds = [], 0, 0.0
    for i in range(len(ids)):
        outputs.append(np.asarray(program.run(params, ids[i : i + 1], mask[i : i + 1]))[0])
        assert program.cost is not None
        send_bytes, seconds = program.cost.send_bytes, seconds + program.cost.seconds
        log(f"  MPC sample {i + 1}/{len(ids)}: {program.cost.seconds:.1f} s")
    teacher = distiller.outputs(distiller.teacher_params, ids, mask, student=False)
    metrics = compare_outputs(distiller.family, np.stack(outputs), teacher, ids, mask)
    per_sample = {"send_bytes_per_sample": send_bytes, "seconds_per_sample": seconds / len(ids)}
    return {"samples": len(ids), **metrics, **per_sample}


def distill(
    case: ModelCase,
    corpus: Corpus,
    settings: DistillSettings,
    out: str | Path,
    resume: bool = False,
    mpc_samples: int = 0,
    log: Callable[[str], None] = print,
    init: Any = None,
) -> Report:
    """Distil `case`'s model under `settings` on `corpus`; writes checkpoints and the model to `out`."""
    start = time.perf_counter()
    out = Path(out)
    if not resume and (out / PROGRESS_FILE).exists():
        raise DittoError(f"{out} already holds a distillation run: pass --resume to continue it, or another --out")
    distiller = Distiller(case, corpus, settings, log, init)
    report = Report(case.name, case.family, corpus.source, asdict(settings), len(corpus.train), len(distiller.eval_ids))
    report.metrics_before = distiller.evaluate(case.params)
    report.fidelity_before = report.metrics_before["fidelity"]
    log(f"before distillation: {json.dumps(report.metrics_before)}")
    if init is not None:
        report.metrics_init = distiller.evaluate(init)
        log(f"initial student weights: {json.dumps(report.metrics_init)}")
    if resume and distiller.load_state(out):
        log(f"resumed from {out} at step {distiller.step}")
    distiller.train(out=out)
    report.history = distiller.history
    report.metrics_after = distiller.evaluate()
    report.fidelity_after = report.metrics_after["fidelity"]
    log(f"after distillation: {json.dumps(report.metrics_after)}")
    distiller.save_model(out / MODEL_DIR)
    if mpc_samples:
        log(f"measuring {mpc_samples} eval sentences under real MPC, before and after")
        # One program for both (the weights are inputs), unless `auto` chose its rings from the weights.
        program = None if settings.policy == "auto" else mpc_program(distiller, case.params)
        report.mpc = {
            "before": mpc_fidelity(distiller, case.params, mpc_samples, log, program),
            "after": mpc_fidelity(distiller, distiller.params, mpc_samples, log, program),
        }
    report.seconds = time.perf_counter() - start
    (out / "report.json").write_text(json.dumps(report.to_json(), indent=1))
    return report
