"""LambdaMART (Burges 2010) with LightGBM's ``lambdarank`` objective over the ranking features.

Trees are fitted on per-user groups of labelled pairs and stop early on the validation
groups' NDCG@10. LightGBM is an optional dependency (``pip install 'recsys-workbench[gbdt]'``),
imported only when a GBDT ranker is trained. The raw tree scores rank; for a probability
(log-loss) they are mapped through a Platt sigmoid ``σ(a·s + b)`` fitted on the validation pairs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from workbench.checks import check_count
from workbench.ranking.features import FeatureLayout


def _lightgbm() -> Any:
    try:
        import lightgbm
    except ImportError as exc:
        raise ImportError(
            "the 'gbdt' ranker needs LightGBM, which is not installed: pip install 'recsys-workbench[gbdt]' "
            "(or pip install lightgbm)"
        ) from exc
    return lightgbm


@dataclass(frozen=True)
class GBDTConfig:
    """Small trees by default: scoring cost grows with trees × depth (MovieLens-100K: 31 leaves and
    300 trees gain ~0.006 NDCG@10 over these defaults at ~4× the scoring time)."""

    n_estimators: int = 150
    learning_rate: float = 0.1
    num_leaves: int = 15
    min_child_samples: int = 20
    subsample: float = 0.8
    colsample_bytree: float = 0.8
    early_stopping_rounds: int = 30
    use_ids: bool = False  # user/item ids as categorical splits (overfits on small data)
    n_jobs: int = 1  # LightGBM threads; >1 slows down badly on a shared, oversubscribed machine
    name: ClassVar[str] = "gbdt"

    def __post_init__(self) -> None:
        check_count("n_estimators", self.n_estimators, 1)
        check_count("num_leaves", self.num_leaves, 2)
        check_count("min_child_samples", self.min_child_samples, 1)
        check_count("early_stopping_rounds", self.early_stopping_rounds, 1)
        check_count("n_jobs", self.n_jobs, 1)
        if not (isinstance(self.learning_rate, (int, float)) and 0.0 < self.learning_rate < float("inf")):
            raise ValueError(f"learning_rate={self.learning_rate!r}: expected a positive, finite shrinkage rate")
        for name in ("subsample", "colsample_bytree"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and 0.0 < value <= 1.0):
                raise ValueError(f"{name}={value!r}: expected a share in (0, 1]")


def platt(scores: np.ndarray, labels: np.ndarray, steps: int = 50) -> tuple[float, float]:
    """Fit ``P(y=1|s) = σ(a·s + b)`` by Newton's method on the log-loss (Platt 1999)."""
    X = np.column_stack([scores, np.ones_like(scores)]).astype(np.float64)
    w = np.zeros(2)
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-X @ w))
        hess = X.T @ (X * (p * (1 - p))[:, None]) + 1e-6 * np.eye(2)
        w -= np.linalg.solve(hess, X.T @ (p - labels))
    return float(w[0]), float(w[1])


class GBDTModel:
    """A LightGBM ranker over numeric (+ optionally categorical) features.

    Learned in `fit`: ``booster_``, ``best_iteration_`` and the Platt calibration ``a_``, ``b_``.
    """

    def __init__(self, layout: FeatureLayout, cfg: GBDTConfig) -> None:
        self.cfg, self.layout = cfg, layout
        cats = [j for j, name in enumerate(layout.categorical) if cfg.use_ids or name not in ("user", "item")]
        self.cat_cols = np.array(cats, dtype=np.int64)

    def _matrix(self, num: np.ndarray, cat: np.ndarray) -> np.ndarray:
        return np.hstack([num, cat[:, self.cat_cols].astype(np.float32)])

    def fit(self, train: tuple, valid: tuple, seed: int) -> dict:
        """train/valid: ``(num, cat, labels, groups)`` with rows sorted by group; returns a report."""
        lgb = _lightgbm()
        cfg = self.cfg
        names = [*self.layout.numeric, *[self.layout.categorical[j] for j in self.cat_cols]]
        cat_names = [self.layout.categorical[j] for j in self.cat_cols]
        params = {
            "objective": "lambdarank", "eval_at": [10], "learning_rate": cfg.learning_rate,
            "num_leaves": cfg.num_leaves, "min_data_in_leaf": cfg.min_child_samples, "bagging_fraction": cfg.subsample,
            "bagging_freq": 1, "feature_fraction": cfg.colsample_bytree, "num_threads": cfg.n_jobs, "seed": seed,
            "deterministic": True, "force_row_wise": True, "verbosity": -1,
        }  # fmt: skip
        kw = {"feature_name": names, "categorical_feature": cat_names, "free_raw_data": False}
        dtrain = lgb.Dataset(self._matrix(*train[:2]), train[2], group=_group_sizes(train[3]), **kw)
        dvalid = lgb.Dataset(self._matrix(*valid[:2]), valid[2], group=_group_sizes(valid[3]), reference=dtrain, **kw)
        result: dict = {}
        self.booster_ = lgb.train(
            params, dtrain, num_boost_round=cfg.n_estimators, valid_sets=[dvalid], valid_names=["valid"],
            callbacks=[lgb.early_stopping(cfg.early_stopping_rounds, verbose=False), lgb.record_evaluation(result)],
        )  # fmt: skip
        self.best_iteration_ = int(self.booster_.best_iteration or cfg.n_estimators)
        self.a_, self.b_ = platt(self.raw(*valid[:2]), valid[2].astype(np.float64))
        return {"trees": self.best_iteration_, "valid_ndcg@10": round(float(result["valid"]["ndcg@10"][self.best_iteration_ - 1]), 5)}

    def raw(self, num: np.ndarray, cat: np.ndarray) -> np.ndarray:
        """The trees' ranking scores (LambdaMART's model output; not a probability)."""
        return self.booster_.predict(self._matrix(num, cat), num_iteration=self.best_iteration_, num_threads=self.cfg.n_jobs)

    def logits(self, num: np.ndarray, cat: np.ndarray) -> np.ndarray:
        """Platt-calibrated logits ``a·s + b`` (same order as the raw tree scores when a > 0)."""
        return self.a_ * self.raw(num, cat) + self.b_

    score = raw


def _group_sizes(groups: np.ndarray) -> np.ndarray:
    """Run lengths of a sorted group-id array (LightGBM's ``group`` argument)."""
    cut = np.flatnonzero(np.diff(groups)) + 1
    return np.diff(np.concatenate([[0], cut, [len(groups)]]))
