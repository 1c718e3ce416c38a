"""Mutation fuzzing of `ditto-opt`: no input may end in an internal error or a hang.

python tools/fuzz_ditto_opt.py [--files 2000] [--seed 0] [--timeout 10] [--out fuzz-out]

Seeds are the lit inputs (test/lit/**/*.mlir, split at `// -----`) and a few JAX exports.
File i is seed-and-mutations drawn from Random(f"{seed}:{i}"), so any file can be
regenerated alone (`--only i`). Every file runs under each pipeline in `PIPELINES`
inside a worker process that calls `ditto_opt.main` (no interpreter start-up per
run); a run that exceeds the timeout is a hang: the worker is killed and replaced.
Reproducers of internal errors, hangs and worker crashes go to `--out`.
Not part of CI (docs/robustness.md has the figures).
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

PIPELINES: tuple[tuple[str, ...], ...] = (
    (),
    ("-p", "legalize-to-pphlo"),
    ("-p", "ditto-pipeline"),
    ("-p", 'ditto-pipeline{policy="ditto" gelu="quad" softmax="ditto"}'),
    ("-p", "annotate-rings{policy=ditto},fuse-scales,eliminate-redundant-casts"),
    ("-p", "fuse-scales,eliminate-redundant-casts"),
    (
        "-p",
        'inline-private-functions,one-hot-inputs,approximate-nonlinear{gelu="puma" softmax="2quad"},row-reciprocals',
    ),
)

# Fragments that tend to reach error paths: brackets, quotes, escapes, extreme numbers, other types.
TOKENS = (
    "(",
    ")",
    "{",
    "}",
    "[",
    "]",
    "<",
    ">",
    '"',
    "\\",
    "\\\\",
    ",",
    ":",
    "->",
    "%0",
    "%arg0",
    "^bb0",
    "@f",
    "#loc1",
    "0",
    "-1",
    "1",
    "2",
    "7",
    "65",
    "4294967296",
    "9223372036854775808",
    "99999999999999999999",
    "1.0e308",
    "nan",
    "0xFFFFFFFFFF",
    "0x7FC00000",
    "?",
    "*",
    "x",
    "f16",
    "bf16",
    "f64",
    "i1",
    "i8",
    "i64",
    "ui32",
    "index",
    "complex<f32>",
    "tensor<f32>",
    "tensor<?xf32>",
    "tensor<0x3xf32>",
    "tensor<50000000xf32>",
    "tuple<f32>",
    "!fxp.fixed<32, 16>",
    "!fxp.fixed<64, 18>",
    "!pphlo.secret<tensor<2xf32>>",
    "dense<1.0>",
    'dense<"0x00">',
    "dense<[1, 2]>",
    "array<i64: 0, 1>",
    "array<i64: 5>",
    "loc(",
    "loc(unknown)",
    "// -----\n",
    "\n",
    "//",
    "unit",
    '"stablehlo.add"',
    '"stablehlo.dot_general"',
    '"stablehlo.reduce"',
    '"chlo.erf"',
    '"pphlo.dot_general"',
    '"pphlo.convert"',
    '"fxp.cast"',
    '"func.return"',
    '"func.call"',
    "{-#",
    "#-}",
    "dense_resource<blob>",
)
INTERESTING_NUMBERS = ("0", "1", "-1", "2", "3", "64", "65", "255", "-2147483648", "2147483648", "4294967295",
                       "18446744073709551616", "50000000", "123456789012345678901234567890")  # fmt: skip
_NUMBER = re.compile(r"-?\d+")
_WORD = re.compile(r"[A-Za-z_][\w.$]*|\"[\w.]+\"|%\w+|![\w.]+")


# ---------------------------------------------------------------------------------------------------------------
# Seeds


def lit_seeds() -> list[tuple[str, str]]:
    seeds = []
    for path in sorted((REPO / "test" / "lit").rglob("*.mlir")):
        if "Output" in path.parts:
            continue
        name = str(path.relative_to(REPO))
        for i, chunk in enumerate(path.read_text().split("// -----")):
            if chunk.strip():
                seeds.append((f"{name}#{i}", chunk))
    return seeds


def jax_seeds() -> list[tuple[str, str]]:
    import jax
    import jax.numpy as jnp
    import numpy as np

    from ditto_compiler.frontend.jax_export import export_stablehlo

    def mlp(w, b, x):
        return jax.nn.gelu(x @ w + b, approximate=False)

    def attention(q, k, v):
        return jax.nn.softmax(q @ k.T / 4.0, axis=-1) @ v

    def layer_norm(x):
        mean = jnp.mean(x, axis=-1, keepdims=True)
        return (x - mean) * jax.lax.rsqrt(jnp.var(x, axis=-1, keepdims=True) + 1e-5)

    def lookup(table, ids):
        return jnp.take(table, ids, axis=0).sum(axis=0)

    def loop(x):
        return jax.lax.fori_loop(0, 3, lambda i, y: jnp.tanh(y) * 2.0, x)

    def mixed(x, y):
        return jnp.where(x > y, jnp.exp(x), jnp.maximum(x, -jnp.inf)), jnp.max(x, axis=0)

    f32 = np.float32
    cases = [
        ("mlp", mlp, (np.ones((4, 3), f32), np.ones(3, f32), np.ones((2, 4), f32))),
        ("attention", attention, (np.ones((2, 4), f32), np.ones((2, 4), f32), np.ones((2, 4), f32))),
        ("layer-norm", layer_norm, (np.ones((2, 8), f32),)),
        ("lookup", lookup, (np.ones((10, 4), f32), np.zeros(3, np.int32))),
        ("loop", loop, (np.ones(3, f32),)),
        ("mixed", mixed, (np.ones((2, 3), f32), np.zeros((2, 3), f32))),
    ]
    return [(f"jax:{name}", export_stablehlo(fn, args)[0]) for name, fn, args in cases]


# ---------------------------------------------------------------------------------------------------------------
# Mutations: each takes (rng, text, seeds) and returns new text.


def _span(rng: random.Random, text: str, longest: int = 40) -> tuple[int, int]:
    start = rng.randrange(len(text) + 1)
    return start, min(len(text), start + rng.randint(1, longest))


def _line_bounds(rng: random.Random, text: str) -> tuple[int, int]:
    lines = text.splitlines(keepends=True)
    i = rng.randrange(len(lines))
    start = sum(len(line) for line in lines[:i])
    return start, start + len(lines[i])


def delete_span(rng, text, seeds):
    start, end = _span(rng, text) if rng.random() < 0.6 else _line_bounds(rng, text)
    return text[:start] + text[end:]


def duplicate_span(rng, text, seeds):
    start, end = _span(rng, text, 200) if rng.random() < 0.5 else _line_bounds(rng, text)
    where = rng.randrange(len(text) + 1)
    return text[:where] + text[start:end] * rng.choice((1, 1, 2, 8)) + text[where:]


def insert_token(rng, text, seeds):
    where = rng.randrange(len(text) + 1)
    return text[:where] + rng.choice(TOKENS) * rng.choice((1, 1, 1, 3, 70)) + text[where:]


def replace_number(rng, text, seeds):
    numbers = list(_NUMBER.finditer(text))
    if not numbers:
        return insert_token(rng, text, seeds)
    m = rng.choice(numbers)
    # Small numbers reach index checks (dimensions, permutations); the rest reach size and range checks.
    number = str(rng.randint(-2, 7)) if rng.random() < 0.5 else rng.choice(INTERESTING_NUMBERS)
    return text[: m.start()] + number + text[m.end() :]


def replace_word(rng, text, seeds):
    words = list(_WORD.finditer(text))
    if not words:
        return insert_token(rng, text, seeds)
    m = rng.choice(words)
    other = rng.choice(words).group(0) if rng.random() < 0.6 else rng.choice(TOKENS)
    return text[: m.start()] + other + text[m.end() :]


def swap_lines(rng, text, seeds):
    lines = text.splitlines(keepends=True)
    if len(lines) < 2:
        return delete_span(rng, text, seeds)
    i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
    lines[i], lines[j] = lines[j], lines[i]
    return "".join(lines)


def splice(rng, text, seeds):
    donor = rng.choice(seeds)[1]
    start, end = _line_bounds(rng, donor)
    where = rng.randrange(len(text) + 1)
    return text[:where] + donor[start:end] + text[where:]


def flip_char(rng, text, seeds):
    if not text:
        return insert_token(rng, text, seeds)
    i = rng.randrange(len(text))
    return text[:i] + rng.choice('()[]{}<>"\\:,%@^#!x?-.0123456789 \n\x00é') + text[i + 1 :]


def truncate(rng, text, seeds):
    return text[: rng.randrange(len(text) + 1)]


def nest(rng, text, seeds):
    """Deep nesting: many openers, with or without their closers."""
    opener, closer = rng.choice(
        (("(", ")"), ("[", "]"), ("{", "}"), ("<", ">"), ('"builtin.module"() ({', "}) : () -> ()"))
    )
    depth = rng.choice((10, 60, 70, 200, 3000))
    where = rng.randrange(len(text) + 1)
    inner = opener * depth + (closer * depth if rng.random() < 0.7 else "")
    return text[:where] + inner + text[where:]


def unterminate(rng, text, seeds):
    """Drop a closing quote, or open a long string, to reach the lexer's string handling."""
    quotes = [i for i, c in enumerate(text) if c == '"']
    if quotes and rng.random() < 0.5:
        i = rng.choice(quotes)
        return text[:i] + text[i + 1 :]
    where = rng.randrange(len(text) + 1)
    return text[:where] + '"' + rng.choice(("a", "\\n", "ab\\", "\\41")) * rng.randint(10, 60) + "\n" + text[where:]


_OP_NAME = re.compile(r'"[a-z]+\.[a-z_]+"')
_TYPE = re.compile(r"\b(?:[fi](?:16|32|64)|bf16|i1|i8|ui8|ui32|index)\b|!fxp\.fixed<\d+, *\d+>")
_VALUE = re.compile(r"%[\w.]+(?:#\d+)?")
TYPES = ("f16", "bf16", "f32", "f64", "i1", "i8", "i32", "i64", "ui32", "index", "!fxp.fixed<32, 8>",
         "!fxp.fixed<64, 18>", "!fxp.fixed<64, 40>", "!fxp.int<32>", "complex<f32>")  # fmt: skip


def _replace_same_kind(rng, text, pattern, choices):
    matches = list(pattern.finditer(text))
    if not matches:
        return replace_number(rng, text, [])
    m = rng.choice(matches)
    return text[: m.start()] + rng.choice(choices) + text[m.end() :]


def replace_op_name(rng, text, seeds):
    names = sorted({m.group(0) for _, seed in seeds for m in _OP_NAME.finditer(seed)})
    return _replace_same_kind(rng, text, _OP_NAME, names)


def replace_type(rng, text, seeds):
    return _replace_same_kind(rng, text, _TYPE, TYPES)


def replace_value(rng, text, seeds):
    values = sorted({m.group(0) for m in _VALUE.finditer(text)}) or ["%0"]
    return _replace_same_kind(rng, text, _VALUE, values)


def rename_everywhere(rng, text, seeds):
    """One dimension or element type changed everywhere: the IR often stays valid, and passes see new shapes."""
    found = sorted({m.group(0) for m in re.finditer(r"(?<=[<x])\d+(?=x)|\b[fi](?:16|32|64)\b", text)})
    if not found:
        return replace_type(rng, text, seeds)
    old = rng.choice(found)
    new = str(rng.choice((0, 1, 2, 3, 5, 17, 64, 4096))) if old[0].isdigit() else rng.choice(TYPES)
    pattern = rf"(?<=[<x]){old}(?=x)" if old[0].isdigit() else rf"\b{old}\b"
    return re.sub(pattern, new, text)


# Mostly mutations that keep the text parseable, so that verifiers and passes see it.
MUTATIONS = (
    replace_number, replace_number, replace_number, replace_number, replace_type, replace_type, replace_type,
    replace_op_name, replace_op_name, replace_op_name, replace_value, replace_value, replace_word,
    rename_everywhere, rename_everywhere, rename_everywhere,
    swap_lines, duplicate_span, delete_span, insert_token, splice, flip_char, truncate, nest, unterminate,
)  # fmt: skip


def make_file(seed: int, index: int, seeds: list[tuple[str, str]]) -> tuple[str, str, list[str]]:
    rng = random.Random(f"{seed}:{index}")
    origin, text = rng.choice(seeds)
    applied = []
    for _ in range(rng.choice((1, 1, 1, 2, 2, 3))):
        mutation = rng.choice(MUTATIONS)
        text = mutation(rng, text, seeds) if text else insert_token(rng, text, seeds)
        applied.append(mutation.__name__)
    return origin, text, applied


# ---------------------------------------------------------------------------------------------------------------
# Running


def _worker(conn, memory_limit: int) -> None:
    import contextlib
    import ctypes
    import io
    import resource
    import signal

    if memory_limit:
        resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
    # A killed fuzzer must not leave a worker stuck in a hang (which may hold the GIL): on
    # Linux the kernel kills the worker with its parent (PR_SET_PDEATHSIG).
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)
    from ditto_compiler.cli.ditto_opt import main

    while True:
        try:
            argv = conn.recv()
        except EOFError:
            return
        stdout, stderr = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            try:
                rc = main(argv)
            except SystemExit as e:  # argparse
                rc = e.code if isinstance(e.code, int) else 1
            except BaseException as e:  # noqa: BLE001 - escaped main(): always a bug
                rc = 3
                print(f"escaped main: {type(e).__name__}: {e}", file=stderr)
        text = stderr.getvalue()
        conn.send((rc, text if len(text) < 8000 else text[:4000] + "\n[...]\n" + text[-4000:]))


class Worker:
    def __init__(self, memory_limit: int):
        self.memory_limit = memory_limit
        self._start()

    def _start(self) -> None:
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_worker, args=(child, self.memory_limit), daemon=True)
        self.process.start()
        child.close()

    def run(self, argv: list[str], timeout: float) -> tuple[str, int | None, str]:
        """('done', rc, stderr), ('hang', None, '') or ('crash', exitcode, '')."""
        self.conn.send(argv)
        if self.conn.poll(timeout):
            try:
                rc, stderr = self.conn.recv()
                return "done", rc, stderr
            except EOFError:
                pass
        else:
            self.process.kill()
            self.process.join()
            self._start()
            return "hang", None, ""
        self.process.join()
        code = self.process.exitcode
        self._start()
        return "crash", code, ""

    def close(self) -> None:
        self.conn.close()
        self.process.join(5)
        if self.process.is_alive():
            self.process.kill()


RESOURCE_MESSAGES = ("nests too deeply for ditto-opt", "out of memory")


@dataclass
class Outcome:
    kind: str  # ok | user-error | resource | internal | hang | crash
    detail: str


def classify(status: str, rc: int | None, stderr: str) -> Outcome:
    if status != "done":
        return Outcome(status, f"exit code {rc}" if status == "crash" else "")
    last = stderr.strip().splitlines()[-1] if stderr.strip() else ""
    if rc == 0:
        return Outcome("ok", "")
    if rc == 1 and "Traceback (most recent call last)" not in stderr and stderr.startswith("ditto-opt: error:"):
        if any(m in stderr for m in RESOURCE_MESSAGES):
            return Outcome("resource", last)
        return Outcome("user-error", last)
    return Outcome("internal", last or f"exit code {rc}")


def signature(detail: str) -> str:
    """An error message with its numbers and names blurred, to group reproducers."""
    return re.sub(r"\d+", "N", re.sub(r"'[^']*'|\"[^\"]*\"|%\w+", "_", detail))[:160]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000, help="mutated files (default 2000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per run before it counts as a hang")
    parser.add_argument("--out", type=Path, default=Path("fuzz-out"), help="reproducers and the scratch input")
    parser.add_argument("--memory-gb", type=float, default=6.0, help="address-space limit of the worker")
    parser.add_argument("--only", type=int, nargs="*", help="run just these file indices")
    parser.add_argument("--no-jax", action="store_true", help="lit seeds only (no JAX exports)")
    options = parser.parse_args(argv)

    started = time.perf_counter()
    seeds = lit_seeds() + ([] if options.no_jax else jax_seeds())
    options.out.mkdir(parents=True, exist_ok=True)
    scratch = options.out / "input.mlir"
    worker = Worker(int(options.memory_gb * 2**30))
    counts: Counter[str] = Counter()
    groups: dict[tuple[str, str], list[str]] = {}
    indices = options.only if options.only is not None else range(options.files)
    print(f"{len(seeds)} seeds, {len(indices)} files x {len(PIPELINES)} pipelines, seed {options.seed}", flush=True)
    try:
        for n, index in enumerate(indices, 1):
            origin, text, applied = make_file(options.seed, index, seeds)
            scratch.write_text(text, encoding="utf-8", errors="surrogatepass")
            for pipeline in PIPELINES:
                argv = [str(scratch), "--split-input-file", *pipeline]
                status, rc, stderr = worker.run(argv, options.timeout)
                outcome = classify(status, rc, stderr)
                counts[outcome.kind] += 1
                if outcome.kind in ("internal", "hang", "crash", "resource"):
                    key = (outcome.kind, signature(outcome.detail))
                    name = f"{outcome.kind}-{index}-{len(groups.get(key, []))}"
                    groups.setdefault(key, []).append(name)
                    if len(groups[key]) <= 3:  # a few reproducers per distinct failure
                        (options.out / f"{name}.mlir").write_text(text, encoding="utf-8", errors="surrogatepass")
                        (options.out / f"{name}.txt").write_text(
                            f"file {index} from {origin}, mutations {applied}\n"
                            f"ditto-opt {name}.mlir {' '.join(repr(a) for a in argv[1:])}\n\n{stderr}"
                        )
            if n % 100 == 0:
                print(f"  {n} files, {dict(counts)}, {time.perf_counter() - started:.0f} s", flush=True)
    finally:
        worker.close()
        scratch.unlink(missing_ok=True)

    runs = sum(counts.values())
    elapsed = time.perf_counter() - started
    print(f"files: {len(indices)}  runs: {runs}  pipelines: {len(PIPELINES)}  seed: {options.seed}")
    for kind in ("ok", "user-error", "resource", "internal", "hang", "crash"):
        print(f"  {kind:<11} {counts[kind]}")
    print(f"wall time: {elapsed:.0f} s")
    for (kind, sig), names in sorted(groups.items(), key=lambda item: -len(item[1])):
        print(f"  {len(names):>4} x {kind}: {sig}   e.g. {options.out / names[0]}.mlir")
    return 1 if counts["internal"] or counts["hang"] or counts["crash"] else 0


if __name__ == "__main__":
    sys.exit(main())
