import os

# Tests never reach a model hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(scope="session")
def tiny_bert():
    """A 2-layer Flax BERT (random init, hidden 32): (forward, params, token ids)."""
    transformers = pytest.importorskip("transformers")
    config = transformers.BertConfig(
        vocab_size=64, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=16,
    )  # fmt: skip
    model = transformers.FlaxBertModel(config, seed=0)
    ids = np.array([[2, 17, 5, 33, 9, 60, 1, 4]], dtype=np.int32)

    def bert(params, ids):
        return model(ids, params=params).last_hidden_state

    bert.model = model  # for tests that need more outputs
    return bert, model.params, ids


@pytest.fixture(scope="session")
def tiny_gpt2():
    """A 2-layer Flax GPT-2 LM (random init, hidden 32): (forward, params, token ids)."""
    transformers = pytest.importorskip("transformers")
    config = transformers.GPT2Config(vocab_size=64, n_positions=16, n_embd=32, n_layer=2, n_head=2)
    model = transformers.FlaxGPT2LMHeadModel(config, seed=0)
    ids = np.array([[2, 17, 5, 33, 9, 60, 1, 4]], dtype=np.int32)

    def gpt2(params, ids):
        return model(ids, params=params).logits

    return gpt2, model.params, ids


@pytest.fixture(scope="module")
def jax_compilation_cache(tmp_path_factory):
    """JAX's persistent compilation cache, in a fresh directory, for one test module: a program jitted
    again with identical HLO (a fresh Distiller, the same student jitted by another test) loads the
    executable XLA compiled the first time instead of compiling it again. The code that runs is the
    same; only XLA's compile time (seconds for a student with stochastic truncation) is saved."""
    import jax
    from jax._src import compilation_cache

    before = jax.config.jax_compilation_cache_dir
    jax.config.update("jax_compilation_cache_dir", str(tmp_path_factory.mktemp("jax-cache")))
    compilation_cache.reset_cache()
    yield
    jax.config.update("jax_compilation_cache_dir", before)
    compilation_cache.reset_cache()


class CliResult:
    def __init__(self, returncode: int, stdout: str, stderr: str):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def _in_process(main, capsys):
    def run(*argv):
        capsys.readouterr()  # only this command's output
        try:
            code = main([str(a) for a in argv])
        except SystemExit as e:  # argparse's usage errors
            code = e.code if isinstance(e.code, int) else 1
        out, err = capsys.readouterr()
        return CliResult(code, out, err)

    return run


@pytest.fixture
def ditto(capsys):
    """`ditto ARGS...` run in this process (no interpreter start-up): .returncode, .stdout, .stderr."""
    from ditto_compiler.cli.ditto import main

    return _in_process(main, capsys)


@pytest.fixture
def ditto_opt(capsys):
    """`ditto-opt ARGS...` run in this process: .returncode, .stdout, .stderr."""
    from ditto_compiler.cli.ditto_opt import main

    return _in_process(main, capsys)


@pytest.fixture
def no_model_building(monkeypatch):
    """Building any Hugging Face model case fails the test (as an internal error): arguments must be checked first."""
    import ditto_compiler.models.hf
    import ditto_compiler.models.llama

    def refuse(*args, **kwargs):
        raise AssertionError("a model was built before the arguments were checked")

    for name in ("bert_case", "gpt2_case", "checkpoint_case"):
        monkeypatch.setattr(ditto_compiler.models.hf, name, refuse)
    monkeypatch.setattr(ditto_compiler.models.llama, "llama_case", refuse)
