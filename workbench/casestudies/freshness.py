"""YouTube in miniature: the *example age* feature ("freshness matters", Covington et al. 2016, §3.3).

A model trained on a window of logs learns, for each item, its share of the window's events.
But popularity is not stationary: an item is watched most just after it is uploaded. An item
uploaded two days before the end of a sixty-day window had no events for 58 of those days, so
its share of the window is small, and a model without time predicts that small share at
serving time, when the item is at its freshest: it *under-predicts fresh items*. The paper's
fix: give every training example its age (how long before the end of the window it was
logged) as a feature, and set the feature to zero at serving, which asks the model "what
would be watched now?".

The world (`FreshWorld`): items uploaded over a back catalogue and during the window; item
``i``'s event rate on day ``t`` is::

    λ_i(t) = exp(q_i) · (1 + burst · exp(−(t − u_i) / decay_days))   for t ≥ u_i (upload day u_i), else 0

and each day's events are drawn from the shares ``λ_i(t) / Σ_j λ_j(t)``. The truth at serving
(``t = days``, the end of the window) is the share ``p_i(days)``.

The model (`ExampleAgeModel`), a softmax over the catalogue like the paper's candidate
generator (one output vector per video)::

    logit_i(e) = b_i + V_i · φ[bucket(e)]          e = example age in days, φ: [buckets, rank]

``use_example_age=False`` drops the second term: its maximum-likelihood fit is exactly each
item's share of the window (the empirical frequency). With it, the logit of an item can
follow its own time profile; at serving ``e = 0``. Trained on the aggregated counts
``C[bucket, item]`` (the exact log-likelihood of the events), by L-BFGS.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from workbench.casestudies.common import torch_threads
from workbench.checks import check_count

AGE_EDGES = (0.0, 2.0, 7.0, 14.0, 30.0, 60.0, np.inf)  # item age at serving (days) for the calibration table


@dataclass(frozen=True)
class FreshConfig:
    """n_items; days: the training window; new_fraction: share of items uploaded during the window
    (the rest up to ``catalogue_days`` before it); events_per_day; burst, decay_days: the fresh
    spike; quality_sigma: spread of the items' baseline log-rate ``q_i``; seed."""

    n_items: int = 400
    days: int = 60
    new_fraction: float = 0.5
    catalogue_days: float = 365.0
    events_per_day: int = 2000
    burst: float = 8.0
    decay_days: float = 4.0
    quality_sigma: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("n_items", "days", "events_per_day"):
            check_count(f"FreshConfig.{name}", getattr(self, name), 1)
        check_count("FreshConfig.seed", self.seed, 0)
        if not 0.0 <= self.new_fraction <= 1.0:
            raise ValueError(f"FreshConfig.new_fraction={self.new_fraction!r}: expected a share in [0, 1]")
        for name in ("catalogue_days", "decay_days"):
            if not getattr(self, name) > 0:
                raise ValueError(f"FreshConfig.{name}={getattr(self, name)!r}: expected > 0 days")
        if not self.burst >= 0 or not self.quality_sigma >= 0:
            raise ValueError(f"FreshConfig.burst={self.burst!r} and quality_sigma={self.quality_sigma!r}: expected >= 0")


class FreshWorld:
    """Items with upload days ``upload [n_items]`` (day 0 = window start) and quality ``quality [n_items]``."""

    def __init__(self, config: FreshConfig | None = None) -> None:
        self.config = cfg = config or FreshConfig()
        rng = np.random.default_rng(cfg.seed)
        new = rng.random(cfg.n_items) < cfg.new_fraction
        self.upload = np.where(new, rng.uniform(0.0, cfg.days, cfg.n_items), -rng.uniform(0.0, cfg.catalogue_days, cfg.n_items))
        self.quality = rng.normal(0.0, cfg.quality_sigma, cfg.n_items)

    def rates(self, t: np.ndarray | float) -> np.ndarray:
        """``λ_i(t)``: ``[T, n_items]`` for days ``t [T]`` (or ``[n_items]`` for one day)."""
        t = np.asarray(t, dtype=np.float64)
        age = t[..., None] - self.upload  # [T, n_items]
        cfg = self.config
        alive = age >= 0
        return np.where(alive, np.exp(self.quality) * (1.0 + cfg.burst * np.exp(-np.where(alive, age, 0.0) / cfg.decay_days)), 0.0)

    def shares(self, t: np.ndarray | float) -> np.ndarray:
        """The event share of every item on day(s) ``t`` (rows sum to 1)."""
        r = self.rates(t)
        return r / r.sum(axis=-1, keepdims=True)

    def item_age(self, t: float) -> np.ndarray:
        """Days since upload at day ``t`` (negative: not uploaded yet)."""
        return t - self.upload

    def log(self, seed: int | None = None) -> np.ndarray:
        """The window's events as counts ``C [days, n_items]``: day ``d``'s events are multinomial over
        the shares at mid-day ``d + ½``."""
        cfg = self.config
        rng = np.random.default_rng(cfg.seed + 1 if seed is None else seed)
        p = self.shares(np.arange(cfg.days) + 0.5)
        return np.stack([rng.multinomial(cfg.events_per_day, row) for row in p])  # one draw per day


def example_age(days: int) -> np.ndarray:
    """The example age of each day of a ``days``-day window: days before its end, ``days − (d + ½)``."""
    return days - (np.arange(days) + 0.5)


class ExampleAgeModel:
    """Softmax over items with (``use_example_age``) or without the example-age term; see the module docstring.

    bucket_days: width of an example-age bucket; rank: size of ``φ`` and ``V``; l2: penalty on
    ``V`` and ``φ``; max_iter: L-BFGS iterations; seed: initialisation.
    """

    def __init__(self, use_example_age: bool = True, bucket_days: float = 1.0, rank: int = 8, l2: float = 1e-4,
                 max_iter: int = 300, seed: int = 0) -> None:  # fmt: skip
        if not bucket_days > 0:
            raise ValueError(f"bucket_days={bucket_days!r}: expected a positive width in days")
        self.use_example_age, self.bucket_days = bool(use_example_age), float(bucket_days)
        self.rank, self.max_iter = check_count("rank", rank, 1), check_count("max_iter", max_iter, 1)
        if not l2 >= 0:
            raise ValueError(f"l2={l2!r}: expected >= 0")
        self.l2, self.seed = l2, check_count("seed", seed, 0)

    def bucket(self, age: np.ndarray | float) -> np.ndarray:
        """Example-age bucket of ages in days (negative ages, i.e. later than the window's end, go to 0)."""
        return np.minimum(np.floor(np.maximum(np.asarray(age, dtype=np.float64), 0.0) / self.bucket_days),
                          self.n_buckets_ - 1).astype(np.int64)  # fmt: skip

    def fit(self, counts: np.ndarray, ages: np.ndarray) -> ExampleAgeModel:
        """counts ``[T, n_items]``: events per item in each of ``T`` time slices of example age ``ages [T]`` (days)."""
        counts = np.asarray(counts, dtype=np.float64)
        ages = np.asarray(ages, dtype=np.float64)
        if counts.ndim != 2 or len(ages) != counts.shape[0]:
            raise ValueError(f"counts must be [T, n_items] with one age per row; got {counts.shape} and {ages.shape}")
        if (counts < 0).any() or not counts.sum() > 0:
            raise ValueError("counts must be non-negative event counts with at least one event")
        self.n_items_ = counts.shape[1]
        self.n_buckets_ = int(np.floor(max(ages.max(), 0.0) / self.bucket_days)) + 1
        b = self.bucket(ages)
        table = np.zeros((self.n_buckets_, self.n_items_))
        np.add.at(table, b, counts)
        c = torch.from_numpy(table)
        gen = torch.Generator().manual_seed(self.seed)
        bias = torch.zeros(self.n_items_, dtype=torch.float64, requires_grad=True)
        V = (0.01 * torch.randn(self.n_items_, self.rank, generator=gen, dtype=torch.float64)).requires_grad_()
        phi = (0.01 * torch.randn(self.n_buckets_, self.rank, generator=gen, dtype=torch.float64)).requires_grad_()
        params = [bias, V, phi] if self.use_example_age else [bias]
        opt = torch.optim.LBFGS(params, max_iter=self.max_iter, line_search_fn="strong_wolfe", tolerance_grad=1e-10,
                                tolerance_change=1e-14, history_size=20)  # fmt: skip
        total = c.sum()

        def closure():
            opt.zero_grad()
            logits = self._logits(bias, V, phi)  # [B, n_items]
            loss = -(c * torch.log_softmax(logits, dim=1)).sum() / total
            if self.use_example_age:
                loss = loss + self.l2 * (V.square().sum() + phi.square().sum())
            loss.backward()
            return loss

        with torch_threads(1):
            opt.step(closure)
        self.bias_, self.V_, self.phi_ = bias.detach().numpy(), V.detach().numpy(), phi.detach().numpy()
        return self

    def _logits(self, bias, V, phi):
        if not self.use_example_age:
            return bias.expand(phi.shape[0], -1)
        return bias + phi @ V.T  # [B, n_items]

    def shares(self, age: float = 0.0) -> np.ndarray:
        """Predicted event share of every item at example age ``age`` (serving: 0)."""
        logit = self.bias_ + (self.phi_[int(self.bucket(age))] @ self.V_.T if self.use_example_age else 0.0)
        e = np.exp(logit - logit.max())
        return e / e.sum()


def calibration(world: FreshWorld, models: dict[str, ExampleAgeModel], edges=AGE_EDGES) -> pd.DataFrame:
    """Per band of item age at serving: items, true share now, and each model's predicted share and
    predicted / true ratio (< 1: under-predicted). Serving is the end of the window, example age 0."""
    now = float(world.config.days)
    truth = world.shares(now)
    labels = [f"{a:g}-{b:g} days" if np.isfinite(b) else f"≥ {a:g} days" for a, b in zip(edges[:-1], edges[1:])]
    band = pd.cut(world.item_age(now), list(edges), right=False, labels=labels)
    frame = pd.DataFrame({"band": band, "true_share": truth})
    for name, model in models.items():
        frame[name] = model.shares(0.0)
    out = frame.groupby("band", observed=False).agg(items=("true_share", "size"), true_share=("true_share", "sum"),
                                                    **{n: (n, "sum") for n in models})  # fmt: skip
    out = out[out["items"] > 0]  # bands without items (none uploaded then) are left out
    for name in models:
        out[f"{name} / true"] = out[name] / out["true_share"]
    out.index = out.index.astype(str)
    out.index.name = "item age at serving"
    return out


def top_k_capture(world: FreshWorld, model: ExampleAgeModel, k: int = 20) -> float:
    """The true share of events now that the model's top-``k`` items hold (the truth's own top-k is the ceiling)."""
    truth = world.shares(float(world.config.days))
    return float(truth[np.argsort(-model.shares(0.0), kind="stable")[:k]].sum())


def fit_both(world: FreshWorld, counts: np.ndarray | None = None, **model_kwargs) -> dict[str, ExampleAgeModel]:
    """The same log fitted without and with the example-age feature."""
    counts = world.log() if counts is None else counts
    ages = example_age(world.config.days)
    return {
        "without example age": ExampleAgeModel(False, **model_kwargs).fit(counts, ages),
        "with example age": ExampleAgeModel(True, **model_kwargs).fit(counts, ages),
    }
