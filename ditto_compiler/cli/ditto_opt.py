"""`ditto-opt`: xdsl-opt with ditto-compiler's dialects and passes.

Reads StableHLO as JAX prints it (hex float literals, location aliases and
resource blobs are handled by the importer) and inherits xdsl-opt's flags.
Input is bounded before it is parsed (`--max-elements`, `--max-constant-elements`,
bracket nesting; docs/robustness.md), so bad input is a one-line error, never a
traceback or a hang.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from io import StringIO
from typing import IO

from xdsl.utils.exceptions import ArgSpecParseError, DiagnosticException, ParseError
from xdsl.xdsl_opt_main import xDSLOptMain

from ..diagnostics import DittoError
from ..dialects import all_dialects
from ..frontend.importer import InputLimits, parse_text
from ..passes import all_passes


def _project_version() -> str:
    try:
        return version("ditto-compiler")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown"


def _element_count(value: str) -> int:
    if not value.isdecimal() or int(value) == 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, not {value!r}")
    return int(value)


class DittoOptMain(xDSLOptMain):
    def __init__(self, description: str = "ditto-compiler modular optimizer driver", args: Sequence[str] | None = None):
        self._chunk_first_line = 1
        super().__init__(description=description, args=args)

    def register_all_dialects(self) -> None:
        for name, factory in all_dialects().items():
            self.ctx.register_dialect(name, factory)

    def register_all_passes(self) -> None:
        for name, factory in all_passes().items():
            self.register_pass(name, factory)

    def register_all_arguments(self, arg_parser: argparse.ArgumentParser) -> None:
        super().register_all_arguments(arg_parser)
        # Replaces xdsl-opt's -v/--version, which names xDSL's version.
        arg_parser.conflict_handler = arg_parser._optionals.conflict_handler = "resolve"
        arg_parser.add_argument(
            "-v", "--version", action="version", version=f"ditto-opt (ditto-compiler) {_project_version()}"
        )
        limits = InputLimits.from_environment()
        arg_parser.add_argument(
            "--max-elements",
            type=_element_count,
            default=limits.max_elements,
            metavar="N",
            help="refuse input declaring a tensor, vector or memref of more than N elements "
            f"(default: DITTO_MAX_ELEMENTS or {limits.max_elements})",
        )
        arg_parser.add_argument(
            "--max-constant-elements",
            type=_element_count,
            default=limits.max_constant_elements,
            metavar="N",
            help="refuse input with a dense literal of more than N elements, splats included "
            f"(default: DITTO_MAX_CONSTANT_ELEMENTS or {limits.max_constant_elements})",
        )

    def register_all_frontends(self) -> None:
        def parse_mlir(io: IO[str]):
            return parse_text(
                io.read(),
                self.get_input_name(),
                limits=InputLimits(self.args.max_elements, self.args.max_constant_elements),
                ctx=self.ctx,
                first_line=self._chunk_first_line,
                allow_implicit_module=not self.args.no_implicit_module,
            )

        self.available_frontends["mlir"] = parse_mlir

    def get_input_stream(self) -> tuple[IO[str], str]:
        # Read it all here, so that an unreadable file or non-UTF-8 bytes are one clear error.
        path = self.args.input_file
        try:
            if path is None:
                stdin = getattr(sys.stdin, "buffer", None)
                text = stdin.read().decode() if stdin is not None else sys.stdin.read()
            else:
                with open(path, "rb") as f:
                    text = f.read().decode()
        except OSError as e:
            raise DittoError(f"cannot read {path or 'stdin'}: {e.strerror or e}") from None
        except UnicodeDecodeError as e:
            raise DittoError(
                f"{path or 'stdin'} is not UTF-8 text (byte {e.start} is {e.object[e.start]:#04x})"
            ) from None
        # As text-mode reading would: universal newlines.
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        file_extension = "mlir" if path is None else os.path.splitext(path)[1].removeprefix(".")
        return StringIO(text), file_extension

    def prepare_input(self) -> tuple[list[tuple[IO[str], int]], str]:
        try:
            return super().prepare_input()
        except ValueError as e:  # an extension no frontend reads
            raise DittoError(f"{e}; use -f mlir to read it as MLIR") from None

    def prepare_output(self) -> IO[str]:
        try:
            return super().prepare_output()
        except OSError as e:
            raise DittoError(f"cannot write {self.args.output_file}: {e.strerror or e}") from None

    def parse_chunk(self, chunk: IO[str], file_extension: str, start_offset: int = 0):
        self._chunk_first_line = 1 + start_offset
        return super().parse_chunk(chunk, file_extension, start_offset)


def _error(message: str) -> int:
    print(f"ditto-opt: error: {message}", file=sys.stderr)
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    try:
        try:
            opt = DittoOptMain(args=argv)
        except (ValueError, ArgSpecParseError) as e:  # unknown pass names and bad pass options
            return _error(str(e))
        opt.run()
    except DittoError as e:
        # Under --verify-diagnostics xdsl-opt prints DiagnosticExceptions itself.
        return _error(str(e))
    except ParseError as e:
        return _error(f"malformed IR:\n{e}")
    except DiagnosticException as e:
        return _error(str(e))
    except BrokenPipeError:  # the reader (e.g. `head`) went away
        return 0
    # Last resorts, for limits the input checks do not foresee: still one line, not a traceback.
    except RecursionError:
        return _error("the input nests too deeply for ditto-opt (Python's recursion limit was reached)")
    except MemoryError:
        return _error("out of memory; lower --max-elements or --max-constant-elements to refuse such input early")
    except Exception as e:  # a bug in ditto-compiler, not in the input
        print(f"ditto-opt: internal error: {type(e).__name__}: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
