"""What one round of sessions showed and what the users did: the record the engine and the served loop share.

Its own module so that `workbench.loop.served` (which builds a `Shown` from the service's answers) and
`workbench.loop.engine` (which starts the served arms) need not import each other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Shown:
    """One round of sessions: who saw what, and what they did (arrays ``[n]`` and ``[n, k]``)."""

    rows: np.ndarray
    items: np.ndarray  # item rows, -1 padding
    propensities: np.ndarray
    scores: np.ndarray
    request_ids: np.ndarray  # object [n]
    ts: int
    degraded: np.ndarray | None = None  # object [n] (served answers)
    clicks: np.ndarray | None = None  # bool [n, k], from the simulator
    conversions: np.ndarray | None = None
    session_seconds: np.ndarray | None = None  # [n]
