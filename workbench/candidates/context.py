"""Request-time context for stage 1: the items of the current session, passed with the request.

``Pipeline.recommend(users, k, context=...)`` takes either the ranker's `Context` (request time,
device) or a mapping with any of:

- ``"session"``: the items (row indices) of each user's current session, oldest first: a list of
  item lists aligned with ``users`` (for one user, a flat list of items is accepted);
- ``"timestamp"``, ``"device"``: the ranker's request time and device (`workbench.ranking.Context`).

`split_context` separates the two; `session_retrieve` is stage 1 with a session: every source
that reads sessions (``reads_session = True``, e.g. SASRec) appends it to the user's history,
the others retrieve as usual, and the session's items are dropped from the fused list like
seen items.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from workbench.candidates.base import check_users
from workbench.candidates.fusion import CandidateGenerator, fuse
from workbench.types import CandidateSet

CONTEXT_KEYS = ("session", "timestamp", "device")


def split_context(context: Any, n_users: int) -> tuple[Any, list[list[int]] | None]:
    """``(ranker context or None, session rows or None)`` from a request's ``context`` (module docstring)."""
    from workbench.ranking.features import Context

    if context is None or isinstance(context, Context):
        return context, None
    if not isinstance(context, Mapping):
        raise ValueError(f"context must be None, a workbench.ranking.Context or a mapping with keys {CONTEXT_KEYS}; "
                         f"got {type(context).__name__}")  # fmt: skip
    unknown = sorted(set(context) - set(CONTEXT_KEYS))
    if unknown:
        raise ValueError(f"unknown context key(s) {unknown}; expected some of {CONTEXT_KEYS}")
    ranking = None
    if context.get("timestamp") is not None:
        ranking = Context(context["timestamp"], context.get("device"))
    elif context.get("device") is not None:
        raise ValueError("context has a device but no timestamp: the ranker needs both or neither")
    return ranking, session_rows(context.get("session"), n_users)


def session_rows(session: Any, n_users: int) -> list[list[int]] | None:
    """The session as one item list per user (None stays None); a flat list is one user's session."""
    if session is None:
        return None
    if isinstance(session, (str, bytes)) or not isinstance(session, (Sequence, np.ndarray)):
        raise ValueError(f"session must be a list of item lists (one per user), got {type(session).__name__}")
    rows = list(session)
    if rows and all(isinstance(x, (int, np.integer)) and not isinstance(x, bool) for x in rows):
        rows = [rows]  # one user's items
    if len(rows) != n_users:
        raise ValueError(f"session has {len(rows)} item lists for {n_users} users: expected one per user")
    for r, items in enumerate(rows):
        if isinstance(items, (str, bytes)) or not isinstance(items, (Sequence, np.ndarray)):
            raise ValueError(f"session[{r}] must be a list of item indices, got {type(items).__name__}")
    return [list(items) for items in rows]


def session_matrix(users: np.ndarray, session: list[list[int]], shape: tuple[int, int]) -> sp.csr_matrix:
    """``shape`` matrix with a 1 at (user, item) for every session item; ValueError naming a bad item."""
    lengths = np.array([len(s) for s in session], dtype=np.int64)
    flat = np.concatenate([np.asarray(s, dtype=np.int64).reshape(-1) for s in session]) if lengths.sum() else np.zeros(0, np.int64)
    bad = flat[(flat < 0) | (flat >= shape[1])]
    if bad.size:
        raise ValueError(f"session: unknown item index(es) {np.unique(bad)[:5].tolist()}; expected 0..{shape[1] - 1}")
    m = sp.csr_matrix((np.ones(len(flat), np.float32), (np.repeat(users, lengths), flat)), shape=shape)
    m.sum_duplicates()
    return m


def session_retrieve(generator: CandidateGenerator, users: np.ndarray, k: int, session: list[list[int]],
                     exclude_seen: bool = True) -> CandidateSet:  # fmt: skip
    """`CandidateGenerator.retrieve` with the request's session (module docstring)."""
    if not hasattr(generator, "seen_"):
        raise RuntimeError("CandidateGenerator is not fitted: call fit(train) before retrieve()")
    users = check_users(users, generator.n_users_)
    session = session_rows(session, len(users))
    in_session = session_matrix(users, session, generator.seen_.shape)
    width = generator.per_source_k or k
    each = {}
    for name, src in generator.sources.items():
        if getattr(src, "reads_session", False):
            each[name] = src.retrieve(users, width, exclude_seen=exclude_seen, session=session)
        else:
            each[name] = src.retrieve(users, width, exclude_seen=exclude_seen)
    blocked = (generator.seen_ + in_session).tocsr() if exclude_seen else in_session
    return fuse(each, k, generator.weights, generator.method, generator.rrf_k, generator.use_quotas, seen=blocked,
                available=generator.available_ if generator.exclude_unavailable else None)  # fmt: skip
