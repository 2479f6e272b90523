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

Cost per step does not grow with the catalogue or the user base: a batch pools only its own
users' histories (``embedding_bag`` over their rows of the history matrix), the embedding
tables get sparse gradients (only the rows the batch touched) stepped by ``SparseAdam``, and
the MLPs by a fused Adam. An epoch is therefore O(train pairs · batch size). `fit_warm`
continues an earlier fit on a prefix of the same data (the pipeline fits stage 1 on the carved
history, then on all of train) with ``warm_epochs`` epochs over the new pairs alone, instead of
training afresh on all of them: on MovieLens-100K this is both cheaper and better (recent
interactions weigh more; benchmarks/RESULTS.md, "Cost against size").
"""

from __future__ import annotations

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


class _History:
    """A user×item CSR history as torch tensors, pooled one batch of rows at a time."""

    def __init__(self, X) -> None:
        self.indptr = torch.from_numpy(X.indptr.astype(np.int64))
        self.indices = torch.from_numpy(X.indices.astype(np.int64))
        self.data = torch.from_numpy(X.data.astype(np.float32))
        self.totals = torch.from_numpy(np.asarray(X.sum(axis=1), dtype=np.float32).ravel())

    def rows(self, users: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The CSR entries of ``users``' rows: ``(items, weights, offsets)`` for ``embedding_bag``."""
        start, length = self.indptr[users], self.indptr[users + 1] - self.indptr[users]
        offsets = torch.cumsum(length, 0) - length
        at = torch.repeat_interleave(start - offsets, length) + torch.arange(int(length.sum()))
        return self.indices[at], self.data[at], offsets


@rebuildable
class _Towers(nn.Module):
    def __init__(self, n_users: int, n_items: int, user_dim: int, item_dim: int, dim: int, hidden: int) -> None:
        super().__init__()
        self.user_id = nn.Embedding(n_users, dim, sparse=True)
        self.history = nn.Embedding(n_items, dim, sparse=True)
        self.user_mlp = _mlp(2 * dim + user_dim, hidden, dim)
        self.item_id = nn.Embedding(n_items, dim, sparse=True)
        self.item_mlp = _mlp(dim + item_dim, hidden, dim)
        for emb in (self.user_id, self.history, self.item_id):
            nn.init.normal_(emb.weight, std=0.05)

    def users(self, users, history: _History, user_x, leave_out=None, leave_weight=None):
        """User vectors. ``history``: the user×item history weights, of which only ``users``' rows are
        pooled; ``leave_out``/``leave_weight``: each row's target item and its history weight, taken out of the pool.

        Each distinct user and history item of the batch is looked up once, so the sparse gradients
        of the embedding tables hold one row per distinct id the batch touched."""
        uniq, back = torch.unique(users, return_inverse=True)
        items, weights, offsets = history.rows(uniq)
        wanted = items if leave_out is None else torch.cat([items, leave_out])
        ids, local = torch.unique(wanted, return_inverse=True)
        table = self.history(ids)
        pooled = nn.functional.embedding_bag(local[: len(items)], table, offsets, mode="sum",
                                             per_sample_weights=weights)[back]  # fmt: skip
        total = history.totals[users]
        if leave_out is not None:
            pooled = pooled - leave_weight.unsqueeze(1) * table[local[len(items) :]]
            total = total - leave_weight
        pooled = pooled / total.clamp(min=1e-6).unsqueeze(1)
        h = torch.cat([self.user_id(uniq)[back], pooled, user_x[users]], dim=1)
        return nn.functional.normalize(self.user_mlp(h), dim=1)

    def items(self, items, item_x):
        uniq, back = torch.unique(items, return_inverse=True)
        h = torch.cat([self.item_id(uniq), item_x[uniq]], dim=1)
        return nn.functional.normalize(self.item_mlp(h), dim=1)[back]


class TwoTower(IndexSource):
    """In-batch sampled-softmax two-tower model with log-Q correction; seeded.

    dim: tower output size; hidden: MLP width; epochs, batch_size, lr: Adam training;
    temperature: softmax temperature on cosines; logq: apply the log-Q correction;
    history_half_life: recency-weight the pooled history (`recency_weighted`; None = mean);
    threads: torch threads while fitting (restored after); index: the FAISS index;
    warm_epochs: epochs of `fit_warm` (continuing an earlier fit); None: `fit_warm` trains
    ``epochs`` from scratch, like `fit`.
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
        warm_epochs: int | None = 1,
    ) -> None:
        if min(dim, hidden, epochs, batch_size) < 1 or not lr > 0 or not temperature > 0:
            raise ValueError(
                f"dim={dim}, hidden={hidden}, epochs={epochs}, batch_size={batch_size} must be positive integers; "
                f"lr={lr!r} and temperature={temperature!r} positive numbers"
            )
        if warm_epochs is not None and (isinstance(warm_epochs, bool) or not isinstance(warm_epochs, int)
                                        or warm_epochs < 1):  # fmt: skip
            raise ValueError(f"warm_epochs={warm_epochs!r}: expected a positive integer or None (no warm start)")
        self.dim, self.hidden, self.epochs, self.batch_size = dim, hidden, epochs, batch_size
        self.lr, self.temperature, self.logq, self.seed, self.index = lr, temperature, logq, seed, index
        self.history_half_life, self.threads, self.warm_epochs = history_half_life, threads, warm_epochs

    def fit_warm(self, train: Dataset, previous: TwoTower) -> TwoTower:
        """Fit on ``train`` by continuing ``previous``: its towers, trained further for ``warm_epochs``
        epochs on the pairs of ``train`` that ``previous`` had not seen (the new interactions).

        ``previous`` is a fitted TwoTower of the same shape over the same users and items, fitted on
        a prefix of ``train`` (as the pipeline's carved history is: each user's earlier interactions).
        The pooled histories are ``train``'s. With ``warm_epochs=None`` this is `fit`.
        """
        if self.warm_epochs is None:
            return self.fit(train)
        if not isinstance(previous, TwoTower):
            raise TypeError(f"previous: expected a fitted TwoTower, got {type(previous).__name__}")
        previous._check_fitted()
        mine, theirs = (train.n_users, train.n_items, self.dim, self.hidden), \
            (previous.n_users_, previous.n_items_, previous.dim, previous.hidden)  # fmt: skip
        if mine != theirs:
            raise ValueError(f"cannot warm-start from a TwoTower of (users, items, dim, hidden) = {theirs}: "
                             f"this one needs {mine}")  # fmt: skip
        self._warm_from = previous
        try:
            return self.fit(train)
        finally:
            del self._warm_from

    def _fit_vectors(self, train: Dataset) -> None:
        X = recency_weighted(train, self.history_half_life)
        history = _History(X)
        user_x = torch.from_numpy(user_feature_matrix(train.users))
        item_x = torch.from_numpy(item_feature_matrix(train))
        warm = getattr(self, "_warm_from", None)
        threads = torch.get_num_threads()
        try:
            torch.set_num_threads(self.threads)
            with torch.random.fork_rng():
                torch.manual_seed(self.seed)
                model = _Towers(self.n_users_, self.n_items_, user_x.shape[1], item_x.shape[1], self.dim, self.hidden)
                if warm is None:
                    self._train(model, X, history, user_x, item_x, self.epochs)
                else:
                    model.load_state_dict(warm.model_.state_dict())
                    self._train(model, X, history, user_x, item_x, self.warm_epochs, seen_before=warm.seen_)
                with torch.no_grad():
                    self.user_vectors_ = model.users(torch.arange(self.n_users_), history, user_x).numpy()
                    self.item_vectors_ = model.items(torch.arange(self.n_items_), item_x).numpy()
        finally:
            torch.set_num_threads(threads)
        self.model_ = model

    def _train(self, model: _Towers, X, history: _History, user_x: torch.Tensor, item_x: torch.Tensor,
               epochs: int, seen_before=None) -> None:  # fmt: skip
        """Adam on the in-batch softmax loss over shuffled train pairs (numpy Generator seeded by ``seed``):
        ``SparseAdam`` on the embedding tables (sparse gradients), fused Adam on the MLPs.
        ``seen_before``: a user×item matrix whose pairs are left out (a warm start's earlier data);
        Q counts the pairs trained on."""
        rng = np.random.default_rng(self.seed)
        keep = np.ones(X.nnz, dtype=bool)
        if seen_before is not None:
            at = X.copy()
            at.data = np.arange(1, X.nnz + 1, dtype=np.float64)
            keep[(at.multiply(seen_before != 0).tocsr().data - 1).astype(np.int64)] = False
        pairs_u = torch.from_numpy(np.repeat(np.arange(X.shape[0], dtype=np.int64), np.diff(X.indptr))[keep])
        pairs_i = torch.from_numpy(X.indices.astype(np.int64)[keep])
        pairs_w = torch.from_numpy(X.data.astype(np.float32)[keep])
        counts = np.bincount(pairs_i.numpy(), minlength=self.n_items_)
        log_q = torch.from_numpy(np.log(np.maximum(counts, 1.0) / max(len(pairs_u), 1)).astype(np.float32))
        tables = [model.user_id.weight, model.history.weight, model.item_id.weight]
        dense = [p for p in model.parameters() if all(p is not t for t in tables)]
        opts = [torch.optim.SparseAdam(tables, lr=self.lr), torch.optim.Adam(dense, lr=self.lr, fused=True)]
        for _ in range(epochs):
            order = torch.from_numpy(rng.permutation(len(pairs_u)))
            for pick in order.split(self.batch_size):
                u, i = pairs_u[pick], pairs_i[pick]
                uv = model.users(u, history, user_x, leave_out=i, leave_weight=pairs_w[pick])
                logits = uv @ model.items(i, item_x).T / self.temperature
                if self.logq:
                    logits = logits - log_q[i][None, :]
                duplicate = (i[:, None] == i[None, :]) & ~torch.eye(len(i), dtype=torch.bool)
                loss = nn.functional.cross_entropy(logits.masked_fill(duplicate, -torch.inf), torch.arange(len(i)))
                for opt in opts:
                    opt.zero_grad()
                loss.backward()
                for opt in opts:
                    opt.step()

    def _user_vectors(self, users: np.ndarray) -> np.ndarray:
        return self.user_vectors_[users]
