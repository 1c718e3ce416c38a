"""Print a legalized module as the PPHLO text SPU's runtime executes."""

from __future__ import annotations

import io

from spu import version as spu_version
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp, StringAttr
from xdsl.printer import Printer

from ..diagnostics import DittoError


def to_spu_text(module: ModuleOp) -> str:
    """Generic-form text of `module`, stamped with the SPU version, without attributes SPU does not know."""
    module = module.clone()
    for name in list(module.attributes):
        del module.attributes[name]
    # SPU refuses IR stamped for another runtime version, so a mismatch fails loudly.
    module.attributes["pphlo.version"] = StringAttr(spu_version.__version__)
    if module.sym_name is not None:
        module.sym_name = None
    for op in module.walk():
        if op.dialect_name() not in ("pphlo", "func", "builtin"):
            raise DittoError(f"'{op.name}' is not PPHLO; run legalize-to-pphlo before emitting SPU code")
        if isinstance(op, func.FuncOp):
            op.arg_attrs = None
            op.res_attrs = None
            op.sym_visibility = None
    stream = io.StringIO()
    Printer(stream=stream, print_generic_format=True).print_op(module)
    return stream.getvalue()
