"""The `Dataset` type: interactions, item table and user table over one id space.

Users and items are re-indexed to ``0..n-1``; the original ids stay in the
``user_id`` / ``item_id`` columns for display. Splits (``workbench.data.splits``)
return Datasets that share the item and user tables and differ only in their
interactions, so every model fitted on a train split speaks the same ids as the
test split it is scored against.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from workbench.types import ItemArrays

INTERACTION_COLUMNS = ("user", "item", "timestamp", "rating")
SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True, eq=False)
class Dataset:
    """A recommender data set over re-indexed users ``0..n_users-1`` and items ``0..n_items-1``.

    interactions: DataFrame with ``user`` (int64), ``item`` (int64), ``timestamp``
        (int64, Unix seconds) and ``rating`` (float32; 1.0 where the data has only
        implicit feedback), sorted by (user, timestamp, item).
    items: DataFrame indexed ``0..n_items-1`` with at least ``item_id`` (original id),
        ``title``, ``category`` (int code into ``category_names``), ``release_ts``
        (Unix seconds), ``age_days`` (days between release and ``reference_ts``),
        ``available`` (bool) and ``promoted`` (bool).
    users: DataFrame indexed ``0..n_users-1`` with at least ``user_id``.
    item_genres: float32 ``[n_items, n_genres]`` multi-hot genre matrix.
    item_features: float32 ``[n_items, d]`` content vectors (genres, era, and what
        else the data set offers), used by content retrieval, MMR similarity and
        intra-list diversity.
    reference_ts: the "now" of the data set (its last timestamp), the origin of ages.
    truth: the synthetic world's hidden ground truth, or None for real data.
    """

    name: str
    interactions: pd.DataFrame
    items: pd.DataFrame
    users: pd.DataFrame
    item_genres: np.ndarray
    item_features: np.ndarray
    genre_names: tuple[str, ...]
    category_names: tuple[str, ...]
    reference_ts: int
    truth: Any = None
    notes: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        missing = [c for c in INTERACTION_COLUMNS if c not in self.interactions.columns]
        if missing:
            raise ValueError(f"Dataset {self.name!r}: interactions lack columns {missing}; expected {INTERACTION_COLUMNS}")
        for col in ("item_id", "title", "category", "release_ts", "age_days", "available", "promoted"):
            if col not in self.items.columns:
                raise ValueError(f"Dataset {self.name!r}: item table lacks column {col!r}")
        if "user_id" not in self.users.columns:
            raise ValueError(f"Dataset {self.name!r}: user table lacks column 'user_id'")
        if self.item_genres.shape[0] != len(self.items) or self.item_features.shape[0] != len(self.items):
            raise ValueError(
                f"Dataset {self.name!r}: item_genres {self.item_genres.shape} / item_features "
                f"{self.item_features.shape} must have one row per item ({len(self.items)})"
            )
        inter = self.interactions
        if len(inter):
            for col, n in (("user", self.n_users), ("item", self.n_items)):
                lo, hi = int(inter[col].min()), int(inter[col].max())
                if lo < 0 or hi >= n:
                    raise ValueError(f"Dataset {self.name!r}: interaction {col} ids span [{lo}, {hi}], expected [0, {n - 1}]")

    # --- sizes -----------------------------------------------------------------
    @property
    def n_users(self) -> int:
        return len(self.users)

    @property
    def n_items(self) -> int:
        return len(self.items)

    @property
    def n_interactions(self) -> int:
        return len(self.interactions)

    # --- matrices --------------------------------------------------------------
    @cached_property
    def matrix(self) -> sp.csr_matrix:
        """Binary user×item CSR matrix (float32): 1 where the user interacted with the item."""
        m = self._csr(np.ones(len(self.interactions), dtype=np.float32))
        m.data[:] = 1.0
        return m

    @cached_property
    def rating_matrix(self) -> sp.csr_matrix:
        """User×item CSR matrix of ratings (the latest rating where a pair repeats)."""
        inter = self.interactions.drop_duplicates(["user", "item"], keep="last")
        return sp.csr_matrix(
            (inter["rating"].to_numpy(np.float32), (inter["user"].to_numpy(), inter["item"].to_numpy())),
            shape=(self.n_users, self.n_items),
        )

    def _csr(self, values: np.ndarray) -> sp.csr_matrix:
        inter = self.interactions
        m = sp.csr_matrix(
            (values, (inter["user"].to_numpy(), inter["item"].to_numpy())),
            shape=(self.n_users, self.n_items),
            dtype=np.float32,
        )
        m.sum_duplicates()
        m.sort_indices()
        return m

    @cached_property
    def item_popularity(self) -> np.ndarray:
        """int64 ``[n_items]``: number of distinct users who interacted with each item."""
        return np.asarray(self.matrix.getnnz(axis=0), dtype=np.int64)

    @cached_property
    def user_activity(self) -> np.ndarray:
        """int64 ``[n_users]``: number of distinct items each user interacted with."""
        return np.asarray(self.matrix.getnnz(axis=1), dtype=np.int64)

    @property
    def item_category(self) -> np.ndarray:
        """int64 ``[n_items]`` primary category code."""
        return self.items["category"].to_numpy(np.int64)

    @property
    def item_age_days(self) -> np.ndarray:
        """float64 ``[n_items]`` age in days at ``reference_ts`` (negative: not yet released)."""
        return self.items["age_days"].to_numpy(np.float64)

    @property
    def item_available(self) -> np.ndarray:
        return self.items["available"].to_numpy(bool)

    @property
    def item_promoted(self) -> np.ndarray:
        return self.items["promoted"].to_numpy(bool)

    def item_arrays(self) -> ItemArrays:
        """The catalogue arrays reranking and the metrics read (`workbench.types.ItemArrays`)."""
        return ItemArrays(vectors=self.item_features, category=self.item_category, age_days=self.item_age_days,
                          available=self.item_available, promoted=self.item_promoted,
                          popularity=self.item_popularity, n_users=self.n_users)  # fmt: skip

    # --- derived datasets ------------------------------------------------------
    def with_interactions(self, interactions: pd.DataFrame, name: str | None = None) -> Dataset:
        """The same users and items with other interactions (how splits are made)."""
        inter = interactions.sort_values(["user", "timestamp", "item"], kind="stable").reset_index(drop=True)
        return replace(self, interactions=inter, name=name or self.name)

    def user_index(self, user_ids: Any) -> np.ndarray:
        """Map original user ids to row indices; raises KeyError naming unknown ids."""
        lookup = pd.Index(self.users["user_id"])
        ids = np.atleast_1d(np.asarray(user_ids))
        pos = lookup.get_indexer(ids)
        if (pos < 0).any():
            bad = ids[pos < 0][:5].tolist()
            raise KeyError(f"unknown user id(s) {bad} in data set {self.name!r} (ids range over its user table)")
        return pos.astype(np.int64)

    @cached_property
    def fingerprint(self) -> str:
        """A 16-hex-digit digest of the interactions, the item and user tables and the item
        arrays: equal fingerprints mean the same data (the model store keys artefacts on it)."""
        h = hashlib.blake2b(digest_size=8)
        h.update(repr((self.n_users, self.n_items, self.genre_names, self.category_names, self.reference_ts)).encode())
        for frame in (self.interactions, self.items, self.users):
            h.update(repr(list(frame.columns)).encode())
            h.update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
        for arr in (self.item_genres, self.item_features):
            h.update(np.ascontiguousarray(arr).tobytes())
        return h.hexdigest()

    def describe(self) -> dict[str, Any]:
        """Headline sizes, for reports and the CLI."""
        density = self.matrix.nnz / max(1, self.n_users * self.n_items)
        return {
            "data set": self.name,
            "users": self.n_users,
            "items": self.n_items,
            "interactions": self.n_interactions,
            "density": round(density, 5),
            "genres": len(self.genre_names),
            "categories": len(self.category_names),
        }

    def __repr__(self) -> str:
        return f"Dataset({self.name!r}, users={self.n_users}, items={self.n_items}, interactions={self.n_interactions})"
