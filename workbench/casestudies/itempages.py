"""Amazon in miniature: an item page with "also bought", "also viewed" and "similar" lists.

Linden, Smith & York (2003) built Amazon's recommendations from item-to-item similarity;
an item page shows several lists, each answering a different question, each from its own
source:

- **also bought**: item-to-item cosine (`workbench.candidates.ItemKNN`) over *purchases*, the
  interactions rated at least ``bought_rating`` (MovieLens and the synthetic world have no
  purchase log; a high rating stands in for one);
- **also viewed**: item-to-item co-occurrence over *all* interactions, counted only within
  ``view_window`` positions of each other in a user's time-ordered history (a browsing
  session: what was looked at around the same time);
- **similar**: content, the cosine of the items' feature vectors (genres, era, embedding).

`ItemPages.hit_rates` measures why a page holds several lists: for each user's last train
item, whether each list holds the user's next item, and their next *bought* item.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from workbench.candidates.itemknn import ItemKNN
from workbench.candidates.base import top_k
from workbench.checks import check_count
from workbench.data.dataset import Dataset
from workbench.lists import BATCH_CELLS

LISTS = ("also bought", "also viewed", "similar")


def _check_items(items, n_items: int) -> np.ndarray:
    arr = np.atleast_1d(np.asarray(items))
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"items must be integer item indices, got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    bad = arr[(arr < 0) | (arr >= n_items)]
    if bad.size:
        raise ValueError(f"unknown item index(es) {np.unique(bad)[:5].tolist()}: expected 0..{n_items - 1}")
    return arr


class ItemPages:
    """The three lists of an item page, each from its own fitted source.

    bought_rating: the rating from which an interaction counts as a purchase; view_window:
    positions apart within which two views co-occur; neighbours: items each item-kNN keeps.
    """

    def __init__(self, bought_rating: float = 4.0, view_window: int = 3, neighbours: int = 50) -> None:
        self.bought_rating = float(bought_rating)
        self.view_window = check_count("view_window", view_window, 1)
        self.neighbours = check_count("neighbours", neighbours, 1)

    def fit(self, train: Dataset) -> ItemPages:
        inter = train.interactions
        bought = train.with_interactions(inter[inter["rating"].to_numpy() >= self.bought_rating])
        if bought.n_interactions == 0:
            raise ValueError(f"no interaction is rated >= bought_rating={self.bought_rating}: no purchases to learn from")
        self.bought_ = ItemKNN(neighbours=self.neighbours).fit(bought)
        self.viewed_ = ItemKNN(neighbours=self.neighbours, window=self.view_window).fit(train)
        f = np.asarray(train.item_features, dtype=np.float32)
        self.content_ = f / np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-12)
        self.n_items_ = train.n_items
        self.titles_ = train.items["title"].to_numpy(dtype=str)
        return self

    def lists(self, items, k: int = 10) -> dict[str, np.ndarray]:
        """Each list for each of ``items [n]``: ``{name: int [n, k]}``, best first, ``-1``-padded."""
        items = _check_items(items, self.n_items_)
        k = check_count("k", k, 1)
        out = {"also bought": self._neighbours(self.bought_.similarity_, items, k),
               "also viewed": self._neighbours(self.viewed_.similarity_, items, k)}  # fmt: skip
        sim = np.empty((len(items), k), dtype=np.int64)
        step = max(1, BATCH_CELLS // self.n_items_)
        for lo in range(0, len(items), step):
            block = self.content_[items[lo : lo + step]] @ self.content_.T  # [b, n_items]
            block[np.arange(block.shape[0]), items[lo : lo + step]] = -np.inf
            sim[lo : lo + step] = top_k(block, k)[0]
        out["similar"] = sim
        return out

    @staticmethod
    def _neighbours(similarity: sp.csr_matrix, items: np.ndarray, k: int) -> np.ndarray:
        rows = similarity[items].toarray()  # [n, n_items]
        rows[rows <= 0] = -np.inf
        return top_k(rows, k)[0]

    def page(self, item: int, k: int = 10) -> pd.DataFrame:
        """One item page as a table: one column per list, item titles best first (blank where short)."""
        lists = self.lists([item], k)
        return pd.DataFrame({name: [self.titles_[i] if i >= 0 else "" for i in lst[0]] for name, lst in lists.items()},
                            index=pd.RangeIndex(1, k + 1, name="position"))  # fmt: skip

    def overlap(self, items, k: int = 10) -> pd.DataFrame:
        """Mean share of list A's top-``k`` also in list B's, over the ``items`` whose list A is not
        empty: how different the lists are."""
        lists = self.lists(items, k)
        out = pd.DataFrame(index=list(lists), columns=list(lists), dtype=float)
        for a, la in lists.items():
            for b, lb in lists.items():
                both = ((la[:, :, None] == lb[:, None, :]) & (la[:, :, None] >= 0)).any(axis=2).sum(axis=1)
                size = (la >= 0).sum(axis=1)
                out.loc[a, b] = float(np.mean(both[size > 0] / size[size > 0]))
        return out

    def hit_rates(self, train: Dataset, test: Dataset, k: int = 10) -> pd.DataFrame:
        """For every user with train and test items: does each list of their *last train item* hold
        their next item (first test item), and their next bought item (first test item rated ≥
        ``bought_rating``)? Share of users, per list."""
        last = last_items(train)
        nxt = first_items(test)
        te = test.interactions
        nxt_bought = first_items(test.with_interactions(te[te["rating"].to_numpy() >= self.bought_rating]))
        rows = {}
        for target, what in ((nxt, "next item"), (nxt_bought, "next bought item")):
            users = np.flatnonzero((last >= 0) & (target >= 0))
            lists = self.lists(last[users], k)
            rows[f"{what} in top {k}"] = {name: float((lst == target[users][:, None]).any(axis=1).mean()) for name, lst in lists.items()}
            rows[f"users ({what})"] = dict.fromkeys(lists, float(len(users)))
        return pd.DataFrame(rows)


def last_items(ds: Dataset) -> np.ndarray:
    """Each user's latest item (``-1`` without any); interactions are sorted by (user, time, item)."""
    return _edge_items(ds, last=True)


def first_items(ds: Dataset) -> np.ndarray:
    """Each user's earliest item (``-1`` without any)."""
    return _edge_items(ds, last=False)


def _edge_items(ds: Dataset, last: bool) -> np.ndarray:
    users = ds.interactions["user"].to_numpy()
    items = ds.interactions["item"].to_numpy()
    out = np.full(ds.n_users, -1, dtype=np.int64)
    if len(users):
        change = users[1:] != users[:-1]
        at = np.flatnonzero(np.r_[change, True]) if last else np.flatnonzero(np.r_[True, change])
        out[users[at]] = items[at]
    return out
