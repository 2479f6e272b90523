"""SASRec, the self-attentive sequential recommender (Kang & McAuley 2018, ICDM).

A user is the sequence of their last ``max_len`` items, in time order, left-padded. Each item
is an embedding (scaled by ``sqrt(dim)``) plus a learned position embedding; ``blocks``
Transformer blocks with *causal* self-attention (position ``t`` attends to positions ``≤ t``
only, never to padding) turn it into one vector per position, and the vector at position
``t`` scores every item as the next one by a dot product with the same item embeddings
(shared input/output embeddings)::

    x⁰_t = √d · E[s_t] + P[t]                              [B, L, d]
    x ← x + Dropout(Attention(LayerNorm(x)))   (causal)    [B, L, d]   } one block
    x ← x + Dropout(FFN(LayerNorm(x)))                      [B, L, d]   }
    h = LayerNorm(x);   score(t, i) = <h_t, E[i]>           [B, L, n_items]

Training predicts, at every real position, the item that came next. Two losses:

- ``"bce"``: the paper's, binary cross-entropy on the next item against one sampled
  negative per position (an item the user never interacted with);
- ``"ce"`` (default): softmax cross-entropy over the whole catalogue, which Klenitskiy &
  Vasilev (2023, "Turning Dross Into Gold Loss") found much stronger; affordable here
  because catalogues are a few thousand items.

Serving: a user's vector is ``h`` at the last position of their train sequence (computed
once at fit). ``retrieve(..., session=...)`` appends the items of the current session at
request time and recomputes the vector, so the list follows the session click by click;
``sequence_scores`` scores any item sequence (an anonymous session) directly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from workbench.candidates.base import CandidateSource, check_k, check_users, top_k
from workbench.checks import check_count
from workbench.data.dataset import Dataset
from workbench.lists import BATCH_CELLS
from workbench.rebuildable import rebuildable
from workbench.types import PAD, CandidateSet

LOSSES = ("ce", "bce")
ENCODE_BATCH = 256  # sequences encoded at once at serving time


def left_padded(rows: np.ndarray, items: np.ndarray, n_rows: int, length: int) -> np.ndarray:
    """int64 ``[n_rows, length]``: each row's last ``length`` of ``items + 1`` in their given order,
    left-padded with 0 (0 is padding, item ``i`` is token ``i + 1``).

    rows: int ``[N]`` row of each item, non-decreasing (each row's items in time order).
    """
    rows = np.asarray(rows, dtype=np.int64)
    counts = np.bincount(rows, minlength=n_rows)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    from_end = counts[rows] - 1 - (np.arange(len(rows)) - starts[rows])
    keep = from_end < length
    out = np.zeros((n_rows, length), dtype=np.int64)
    out[rows[keep], length - 1 - from_end[keep]] = np.asarray(items, dtype=np.int64)[keep] + 1
    return out


def history_windows(users: np.ndarray, items: np.ndarray, n_users: int, max_len: int, every: bool) -> tuple[np.ndarray, np.ndarray]:
    """Training sequences of ``max_len + 1`` tokens (inputs ``[:-1]``, next-item targets ``[1:]``) and
    the user of each, ``(windows [W, max_len + 1], users [W])``.

    ``every=False`` (the paper): each user's latest ``max_len + 1`` items. ``every=True``: the whole
    history, cut from the end into windows of ``max_len`` targets; consecutive windows share one
    item (the last input of the older window precedes the first target of the newer one), so every
    item but a user's first is a target exactly once. ``users``/``items`` are in time order per user.
    """
    users = np.asarray(users, dtype=np.int64)
    if not every:
        return left_padded(users, items, n_users, max_len + 1), np.arange(n_users)
    counts = np.bincount(users, minlength=n_users)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    from_end = counts[users] - 1 - (np.arange(len(users)) - starts[users])
    n_windows = np.maximum(1, -(-(counts - 1) // max_len))  # windows per user
    first_window = np.concatenate([[0], np.cumsum(n_windows)[:-1]])
    # window w of a user holds from_end in [w·L, w·L + L]; an item at from_end = w·L (w ≥ 1) is also window w − 1's first
    own = np.minimum(from_end // max_len, n_windows[users] - 1)
    shared = (from_end % max_len == 0) & (from_end >= max_len)
    row = np.concatenate([first_window[users] + own, first_window[users[shared]] + from_end[shared] // max_len - 1])
    age = np.concatenate([from_end, from_end[shared]])
    it = np.concatenate([np.asarray(items, dtype=np.int64), np.asarray(items, dtype=np.int64)[shared]])
    order = np.lexsort((-age, row))  # by window, oldest item first
    windows = left_padded(row[order], it[order], int(n_windows.sum()), max_len + 1)
    return windows, np.repeat(np.arange(n_users), n_windows)


@rebuildable
class CausalSelfAttention(nn.Module):
    """Multi-head scaled dot-product attention where position ``t`` sees keys ``≤ t`` that are not padding."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, blocked: torch.Tensor) -> torch.Tensor:
        """x: ``[B, L, d]``; blocked: bool ``[B, 1, L, L]``, True where query ``t`` may not see key ``s``."""
        b, length, d = x.shape
        q, k, v = self.qkv(x).view(b, length, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)  # 3 × [B, h, L, d/h]
        att = q @ k.transpose(-1, -2) / math.sqrt(d // self.heads)  # [B, h, L, L]
        att = att.masked_fill(blocked, -torch.inf).softmax(dim=-1)
        return self.out((att @ v).transpose(1, 2).reshape(b, length, d))  # [B, L, d]


@rebuildable
class SASRecBlock(nn.Module):
    """Pre-norm Transformer block: ``x + Dropout(g(LayerNorm(x)))`` for attention, then the point-wise FFN."""

    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-8)
        self.attention = CausalSelfAttention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-8)
        self.ffn = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Dropout(dropout), nn.Linear(dim, dim))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, blocked: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        """x: ``[B, L, d]``; real: float ``[B, L, 1]``, 0 at padding (kept at zero)."""
        x = x + self.dropout(self.attention(self.norm1(x), blocked))
        x = x + self.dropout(self.ffn(self.norm2(x)))
        return x * real


@rebuildable
class SASRecNet(nn.Module):
    """Token 0 is padding, token ``i + 1`` is item ``i``."""

    def __init__(self, n_items: int, max_len: int, dim: int, blocks: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.item = nn.Embedding(n_items + 1, dim, padding_idx=0)
        self.position = nn.Embedding(max_len, dim)
        self.blocks = nn.ModuleList([SASRecBlock(dim, heads, dropout) for _ in range(blocks)])
        self.norm = nn.LayerNorm(dim, eps=1e-8)
        self.dropout = nn.Dropout(dropout)
        nn.init.normal_(self.item.weight, std=dim**-0.5)
        with torch.no_grad():
            self.item.weight[0].zero_()

    def forward(self, seq: torch.Tensor) -> torch.Tensor:
        """seq: int64 ``[B, L]`` (L ≤ max_len, left-padded with 0) → hidden states ``[B, L, d]``."""
        b, length = seq.shape
        pad = seq == 0  # [B, L]
        real = (~pad).unsqueeze(-1).float()  # [B, L, 1]
        x = self.item(seq) * math.sqrt(self.item.embedding_dim) + self.position.weight[-length:]  # [B, L, d]
        x = self.dropout(x) * real
        causal = torch.ones(length, length, dtype=torch.bool, device=seq.device).triu(1)  # [L, L]: key after query
        eye = torch.eye(length, dtype=torch.bool, device=seq.device)
        # a query may not see later keys, nor padding keys (but always itself, so no row is all -inf)
        blocked = (causal | (pad[:, None, :] & ~eye)).unsqueeze(1)  # [B, 1, L, L]
        for block in self.blocks:
            x = block(x, blocked, real)
        return self.norm(x) * real  # [B, L, d]

    def item_vectors(self) -> torch.Tensor:
        """``[n_items, d]``: the output embedding of every item (the shared input embedding)."""
        return self.item.weight[1:]


class SASRec(CandidateSource):
    """Self-attentive sequential recommender; seeded.

    dim: embedding size; blocks, heads: Transformer blocks and attention heads (``dim``
    divisible by ``heads``); max_len: the most recent items a user is encoded from (and the
    training window); dropout; epochs, batch_size (sequences), lr: Adam training with
    ``weight_decay`` on all weights; loss: ``"ce"`` (softmax) or ``"bce"`` (the paper's, one
    sampled negative per position); negatives: for ``"ce"``, None = softmax over the whole
    catalogue, a number = sampled softmax against that many uniform items per batch; seed: torch
    and numpy draws; threads: torch threads while fitting and encoding (restored after);
    warm_epochs: epochs of `fit_warm` (continuing an earlier fit); None: `fit_warm` trains
    ``epochs`` from scratch, like `fit`; all_windows: train on the whole of each history cut into
    ``max_len`` windows (`history_windows`), not only its latest window (the paper's).
    """

    name = "sasrec"
    reads_session = True  # retrieve(..., session=...) appends the current session (workbench.candidates.context)

    def __init__(
        self,
        dim: int = 64,
        blocks: int = 2,
        heads: int = 1,
        max_len: int = 50,
        dropout: float = 0.5,
        epochs: int = 40,
        batch_size: int = 128,
        lr: float = 3e-3,
        weight_decay: float = 0.0,
        loss: str = "ce",
        negatives: int | None = None,
        seed: int = 0,
        threads: int = 1,
        warm_epochs: int | None = 10,
        all_windows: bool = False,
    ) -> None:
        for name, value in (("dim", dim), ("blocks", blocks), ("heads", heads), ("max_len", max_len),
                            ("epochs", epochs), ("batch_size", batch_size), ("threads", threads)):  # fmt: skip
            check_count(name, value, 1)
        check_count("seed", seed, 0)
        if warm_epochs is not None:
            check_count("warm_epochs (None: fit_warm trains from scratch)", warm_epochs, 1)
        if dim % heads:
            raise ValueError(f"dim={dim} must be divisible by heads={heads} (each head gets dim / heads)")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout={dropout!r}: expected a probability in [0, 1)")
        if not lr > 0 or not weight_decay >= 0:
            raise ValueError(f"lr={lr!r} must be > 0 and weight_decay={weight_decay!r} >= 0")
        if loss not in LOSSES:
            raise ValueError(f"loss={loss!r}: expected one of {LOSSES}")
        if negatives is not None:
            check_count("negatives (None: the whole catalogue)", negatives, 1)
            if loss != "ce":
                raise ValueError(f"negatives={negatives} applies to loss='ce' (sampled softmax); loss={loss!r} "
                                 "draws one negative per position")  # fmt: skip
        self.dim, self.blocks, self.heads, self.max_len, self.dropout = dim, blocks, heads, max_len, dropout
        self.epochs, self.batch_size, self.lr, self.weight_decay = epochs, batch_size, lr, weight_decay
        self.loss, self.negatives, self.seed, self.threads = loss, negatives, seed, threads
        self.warm_epochs, self.all_windows = warm_epochs, bool(all_windows)

    def fit_warm(self, train: Dataset, previous: SASRec) -> SASRec:
        """Fit on ``train`` starting from ``previous``'s network, for ``warm_epochs`` epochs
        (`CandidateGenerator.fit(warm_start=...)`: the pipeline fits stage 1 on a carved prefix of
        train first). With ``warm_epochs=None`` this is `fit`."""
        if self.warm_epochs is None:
            return self.fit(train)
        if not isinstance(previous, SASRec):
            raise TypeError(f"previous: expected a fitted SASRec, got {type(previous).__name__}")
        previous._check_fitted()
        shape = lambda m: (m.n_items_, m.max_len, m.dim, m.blocks, m.heads)  # noqa: E731
        mine = (train.n_items, self.max_len, self.dim, self.blocks, self.heads)
        if mine != shape(previous):
            raise ValueError(f"cannot warm-start from a SASRec of (items, max_len, dim, blocks, heads) = {shape(previous)}: "
                             f"this one needs {mine}")  # fmt: skip
        self._warm_from = previous.model_
        try:
            return self.fit(train)
        finally:
            del self._warm_from

    # --- fitting ---------------------------------------------------------------
    def _fit(self, train: Dataset) -> None:
        inter = train.interactions  # sorted by (user, timestamp, item)
        users, items = inter["user"].to_numpy(), inter["item"].to_numpy()
        # one more than max_len: inputs are tokens [:-1], next-item targets tokens [1:]
        windows, window_user = history_windows(users, items, self.n_users_, self.max_len, self.all_windows)
        keep = (windows > 0).sum(axis=1) >= 2  # a sequence of one item has no next item
        windows, owners = windows[keep], window_user[keep]
        self.sequences_ = left_padded(users, items, self.n_users_, self.max_len)  # [n_users, max_len], for serving
        threads = torch.get_num_threads()
        try:
            torch.set_num_threads(self.threads)
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(self.seed)
                model = SASRecNet(self.n_items_, self.max_len, self.dim, self.blocks, self.heads, self.dropout)
                warm = getattr(self, "_warm_from", None)
                if warm is not None:
                    model.load_state_dict(warm.state_dict())
                epochs = self.epochs if warm is None else self.warm_epochs
                self.losses_ = self._train(model, torch.from_numpy(windows), owners, epochs)
            model.eval()
            self.model_ = model
            with torch.no_grad():
                self.item_vectors_ = model.item_vectors().numpy().copy()
            self.user_vectors_ = self._encode(self.sequences_)
        finally:
            torch.set_num_threads(threads)

    def _train(self, model: SASRecNet, windows: torch.Tensor, owners: np.ndarray, epochs: int) -> np.ndarray:
        """Adam over shuffled sequences (``windows [W, max_len + 1]`` of users ``owners [W]``);
        returns the mean loss of each epoch."""
        rng = np.random.default_rng(self.seed)
        opt = torch.optim.Adam(model.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        lengths = (windows > 0).sum(dim=1).numpy()
        losses = []
        model.train()
        for _ in range(epochs):
            total, count = 0.0, 0
            for pick in self._batches(lengths, rng):
                batch = windows[torch.from_numpy(pick)]
                batch = batch[:, (batch > 0).any(dim=0)]  # drop columns that are padding in every row
                inputs, targets = batch[:, :-1], batch[:, 1:]  # [B, L]
                hidden = model(inputs)  # [B, L, d]
                where = (inputs > 0) & (targets > 0)
                h, target = hidden[where], targets[where] - 1  # [N, d], [N] item indices
                if self.loss == "ce" and self.negatives is None:
                    loss = nn.functional.cross_entropy(h @ model.item_vectors().T, target)  # [N, n_items] logits
                elif self.loss == "ce":
                    loss = self._sampled_softmax(h, target, model.item_vectors(), rng)
                else:
                    negative = torch.from_numpy(self._negatives(np.repeat(owners[pick], where.sum(dim=1).numpy()), rng))
                    pos = (h * model.item_vectors()[target]).sum(-1)
                    neg = (h * model.item_vectors()[negative]).sum(-1)
                    loss = nn.functional.binary_cross_entropy_with_logits(torch.cat([pos, neg]),
                                                                          torch.cat([torch.ones_like(pos), torch.zeros_like(neg)]))  # fmt: skip
                opt.zero_grad()
                loss.backward()
                opt.step()
                total, count = total + loss.item() * len(target), count + len(target)
            losses.append(total / max(count, 1))
        return np.asarray(losses)

    def _sampled_softmax(self, h: torch.Tensor, target: torch.Tensor, items: torch.Tensor,
                         rng: np.random.Generator) -> torch.Tensor:  # fmt: skip
        """Softmax cross-entropy of each target against ``negatives`` items drawn uniformly for the
        whole batch (a sampled negative equal to the row's target is masked out). Uniform draws
        need no log-Q correction: every item's sampling probability is the same constant."""
        neg = torch.from_numpy(rng.integers(0, self.n_items_, size=self.negatives))  # [S]
        pos = (h * items[target]).sum(-1, keepdim=True)  # [N, 1]
        logits = (h @ items[neg].T).masked_fill(neg[None, :] == target[:, None], -torch.inf)  # [N, S]
        return nn.functional.cross_entropy(torch.cat([pos, logits], dim=1), torch.zeros_like(target))

    def _batches(self, lengths: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
        """Shuffled batches of similar-length sequences: rows sorted by (length, random draw), cut
        into ``batch_size`` runs, the runs in random order. Attention costs ``L²`` per sequence, and
        a batch is trimmed to its longest member, so grouping lengths saves most of the padding."""
        order = np.lexsort((rng.random(len(lengths)), lengths))
        runs = np.array_split(order, max(1, -(-len(order) // self.batch_size)))
        return [runs[i] for i in rng.permutation(len(runs))]

    def _negatives(self, users: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One item per entry of ``users``, uniform over the items that user never interacted with
        (the paper's sampler; uniform over all items for a user who has seen every item).

        Exact and vectorised: the ``r``-th unseen item of a user is ``r + j``, with ``j`` the number
        of seen items ``s_t`` (sorted, ``t`` their rank) for which ``s_t − t ≤ r``; one global
        ``searchsorted`` over the rows of the seen matrix, offset by row, finds every ``j``.
        """
        seen = self.seen_
        n = self.n_items_
        counts = np.diff(seen.indptr)
        unseen = n - counts[users]
        r = np.floor(rng.random(len(users)) * np.maximum(unseen, 1)).astype(np.int64)
        rank = np.arange(seen.nnz) - np.repeat(seen.indptr[:-1], counts)
        row = np.repeat(np.arange(seen.shape[0]), counts)
        keys = seen.indices.astype(np.int64) - rank + row * (n + 1)  # sorted: rows in order, non-decreasing within
        j = np.searchsorted(keys, r + users * (n + 1), side="right") - seen.indptr[users]
        return np.where(unseen > 0, r + j, rng.integers(0, n, size=len(users)))

    # --- serving ---------------------------------------------------------------
    def _encode(self, sequences: np.ndarray) -> np.ndarray:
        """float32 ``[B, d]``: the hidden state at the last position of each left-padded sequence."""
        out = np.zeros((len(sequences), self.dim), dtype=np.float32)
        threads = torch.get_num_threads()
        try:
            torch.set_num_threads(self.threads)
            with torch.no_grad():
                for lo in range(0, len(sequences), ENCODE_BATCH):
                    batch = torch.from_numpy(np.ascontiguousarray(sequences[lo : lo + ENCODE_BATCH]))
                    batch = batch[:, (batch > 0).any(dim=0)] if (batch > 0).any() else batch[:, -1:]
                    out[lo : lo + ENCODE_BATCH] = self.model_(batch)[:, -1].numpy()
        finally:
            torch.set_num_threads(threads)
        return out

    def _score(self, users: np.ndarray) -> np.ndarray:
        return self.user_vectors_[users] @ self.item_vectors_.T

    def user_vectors(self, users: np.ndarray | list[int], last: int | None = None) -> np.ndarray:
        """float32 ``[B, dim]``: each user's vector from their ``last`` most recent train items
        (None: all the model reads, ``max_len``; what retrieval uses)."""
        self._check_fitted()
        users = check_users(users, self.n_users_)
        if last is None or last >= self.max_len:
            return self.user_vectors_[users]
        check_count("last (items of history)", last, 1)
        seqs = self.sequences_[users].copy()
        seqs[:, : self.max_len - last] = 0
        return self._encode(seqs)

    def sequence_scores(self, sequences: Sequence[Sequence[int]]) -> np.ndarray:
        """float32 ``[B, n_items]``: next-item scores after each item sequence (oldest first; an
        anonymous session). Only the last ``max_len`` items of a sequence count."""
        self._check_fitted()
        rows, items = self._ragged(sequences, "sequences")
        return self._encode(left_padded(rows, items, len(sequences), self.max_len)) @ self.item_vectors_.T

    def _ragged(self, sequences: Sequence[Sequence[int]], what: str) -> tuple[np.ndarray, np.ndarray]:
        """``(row, item)`` of every item of a list of item sequences; ValueError naming a bad item."""
        if isinstance(sequences, (str, bytes)) or not isinstance(sequences, Sequence) and not isinstance(sequences, np.ndarray):
            raise ValueError(f"{what} must be a list of item-index lists, one per user, got {type(sequences).__name__}")
        lengths = np.array([len(s) for s in sequences], dtype=np.int64)  # one len() per request row
        parts = [np.asarray(s).reshape(-1) for s in sequences if len(s)]
        flat = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
        if flat.size and not np.issubdtype(flat.dtype, np.integer):
            raise ValueError(f"{what}: items must be integer item indices, got dtype {flat.dtype}")
        flat = flat.astype(np.int64)
        bad = flat[(flat < 0) | (flat >= self.n_items_)]
        if bad.size:
            raise ValueError(f"{what}: unknown item index(es) {np.unique(bad)[:5].tolist()}; expected 0..{self.n_items_ - 1}")
        return np.repeat(np.arange(len(sequences)), lengths), flat

    def retrieve(self, users: np.ndarray | list[int], k: int, exclude_seen: bool = True,
                 session: Sequence[Sequence[int]] | None = None) -> CandidateSet:  # fmt: skip
        """Top-``k`` items per user (see `CandidateSource.retrieve`).

        session: the items of each user's current session, oldest first, aligned with ``users``
        (``[]`` for none). They are appended to the user's train sequence (a user without
        history is encoded from the session alone) and never recommended back.
        """
        if session is None:
            return super().retrieve(users, k, exclude_seen)
        self._check_fitted()
        users = check_users(users, self.n_users_)
        k = check_k(k)
        if len(session) != len(users):
            raise ValueError(f"session has {len(session)} rows for {len(users)} users: expected one item list per user")
        rows, items = self._ragged(session, "session")
        out = super().retrieve(users, k, exclude_seen)
        live = np.unique(rows)
        if live.size == 0:
            return out
        # history tokens (in order) then session items, per live row; keep the last max_len
        hist = self.sequences_[users[live]]
        h_rows, h_cols = np.nonzero(hist)
        s_pos = np.searchsorted(live, rows)
        all_rows = np.concatenate([h_rows, s_pos])
        all_items = np.concatenate([hist[h_rows, h_cols] - 1, items])
        order = np.argsort(all_rows, kind="stable")
        seqs = left_padded(all_rows[order], all_items[order], len(live), self.max_len)
        vectors = self._encode(seqs)
        step = max(1, BATCH_CELLS // self.n_items_)
        for lo in range(0, len(live), step):
            part = slice(lo, lo + step)
            scores = vectors[part] @ self.item_vectors_.T  # [b, n_items]
            if exclude_seen:
                r, c = self.seen_[users[live[part]]].nonzero()
                scores[r, c] = -np.inf
            in_part = (s_pos >= lo) & (s_pos < lo + step)
            scores[s_pos[in_part] - lo, items[in_part]] = -np.inf
            out.items[live[part]], out.scores[live[part]] = top_k(scores, k)
        out.sources[:] = np.where(out.items >= 0, 1, 0)
        return out


__all__ = ["LOSSES", "PAD", "SASRec", "SASRecNet", "left_padded"]
