"""Netflix/YouTube in miniature: one network, two objectives (multi-task learning).

A shared trunk reads the pair features (`watchtime.PairFeatures`) and an item embedding; two
heads sit on it, one predicting the click, one the watch time of a click::

    h = ReLU(W [dense ‖ E_item] + b)                      [N, hidden]   (the shared trunk)
    click logit = h · c + c0,   watch = h · v + v0        [N], [N]
    loss = weight · BCE(click) + (1 − weight) · MSE(watch / scale | clicked)

``weight = 1`` trains a click-only model, ``weight = 0`` a watch-only one: the two single-task
baselines are the same network trained on one loss each (two trunks, twice the parameters).
Either way a pair is ranked by its expected watch time, ``P(click) · E[watch | click]``.
`fit_together` trains several such networks (one per click weight) in one loop: with the same seed each
starts from the same initialisation and sees the same batches as it would alone, and since Adam updates
every parameter element by element, the sum of their losses trains each exactly as its own `fit` does
(up to float rounding), at one Python step per batch instead of one per network and batch.
`compare_multitask` trains the multi-task network and the two single-task ones on the same
log and reads click log-loss and AUC, watch-time error, and the simulator's expected watch
time of each one's slates; the truth (attraction, mean watch time) judges the heads too.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from scipy.stats import rankdata, spearmanr
from torch import nn

from workbench.casestudies.common import torch_threads
from workbench.casestudies.watchtime import ImpressionLog, WatchSetup, pool_scores, rank_pools, slate_value
from workbench.checks import check_count, check_unit_interval
from workbench.rebuildable import rebuildable


@rebuildable
class MultiTaskNet(nn.Module):
    """Shared trunk over ``[dense ‖ item embedding]``, a click head and a watch head."""

    def __init__(self, n_items: int, dense_dim: int, item_dim: int = 8, hidden: int = 32) -> None:
        super().__init__()
        self.item = nn.Embedding(n_items, item_dim)
        nn.init.normal_(self.item.weight, std=0.05)
        self.trunk = nn.Sequential(nn.Linear(dense_dim + item_dim, hidden), nn.ReLU())
        self.click = nn.Linear(hidden, 1)
        self.watch = nn.Linear(hidden, 1)

    def forward(self, dense: torch.Tensor, items: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """dense ``[N, f]``, items ``[N]`` → (click logits ``[N]``, watch / scale ``[N]``)."""
        h = self.trunk(torch.cat([dense, self.item(items)], dim=1))  # [N, hidden]
        return self.click(h).squeeze(1), self.watch(h).squeeze(1)


@dataclass(frozen=True)
class MultiTaskConfig:
    """weight: the click loss's share (1 − weight goes to the watch loss); hidden, item_dim: sizes;
    epochs, batch_size, lr: Adam; seed: initialisation and batches."""

    weight: float = 0.5
    hidden: int = 32
    item_dim: int = 8
    epochs: int = 20
    batch_size: int = 1024
    lr: float = 5e-3
    seed: int = 0

    def __post_init__(self) -> None:
        check_unit_interval("MultiTaskConfig.weight", self.weight)
        for name in ("hidden", "item_dim", "epochs", "batch_size"):
            check_count(f"MultiTaskConfig.{name}", getattr(self, name), 1)
        check_count("MultiTaskConfig.seed", self.seed, 0)
        if not self.lr > 0:
            raise ValueError(f"MultiTaskConfig.lr={self.lr!r}: expected > 0")


class MultiTaskRanker:
    """`MultiTaskNet` trained on logged impressions with the weighted two-task loss."""

    def __init__(self, config: MultiTaskConfig | None = None) -> None:
        self.config = config or MultiTaskConfig()

    def fit(self, dense: np.ndarray, items: np.ndarray, clicks: np.ndarray, watch: np.ndarray, n_items: int,
            scale: float = 60.0) -> MultiTaskRanker:  # fmt: skip
        """dense ``[N, f]``, items/clicks/watch ``[N]`` (watch seconds, used where clicked); ``scale``
        divides the watch seconds so both losses are of order one."""
        cfg = self.config
        if not scale > 0:
            raise ValueError(f"scale={scale!r}: expected positive seconds")
        x = torch.from_numpy(np.asarray(dense, dtype=np.float32))
        i = torch.from_numpy(np.asarray(items, dtype=np.int64))
        y = torch.from_numpy(np.asarray(clicks, dtype=np.float32))
        t = torch.from_numpy(np.asarray(watch, dtype=np.float32) / scale)
        self.scale_ = float(scale)
        rng = np.random.default_rng(cfg.seed)
        start = time.perf_counter()
        with torch.random.fork_rng(devices=[]), torch_threads(1):
            torch.manual_seed(cfg.seed)
            net = MultiTaskNet(n_items, x.shape[1], cfg.item_dim, cfg.hidden)
            opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
            for _ in range(cfg.epochs):
                for pick in np.array_split(rng.permutation(len(y)), max(1, -(-len(y) // cfg.batch_size))):
                    p = torch.from_numpy(pick)
                    loss = self.loss(net, x[p], i[p], y[p], t[p])
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
        self.net_ = net.eval()
        self.fit_seconds_ = time.perf_counter() - start
        return self

    def loss(self, net: MultiTaskNet, x: torch.Tensor, i: torch.Tensor, y: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """``weight · BCE + (1 − weight) · MSE over clicked rows`` (a batch without clicks: BCE share only)."""
        w = self.config.weight
        logit, watch = net(x, i)
        loss = w * nn.functional.binary_cross_entropy_with_logits(logit, y)
        clicked = y > 0
        if w < 1.0 and clicked.any():
            loss = loss + (1.0 - w) * nn.functional.mse_loss(watch[clicked], t[clicked])
        return loss

    def predict(self, dense: np.ndarray, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(click probability ``[N]``, expected watch seconds given a click ``[N]``)."""
        with torch.no_grad(), torch_threads(1):
            logit, watch = self.net_(torch.from_numpy(np.asarray(dense, dtype=np.float32)),
                                     torch.from_numpy(np.asarray(items, dtype=np.int64)))  # fmt: skip
        return torch.sigmoid(logit).numpy().astype(np.float64), np.maximum(watch.numpy().astype(np.float64), 0.0) * self.scale_

    @property
    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.net_.parameters())


def fit_together(weights: Sequence[float], config: MultiTaskConfig, dense: np.ndarray, items: np.ndarray,
                 clicks: np.ndarray, watch: np.ndarray, n_items: int, scale: float = 60.0) -> list[MultiTaskRanker]:  # fmt: skip
    """One `MultiTaskRanker` per click weight (``config`` with its ``weight`` replaced), trained at once on
    stacked parameters (see the module docstring: each is trained as by its own ``fit``). Each ranker's
    ``fit_seconds_`` is the joint fit's seconds, the same for all."""
    if not scale > 0:
        raise ValueError(f"scale={scale!r}: expected positive seconds")
    cfgs = [MultiTaskConfig(**{**config.__dict__, "weight": float(w)}) for w in weights]  # checks each weight
    if not cfgs:
        raise ValueError("fit_together: no weights given; expected at least one")
    x = torch.from_numpy(np.asarray(dense, dtype=np.float32))
    i = torch.from_numpy(np.asarray(items, dtype=np.int64))
    y = torch.from_numpy(np.asarray(clicks, dtype=np.float32))
    t = torch.from_numpy(np.asarray(watch, dtype=np.float32) / scale)
    g = len(cfgs)
    w = torch.tensor([c.weight for c in cfgs], dtype=torch.float32)
    rng = np.random.default_rng(config.seed)
    start = time.perf_counter()
    with torch.random.fork_rng(devices=[]), torch_threads(1):
        torch.manual_seed(config.seed)
        init = MultiTaskNet(n_items, x.shape[1], config.item_dim, config.hidden)  # what each network's own fit starts from

        def stacked(p: torch.Tensor) -> torch.Tensor:
            return p.detach().unsqueeze(0).repeat(g, *([1] * p.dim())).requires_grad_(True)

        emb, w1, b1 = stacked(init.item.weight), stacked(init.trunk[0].weight.T), stacked(init.trunk[0].bias)
        c, c0 = stacked(init.click.weight[0]), stacked(init.click.bias)
        v, v0 = stacked(init.watch.weight[0]), stacked(init.watch.bias)
        params = [emb, w1, b1, c, c0, v, v0]
        opt = torch.optim.Adam(params, lr=config.lr)
        for _ in range(config.epochs):
            for pick in np.array_split(rng.permutation(len(y)), max(1, -(-len(y) // config.batch_size))):
                p = torch.from_numpy(pick)
                xb, yb, tb = x[p], y[p], t[p]
                z = torch.cat([xb.unsqueeze(0).expand(g, -1, -1), emb[:, i[p]]], dim=2)  # [G, B, f + item_dim]
                h = torch.relu(torch.baddbmm(b1.unsqueeze(1), z, w1))  # [G, B, hidden]
                logit = (h * c.unsqueeze(1)).sum(2) + c0  # [G, B]
                pred = (h * v.unsqueeze(1)).sum(2) + v0
                bce = nn.functional.binary_cross_entropy_with_logits(logit, yb.expand(g, -1), reduction="none").mean(1)
                clicked = yb > 0
                n_clicked = int(clicked.sum())
                loss = w * bce
                if n_clicked:  # `MultiTaskRanker.loss`: the watch loss over clicked rows, where the weight leaves it a share
                    mse = ((pred[:, clicked] - tb[clicked]) ** 2).mean(1)
                    loss = loss + torch.where(w < 1.0, (1.0 - w) * mse, torch.zeros_like(mse))
                opt.zero_grad()
                loss.sum().backward()
                opt.step()
    seconds = time.perf_counter() - start
    out = []
    for k, cfg in enumerate(cfgs):
        with torch.random.fork_rng(devices=[]):  # the shell's own initialisation is overwritten: leave the global RNG alone
            net = MultiTaskNet(n_items, x.shape[1], config.item_dim, config.hidden)
        with torch.no_grad():
            net.item.weight.copy_(emb[k])
            net.trunk[0].weight.copy_(w1[k].T)
            net.trunk[0].bias.copy_(b1[k])
            net.click.weight.copy_(c[k].unsqueeze(0))
            net.click.bias.copy_(c0[k])
            net.watch.weight.copy_(v[k].unsqueeze(0))
            net.watch.bias.copy_(v0[k])
        ranker = MultiTaskRanker(cfg)
        ranker.net_, ranker.scale_, ranker.fit_seconds_ = net.eval(), float(scale), seconds
        out.append(ranker)
    return out


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve by the rank-sum (Mann–Whitney) formula, ties averaged."""
    labels = np.asarray(labels, dtype=bool)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(scores)
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def log_loss(labels: np.ndarray, p: np.ndarray) -> float:
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-7, 1 - 1e-7)
    y = np.asarray(labels, dtype=np.float64)
    return float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).mean())


def compare_multitask(setup: WatchSetup, weight: float | Sequence[float] = 0.5, k: int = 10,
                      config: MultiTaskConfig | None = None) -> pd.DataFrame:  # fmt: skip
    """Multi-task (click share ``weight``, or one network per weight of a sequence) against two
    single-task networks (trained once), on the validation log
    and in the simulator. One row per model: click log-loss and AUC on the logged clicks, the rank
    correlation of the predicted click probability with the true attraction ``a(u, i)``, the RMSE of
    the predicted watch time against the item's true mean ``m_i`` (seconds), parameters (all networks
    are trained at once by `fit_together`, so no row has fit seconds of its own), and the expected watch seconds and clicks of its top-``k`` slates."""
    base = config or MultiTaskConfig()
    log, valid, f = setup.train_log, setup.valid_log, setup.features
    dense, vdense = f.dense(log.users, log.items), f.dense(valid.users, valid.items)
    scale = setup.sim.config.watch_seconds

    weights = [float(weight)] if np.isscalar(weight) else [float(w) for w in weight]
    # every network at once (`fit_together`): the multi-task one per weight, then click-only (1) and watch-only (0)
    nets = fit_together([*weights, 1.0, 0.0], base, dense, log.items, log.clicks, log.watch, f.n_items, scale)
    pairs = {f"multi-task (click weight {w:g})": (m, m, m.n_parameters) for w, m in zip(weights, nets)}
    click_only, watch_only = nets[-2], nets[-1]
    pairs["two single-task models"] = (click_only, watch_only, click_only.n_parameters + watch_only.n_parameters)
    attraction = setup.sim.attractiveness(valid.users, valid.items[:, None])[:, 0]  # the truth behind a click
    true_watch = setup.sim.item_watch[valid.items]
    rows = {}
    for name, (clicker, watcher, n_params) in pairs.items():
        p, _ = clicker.predict(vdense, valid.items)
        _, m = watcher.predict(vdense, valid.items)
        expected = lambda d, i: clicker.predict(d, i)[0] * watcher.predict(d, i)[1]  # noqa: E731
        slates = rank_pools(setup.pools, pool_scores(setup, expected), k)
        rows[name] = {"click_log_loss": log_loss(valid.clicks, p), "click_auc": auc(valid.clicks, p),
                      "click_vs_true_attraction": float(spearmanr(p, attraction).statistic),
                      "watch_rmse_vs_truth_s": float(np.sqrt(np.mean((m - true_watch) ** 2))),
                      "parameters": n_params, **slate_value(setup, slates)}  # fmt: skip
    return pd.DataFrame.from_dict(rows, orient="index")


__all__ = ["ImpressionLog", "MultiTaskConfig", "MultiTaskNet", "MultiTaskRanker", "auc", "compare_multitask", "fit_together",
           "log_loss"]
