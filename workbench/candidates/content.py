"""Content-based retrieval: items as content vectors, users as the recency-weighted mean of their history.

Item vectors are the rows of ``Dataset.item_features`` (genres, release era and, in
the synthetic world, a content embedding), L2-normalised. A user's profile is::

    profile_u = Σ_i w_ui f_i / ‖Σ_i w_ui f_i‖,   w_ui = 0.5 ** ((t_u,last − t_ui) / half_life_days)

so the latest interactions count most. Scores are cosine similarities, served by a
FAISS inner-product index (exact by default).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from workbench.candidates.ann import AnnConfig, IndexSource
from workbench.data.dataset import SECONDS_PER_DAY, Dataset


def _normalise(x: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norm, out=np.zeros_like(x), where=norm > 0).astype(np.float32)


class ContentBased(IndexSource):
    """Cosine between item content vectors and a recency-weighted user profile."""

    name = "content"

    def __init__(self, half_life_days: float = 30.0, index: AnnConfig = AnnConfig()) -> None:
        if not half_life_days > 0:
            raise ValueError(f"half_life_days={half_life_days!r}: expected a positive number of days")
        self.half_life_days, self.index = half_life_days, index

    def _fit_vectors(self, train: Dataset) -> None:
        self.item_vectors_ = _normalise(np.asarray(train.item_features, dtype=np.float32))
        inter = train.interactions
        users, items = inter["user"].to_numpy(), inter["item"].to_numpy()
        ts = inter["timestamp"].to_numpy(np.float64)
        last = np.full(self.n_users_, -np.inf)
        np.maximum.at(last, users, ts)
        weight = 0.5 ** ((last[users] - ts) / (self.half_life_days * SECONDS_PER_DAY))
        W = sp.csr_matrix((weight, (users, items)), shape=(self.n_users_, self.n_items_))
        self.profiles_ = _normalise(np.asarray(W @ self.item_vectors_, dtype=np.float32))

    def _user_vectors(self, users: np.ndarray) -> np.ndarray:
        return self.profiles_[users]
