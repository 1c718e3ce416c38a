"""`ditto-opt`: xdsl-opt with ditto-compiler's dialects and passes.

Reads StableHLO as JAX prints it (hex float literals, location aliases and
resource blobs are handled by the importer) and inherits xdsl-opt's flags.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import IO

from xdsl.parser import Parser
from xdsl.utils.exceptions import ArgSpecParseError, DiagnosticException, ParseError
from xdsl.xdsl_opt_main import xDSLOptMain

from ..diagnostics import DittoError
from ..dialects import all_dialects
from ..frontend.importer import prepare_stablehlo_text
from ..pipeline import all_passes


class DittoOptMain(xDSLOptMain):
    def register_all_dialects(self) -> None:
        for name, factory in all_dialects().items():
            self.ctx.register_dialect(name, factory)

    def register_all_passes(self) -> None:
        for name, factory in all_passes().items():
            self.register_pass(name, factory)

    def register_all_frontends(self) -> None:
        def parse_mlir(io: IO[str]):
            return Parser(self.ctx, prepare_stablehlo_text(io.read()), self.get_input_name()).parse_module(
                not self.args.no_implicit_module
            )

        self.available_frontends["mlir"] = parse_mlir


def main(argv: Sequence[str] | None = None) -> int:
    try:
        DittoOptMain(description="ditto-compiler modular optimizer driver", args=argv).run()
    except DittoError as e:
        # Under --verify-diagnostics xdsl-opt prints DiagnosticExceptions itself.
        print(f"ditto-opt: error: {e}", file=sys.stderr)
        return 1
    except ParseError as e:
        print(f"ditto-opt: error: malformed IR:\n{e}", file=sys.stderr)
        return 1
    except DiagnosticException as e:
        print(f"ditto-opt: error: {e}", file=sys.stderr)
        return 1
    except (ValueError, ArgSpecParseError) as e:  # unknown pass names and bad pass options
        print(f"ditto-opt: error: {e}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # the reader (e.g. `head`) went away
        return 0
    except Exception as e:  # a bug in ditto-compiler, not in the input
        print(f"ditto-opt: internal error: {type(e).__name__}: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
