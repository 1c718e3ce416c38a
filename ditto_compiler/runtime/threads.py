"""The three parties as threads of this process, on counting in-memory links: one run of one plan.

Each party has one link per ring and one for the conversion protocols, all made of
`CountingChannel`s (runtime/channels.py): they count each party's bytes and send
actions exactly, and bound every receive, so a failing party stops its peers at
once and a missing message fails after `recv_timeout_s` instead of hanging. A run
is a `Session` (runtime/session.py) used once; generation keeps one for many runs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..plan import Plan
from .cost import Cost
from .session import Session


def run_in_threads(
    plan: Plan, inputs: Sequence[np.ndarray], upcast: str = "ditto", recv_timeout_s: float = 60.0
) -> tuple[list[np.ndarray], Cost]:
    """Execute `plan` on `inputs` (encodings applied) under ABY3, parties as threads; outputs and cost."""
    outputs, cost = Session(plan.rings, plan.spu_options, recv_timeout_s).run(plan, inputs, upcast)
    return outputs, cost  # type: ignore[return-value]  (nothing kept: every output is an array)
