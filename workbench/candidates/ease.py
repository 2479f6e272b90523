"""EASE, the closed-form linear item-item model (Steck 2019, "Embarrassingly Shallow Autoencoders").

Minimise ``‖X − XB‖² + λ‖B‖²`` subject to ``diag(B) = 0``. With ``P = (XᵀX + λI)⁻¹``
the solution is ``B = I − P · diag(1 / diag(P))`` (so ``B_ij = −P_ij / P_jj`` off the
diagonal, 0 on it), and a user's scores are ``x_u B``. One dense ``n_items × n_items``
inverse: fine up to a few ten thousand items, the strongest simple CF baseline below that.
"""

from __future__ import annotations

import numpy as np

from workbench.candidates.base import CandidateSource, recency_weighted
from workbench.data.dataset import Dataset

MAX_ITEMS = 40_000


class EASE(CandidateSource):
    """Closed-form linear item model; ``lam`` is the L2 penalty λ (about 200-1000 on MovieLens).

    history_half_life: when set, scores use the recency-weighted history (`recency_weighted`)
    instead of the binary one; the weights ``B`` are learned from the binary matrix either way.
    """

    name = "ease"

    def __init__(self, lam: float = 250.0, history_half_life: float | None = None) -> None:
        if not lam > 0:
            raise ValueError(f"lam={lam!r}: expected a positive L2 penalty")
        self.lam, self.history_half_life = lam, history_half_life

    def _fit(self, train: Dataset) -> None:
        if self.n_items_ > MAX_ITEMS:
            raise ValueError(
                f"EASE inverts a dense {self.n_items_}×{self.n_items_} matrix; more than {MAX_ITEMS} items "
                "needs too much memory: use ItemKNN or ALS for this catalogue"
            )
        X = train.matrix
        gram = (X.T @ X).toarray().astype(np.float64)
        gram[np.diag_indices_from(gram)] += self.lam
        P = np.linalg.inv(gram)
        B = -P / np.diag(P)[None, :]
        np.fill_diagonal(B, 0.0)
        self.weights_ = B.astype(np.float32)
        self.history_ = recency_weighted(train, self.history_half_life)

    def _score(self, users: np.ndarray) -> np.ndarray:
        return np.asarray(self.history_[users] @ self.weights_)
