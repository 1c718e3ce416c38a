"""Quantization-aware distillation: the student is the compiled program, training helps, resume is exact.

Time goes to XLA compiling the student (stochastic truncation draws random bits at every secret
truncation, which XLA is slow to compile), so the tests share one `Distiller` and its compiled programs,
and JAX's persistent compilation cache lets a fresh `Distiller` of the same settings load what the first
one compiled."""

import copy
import dataclasses
import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import ditto_compiler
from ditto_compiler.diagnostics import DittoError
from ditto_compiler.distill.data import default_corpus, load_corpus, read_documents, sentences
from ditto_compiler.distill.distill import PROGRESS_FILE, Distiller, DistillSettings
from ditto_compiler.distill.student import student_forward

pytest.importorskip("transformers")
from ditto_compiler.models.hf import bert_case, checkpoint_case, gpt2_case  # noqa: E402

TEXT = [
    "The fire crews worked through the night to save the town. Residents were told to leave their homes early. "
    "Strong winds pushed the flames towards the highway.",
    "The minister said the budget would be delivered next week. Opposition members asked for more detail on spending. "
    "Economists expect interest rates to stay on hold.",
    "The team won the final after a close second half. Their captain scored twice in the last ten minutes. "
    "Thousands of fans celebrated in the streets of the city.",
    "Scientists have found a new species of frog in the northern rainforest. The animal is smaller than a coin. "
    "Researchers say the area needs better protection from logging.",
    "Heavy rain has flooded several roads in the south of the state. Police have warned drivers to stay at home. "
    "The weather bureau expects the rain to clear by Friday.",
    "Talks between the two governments will resume in Geneva on Monday. Both sides say progress has been slow. "
    "A final agreement is not expected before the end of the year.",
]


pytestmark = pytest.mark.usefixtures("jax_compilation_cache")


@pytest.fixture(scope="module")
def corpus_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "news.txt"
    path.write_text("\n".join(TEXT) + "\n")
    return path


@pytest.fixture(scope="module")
def tiny_cases():
    return {"bert": bert_case("tiny", 12), "gpt2": gpt2_case("tiny", 12)}


@pytest.mark.parametrize("family", ["bert", "gpt2"])
@pytest.mark.parametrize(
    "policy, gelu, softmax", [("ditto", "quad", "ditto"), ("ditto", "puma", "2quad"), ("fxp64", "exact", "exact")]
)
def test_student_forward_equals_the_emulator_bit_for_bit(tiny_cases, family, policy, gelu, softmax):
    case = tiny_cases[family]
    program = ditto_compiler.compile(case.forward, *case.args, policy=policy, gelu=gelu, softmax=softmax)
    emulated = np.asarray(program.emulate(*case.args))
    with jax.enable_x64(True):
        student = np.asarray(jax.jit(student_forward(program))(*case.args))
    np.testing.assert_array_equal(student.astype(np.float32), emulated)
    # The fixed point matters: the float model differs from both.
    assert np.abs(emulated - np.asarray(case.forward(*case.args))).max() > 1e-5


def test_student_stochastic_truncation_is_keyed_and_close_to_floor(distiller):
    # The distiller's inference program (tiny BERT, policy ditto, Quad GeLU, Ditto's Softmax) on an eval
    # batch: jitted exactly as the distiller jits it, so this shares its compiled executable.
    program, b = distiller.eval_program, distiller.settings.batch
    args = (distiller.teacher_params, distiller.eval_ids[:b], distiller.eval_mask[:b])
    stochastic = jax.jit(student_forward(program, truncation="stochastic"))
    a = np.asarray(stochastic(*args, key=jax.random.PRNGKey(0)))
    b = np.asarray(stochastic(*args, key=jax.random.PRNGKey(0)))
    c = np.asarray(stochastic(*args, key=jax.random.PRNGKey(1)))
    floor = np.asarray(jax.jit(student_forward(program))(*args))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert np.abs(a - floor).max() < 0.05
    with pytest.raises(DittoError, match="needs a PRNG key"):
        stochastic(*args)


def test_gradients_pass_straight_through_the_fixed_point(tiny_bert):
    forward, params, ids = tiny_bert
    program = ditto_compiler.compile(forward, params, ids, policy="ditto", gelu="quad")
    student = student_forward(program)
    grads = jax.jit(jax.grad(lambda p: jnp.sum(student(p, ids) ** 2)))(params)
    leaves = jax.tree_util.tree_leaves(grads)
    assert all(np.all(np.isfinite(g)) for g in leaves)
    layer = grads["encoder"]["layer"]["0"]["intermediate"]["dense"]["kernel"]
    assert np.abs(layer).max() > 0  # floors and truncations do not zero the gradient


@pytest.fixture(scope="module")
def distiller(corpus_file):
    settings = DistillSettings(steps=6, stage1_fraction=1.0, batch=4, seq=24, learning_rate=3e-4, eval_size=8, seed=3)
    return Distiller(bert_case("tiny", 8), load_corpus(corpus_file, eval_fraction=0.34), settings, log=lambda m: None)


def test_distillation_steps_reduce_the_loss(distiller):
    batch = distiller.batch_at(0)
    key = jax.random.PRNGKey(0)
    assert distiller.stage_at(0) == 1

    def loss(params):
        # The training step's own loss (stage 1: hidden states and attention maps, student under
        # stochastic truncation) at `params`; its update is dropped. It is the executable training runs.
        _, _, value = distiller._train_step(params, distiller.opt_state, distiller.teacher_params, batch, key, 1)
        return float(value)

    before = loss(distiller.params)
    fidelity_before = distiller.evaluate()["fidelity"]
    distiller.train(until=6)
    assert loss(distiller.params) < 0.8 * before
    assert distiller.evaluate()["fidelity"] > fidelity_before
    assert [h["step"] for h in distiller.history] == list(range(1, 7))


def test_resume_reproduces_the_same_losses(distiller, tmp_path):
    settings, corpus = distiller.settings, distiller.corpus
    # Fresh distillers, as separate runs would build them (their executables come from the compilation cache).
    fresh = lambda: Distiller(distiller.case, corpus, settings, log=lambda m: None)  # noqa: E731
    straight = fresh()
    straight.train(until=2, out=tmp_path)  # checkpoint at step 2, then carry on uninterrupted
    straight.train(until=4)
    resumed = fresh()
    assert resumed.load_state(tmp_path) and resumed.step == 2
    resumed.train(until=4)
    assert [h["loss"] for h in resumed.history] == [h["loss"] for h in straight.history]
    for a, b in zip(jax.tree_util.tree_leaves(resumed.params), jax.tree_util.tree_leaves(straight.params)):
        np.testing.assert_array_equal(a, b)
    # A run with other settings refuses the checkpoint (a copy: load_state reads only settings and state).
    changed = copy.copy(resumed)
    changed.settings = dataclasses.replace(settings, seed=4)
    with pytest.raises(DittoError, match="other settings \\(seed\\)"):
        changed.load_state(tmp_path)


def test_cli_distils_and_the_model_loads_back_for_bench(corpus_file, tmp_path, ditto):
    # Floor truncation: the CLI's plumbing is under test here, and floor students compile in seconds
    # (stochastic truncation is what the tests above train with).
    out, report = tmp_path / "run", tmp_path / "report.json"
    result = ditto("distill", "--model", "bert", "--config", "tiny", "--data", corpus_file, "--steps", "4",
                   "--batch", "2", "--seq", "16", "--eval-every", "2", "--eval-size", "4", "--lr", "3e-4",
                   "--truncation", "floor", "--mpc-samples", "1", "--out", out, "--json", report)  # fmt: skip
    assert result.returncode == 0, result.stderr
    figures = json.loads(report.read_text())
    assert json.loads(result.stdout.splitlines()[-1]) == {
        "fidelity_before": figures["fidelity_before"],
        "fidelity_after": figures["fidelity_after"],
    }
    assert [h["stage"] for h in figures["history"]] == [1, 1, 2, 2] and figures["settings"]["truncation"] == "floor"
    assert "fidelity" in figures["history"][1] and "fidelity" not in figures["history"][0]
    assert abs(figures["mpc"]["after"]["fidelity"] - figures["fidelity_after"]) < 0.05
    assert "distill:" in result.stderr  # the progress bar
    # Same shapes as the original; ditto bench runs it under MPC.
    original, distilled = bert_case("tiny", 8), checkpoint_case(out / "model", 8)
    shapes = lambda p: jax.tree_util.tree_map(np.shape, p)  # noqa: E731
    assert shapes(distilled.params) == shapes(original.params)
    bench = ditto("bench", "--checkpoint", out / "model", "--seq", "8", "--runs", "ditto", "--quiet")
    assert bench.returncode == 0, bench.stderr
    assert "ditto bytes by ring" in bench.stdout
    # A second run into the same directory must be asked to resume.
    again = ditto("distill", "--config", "tiny", "--data", corpus_file, "--steps", "4", "--out", out)
    assert again.returncode == 1 and "pass --resume" in again.stderr


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("bad.jsonl", '{"text": "fine line here."}\n{"text": oops}\n', "bad.jsonl:2: malformed JSON"),
        ("field.jsonl", '{"body": "no text field"}\n', "field.jsonl:1: expected an object with a 'text' field"),
        ("type.jsonl", '{"text": 42}\n', "field 'text' holds int, not text"),
        ("empty.txt", "\n\n  \n", "holds no text"),
        ("binary.txt", b"good line\n\xff\xfe\x00bad", "binary.txt:2: not UTF-8 text"),
    ],
)
def test_data_loading_rejects_malformed_files_clearly(tmp_path, ditto, name, content, message):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(DittoError, match=message):
        read_documents(path)
    result = ditto("distill", "--data", path, "--out", tmp_path / "out")
    assert result.returncode == 1 and message.split(":")[-1].strip() in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--lr", "0"], "--lr must be a positive number"),
        (["--mpc-samples", "-1"], "--mpc-samples must be 0 or more"),
        (["--stage1-fraction", "1.5"], "stage1_fraction must be in [0, 1]"),
        (["--eval-size", "1"], "seq and eval-size at least 2"),
        (["--policy", "fxp16"], "unknown ring policy 'fxp16'"),
        (["--config", "huge"], "unknown BERT config 'huge'"),
        (["--model", "gpt2", "--seq", "2000"], "--seq must be between 1 and 1024"),
        (["--init", "/nonexistent"], "/nonexistent is not a Hugging Face checkpoint"),
        (["--json", "/nonexistent/report.json"], "cannot write --json /nonexistent/report.json"),
        (["--data", "/nonexistent.txt"], "cannot read /nonexistent.txt"),
    ],
)
def test_distill_rejects_bad_arguments_before_building_the_model(tmp_path, ditto, no_model_building, argv, message):
    result = ditto("distill", "--data", os.devnull, "--out", tmp_path / "out", *argv)
    assert result.returncode == 1, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr


def test_distill_refuses_an_out_that_is_a_file_or_holds_a_run(tmp_path, corpus_file, ditto, no_model_building):
    (tmp_path / "file").write_text("")
    result = ditto("distill", "--data", corpus_file, "--out", tmp_path / "file")
    assert result.returncode == 1 and "is a file, not a directory" in result.stderr
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / PROGRESS_FILE).write_text("{}")
    result = ditto("distill", "--data", corpus_file, "--out", tmp_path / "run")
    assert result.returncode == 1 and "pass --resume" in result.stderr


def test_corpus_splits_by_document_and_reads_jsonl(tmp_path):
    path = tmp_path / "docs.jsonl"
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in TEXT))
    corpus = load_corpus(path, eval_fraction=0.34)
    assert corpus.eval == sentences(TEXT[-2]) + sentences(TEXT[-1])
    assert len(corpus.train) == 12 and not set(corpus.train) & set(corpus.eval)
    assert sentences("Mr Smith said no. He left at 4:00pm. Yes.") == ["Mr Smith said no.", "He left at 4:00pm."]
    (tmp_path / "one.txt").write_text(TEXT[0])
    with pytest.raises(DittoError, match="one document"):
        load_corpus(tmp_path / "one.txt")


def test_default_corpus_is_real_english_from_a_package():
    corpus = load_corpus(default_corpus())
    assert corpus.source.endswith("lee_background.cor")
    assert len(corpus.train) > 2000 and len(corpus.eval) > 300
    assert corpus.train[0].startswith("Hundreds of people have been forced to vacate their homes")
