"""What notebook 02 shows of stage 1: each source's recall as it returns more, how much sources overlap,
and which source wins the top slots of a fused list."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from workbench.metrics import accuracy_metrics
from workbench.types import CandidateSet


def recall_curves(lists: Mapping[str, CandidateSet], relevance: sp.csr_matrix, ns: Sequence[int]) -> pd.DataFrame:
    """Mean recall@N over users with test items, for each named CandidateSet and each N in ``ns``.

    relevance: test relevance with one row per user id (rows ``cs.users`` are used).
    Returns columns ``source``, ``n``, ``recall`` (0–1), ``users`` (users with test items).
    """
    rows = []
    for name, cs in lists.items():
        ks = tuple(int(n) for n in ns if n <= cs.n)
        if not ks:
            raise ValueError(f"{name!r} has {cs.n} candidates per user, fewer than every N in {list(ns)}")
        rel = relevance[cs.users]
        has = np.diff(rel.indptr) > 0
        values = accuracy_metrics(cs.items[has], rel[has], ks=ks)
        rows += [{"source": name, "n": k, "recall": float(values[("recall", k)].mean()), "users": int(has.sum())}
                 for k in ks]  # fmt: skip
    return pd.DataFrame(rows)


def _indicator(cs: CandidateSet, n: int, n_items: int) -> sp.csr_matrix:
    items = cs.items[:, :n]
    real = items >= 0
    rows = np.broadcast_to(np.arange(cs.n_users)[:, None], items.shape)[real]
    return sp.csr_matrix((np.ones(rows.size), (rows, items[real])), shape=(cs.n_users, n_items))


def source_overlap(lists: Mapping[str, CandidateSet], n: int, n_items: int) -> pd.DataFrame:
    """Mean over users of the Jaccard overlap |A ∩ B| / |A ∪ B| of two sources' top-``n`` lists, every pair.

    Users where both lists are empty count 0. Returns columns ``a``, ``b``, ``overlap`` (0–1).
    """
    names = list(lists)
    users = next(iter(lists.values())).users
    for name, cs in lists.items():
        if not np.array_equal(cs.users, users):
            raise ValueError(f"source {name!r} has other users than {names[0]!r}: overlap needs the same users")
    ind = {s: _indicator(cs, n, n_items) for s, cs in lists.items()}
    sizes = {s: np.asarray(m.sum(axis=1)).ravel() for s, m in ind.items()}
    rows = []
    for a in names:
        for b in names:
            inter = np.asarray(ind[a].multiply(ind[b]).sum(axis=1)).ravel()
            union = sizes[a] + sizes[b] - inter
            jac = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
            rows.append({"a": a, "b": b, "overlap": float(jac.mean())})
    return pd.DataFrame(rows)


def slot_winners(fused: CandidateSet, weights: Mapping[str, float], method: str, top: int,
                 rrf_k: float = 60.0) -> pd.DataFrame:  # fmt: skip
    """Which source put each of the fused top-``top`` items there: the source with the largest term of
    the fused score (``max_score``: the largest raw score; ``rrf``: the largest w_s / (rrf_k + rank_s + 1)).

    Returns columns ``source``, ``share`` (0–1 of the real top-``top`` slots it won).
    """
    if fused.source_scores is None or fused.source_ranks is None:
        raise ValueError("fused has no per-source scores and ranks: pass the output of workbench.candidates.fusion.fuse")
    cells = slice(0, top)
    ranks = fused.source_ranks[:, cells].astype(np.float64)
    if method == "max_score":
        term = np.where(ranks >= 0, np.nan_to_num(fused.source_scores[:, cells], nan=-np.inf), -np.inf)
    elif method == "rrf":
        w = np.array([weights[s] for s in fused.source_names], dtype=np.float64)
        term = np.where(ranks >= 0, w / (rrf_k + ranks + 1.0), -np.inf)
    else:
        raise ValueError(f"method={method!r}: expected 'rrf' or 'max_score'")
    real = fused.mask[:, cells]
    won = np.argmax(term, axis=2)[real]
    counts = np.bincount(won, minlength=len(fused.source_names))
    return pd.DataFrame({"source": fused.source_names, "share": counts / max(int(real.sum()), 1)})
