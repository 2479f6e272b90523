"""Nearest-neighbour retrieval over item vectors with FAISS (inner product = the score).

``exact`` is brute force (``IndexFlatIP``); ``hnsw`` is a navigable small-world graph
(Malkov & Yashunin 2018), tuned by ``ef_search``; ``ivf`` clusters items into
``ivf_lists`` cells and scans ``nprobe`` of them. Approximate indexes trade recall
against exact search for speed: `recall_vs_exact` measures that trade.
"""

from __future__ import annotations

from dataclasses import dataclass

import faiss
import numpy as np

from workbench.candidates.base import CandidateSource
from workbench.data.dataset import Dataset

INDEX_KINDS = ("exact", "hnsw", "ivf")


@dataclass(frozen=True)
class AnnConfig:
    """Which FAISS index holds the item vectors, and its knobs."""

    kind: str = "exact"
    hnsw_m: int = 16  # graph degree
    ef_construction: int = 40
    ef_search: int = 400  # candidate list length at query time (raised to k when smaller)
    ivf_lists: int = 0  # 0: about 4·sqrt(n_items)
    nprobe: int = 16

    def __post_init__(self) -> None:
        if self.kind not in INDEX_KINDS:
            raise ValueError(f"AnnConfig.kind={self.kind!r}: expected one of {INDEX_KINDS}")


def build_index(vectors: np.ndarray, config: AnnConfig = AnnConfig()) -> faiss.Index:
    """A FAISS inner-product index over ``vectors [n, d]`` (float32)."""
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    n, d = x.shape
    if config.kind == "exact":
        index = faiss.IndexFlatIP(d)
    elif config.kind == "hnsw":
        index = faiss.IndexHNSWFlat(d, config.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = config.ef_construction
        index.hnsw.efSearch = config.ef_search
    else:
        lists = config.ivf_lists or max(1, min(n // 39, int(4 * np.sqrt(n))))
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(d), d, lists, faiss.METRIC_INNER_PRODUCT)
        index.train(x)
        index.nprobe = min(config.nprobe, lists)
    index.add(x)
    return index


def search(index: faiss.Index, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` ``(items int64 [U, k], scores float32 [U, k])``; ``-1`` / ``-inf`` where fewer were found.

    An HNSW index searches with ``efSearch = max(efSearch, k)`` (its setting is restored after).
    """
    ef = index.hnsw.efSearch if isinstance(index, faiss.IndexHNSW) else None
    if ef is not None:
        index.hnsw.efSearch = max(ef, k)
    try:
        scores, items = index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
    finally:
        if ef is not None:
            index.hnsw.efSearch = ef
    return items.astype(np.int64), np.where(items >= 0, scores, -np.inf).astype(np.float32)


def recall_vs_exact(approx: np.ndarray, exact: np.ndarray) -> float:
    """Mean over queries of ``|approx ∩ exact| / |exact|`` for item lists ``[U, k]`` (``-1`` ignored)."""
    found = (approx[:, :, None] == exact[:, None, :]).any(axis=1) & (exact >= 0)
    return float((found.sum(1) / np.maximum((exact >= 0).sum(1), 1)).mean())


class IndexSource(CandidateSource):
    """A source whose scores are ``<user vector, item vector>``, served from a FAISS index.

    Subclasses set ``item_vectors_`` in ``_fit_vectors`` and implement ``_user_vectors``.
    With the exact index, requests are served by one matrix product per batch of users and
    `top_k` instead of FAISS's flat search, whose heap-based k-selection lost at every width
    measured (26,744 items: 0.23 against 0.12 ms CPU per user for 10 items, 0.29 against 0.17 for
    200; benchmarks/RESULTS.md, "Stage 1 at 26,744 items, third session"); the FAISS index
    still answers `index_recall`'s exact reference and the approximate kinds.
    """

    index: AnnConfig

    def _fit(self, train: Dataset) -> None:
        self._fit_vectors(train)
        self.index_ = build_index(self.item_vectors_, self.index)

    def _fit_vectors(self, train: Dataset) -> None:
        raise NotImplementedError

    def _user_vectors(self, users: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _score(self, users: np.ndarray) -> np.ndarray:
        return self._user_vectors(users) @ self.item_vectors_.T

    def _retrieve_warm(self, users: np.ndarray, k: int, exclude_seen: bool) -> tuple[np.ndarray, np.ndarray]:
        if self.index.kind == "exact":
            return super()._retrieve_warm(users, k, exclude_seen)
        extra = int(np.diff(self.seen_.indptr)[users].max(initial=0)) if exclude_seen else 0
        width = min(self.n_items_, k + extra)
        items, scores = search(self.index_, self._user_vectors(users), width)
        return self._top_unseen(users, items, scores, k, exclude_seen)

    def index_recall(self, users: np.ndarray, k: int = 100) -> float:
        """Recall@k of this source's index against exact inner-product search, for ``users``."""
        self._check_fitted()
        queries = self._user_vectors(np.asarray(users, dtype=np.int64))
        approx, _ = search(self.index_, queries, k)
        exact, _ = search(build_index(self.item_vectors_), queries, k)
        return recall_vs_exact(approx, exact)
