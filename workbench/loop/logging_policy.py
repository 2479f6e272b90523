"""The loop's logging policy for off-policy evaluation: whole random slates, every slot with its logged propensity.

The default exploration (``explore = "slots"``, `workbench.rerank.exploration`) randomises a few fixed slots
and shows the ranker's items, with propensity 1, everywhere else: its log supports only targets that agree
with the ranker outside those slots (`workbench.experiment.real_logs.unsupported_share` counts the rest).
``explore = "slates"``: in a share ε of the sessions (drawn per session), the slate is a uniformly random
ordering of every item the session may be shown (available, not seen); the other sessions get the ranker's
slate without exploration. Every slot's logged propensity is then the exact marginal probability of the shown
item at that slot,

    P(item a at slot p) = (1 − ε) · [a is the ranker's item at p] + ε / n,

n the number of items the session could be shown (a uniformly random ordering puts each of them at each
slot with probability 1/n). Every (item, slot) cell of the catalogue has probability at least ε / n, so the
log supports any target over it (`workbench ope --log EVENTS.sqlite`), at the cost of ε of the sessions.
"""

from __future__ import annotations

import numpy as np

EXPLORE_MODES = ("slots", "slates")


def random_slates(items: np.ndarray, eligible: np.ndarray, epsilon: float,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """``(items, propensities)`` ``[U, k]``: the ranker's slates ``items`` (item rows, -1 padding), each replaced
    with probability ``epsilon`` by a uniformly random ordering of its session's ``eligible`` items (bool
    ``[U, n_items]``); propensities as in the module docstring (0 for padding)."""
    n_users, k = items.shape
    n = eligible.sum(axis=1)
    chosen = np.flatnonzero(rng.random(n_users) < epsilon)
    out = items.copy()
    if len(chosen):
        keys = rng.random((len(chosen), eligible.shape[1]))
        keys[~eligible[chosen]] = np.inf
        width = min(k, eligible.shape[1])
        top = np.argpartition(keys, width - 1, axis=1)[:, :width]
        order = np.take_along_axis(top, np.argsort(np.take_along_axis(keys, top, axis=1), axis=1), axis=1)
        drawn = np.where(np.isfinite(np.take_along_axis(keys, order, axis=1)), order, -1)
        out[chosen] = -1
        out[chosen, :width] = drawn
    shown = out >= 0
    in_pool = np.take_along_axis(eligible, np.where(shown, out, 0), axis=1) & shown
    propensity = (1.0 - epsilon) * ((out == items) & shown) + epsilon * in_pool / np.maximum(n, 1)[:, None]
    return out, np.where(shown, propensity, 0.0)
