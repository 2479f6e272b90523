"""Two-tower retrieval (Covington et al. 2016; Yi et al. 2019), trained with in-batch sampled softmax.

User tower: user-id embedding ‖ mean of the user's history embeddings ‖ user features → MLP.
Item tower: item-id embedding ‖ genres ‖ age → MLP. Both end L2-normalised, so the score
is a cosine. Each batch of ``(user, item)`` train pairs treats the other items of the
batch as negatives; because popular items show up as negatives more often, each logit
is corrected by the log of its item's sampling probability (the log-Q correction)::

    logit_uj = <u, v_j> / temperature − log Q_j,   Q_j = (train pairs with item j) / (train pairs)

Q is counted exactly from the train pairs (Yi et al. estimate it from a stream). While
training, a user's pooled history leaves out the target item (otherwise the tower learns
to find the item inside its own input). Item vectors go into a FAISS index (exact by
default; ``index=AnnConfig("hnsw")`` for a graph index, whose recall `index_recall` reports).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import torch
from torch import nn

from workbench.candidates.ann import AnnConfig, IndexSource
from workbench.candidates.base import recency_weighted
from workbench.data.dataset import Dataset
from workbench.rebuildable import rebuildable

MAX_LEVELS = 50  # categorical user columns with more levels than this are left out


def user_feature_matrix(users: pd.DataFrame) -> np.ndarray:
    """float32 ``[n_users, f]``: numeric columns standardised, categorical ones one-hot (``user_id`` left out)."""
    parts = [np.zeros((len(users), 0), dtype=np.float32)]
    for col in users.columns.drop("user_id", errors="ignore"):
        values = users[col]
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            v = values.to_numpy(np.float64)
            parts.append(((v - v.mean()) / (v.std() or 1.0))[:, None])
        elif values.nunique() <= MAX_LEVELS:
            parts.append(pd.get_dummies(values.astype(str)).to_numpy(np.float64))
    return np.hstack(parts).astype(np.float32)


def item_feature_matrix(train: Dataset) -> np.ndarray:
    """float32 ``[n_items, n_genres + 1]``: genres and standardised log age in days."""
    age = np.log1p(np.maximum(train.item_age_days, 0.0))
    age = (age - age.mean()) / (age.std() or 1.0)
    return np.hstack([train.item_genres, age[:, None]]).astype(np.float32)


def _mlp(d_in: int, hidden: int, d_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(d_in, hidden), nn.ReLU(), nn.Linear(hidden, d_out))


@rebuildable
class _Towers(nn.Module):
    def __init__(self, n_users: int, n_items: int, user_dim: int, item_dim: int, dim: int, hidden: int) -> None:
        super().__init__()
        self.user_id = nn.Embedding(n_users, dim)
        self.history = nn.Embedding(n_items, dim)
        self.user_mlp = _mlp(2 * dim + user_dim, hidden, dim)
        self.item_id = nn.Embedding(n_items, dim)
        self.item_mlp = _mlp(dim + item_dim, hidden, dim)
        for emb in (self.user_id, self.history, self.item_id):
            nn.init.normal_(emb.weight, std=0.05)

    def users(self, users, history, totals, user_x, leave_out=None, leave_weight=None):
        """User vectors. ``history``: sparse user×item weights (``totals``: their row sums);
        ``leave_out``/``leave_weight``: each row's target item and its history weight, taken out of the pool."""
        pooled = torch.sparse.mm(history, self.history.weight)[users]
        total = totals[users]
        if leave_out is not None:
            pooled = pooled - leave_weight.unsqueeze(1) * self.history(leave_out)
            total = total - leave_weight
        pooled = pooled / total.clamp(min=1e-6).unsqueeze(1)
        h = torch.cat([self.user_id(users), pooled, user_x[users]], dim=1)
        return nn.functional.normalize(self.user_mlp(h), dim=1)

    def items(self, items, item_x):
        h = torch.cat([self.item_id(items), item_x[items]], dim=1)
        return nn.functional.normalize(self.item_mlp(h), dim=1)


class TwoTower(IndexSource):
    """In-batch sampled-softmax two-tower model with log-Q correction; seeded.

    dim: tower output size; hidden: MLP width; epochs, batch_size, lr: Adam training;
    temperature: softmax temperature on cosines; logq: apply the log-Q correction;
    history_half_life: recency-weight the pooled history (`recency_weighted`; None = mean);
    threads: torch threads while fitting (restored after); index: the FAISS index.
    """

    name = "two_tower"

    def __init__(
        self,
        dim: int = 64,
        hidden: int = 128,
        epochs: int = 3,
        batch_size: int = 512,
        lr: float = 3e-3,
        temperature: float = 0.05,
        logq: bool = True,
        seed: int = 0,
        history_half_life: float | None = None,
        threads: int = 1,
        index: AnnConfig = AnnConfig(),
    ) -> None:
        if min(dim, hidden, epochs, batch_size) < 1 or not lr > 0 or not temperature > 0:
            raise ValueError(
                f"dim={dim}, hidden={hidden}, epochs={epochs}, batch_size={batch_size} must be positive integers; "
                f"lr={lr!r} and temperature={temperature!r} positive numbers"
            )
        self.dim, self.hidden, self.epochs, self.batch_size = dim, hidden, epochs, batch_size
        self.lr, self.temperature, self.logq, self.seed, self.index = lr, temperature, logq, seed, index
        self.history_half_life, self.threads = history_half_life, threads

    def _fit_vectors(self, train: Dataset) -> None:
        X = recency_weighted(train, self.history_half_life)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Sparse CSR tensor support is in beta", UserWarning)
            seen = torch.sparse_csr_tensor(
                torch.from_numpy(X.indptr.astype(np.int64)), torch.from_numpy(X.indices.astype(np.int64)),
                torch.from_numpy(X.data.astype(np.float32)), size=X.shape, check_invariants=False,
            )  # fmt: skip
        user_x = torch.from_numpy(user_feature_matrix(train.users))
        item_x = torch.from_numpy(item_feature_matrix(train))
        threads = torch.get_num_threads()
        try:
            torch.set_num_threads(self.threads)
            with torch.random.fork_rng():
                torch.manual_seed(self.seed)
                model = _Towers(self.n_users_, self.n_items_, user_x.shape[1], item_x.shape[1], self.dim, self.hidden)
                totals = torch.from_numpy(np.asarray(X.sum(axis=1), dtype=np.float32).ravel())
                self._train(model, X, seen, totals, user_x, item_x)
                with torch.no_grad():
                    self.user_vectors_ = model.users(torch.arange(self.n_users_), seen, totals, user_x).numpy()
                    self.item_vectors_ = model.items(torch.arange(self.n_items_), item_x).numpy()
        finally:
            torch.set_num_threads(threads)
        self.model_ = model

    def _train(self, model: _Towers, X, seen: torch.Tensor, totals: torch.Tensor, user_x: torch.Tensor,
               item_x: torch.Tensor) -> None:  # fmt: skip
        """Adam on the in-batch softmax loss over shuffled train pairs (numpy Generator seeded by ``seed``)."""
        rng = np.random.default_rng(self.seed)
        pairs_u = torch.from_numpy(np.repeat(np.arange(X.shape[0], dtype=np.int64), np.diff(X.indptr)))
        pairs_i = torch.from_numpy(X.indices.astype(np.int64))
        pairs_w = torch.from_numpy(X.data.astype(np.float32))
        log_q = torch.from_numpy(np.log(np.maximum(self.popularity_, 1.0) / max(len(pairs_u), 1)))
        opt = torch.optim.Adam(model.parameters(), lr=self.lr)
        for _ in range(self.epochs):
            order = torch.from_numpy(rng.permutation(len(pairs_u)))
            for pick in order.split(self.batch_size):
                u, i = pairs_u[pick], pairs_i[pick]
                uv = model.users(u, seen, totals, user_x, leave_out=i, leave_weight=pairs_w[pick])
                logits = uv @ model.items(i, item_x).T / self.temperature
                if self.logq:
                    logits = logits - log_q[i][None, :].float()
                duplicate = (i[:, None] == i[None, :]) & ~torch.eye(len(i), dtype=torch.bool)
                loss = nn.functional.cross_entropy(logits.masked_fill(duplicate, -torch.inf), torch.arange(len(i)))
                opt.zero_grad()
                loss.backward()
                opt.step()

    def _user_vectors(self, users: np.ndarray) -> np.ndarray:
        return self.user_vectors_[users]
