"""YouTube in miniature: rank for expected watch time, not clicks (Covington, Adams & Sargin 2016).

The workbench's simulator gives every click the same mean watch time, so ranking for clicks
and ranking for watch time would agree. Here each item gets its own mean watch time ``m_i``
(its length, in effect), log-normal around the simulator's ``watch_seconds``, and negatively
correlated with how attractive the item is (``clickbait``: what draws clicks is not what keeps
people watching)::

    z_i = −clickbait · std(mean attraction of i) + √(1 − clickbait²) · noise_i
    m_i = watch_seconds · exp(sigma · z_i − sigma² / 2)

`WatchSimulator` draws a click's watch time as exponential with mean ``m_i``; the expected
watch time of a slate is exact under the position model: ``Σ_r e_r(u) · a(u, i_r) · m_{i_r}``.

Two pointwise models over the same features (`PairFeatures`):

- click-trained logistic regression: every impression weight 1, label = click;
- watch-time-weighted logistic regression (the paper's): clicked impressions weighted by their
  watch time, the others by 1. Its odds ``e^{w·x}`` then estimate ``Σ watch / #unclicked``,
  about the expected watch time of an impression (``E[T] / (1 − P(click))``, close to E[T]
  when clicks are rare), so ranking by its score ranks by expected watch time.

`compare_objectives` ranks each user's candidate pool both ways and reads the expected watch
time and clicks of the top slate from the simulator's truth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from scipy.sparse.linalg import svds

from workbench.casestudies.common import torch_threads
from workbench.checks import check_count
from workbench.data.dataset import Dataset
from workbench.experiment.hashing import stable_normal
from workbench.experiment.simulator import Impressions, SimulatorConfig, UserSimulator


@dataclass(frozen=True)
class WatchConfig:
    """sigma: spread of log mean watch time across items; clickbait: in [0, 1), how strongly
    attractive items are watched for less; seed: the items' noise."""

    sigma: float = 0.8
    clickbait: float = 0.6
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.sigma >= 0:
            raise ValueError(f"WatchConfig.sigma={self.sigma!r}: expected >= 0")
        if not 0.0 <= self.clickbait < 1.0:
            raise ValueError(f"WatchConfig.clickbait={self.clickbait!r}: expected a number in [0, 1)")


class WatchSimulator(UserSimulator):
    """The workbench's simulator with an item-specific mean watch time ``item_watch [n_items]`` (seconds)."""

    def __init__(self, world, item_watch: np.ndarray, config: SimulatorConfig | None = None) -> None:
        super().__init__(world, config)
        self.item_watch = np.asarray(item_watch, dtype=np.float64)
        if self.item_watch.ndim != 1 or (self.item_watch < 0).any():
            raise ValueError("item_watch must be a 1-D array of non-negative mean watch seconds, one per item")

    def simulate_watch(self, users: np.ndarray, items: np.ndarray, rng: np.random.Generator | int
                       ) -> tuple[Impressions, np.ndarray]:  # fmt: skip
        """Show ``items [N, k]`` once; returns the impressions (``seconds`` = browsing + these watch
        times) and each cell's watch seconds ``[N, k]`` (0 where not clicked)."""
        rng = np.random.default_rng(rng)
        imp = self.simulate(users, items, rng)
        watch = np.zeros(imp.clicks.shape)
        rows, cols = np.nonzero(imp.clicks)
        watch[rows, cols] = rng.exponential(self.item_watch[items[rows, cols]])
        imp.seconds = self.config.browse_seconds * imp.examined.sum(axis=1) + watch.sum(axis=1)
        return imp, watch

    def expected_watch(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Exact expected watch seconds of showing ``items [N, k]`` once (position model): ``Σ e·a·m``, ``[N]``."""
        p = self.examination(users, items.shape[1]) * self.attractiveness(users, items)
        return (p * np.where(items >= 0, self.item_watch[np.maximum(items, 0)], 0.0)).sum(axis=1)

    def expected_clicks(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Exact expected clicks of showing ``items [N, k]`` once: ``Σ e·a``, ``[N]``."""
        return (self.examination(users, items.shape[1]) * self.attractiveness(users, items)).sum(axis=1)


def item_watch_means(world, n_users: int, n_items: int, watch_seconds: float, config: WatchConfig) -> np.ndarray:
    """``m_i`` as in the module docstring; the mean attraction of an item is over all users."""
    mean_attraction = np.asarray(world.true_affinity(np.arange(n_users), np.arange(n_items))).mean(axis=0)
    sd = mean_attraction.std()
    appeal = (mean_attraction - mean_attraction.mean()) / (sd if sd > 0 else 1.0)
    noise = stable_normal(f"watch:{config.seed}", np.arange(n_items))
    z = -config.clickbait * appeal + np.sqrt(1.0 - config.clickbait**2) * noise
    return watch_seconds * np.exp(config.sigma * z - 0.5 * config.sigma**2)


# --- features -----------------------------------------------------------------------
class PairFeatures:
    """Dense features of (user, item) pairs from a train Dataset and a base scorer:

    ``genre_affinity`` (user genre profile · item genres / number of item genres), the
    elementwise product of the user's and item's rank-``rank`` SVD factors of the train matrix,
    and the base score z-scored within the user's row. Plus the item index, for a per-item term.
    """

    def __init__(self, train: Dataset, base_scores: np.ndarray, rank: int = 16, seed: int = 0) -> None:
        check_count("rank", rank, 1)
        x = train.matrix.astype(np.float64)
        rank = min(rank, min(x.shape) - 1)
        u, s, vt = svds(sp.csr_matrix(x), k=rank, random_state=seed)
        self.user_factors = (u * np.sqrt(s)).astype(np.float32)  # [U, r]
        self.item_factors = (vt.T * np.sqrt(s)).astype(np.float32)  # [I, r]
        counts = np.asarray((x @ train.item_genres).astype(np.float64))
        total = counts.sum(axis=1, keepdims=True)
        self.profile = np.divide(counts, total, out=np.zeros_like(counts), where=total > 0).astype(np.float32)
        self.genres = train.item_genres.astype(np.float32)
        self.n_genres = np.maximum(self.genres.sum(axis=1), 1.0)
        b = np.where(np.isfinite(base_scores), base_scores, np.nan).astype(np.float64)
        mu, sd = np.nanmean(b, axis=1, keepdims=True), np.nanstd(b, axis=1, keepdims=True)
        self.base = np.nan_to_num((b - mu) / np.where(sd > 0, sd, 1.0)).astype(np.float32)
        self.n_items = train.n_items
        self.dim = 2 + self.user_factors.shape[1]

    def dense(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """float32 ``[N, dim]`` for pairs ``users [N]``, ``items [N]``."""
        users, items = np.asarray(users, dtype=np.int64), np.asarray(items, dtype=np.int64)
        affinity = (self.profile[users] * self.genres[items]).sum(axis=1) / self.n_genres[items]
        svd = self.user_factors[users] * self.item_factors[items]
        return np.hstack([affinity[:, None], svd, self.base[users, items][:, None]]).astype(np.float32)


@dataclass(eq=False)
class ImpressionLog:
    """Logged impressions flattened to cells: one row per shown (user, item, position)."""

    users: np.ndarray
    items: np.ndarray
    positions: np.ndarray
    clicks: np.ndarray
    watch: np.ndarray  # seconds, 0 where not clicked

    def __len__(self) -> int:
        return len(self.users)

    def select(self, mask: np.ndarray) -> ImpressionLog:
        return ImpressionLog(self.users[mask], self.items[mask], self.positions[mask], self.clicks[mask], self.watch[mask])


def candidate_pools(train: Dataset, base_scores: np.ndarray, pool: int = 50) -> np.ndarray:
    """int64 ``[U, pool]``: each user's best unseen items by the base scorer, best first."""
    s = np.asarray(base_scores, dtype=np.float64).copy()
    r, c = train.matrix.nonzero()
    s[r, c] = -np.inf
    top = np.argpartition(-s, pool - 1, axis=1)[:, :pool]
    return np.take_along_axis(top, np.argsort(-np.take_along_axis(s, top, axis=1), axis=1), axis=1)


def log_impressions(sim: WatchSimulator, pools: np.ndarray, impressions_per_user: int = 5, k: int = 10,
                    seed: int = 0) -> ImpressionLog:  # fmt: skip
    """A logging policy that shows each user ``impressions_per_user`` slates of ``k`` items drawn
    uniformly from their pool in random order (so position and item are not confounded)."""
    check_count("impressions_per_user", impressions_per_user, 1)
    check_count("k", k, 1)
    if k > pools.shape[1]:
        raise ValueError(f"k={k} exceeds the pool of {pools.shape[1]} items per user")
    rng = np.random.default_rng(seed)
    users = np.repeat(np.arange(len(pools)), impressions_per_user)
    pick = np.argsort(rng.random((len(users), pools.shape[1])), axis=1)[:, :k]
    shown = np.take_along_axis(pools[users], pick, axis=1)  # [N, k]
    imp, watch = sim.simulate_watch(users, shown, rng)
    cells = shown >= 0
    return ImpressionLog(np.broadcast_to(users[:, None], shown.shape)[cells], shown[cells],
                         np.broadcast_to(np.arange(k), shown.shape)[cells], imp.clicks[cells], watch[cells])  # fmt: skip


# --- logistic regression with sample weights -----------------------------------------
class LogisticModel:
    """``logit = w · dense + b_item + c``, fitted by L-BFGS on sample-weighted log-loss + ``l2`` ‖w, b‖²."""

    def __init__(self, l2: float = 1e-3, max_iter: int = 200) -> None:
        if not l2 >= 0:
            raise ValueError(f"l2={l2!r}: expected >= 0")
        self.l2, self.max_iter = l2, check_count("max_iter", max_iter, 1)

    def fit(self, dense: np.ndarray, items: np.ndarray, labels: np.ndarray, weights: np.ndarray | None,
            n_items: int) -> LogisticModel:  # fmt: skip
        x = torch.from_numpy(np.asarray(dense, dtype=np.float64))
        i = torch.from_numpy(np.asarray(items, dtype=np.int64))
        y = torch.from_numpy(np.asarray(labels, dtype=np.float64))
        w = torch.ones_like(y) if weights is None else torch.from_numpy(np.asarray(weights, dtype=np.float64))
        if (w < 0).any():
            raise ValueError("sample weights must be non-negative")
        coef = torch.zeros(x.shape[1], dtype=torch.float64, requires_grad=True)
        bias = torch.zeros(n_items, dtype=torch.float64, requires_grad=True)
        const = torch.zeros(1, dtype=torch.float64, requires_grad=True)
        opt = torch.optim.LBFGS([coef, bias, const], max_iter=self.max_iter, line_search_fn="strong_wolfe",
                                tolerance_grad=1e-9, tolerance_change=1e-12)  # fmt: skip
        total = w.sum()

        def closure():
            opt.zero_grad()
            logit = x @ coef + bias[i] + const
            loss = (w * torch.nn.functional.binary_cross_entropy_with_logits(logit, y, reduction="none")).sum() / total
            loss = loss + self.l2 * (coef.square().sum() + bias.square().sum())
            loss.backward()
            return loss

        with torch_threads(1):
            opt.step(closure)
        self.coef_, self.bias_, self.const_ = coef.detach().numpy(), bias.detach().numpy(), float(const.detach())
        return self

    def logit(self, dense: np.ndarray, items: np.ndarray) -> np.ndarray:
        return np.asarray(dense, dtype=np.float64) @ self.coef_ + self.bias_[np.asarray(items, dtype=np.int64)] + self.const_


def watch_weights(log: ImpressionLog) -> np.ndarray:
    """The paper's weights: a clicked impression weighs its watch seconds, an unclicked one 1."""
    return np.where(log.clicks, log.watch, 1.0)


def rank_pools(pools: np.ndarray, scores: np.ndarray, k: int) -> np.ndarray:
    """The top ``k`` of each pool row by ``scores [U, pool]``, best first."""
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(pools, order, axis=1)


@dataclass(eq=False)
class WatchSetup:
    """Everything the watch-time comparisons share: simulator, features, pools, logs."""

    sim: WatchSimulator
    features: PairFeatures
    pools: np.ndarray
    train_log: ImpressionLog
    valid_log: ImpressionLog


def watch_setup(train: Dataset, world, base_scores: np.ndarray, watch: WatchConfig | None = None,
                simulator: SimulatorConfig | None = None, pool: int = 50, impressions_per_user: int = 5,
                k: int = 10, seed: int = 0) -> WatchSetup:  # fmt: skip
    """The item watch times, the simulator, features, pools and a train and a validation log."""
    watch = watch or WatchConfig(seed=seed)
    simulator = simulator or SimulatorConfig(seed=seed)
    means = item_watch_means(world, train.n_users, train.n_items, simulator.watch_seconds, watch)
    sim = WatchSimulator(world, means, simulator)
    pools = candidate_pools(train, base_scores, pool)
    feats = PairFeatures(train, base_scores, seed=seed)
    return WatchSetup(sim, feats, pools, log_impressions(sim, pools, impressions_per_user, k, seed),
                      log_impressions(sim, pools, impressions_per_user, k, seed + 1))  # fmt: skip


def pool_scores(setup: WatchSetup, score) -> np.ndarray:
    """``score(dense, items) -> [N]`` over every (user, pool item), as ``[U, pool]``."""
    u = np.repeat(np.arange(len(setup.pools)), setup.pools.shape[1])
    i = setup.pools.ravel()
    return np.asarray(score(setup.features.dense(u, i), i)).reshape(setup.pools.shape)


def slate_value(setup: WatchSetup, slates: np.ndarray) -> dict[str, float]:
    """Mean expected watch seconds and clicks per session of showing ``slates [U, k]`` (simulator truth)."""
    users = np.arange(len(slates))
    return {"watch_seconds": float(setup.sim.expected_watch(users, slates).mean()),
            "clicks": float(setup.sim.expected_clicks(users, slates).mean())}  # fmt: skip


def compare_objectives(setup: WatchSetup, k: int = 10, l2: float = 1e-3) -> pd.DataFrame:
    """Click-trained against watch-time-weighted logistic regression (plus the truth's best and a
    random order of the pool): expected watch seconds and clicks of each one's top-``k`` slates."""
    log, f = setup.train_log, setup.features
    dense = f.dense(log.users, log.items)
    models = {
        "click-trained LR": LogisticModel(l2).fit(dense, log.items, log.clicks, None, f.n_items),
        "watch-time-weighted LR": LogisticModel(l2).fit(dense, log.items, log.clicks, watch_weights(log), f.n_items),
    }
    rows = {}
    for name, model in models.items():
        rows[name] = slate_value(setup, rank_pools(setup.pools, pool_scores(setup, model.logit), k))
    users = np.repeat(np.arange(len(setup.pools)), setup.pools.shape[1])
    truth = setup.sim.attractiveness(users, setup.pools.reshape(-1, 1)).reshape(setup.pools.shape)
    rows["truth: by a·m (upper bound)"] = slate_value(setup, rank_pools(setup.pools, truth * setup.sim.item_watch[setup.pools], k))
    rows["truth: by a (best for clicks)"] = slate_value(setup, rank_pools(setup.pools, truth, k))
    rng = np.random.default_rng(0)
    rows["random order of the pool"] = slate_value(setup, rank_pools(setup.pools, rng.random(setup.pools.shape), k))
    return pd.DataFrame.from_dict(rows, orient="index")
