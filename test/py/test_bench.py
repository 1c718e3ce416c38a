"""`ditto bench`: the four runs on one model, every JSON field, and clear errors."""

import json

import numpy as np
import pytest

from ditto_compiler.bench import run_benchmark
from ditto_compiler.diagnostics import DittoError
from ditto_compiler.models.hf import checkpoint_case, gpt2_case

FIELDS = {"name", "send_bytes", "rounds", "seconds", "max_abs_err", "mean_abs_err", "cosine", "bytes_by_ring"}


def test_bench_bert_tiny_writes_table_json_and_plot(tmp_path, ditto):
    pytest.importorskip("matplotlib")
    out, png = tmp_path / "bench.json", tmp_path / "bench.png"
    result = ditto("bench", "--model", "bert", "--config", "tiny", "--seq", "8", "--quiet",
                 "--json", str(out), "--plot", str(png))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "vs puma" in result.stdout and "ratios against puma in this run" in result.stdout
    report = json.loads(out.read_text())
    runs = {r["name"]: r for r in report["runs"]}
    assert list(runs) == ["puma", "spu", "fxp64", "fxp64-mpcformer", "ditto"]
    for r in runs.values():
        assert FIELDS <= set(r), r.keys()
        assert sum(r["bytes_by_op_class"].values()) == r["send_bytes"]
        # Every ratio is against PUMA measured in this same run.
        assert r["vs_puma"]["send_bytes"] == pytest.approx(r["send_bytes"] / runs["puma"]["send_bytes"])
        assert r["vs_puma"]["rounds"] == pytest.approx(r["rounds"] / runs["puma"]["rounds"])
    assert runs["puma"]["vs_puma"]["send_bytes"] == 1.0
    # Exact functions in the 64-bit ring: as accurate as fixed point allows, and cheaper than SPU's compiler
    # (whose masked softmax is also visibly wrong: padding is masked with float32's minimum).
    assert runs["fxp64"]["cosine"] > 0.9999 and runs["fxp64"]["max_abs_err"] < 5e-3
    assert runs["spu"]["max_abs_err"] > 10 * runs["fxp64"]["max_abs_err"]
    assert runs["ditto"]["send_bytes"] < 0.6 * runs["fxp64"]["send_bytes"] < 0.6 * runs["spu"]["send_bytes"]
    assert set(runs["ditto"]["bytes_by_ring"]) == {"32-bit", "64-bit", "conversions"}
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bench_gpt2_reports_next_token_agreement_and_perplexity():
    case = gpt2_case("tiny", 8)
    report = run_benchmark(case, runs=["fxp64"], net="wan")
    (fxp64,) = report["runs"]
    assert fxp64["next_token_agreement"] == 1.0
    assert fxp64["perplexity"] == pytest.approx(report["plaintext_perplexity"], rel=1e-3)
    assert fxp64["wan_seconds_model"] > fxp64["rounds"] * 0.04


def test_bench_runs_a_local_checkpoint(tmp_path, tiny_bert):
    import transformers

    config = transformers.BertConfig(vocab_size=64, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                     intermediate_size=64, max_position_embeddings=16)  # fmt: skip
    transformers.FlaxBertModel(config, seed=1).save_pretrained(tmp_path)
    case = checkpoint_case(tmp_path, 6)
    assert case.family == "bert" and case.ids.shape == (1, 6)
    # With a policy file (as `ditto tune` writes them): a run named after the file, next to the named runs.
    policy = tmp_path / "puma-gelu.json"
    policy.write_text(json.dumps({"version": 2, "base": "fxp64", "gelu": "puma"}))
    fxp64, tuned = run_benchmark(case, runs=["fxp64"], policies=[str(policy)])["runs"]
    assert fxp64["cosine"] > 0.9999
    assert tuned["name"] == "policy:puma-gelu.json" and tuned["cosine"] > 0.999
    assert tuned["bytes_by_op_class"]["comparison/select"] > fxp64["bytes_by_op_class"]["comparison/select"]
    np.testing.assert_array_equal(case.mask, np.ones((1, 6)))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--runs", "fxp64,fast"], "unknown run 'fast'"),
        (["--runs", " , "], "--runs names no run"),
        (["--repeats", "0"], "--repeats must be at least 1"),
        (["--config", "huge"], "unknown BERT config 'huge'"),
        (["--model", "gpt2", "--config", "large"], "unknown GPT-2 config 'large'"),
        (["--seq", "513"], "--seq must be between 1 and 512 for BERT"),
        (["--model", "gpt2", "--seq", "2000"], "--seq must be between 1 and 1024"),
        (["--checkpoint", "/nonexistent"], "/nonexistent is not a Hugging Face checkpoint"),
        (["--json", "/nonexistent/bench.json"], "cannot write --json /nonexistent/bench.json"),
        (["--plot", "/nonexistent/bench.png"], "cannot write --plot /nonexistent/bench.png"),
    ],
)
def test_bench_rejects_bad_arguments_before_building_the_model(argv, message, ditto, no_model_building):
    result = ditto("bench", "--quiet", *argv)
    assert result.returncode == 1, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr


def test_bench_checks_a_checkpoints_config_before_loading_it(tmp_path, ditto, no_model_building):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "t5"}))
    result = ditto("bench", "--checkpoint", tmp_path, "--quiet")
    assert result.returncode == 1 and "model type 't5' is not supported" in result.stderr
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert", "max_position_embeddings": 16}))
    result = ditto("bench", "--checkpoint", tmp_path, "--seq", "32", "--quiet")
    assert result.returncode == 1 and "--seq must be between 1 and 16 for bert" in result.stderr


def test_run_benchmark_checks_its_options_first():
    case = object()  # never looked at: the options fail first
    with pytest.raises(DittoError, match="unknown run 'fast'"):
        run_benchmark(case, runs=["fast"])  # type: ignore[arg-type]
    with pytest.raises(DittoError, match="--repeats must be at least 1"):
        run_benchmark(case, runs=["fxp64"], repeats=0)  # type: ignore[arg-type]
    with pytest.raises(DittoError, match="--net must be lan or wan"):
        run_benchmark(case, net="lte")  # type: ignore[arg-type]
    with pytest.raises(DittoError, match="not the string"):
        run_benchmark(case, runs="fxp64")  # type: ignore[arg-type]


@pytest.mark.parametrize("family", ["bert", "gpt2"])
def test_puma_is_accurate_on_padded_inputs_and_cheaper_than_spu(family):
    """PUMA's softmax drops HF's float32-minimum masks (SPU's default exp turns them into garbage),
    and its row-broadcast denominators and functions cost less than SPU's defaults."""
    from ditto_compiler.models.hf import bert_case

    case = bert_case("tiny", 8) if family == "bert" else gpt2_case("tiny", 8)
    # BERT's last quarter is padding; GPT-2's causal mask is the same float32 minimum.
    assert family == "gpt2" or case.mask.min() == 0
    runs = {r["name"]: r for r in run_benchmark(case, runs=["puma", "puma-onehot", "spu"])["runs"]}
    assert runs["puma"]["cosine"] >= 0.99, runs["puma"]
    assert runs["puma"]["send_bytes"] < runs["spu"]["send_bytes"]
    assert "vs_puma" in runs["spu"]
    # Given one-hot token rows (as ditto-compiler's programs are), PUMA computes the same and skips the
    # secret lookup's loop of rounds.
    assert runs["puma-onehot"]["cosine"] == pytest.approx(runs["puma"]["cosine"], abs=1e-3)
    assert runs["puma-onehot"]["rounds"] < runs["puma"]["rounds"]


def test_puma_substitutes_its_functions_only_while_tracing():
    import jax
    from transformers import modeling_flax_utils

    from ditto_compiler.runtime.puma import puma_functions, puma_gelu, puma_softmax

    softmax, gelu = jax.nn.softmax, modeling_flax_utils.ACT2FN["gelu"]
    with puma_functions():
        assert jax.nn.softmax is puma_softmax and modeling_flax_utils.ACT2FN["gelu_new"] is puma_gelu
    assert jax.nn.softmax is softmax and modeling_flax_utils.ACT2FN["gelu"] is gelu
    x = np.linspace(-6, 6, 241)
    exact = np.asarray(jax.nn.gelu(x, approximate=False))
    assert np.abs(np.asarray(puma_gelu(x)) - exact).max() < 0.02  # PUMA's published error bound
    scores = np.array([[0.0, 1.0, -np.finfo(np.float32).max / 2]], np.float32)
    np.testing.assert_allclose(puma_softmax(scores), [[0.2689414, 0.7310586, 0.0]], rtol=1e-5)


def test_puma_needs_no_transformers_for_a_plain_jax_function(monkeypatch):
    """`ditto demo` runs PUMA on a plain JAX block after `pip install -e .` (no models extra)."""
    import sys

    import jax

    from ditto_compiler.runtime.puma import puma_functions, puma_softmax

    monkeypatch.setitem(sys.modules, "transformers", None)  # importing it now raises ImportError
    softmax = jax.nn.softmax
    with puma_functions():
        assert jax.nn.softmax is puma_softmax
    assert jax.nn.softmax is softmax


def test_bench_measures_runs_across_the_emulated_network():
    from ditto_compiler.models.hf import bert_case

    report = run_benchmark(bert_case("tiny", 8), runs=["puma"], mode="processes", net="lan", emulate=True)
    assert report["emulated"]
    for run in report["runs"]:
        assert run["network"] == {"emulated": True, "name": "lan", "rtt_ms": 0.4, "mbps": 5000.0}
        assert run["lan_seconds_emulated"] > 0  # its effect on time is tested in test_netem.py
        assert "lan_seconds_emulated" in run["vs_puma"] and "lan_seconds_model" in run["vs_puma"]


def test_bench_emulation_needs_processes_and_a_network(ditto, no_model_building):
    for argv in (["--emulate", "--net", "lan"], ["--emulate", "--mode", "processes"]):
        result = ditto("bench", "--quiet", *argv)
        assert result.returncode == 1 and "--emulate needs --mode processes and --net lan|wan" in result.stderr
