"""Stage-1 fusion: union and dedup of many sources' lists, quotas, filters and one fused score.

Sources score on different scales (a co-occurrence count, a cosine, a popularity count),
so taking the max of raw scores lets the source with the largest numbers win every slot:
the default is reciprocal-rank fusion (Cormack, Clarke & Büttcher 2009)::

    fused(u, i) = Σ_s w_s / (rrf_k + rank_s(u, i) + 1)      (0-based ranks; absent sources add 0)

``method="max_score"`` keeps the textbook's max of raw scores for comparison.

Quotas: source ``s`` is guaranteed its ``q_s ≈ n · w_s / Σw`` best eligible items;
slots freed by duplicates go to the best remaining items by fused score. Seen and
unavailable items are dropped before quotas are counted. The fused CandidateSet keeps,
per candidate, the bitmask of the sources that proposed it and each source's rank and score.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import numpy as np
import scipy.sparse as sp

from workbench.candidates.base import BATCH_CELLS, CandidateSource, NotFittedError, best_columns, check_k, check_users
from workbench.candidates.registry import SOURCES, TUNED_SOURCE_PARAMS
from workbench.data.dataset import Dataset
from workbench.progress import report
from workbench.types import PAD, CandidateSet

FUSION_METHODS = ("rrf", "max_score")
WIDE = 4  # `_fuse_batch` picks among the proposed cells when the catalogue is this many times their number
# The textbook's split: collaborative 0.4 (shared by EASE, item-kNN and ALS), content 0.3,
# two-tower 0.2, trending 0.1.
DEFAULT_WEIGHTS = {"ease": 0.2, "itemknn": 0.1, "als": 0.1, "content": 0.3, "two_tower": 0.2, "trending": 0.1}
# Tuned on MovieLens-100K's temporal split (benchmarks/bench_candidates.py): the three strongest
# sources, sequence-aware (TUNED_SOURCE_PARAMS), equal weights, no quotas.
TUNED_WEIGHTS = {"ease": 1.0, "itemknn": 1.0, "two_tower": 1.0}


def quotas(weights: np.ndarray, n: int) -> np.ndarray:
    """Split ``n`` slots in proportion to ``weights`` (largest remainder; sums to ``n``)."""
    w = np.asarray(weights, dtype=np.float64)
    if (w < 0).any() or not w.sum() > 0:
        raise ValueError(f"weights {w.tolist()}: expected non-negative numbers with a positive sum")
    exact = n * w / w.sum()
    q = np.floor(exact).astype(np.int64)
    q[np.argsort(-(exact - q), kind="stable")[: n - q.sum()]] += 1
    return q


def _check_weights(names: list[str], weights: Mapping[str, float] | None) -> np.ndarray:
    """Weights in the order of ``names`` (all 1 when None); every source needs one, and only those."""
    if not names:
        raise ValueError("fusion needs at least one source")
    if len(names) > 62:
        raise ValueError(f"{len(names)} sources do not fit the int64 source bitmask (at most 62)")
    if weights is None:
        return np.ones(len(names))
    missing = [s for s in names if s not in weights]
    unknown = [s for s in weights if s not in names]
    if missing or unknown:
        raise ValueError(f"weights name sources {sorted(weights)}; the sources are {names} "
                         f"(no weight for {missing}, no source for {unknown})")  # fmt: skip
    w = np.array([float(weights[s]) for s in names])
    if (w < 0).any() or not w.sum() > 0:
        raise ValueError(f"weights {dict(zip(names, w.tolist()))}: expected non-negative numbers with a positive sum")
    return w


def fuse(
    candidates: Mapping[str, CandidateSet],
    n: int,
    weights: Mapping[str, float] | None = None,
    method: str = "rrf",
    rrf_k: float = 60.0,
    use_quotas: bool = True,
    seen: sp.csr_matrix | None = None,
    available: np.ndarray | None = None,
) -> CandidateSet:
    """Fuse per-source CandidateSets (same users) into ``n`` candidates per user.

    weights: per source name (default: equal); they set RRF weights and quotas.
    seen: user×item matrix of items to drop (train history); available: bool ``[n_items]``,
    False items are dropped. Returns rows sorted by fused score, ``-1``-padded, with
    ``sources`` bitmask, ``source_ranks`` and ``source_scores`` over ``source_names``.
    """
    if method not in FUSION_METHODS:
        raise ValueError(f"method={method!r}: expected one of {FUSION_METHODS}")
    n = check_k(n)
    names = tuple(candidates)
    w = _check_weights(list(names), weights)
    sets = [candidates[s] for s in names]
    users = sets[0].users
    for name, cs in zip(names, sets):
        if not np.array_equal(cs.users, users):
            raise ValueError(f"source {name!r} retrieved for other users than {names[0]!r}: fuse needs the same users")
    if available is not None:
        n_items = len(available)
    elif seen is not None:
        n_items = seen.shape[1]
    else:
        n_items = int(max(c.items.max(initial=0) for c in sets)) + 1
    if seen is not None and seen.shape[1] != n_items:
        raise ValueError(f"seen has {seen.shape[1]} item columns but available has {n_items} items")
    q = quotas(w, n) if use_quotas else np.zeros(len(names), np.int64)
    out = {
        "items": np.full((len(users), n), PAD, dtype=np.int64),
        "scores": np.full((len(users), n), -np.inf, dtype=np.float32),
        "sources": np.zeros((len(users), n), dtype=np.int64),
        "source_ranks": np.full((len(users), n, len(names)), -1, dtype=np.int32),
        "source_scores": np.full((len(users), n, len(names)), np.nan, dtype=np.float32),
    }
    step = max(1, BATCH_CELLS // n_items)
    for lo in range(0, len(users), step):
        rows = slice(lo, lo + step)
        b = len(users[rows])
        blocked = np.zeros(b * n_items + 1, dtype=bool)  # flat, with the spare cell `_fuse_batch` uses
        table = blocked[:-1].reshape(b, n_items)
        if available is not None:
            table |= ~np.asarray(available, dtype=bool)[None, :]
        if seen is not None:
            table[seen[users[rows]].nonzero()] = True
        batch = _fuse_batch([cs.items[rows] for cs in sets], [cs.scores[rows] for cs in sets], blocked, n_items, n,
                            w, q, method, rrf_k)  # fmt: skip
        for key, value in batch.items():
            out[key][rows, : value.shape[1]] = value
    return CandidateSet(users=users, source_names=names, **out)


def _fuse_batch(
    items: list[np.ndarray], scores: list[np.ndarray], blocked: np.ndarray, n_items: int, n: int, w: np.ndarray,
    q: np.ndarray, method: str, rrf_k: float,
) -> dict[str, np.ndarray]:  # fmt: skip
    """Fuse one batch of users on dense ``[b, n_items]`` tables, flattened with one spare cell at the
    end that absorbs padding and dropped items (``blocked``: bool ``[b · n_items + 1]``, True where an
    item is dropped for a user; the spare cell is set here).

    The ``n`` best cells by fused score (quota cells first) are chosen among the proposed cells
    alone when the catalogue is at least `WIDE` times as wide as the sources' lists together (a
    large catalogue: a pass over the lists instead of over ``[b, n_items]``), else over the table."""
    b = len(items[0])
    size = b * n_items
    base = (np.arange(b, dtype=np.int64) * n_items)[:, None]
    blocked[size] = True
    fused = np.full(size + 1, 0.0 if method == "rrf" else -np.inf, dtype=np.float32)
    proposed = np.zeros(size + 1, dtype=bool)
    in_quota = np.zeros(size + 1, dtype=bool)
    cells, first = [], []
    for s, (its, raw) in enumerate(zip(items, scores)):
        flat = np.where(its >= 0, base + its, size)
        flat[blocked[flat]] = size
        if method == "rrf":
            fused[flat] += (w[s] / (rrf_k + 1.0 + np.arange(its.shape[1]))).astype(np.float32)
        else:
            fused[flat] = np.maximum(fused[flat], raw)
        first.append(~proposed[flat])  # not proposed by an earlier source (a source lists an item once)
        proposed[flat] = True
        if q[s]:
            head = flat[:, : q[s] + int((flat == size).sum(axis=1).max(initial=0))]
            in_quota[np.where(np.cumsum(head < size, axis=1) <= q[s], head, size)] = True
        cells.append(flat)
    fused[size] = -np.inf
    kk = min(n, n_items)
    if WIDE * sum(c.shape[1] for c in cells) <= n_items:  # choose among the proposed cells, each once
        cand = np.concatenate(cells, axis=1)
        key = np.where(np.concatenate(first, axis=1) & (cand < size), np.where(in_quota[cand], np.inf, fused[cand]),
                       -np.inf)  # fmt: skip
        pick = best_columns(-key, kk) if kk < cand.shape[1] else np.broadcast_to(np.arange(cand.shape[1]), key.shape)
        at = np.where(np.take_along_axis(key, pick, axis=1) > -np.inf, np.take_along_axis(cand, pick, axis=1), size)
    else:
        key = np.where(in_quota[:size], np.inf, np.where(proposed[:size], fused[:size], -np.inf)).reshape(b, n_items)
        pick = best_columns(-key, kk) if kk < n_items else np.broadcast_to(np.arange(n_items), key.shape)
        at = np.where(np.take_along_axis(key, pick, axis=1) > -np.inf, base + pick, size)
    at = np.take_along_axis(at, np.argsort(-fused[at], axis=1), axis=1)
    real = at < size
    out = {"items": np.where(real, at - base, PAD), "scores": fused[at].astype(np.float32),
           "sources": np.zeros(at.shape, dtype=np.int64)}  # fmt: skip
    ranks, raws = [], []
    column = np.full(size + 1, -1, dtype=np.int32)
    for s, flat in enumerate(cells):
        column[flat] = np.arange(flat.shape[1], dtype=np.int32)
        column[size] = -1
        pos = column[at]
        column[flat] = -1
        out["sources"] |= (pos >= 0).astype(np.int64) << s
        ranks.append(pos)
        row_start = (np.arange(b, dtype=np.int64) * scores[s].shape[1])[:, None]
        raws.append(np.where(pos >= 0, scores[s].ravel()[row_start + pos], np.nan))
    out["source_ranks"] = np.stack(ranks, axis=2)
    out["source_scores"] = np.stack(raws, axis=2).astype(np.float32)
    return out


def default_sources() -> dict[str, CandidateSource]:
    """The sources behind ``DEFAULT_WEIGHTS``, with their default hyper-parameters."""
    return {name: SOURCES[name]() for name in DEFAULT_WEIGHTS}


def tuned_sources() -> dict[str, CandidateSource]:
    """The sources behind ``TUNED_WEIGHTS`` with ``TUNED_SOURCE_PARAMS``: recency-weighted EASE,
    windowed item-kNN, two-tower."""
    return {name: SOURCES[name](**TUNED_SOURCE_PARAMS.get(name, {})) for name in TUNED_WEIGHTS}


class CandidateGenerator:
    """Stage 1 as one object: fit every source, retrieve from each, fuse.

    sources: name → unfitted CandidateSource (default: `default_sources`); weights: name →
    weight (default: ``DEFAULT_WEIGHTS`` for the default sources, else equal); per_source_k:
    how many items each source proposes (default: the requested ``k``); the rest as in `fuse`.
    """

    def __init__(
        self,
        sources: Mapping[str, CandidateSource] | None = None,
        weights: Mapping[str, float] | None = None,
        method: str = "rrf",
        rrf_k: float = 60.0,
        use_quotas: bool = True,
        exclude_unavailable: bool = True,
        per_source_k: int | None = None,
    ) -> None:
        self.sources = dict(sources) if sources is not None else default_sources()
        if weights is None:
            weights = DEFAULT_WEIGHTS if set(self.sources) == set(DEFAULT_WEIGHTS) else dict.fromkeys(self.sources, 1.0)
        self.weights = dict(weights)
        _check_weights(list(self.sources), self.weights)
        if method not in FUSION_METHODS:
            raise ValueError(f"method={method!r}: expected one of {FUSION_METHODS}")
        self.method, self.rrf_k, self.use_quotas = method, rrf_k, use_quotas
        self.exclude_unavailable, self.per_source_k = exclude_unavailable, per_source_k

    @classmethod
    def preset(cls, name: str = "textbook", **overrides) -> CandidateGenerator:
        """``textbook``: the default split with quotas; ``tuned``: `tuned_sources`, RRF without quotas."""
        if name == "textbook":
            return cls(**overrides)
        if name == "tuned":
            return cls(**{"sources": tuned_sources(), "weights": TUNED_WEIGHTS, "use_quotas": False, **overrides})
        raise ValueError(f"unknown preset {name!r}: expected 'textbook' or 'tuned'")

    def fit(self, train: Dataset, warm_start: CandidateGenerator | None = None) -> CandidateGenerator:
        """Fit every source on ``train`` (``fit_seconds_`` records how long each took).

        warm_start: a generator fitted on a prefix of ``train`` (the pipeline's carved history);
        a source with a ``fit_warm(train, previous)`` method (two-tower) continues from its namesake
        there instead of training afresh."""
        self.fit_seconds_ = {}
        for i, (name, source) in enumerate(self.sources.items(), 1):
            start = time.perf_counter()
            report(f"stage 1: fitting source {i} of {len(self.sources)}, {name}")
            previous = warm_start.sources.get(name) if warm_start is not None else None
            if previous is not None and hasattr(source, "fit_warm"):
                source.fit_warm(train, previous)
            else:
                source.fit(train)
            self.fit_seconds_[name] = time.perf_counter() - start
        self.n_users_ = train.n_users
        self.seen_ = train.matrix
        self.available_ = train.item_available.copy()
        return self

    def retrieve_each(self, users: np.ndarray, k: int, exclude_seen: bool = True) -> dict[str, CandidateSet]:
        """Every source's own top-``k`` (before fusion), by source name."""
        if not hasattr(self, "seen_"):
            raise NotFittedError("CandidateGenerator is not fitted: call fit(train) before retrieve()")
        users = check_users(users, self.n_users_)
        return {name: src.retrieve(users, k, exclude_seen=exclude_seen) for name, src in self.sources.items()}

    def retrieve(self, users: np.ndarray, k: int, exclude_seen: bool = True) -> CandidateSet:
        """``k`` fused candidates per user (seen and, by default, unavailable items excluded)."""
        each = self.retrieve_each(users, self.per_source_k or k, exclude_seen)
        return fuse(
            each, k, self.weights, self.method, self.rrf_k, self.use_quotas,
            seen=self.seen_ if exclude_seen else None,
            available=self.available_ if self.exclude_unavailable else None,
        )  # fmt: skip
