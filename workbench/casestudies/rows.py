"""Netflix in miniature: a page of personalised rows, ordered per user, deduplicated, measured as a page.

Each row comes from its own source: "Top picks" (EASE), "Because you watched <the user's last
item>" (the item-kNN neighbours of that item), "Trending now", "New releases", "Next for you"
(SASRec, when given) and "<genre> for you" rows for the user's favourite genres (EASE scores
within the genre). Each row proposes ``depth`` items per user, best first, seen items left out.

Building the page:

1. **Order the rows per user** (``order="personal"``): by the mean z-scored EASE score of the
   row's first ``row_length`` items for that user (one common yardstick for rows whose sources
   score on different scales), best row on top; ``order="fixed"`` keeps the editorial order.
2. **Deduplicate** (``dedupe=True``): walking down the page, a row skips the items already shown
   in a row above it and fills its ``row_length`` slots from deeper in its own list.

Page measures (`page_metrics`): duplicate slots, unique items, genres covered, intra-page
diversity, and the test items found, discounted by row and by column (``1/log2(row + 2) ·
1/log2(column + 2)``, 0-based): a page's answer to NDCG.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from workbench.candidates import EASE, ItemKNN, NewReleases, Trending
from workbench.candidates.base import top_k
from workbench.casestudies.itempages import last_items
from workbench.checks import check_count
from workbench.data.dataset import Dataset
from workbench.lists import apply_order, compact
from workbench.metrics import relevance_matrix
from workbench.metrics.beyond import intra_list_diversity

ORDERS = ("personal", "fixed")


@dataclass(frozen=True)
class PageConfig:
    """genre_rows: how many "<genre> for you" rows; row_length: items per row; depth: items each row
    proposes (room for deduplication); order: "personal" or "fixed"; dedupe: drop repeats."""

    genre_rows: int = 3
    row_length: int = 10
    depth: int = 60
    order: str = "personal"
    dedupe: bool = True

    def __post_init__(self) -> None:
        check_count("PageConfig.genre_rows", self.genre_rows, 0)
        check_count("PageConfig.row_length", self.row_length, 1)
        check_count("PageConfig.depth", self.depth, 1)
        if self.depth < self.row_length:
            raise ValueError(f"PageConfig.depth={self.depth} must be >= row_length={self.row_length}")
        if self.order not in ORDERS:
            raise ValueError(f"PageConfig.order={self.order!r}: expected one of {ORDERS}")


@dataclass(eq=False)
class Page:
    """Pages for ``users``: ``items [U, R, m]`` (``-1`` padding) and each row's title ``titles [U, R]``."""

    users: np.ndarray
    items: np.ndarray
    titles: np.ndarray

    def table(self, row: int, item_titles: np.ndarray) -> pd.DataFrame:
        """The page of the ``row``-th user: one line per row, its title then its items' titles."""
        items = self.items[row]
        return pd.DataFrame({"row": self.titles[row], "items": [", ".join(item_titles[i] for i in r[r >= 0]) for r in items]},
                            index=pd.RangeIndex(1, len(items) + 1, name="position"))  # fmt: skip


class RowSources:
    """The row sources, fitted once on ``train`` (``sasrec``: an optional fitted `SASRec`)."""

    def __init__(self, train: Dataset, sasrec=None, ease_lam: float = 500.0) -> None:
        self.train = train
        self.ease = EASE(lam=ease_lam).fit(train)
        self.knn = ItemKNN(neighbours=100).fit(train)
        self.trending = Trending().fit(train)
        self.new = NewReleases().fit(train)
        self.sasrec = sasrec

    def candidates(self, users: np.ndarray, config: PageConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(lists [U, R, depth], titles [U, R], row_score [U, R])`` for every row, before the page is built."""
        train, d = self.train, config.depth
        users = np.asarray(users, dtype=np.int64)
        ease = self.ease._score(users).astype(np.float64)  # [U, n_items]
        r, c = train.matrix[users].nonzero()
        ease[r, c] = -np.inf
        finite = np.isfinite(ease)
        mu = np.nanmean(np.where(finite, ease, np.nan), axis=1, keepdims=True)
        sd = np.nanstd(np.where(finite, ease, np.nan), axis=1, keepdims=True)
        z = np.where(finite, (ease - mu) / np.where(sd > 0, sd, 1.0), -np.inf)  # the common yardstick

        last = last_items(train)[users]
        lists, titles = [], []
        lists.append(top_k(z, d)[0]); titles.append(np.full(len(users), "Top picks for you", dtype=object))  # noqa: E702
        knn = self.knn.similarity_[np.maximum(last, 0)].toarray()
        knn[last < 0] = 0.0
        knn[r, c] = 0.0
        lists.append(top_k(np.where(knn > 0, knn, -np.inf), d)[0])
        names = train.items["title"].to_numpy(dtype=str)
        titles.append(np.array([f"Because you watched {names[i]}" if i >= 0 else "Because you watched" for i in last], dtype=object))
        for src, title in ((self.trending, "Trending now"), (self.new, "New releases")):
            lists.append(src.retrieve(users, d).items); titles.append(np.full(len(users), title, dtype=object))  # noqa: E702
        if self.sasrec is not None:
            lists.append(self.sasrec.retrieve(users, d).items); titles.append(np.full(len(users), "Next for you", dtype=object))  # noqa: E702
        if config.genre_rows:
            genres = np.asarray(train.item_genres > 0)
            profile = np.asarray(train.matrix[users] @ train.item_genres)
            favourite = np.argsort(-profile, axis=1, kind="stable")[:, : config.genre_rows]  # [U, g]
            for j in range(favourite.shape[1]):  # one pass per genre row
                g = favourite[:, j]
                lists.append(top_k(np.where(genres[:, g].T, z, -np.inf), d)[0])
                titles.append(np.array([f"{train.genre_names[x]} for you" for x in g], dtype=object))
        lists = np.stack(lists, axis=1)  # [U, R, depth]
        head = lists[:, :, : config.row_length]
        zs = np.where(head >= 0, np.take_along_axis(z, np.maximum(head, 0).reshape(len(users), -1), axis=1).reshape(head.shape), np.nan)
        ok = np.isfinite(zs)
        count = ok.sum(axis=2)
        row_score = np.where(count > 0, np.where(ok, zs, 0.0).sum(axis=2) / np.maximum(count, 1), -np.inf)  # empty row: last
        return lists, np.stack(titles, axis=1), row_score

    def page(self, users: np.ndarray, config: PageConfig | None = None) -> Page:
        """Build the pages of ``users`` (see the module docstring)."""
        config = config or PageConfig()
        users = np.asarray(users, dtype=np.int64)
        lists, titles, row_score = self.candidates(users, config)
        return build_page(users, lists, titles, row_score, config, self.train.n_items)


def build_page(users: np.ndarray, lists: np.ndarray, titles: np.ndarray, row_score: np.ndarray, config: PageConfig,
               n_items: int) -> Page:  # fmt: skip
    """Order rows (personal or fixed), then fill them top to bottom, skipping items shown above when deduplicating."""
    n_users, n_rows, _ = lists.shape
    if config.order == "personal":
        order = np.argsort(-row_score, axis=1, kind="stable")
    else:
        order = np.broadcast_to(np.arange(n_rows), (n_users, n_rows))
    lists = np.take_along_axis(lists, order[:, :, None], axis=1)
    titles = np.take_along_axis(titles, order, axis=1)
    m = config.row_length
    placed = np.zeros((n_users, n_items + 1), dtype=bool)  # the last column absorbs padding
    out = np.full((n_users, n_rows, m), -1, dtype=np.int64)
    rows = np.arange(n_users)[:, None]
    for r in range(n_rows):  # top to bottom: each row sees what the rows above placed
        cand = lists[:, r]
        keep = cand >= 0
        if config.dedupe:
            keep &= ~placed[rows, np.where(cand >= 0, cand, n_items)]
        out[:, r] = apply_order(cand, compact(keep, m), -1)
        placed[rows, np.where(out[:, r] >= 0, out[:, r], n_items)] = True
    return Page(users, out, titles)


def page_metrics(page: Page, train: Dataset, test: Dataset) -> dict[str, float]:
    """Page-level measures averaged over the page's users (module docstring)."""
    u, r, m = page.items.shape
    flat = page.items.reshape(u, r * m)
    real = flat >= 0
    srt = np.sort(np.where(real, flat, -1), axis=1)
    repeats = (srt[:, 1:] == srt[:, :-1]) & (srt[:, 1:] >= 0)
    unique = real.sum(axis=1) - repeats.sum(axis=1)
    genres = np.asarray(train.item_genres > 0)
    shown_genres = np.zeros((u, genres.shape[1]), dtype=bool)
    rows_idx, cols = np.nonzero(real)
    np.logical_or.at(shown_genres, rows_idx, genres[flat[rows_idx, cols]])
    rel = relevance_matrix(test)[page.users]
    hit = np.zeros(flat.shape, dtype=bool)
    hit[rows_idx, cols] = np.asarray(rel[rows_idx, flat[rows_idx, cols]]).ravel() > 0
    discount = (1.0 / np.log2(np.arange(r) + 2))[:, None] * (1.0 / np.log2(np.arange(m) + 2))[None, :]
    first = np.zeros(flat.shape, dtype=bool)  # count each relevant item once, where it first appears
    order = np.argsort(np.where(real, flat, np.iinfo(np.int64).max), axis=1, kind="stable")
    sorted_items = np.take_along_axis(flat, order, axis=1)
    is_first = np.ones_like(sorted_items, dtype=bool)
    is_first[:, 1:] = sorted_items[:, 1:] != sorted_items[:, :-1]
    np.put_along_axis(first, order, is_first, axis=1)
    gain = (hit & first) * discount.ravel()[None, :]
    n_test = np.diff(rel.indptr)
    judged = n_test > 0
    return {
        "duplicate_slot_share": float(repeats.sum() / max(real.sum(), 1)),
        "unique_items_per_page": float(unique.mean()),
        "genres_on_page": float(shown_genres.sum(axis=1).mean()),
        "intra_page_diversity": float(np.nanmean(intra_list_diversity(apply_order(flat, compact(real & first), -1),
                                                                      train.item_features))),  # distinct items
        "discounted_page_hits": float(gain.sum(axis=1)[judged].mean()),
        "test_items_found": float(((hit & first).sum(axis=1)[judged] / n_test[judged]).mean()),
    }


def compare_pages(sources: RowSources, users: np.ndarray, test: Dataset, config: PageConfig | None = None) -> pd.DataFrame:
    """The page built four ways: rows ordered per user or fixed, deduplicated or not."""
    base = config or PageConfig()
    rows = {}
    lists, titles, score = sources.candidates(np.asarray(users, dtype=np.int64), base)
    for order in ORDERS:
        for dedupe in (True, False):
            cfg = PageConfig(base.genre_rows, base.row_length, base.depth, order, dedupe)
            page = build_page(np.asarray(users, dtype=np.int64), lists, titles, score, cfg, sources.train.n_items)
            rows[f"{order} order, {'deduplicated' if dedupe else 'with repeats'}"] = page_metrics(page, sources.train, test)
    return pd.DataFrame.from_dict(rows, orient="index")
