"""Matrix factorisation for implicit feedback: ALS (Hu, Koren & Volinsky 2008).

Every user-item pair gets a preference ``p_ui = 1`` if the user interacted, else 0, and
a confidence ``c_ui = 1 + alpha · r_ui`` (``r`` binary here). ALS alternates two ridge
regressions; the user step solves, for every user at once::

    (YᵀY + λI + Σ_{i∈I_u} (c_ui − 1) y_i y_iᵀ) x_u = Σ_{i∈I_u} c_ui y_i

``backend="implicit"`` runs the `implicit` library (Cython, multi-threaded);
``backend="numpy"`` runs the same conjugate-gradient update (Takács, Pilászy & Tikk 2011:
``cg_steps`` CG steps warm-started from the previous factors) vectorised over all
users, so the whole algorithm is visible in ``_cg_step``. Scores are ``x_u · y_i``.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from workbench.candidates.base import CandidateSource
from workbench.data.dataset import Dataset

BACKENDS = ("implicit", "numpy")


def _rowdot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.einsum("uf,uf->u", a, b)


def _cg_step(C: sp.csr_matrix, X: np.ndarray, Y: np.ndarray, lam: float, cg_steps: int) -> np.ndarray:
    """Update all rows of ``X`` against fixed ``Y`` by ``cg_steps`` of conjugate gradient.

    ``C`` holds the confidences ``c_ui`` at the observed pairs (``p_ui = 1`` there).
    """
    rows = np.repeat(np.arange(C.shape[0]), np.diff(C.indptr))
    Yi = Y[C.indices]
    gram = Y.T @ Y + lam * np.eye(Y.shape[1], dtype=Y.dtype)
    extra = C.data - 1.0

    def matvec(V: np.ndarray) -> np.ndarray:
        weighted = sp.csr_matrix((extra * _rowdot(Yi, V[rows]), C.indices, C.indptr), shape=C.shape)
        return V @ gram + weighted @ Y

    X = X.copy()
    r = C @ Y - matvec(X)
    p = r.copy()
    rs_old = _rowdot(r, r)
    for _ in range(cg_steps):
        Ap = matvec(p)
        pAp = _rowdot(p, Ap)
        step = np.divide(rs_old, pAp, out=np.zeros_like(rs_old), where=pAp > 0)
        X += step[:, None] * p
        r -= step[:, None] * Ap
        rs_new = _rowdot(r, r)
        p = r + np.divide(rs_new, rs_old, out=np.zeros_like(rs_new), where=rs_old > 0)[:, None] * p
        rs_old = rs_new
    return X


class ALS(CandidateSource):
    """Implicit-feedback ALS: ``factors`` latent dimensions, L2 penalty ``regularization``,
    confidence weight ``alpha``, ``iterations`` sweeps (users then items), seeded init."""

    name = "als"

    def __init__(
        self,
        factors: int = 64,
        regularization: float = 20.0,
        alpha: float = 2.0,
        iterations: int = 15,
        cg_steps: int = 3,
        backend: str = "implicit",
        seed: int = 0,
    ) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"backend={backend!r}: expected one of {BACKENDS}")
        if factors < 1 or iterations < 1 or cg_steps < 1:
            raise ValueError(
                f"factors={factors}, iterations={iterations}, cg_steps={cg_steps}: expected positive integers"
            )
        if regularization < 0 or alpha < 0:
            raise ValueError(f"regularization={regularization!r} and alpha={alpha!r} must be >= 0")
        self.factors, self.regularization, self.alpha = factors, regularization, alpha
        self.iterations, self.cg_steps, self.backend, self.seed = iterations, cg_steps, backend, seed

    def _fit(self, train: Dataset) -> None:
        C = train.matrix.astype(np.float32)
        C.data = 1.0 + self.alpha * C.data
        if self.backend == "implicit":
            self.user_factors_, self.item_factors_ = self._fit_implicit(C)
        else:
            self.user_factors_, self.item_factors_ = self._fit_numpy(C)

    def _fit_numpy(self, C: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(self.seed)
        X = (rng.random((C.shape[0], self.factors)) * 0.01).astype(np.float32)
        Y = (rng.random((C.shape[1], self.factors)) * 0.01).astype(np.float32)
        Ct = C.T.tocsr()
        for _ in range(self.iterations):
            X = _cg_step(C, X, Y, self.regularization, self.cg_steps)
            Y = _cg_step(Ct, Y, X, self.regularization, self.cg_steps)
        return X, Y

    def _fit_implicit(self, C: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
        from implicit.cpu.als import AlternatingLeastSquares
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1, "blas"):
            model = AlternatingLeastSquares(
                factors=self.factors, regularization=self.regularization, alpha=1.0, iterations=self.iterations,
                use_cg=True, random_state=self.seed,
            )  # fmt: skip
            model.cg_steps = self.cg_steps
            model.fit(C, show_progress=False)
        return np.asarray(model.user_factors), np.asarray(model.item_factors)

    def _score(self, users: np.ndarray) -> np.ndarray:
        return self.user_factors_[users] @ self.item_factors_.T
