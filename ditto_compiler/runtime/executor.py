"""Run a plan under 3-party ABY3: the one entry point of the runtime.

The transports differ only in where the parties are; all of them run
`runtime/party.execute_steps` on the same plan and return the same `Cost`:

    threads     the parties as threads of this process (runtime/threads.py)
    processes   one process per party on loopback over SPU's brpc links (runtime/processes.py)

Across hosts, `ditto party` and `ditto drive` use runtime/deployment.py.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..diagnostics import DittoError
from ..network import NETWORKS
from ..plan import Plan, check_sequence, check_value
from .cost import Cost
from .party import UPCASTS, check_upcast

MODES = ("threads", "processes")


def execute(
    plan: Plan,
    inputs: Sequence[np.ndarray],
    mode: str = "threads",
    upcast: str = "ditto",
    timeout_s: float = 60.0,
    network: str | None = None,
) -> tuple[list[np.ndarray], Cost]:
    """Outputs and cost of `plan` on `inputs` (the encoded inputs included: see `Plan.check_inputs`).

    `timeout_s` bounds every receive: a party that waits longer for a peer fails, and
    the others stop with it. `network` ("lan" or "wan", processes only) makes every message
    between the parties cross that emulated network (runtime/netem.py).
    """
    if not isinstance(plan, Plan):
        raise DittoError(f"execute needs a Plan, not {type(plan).__name__}")
    if not isinstance(mode, str) or mode not in MODES:
        raise DittoError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    if not isinstance(upcast, str):
        raise DittoError(f"upcast must be one of {', '.join(UPCASTS)}, not {upcast!r}")
    check_upcast(upcast)
    real = isinstance(timeout_s, (int, float, np.integer, np.floating)) and not isinstance(timeout_s, (bool, np.bool_))
    if not real or not 0 < timeout_s <= 86400:
        raise DittoError(f"timeout_s must be a number of seconds in (0, 86400], not {timeout_s!r}")
    if network is not None and (mode != "processes" or network not in NETWORKS):
        raise DittoError(f"network must be one of {', '.join(NETWORKS)}, with mode='processes', not {network!r}")
    check_sequence(inputs)
    if len(inputs) != len(plan.inputs):
        raise DittoError(f"the plan takes {len(plan.inputs)} inputs, got {len(inputs)}")
    # Every input (encoded ones included) fits its variable and its ring before any party starts.
    inputs = [
        check_value(f"input {i}", v, x, plan.rings[v.field_bits]) for i, (v, x) in enumerate(zip(plan.inputs, inputs))
    ]
    if mode == "processes":
        from .processes import run_in_processes

        return run_in_processes(plan, inputs, upcast, timeout_s, network=NETWORKS[network] if network else None)
    from .threads import run_in_threads

    return run_in_threads(plan, inputs, upcast, timeout_s)
