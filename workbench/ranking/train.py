"""One training recipe for every ranker: labelled pairs from a carved "future", BCE, early stopping.

The two-stage recipe (Covington et al. 2016; the usual practice since): fit the candidate
sources on a user's *history*, label the candidates that show up in the user's *future*
as positives, and train the ranker on (user, candidate) pairs, so it learns on the
distribution it will rank. `fit_two_stage` carves that future from the training split
by time (each user's last ``future_fraction``), and hands the result to `Ranker.fit`
(`workbench.ranking.ranker.fit_two_stage`).

Within the future, each user's latest ``valid_fraction`` labels the validation pairs used
for early stopping; the earlier part labels the training pairs. Each positive is paired
with ``hard_negatives`` items drawn from the user's own candidates and ``easy_negatives``
drawn from the whole catalogue (negatives are re-drawn every epoch; an item that is in
fact a future positive keeps label 1, and validation positives never serve as training
negatives).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch import nn

from workbench.checks import check_count
from workbench.data.dataset import Dataset
from workbench.progress import report
from workbench.types import CandidateSet


# The TrainConfig fields only the torch rankers read (`train_torch`); GBDT has its own
# (`workbench.ranking.gbdt.GBDTConfig`: n_estimators, learning_rate, early_stopping_rounds ...).
TORCH_ONLY_FIELDS = ("epochs", "batch_size", "lr", "weight_decay", "patience")


@dataclass(frozen=True)
class TrainConfig:
    """Pair sampling and optimisation settings shared by all rankers."""

    hard_negatives: int = 8  # per positive, from the user's own candidates
    easy_negatives: int = 2  # per positive, uniformly from the catalogue
    unproposed_positives: bool = False  # also train on future items no source proposed
    valid_fraction: float = 0.3  # each user's latest share of the future, for early stopping
    epochs: int = 20
    batch_size: int = 1024
    lr: float = 2e-3
    weight_decay: float = 1e-5
    patience: int = 2
    seed: int | None = None  # None: 0 for a Ranker used alone; a Pipeline's seed inside a Pipeline
    # `fit_two_stage` trains on at most this many users with a future, drawn uniformly without
    # replacement with ``seed`` (None: all). It bounds the training set (candidates and their source
    # features: about 176 B per candidate cell, docs/ARCHITECTURE.md) as users grow; every world of
    # at most this many users is trained on all of them, so its figures do not change.
    max_users: int | None = 30_000

    def __post_init__(self) -> None:
        if self.hard_negatives < 0 or self.easy_negatives < 0 or self.hard_negatives + self.easy_negatives == 0:
            raise ValueError(
                f"TrainConfig: hard_negatives={self.hard_negatives}, easy_negatives={self.easy_negatives}; "
                "expected non-negative counts, not both 0"
            )
        if not 0.0 < self.valid_fraction < 1.0:
            raise ValueError(f"TrainConfig.valid_fraction={self.valid_fraction}: expected a number in (0, 1)")
        check_count("epochs", self.epochs, 1)
        check_count("batch_size", self.batch_size, 1)
        check_count("patience", self.patience, 0)
        if not (isinstance(self.lr, (int, float)) and 0.0 < self.lr < float("inf")):
            raise ValueError(f"lr={self.lr!r}: expected a positive, finite learning rate")
        if not (isinstance(self.weight_decay, (int, float)) and 0.0 <= self.weight_decay < float("inf")):
            raise ValueError(f"weight_decay={self.weight_decay!r}: expected a non-negative, finite L2 weight")
        if self.seed is not None:
            check_count("TrainConfig.seed (None: the pipeline's)", self.seed, 0)
        if self.max_users is not None:
            check_count("TrainConfig.max_users (None: every user with a future)", self.max_users, 1)


@dataclass(frozen=True)
class Pairs:
    """N labelled (user, item) pairs; ``cell`` is the flat index into the candidates ``[U·n]`` or -1."""

    users: np.ndarray
    items: np.ndarray
    labels: np.ndarray
    cell: np.ndarray

    def grouped(self, rng: np.random.Generator) -> Pairs:
        """Pairs grouped by user, shuffled within each user (so ties never favour the positives listed first)."""
        order = np.lexsort((rng.random(len(self.users)), self.users))
        return Pairs(self.users[order], self.items[order], self.labels[order], self.cell[order])


class PairSampler:
    """Draws labelled pairs for the users of ``positives`` (a Dataset of future interactions)."""

    def __init__(self, positives: Dataset, candidates: CandidateSet | None, n_items: int,
                 exclude: Dataset | None = None, unproposed_positives: bool = False) -> None:  # fmt: skip
        self.n_items = n_items
        inter = positives.interactions
        self.pos_keys = np.unique(inter["user"].to_numpy(np.int64) * n_items + inter["item"].to_numpy(np.int64))
        ex = exclude.interactions if exclude is not None else None
        self.excl_keys = (
            np.unique(ex["user"].to_numpy(np.int64) * n_items + ex["item"].to_numpy(np.int64))
            if ex is not None else np.zeros(0, np.int64)
        )  # fmt: skip
        self.candidates = candidates
        if candidates is not None:
            if len(np.unique(candidates.users)) != candidates.n_users:
                raise ValueError("candidates list a user in more than one row; expected one row per user")
            mask = candidates.mask
            keys = np.where(mask, candidates.users[:, None] * n_items + candidates.items, -1).ravel()
            self._cell_order = np.argsort(keys, kind="stable")
            self._cell_keys = keys[self._cell_order]
            self.row_of = np.full(max(positives.n_users, int(candidates.users.max()) + 1), -1, np.int64)
            self.row_of[candidates.users] = np.arange(candidates.n_users)
            self.counts = candidates.counts
        pu, pi = self.pos_keys // n_items, self.pos_keys % n_items
        cell = self.cell_of(self.pos_keys)
        keep = np.ones(len(pu), bool)
        if candidates is not None:
            has_row = (pu < len(self.row_of)) & (self.row_of[np.minimum(pu, len(self.row_of) - 1)] >= 0)
            keep = has_row if unproposed_positives else cell >= 0
        self.pos_users, self.pos_items, self.pos_cell = pu[keep], pi[keep], cell[keep]

    def cell_of(self, keys: np.ndarray) -> np.ndarray:
        """Flat candidate cell of each (user·n_items + item) key, -1 when not a candidate."""
        if self.candidates is None:
            return np.full(len(keys), -1, np.int64)
        at = np.clip(np.searchsorted(self._cell_keys, keys), 0, len(self._cell_keys) - 1)
        return np.where(self._cell_keys[at] == keys, self._cell_order[at], -1)

    def sample(self, hard: int, easy: int, rng: np.random.Generator) -> Pairs:
        """Positives plus ``hard`` + ``easy`` negatives per positive, labelled by lookup."""
        P = len(self.pos_users)
        users, items, cells = [self.pos_users], [self.pos_items], [self.pos_cell]
        if hard and self.candidates is not None and P:
            row = np.repeat(self.row_of[self.pos_users], hard)
            cnt = self.counts[row]
            ok = cnt > 0
            col = (rng.random(len(row)) * cnt).astype(np.int64)
            row, col = row[ok], col[ok]
            users.append(self.candidates.users[row])
            items.append(self.candidates.items[row, col])
            cells.append(row * self.candidates.n + col)
        if easy and P:
            u = np.repeat(self.pos_users, easy)
            i = rng.integers(0, self.n_items, size=len(u))
            users.append(u)
            items.append(i)
            cells.append(self.cell_of(u * self.n_items + i))
        u, i, c = np.concatenate(users), np.concatenate(items), np.concatenate(cells)
        keys = u * self.n_items + i
        drop = np.isin(keys, self.excl_keys)
        labels = np.isin(keys, self.pos_keys).astype(np.float32)
        return Pairs(u[~drop], i[~drop], labels[~drop], c[~drop])


def first_times(ds: Dataset, default: float) -> np.ndarray:
    """float64 ``[n_users]``: each user's first interaction time in ``ds`` (``default`` where none)."""
    out = np.full(ds.n_users, np.inf)
    np.minimum.at(out, ds.interactions["user"].to_numpy(), ds.interactions["timestamp"].to_numpy(np.float64))
    return np.where(np.isfinite(out), out, default)


SMALL_REQUEST = 20_000  # pairs; below this, scoring runs on one thread


class TorchScorer:
    """A trained torch ranker plus the feature standardisation it was trained with."""

    def __init__(self, module: nn.Module, mean: np.ndarray, std: np.ndarray) -> None:
        self.module, self.mean, self.std = module.eval(), mean.astype(np.float32), std.astype(np.float32)

    def logits(self, num: np.ndarray, cat: np.ndarray, batch: int = 1 << 16) -> np.ndarray:
        out = np.empty(len(num), np.float32)
        threads = torch.get_num_threads()
        if len(num) < SMALL_REQUEST:
            # one request's few hundred rows: thread hand-offs cost more than they save
            # (measured 72 ms → 7 ms median per request on a loaded 2-core machine)
            torch.set_num_threads(1)
        try:
            with torch.no_grad():
                for s in range(0, len(num), batch):
                    x = torch.from_numpy((num[s : s + batch] - self.mean) / self.std)
                    out[s : s + batch] = self.module(x, torch.from_numpy(cat[s : s + batch])).numpy()
        finally:
            torch.set_num_threads(threads)
        return out

    score = logits


def train_torch(
    module: nn.Module,
    epoch_data: Callable[[int], tuple[np.ndarray, np.ndarray, np.ndarray]],
    valid: tuple[np.ndarray, np.ndarray, np.ndarray],
    cfg: TrainConfig,
) -> tuple[TorchScorer, dict]:
    """Adam on binary cross-entropy; keeps the weights of the epoch with the lowest validation loss.

    ``epoch_data(e)`` returns ``(num, cat, labels)`` for epoch ``e``; numeric features are
    standardised with the first epoch's mean and standard deviation. Call inside a seeded
    torch RNG context for determinism (`Ranker.fit` does).
    """
    num0, _, _ = first = epoch_data(0)
    mean = num0.mean(0)
    std = np.where(num0.std(0) > 1e-6, num0.std(0), 1.0)
    scorer = TorchScorer(module, mean, std)
    opt = torch.optim.Adam(module.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    loss_fn = nn.BCEWithLogitsLoss()
    rng = np.random.default_rng(cfg.seed)
    v_num, v_cat, v_y = valid
    best, best_state, bad, history = np.inf, copy.deepcopy(module.state_dict()), 0, []
    for epoch in range(cfg.epochs):
        num, cat, y = first if epoch == 0 else epoch_data(epoch)
        x = torch.from_numpy((num - scorer.mean) / scorer.std)
        c, t = torch.from_numpy(cat), torch.from_numpy(y)
        module.train()
        order = torch.from_numpy(rng.permutation(len(y)))
        for s in range(0, len(y), cfg.batch_size):
            b = order[s : s + cfg.batch_size]
            opt.zero_grad()
            loss = loss_fn(module(x[b], c[b]), t[b])
            loss.backward()
            opt.step()
        module.eval()
        v_loss = float(loss_fn(torch.from_numpy(scorer.logits(v_num, v_cat)), torch.from_numpy(v_y)))
        history.append(round(v_loss, 5))
        report(f"epoch {epoch + 1} of at most {cfg.epochs}: validation log loss {v_loss:.4f}")
        if v_loss < best - 1e-5:
            best, best_state, bad = v_loss, copy.deepcopy(module.state_dict()), 0
        else:
            bad += 1
            if bad > cfg.patience:
                break
    module.load_state_dict(best_state)
    module.eval()
    return scorer, {"epochs": len(history), "valid_logloss": history, "best_valid_logloss": round(best, 5)}
