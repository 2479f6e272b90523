"""Amazon in miniature: recommendations that follow a session click by click (SASRec underneath).

- `next_items`: the top-``k`` after a session's items (an anonymous visitor: the session is all
  the model sees), the session's own items left out.
- `replay`: walk a real sequence one click at a time; after each click, the list of the next
  ``k`` and whether the item clicked next is in it.
- `session_length_curve`: how much of the past the model should read. Each user is encoded
  from only their last ``L`` train items and judged on their test items, for several ``L``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from workbench.candidates.base import top_k
from workbench.candidates.sasrec import SASRec
from workbench.checks import check_count
from workbench.data.dataset import Dataset
from workbench.lists import BATCH_CELLS
from workbench.metrics import accuracy_metrics, relevance_matrix


def next_items(model: SASRec, session: Sequence[int], k: int = 10) -> pd.DataFrame:
    """The ``k`` best next items after ``session`` (item indices, oldest first), without its own items."""
    k = check_count("k", k, 1)
    scores = model.sequence_scores([list(session)])[0]
    scores[np.asarray(list(session), dtype=np.int64)] = -np.inf
    items, s = top_k(scores[None, :], k)
    keep = items[0] >= 0
    return pd.DataFrame({"position": np.arange(1, k + 1)[keep], "item": items[0][keep], "score": s[0][keep]})


def replay(model: SASRec, sequence: Sequence[int], k: int = 10) -> pd.DataFrame:
    """After each click of ``sequence`` but the last: the session length, the item clicked next, its
    position in the top-``k`` (0 when absent) and the top-``k`` itself. All prefixes in one batch."""
    seq = np.asarray(list(sequence), dtype=np.int64)
    if len(seq) < 2:
        raise ValueError(f"a replay needs at least 2 clicks, got {len(seq)}")
    k = check_count("k", k, 1)
    prefixes = [seq[: t + 1] for t in range(len(seq) - 1)]
    scores = model.sequence_scores(prefixes)  # [T, n_items]
    rows = np.repeat(np.arange(len(prefixes)), np.arange(1, len(prefixes) + 1))
    cols = np.concatenate(prefixes)
    scores[rows, cols] = -np.inf  # a session's own items are not recommended back
    items, _ = top_k(scores, k)
    nxt = seq[1:]
    hit = items == nxt[:, None]
    return pd.DataFrame({"clicks so far": np.arange(1, len(seq)), "last click": seq[:-1], "clicked next": nxt,
                         "position of next": np.where(hit.any(axis=1), hit.argmax(axis=1) + 1, 0),
                         "top k": list(items)})  # fmt: skip


def session_length_curve(model: SASRec, train: Dataset, test: Dataset, lengths: Sequence[int] = (1, 2, 5, 10, 20, 50),
                         k: int = 10) -> pd.DataFrame:  # fmt: skip
    """NDCG@k and recall@k of ``model`` when each user is encoded from only their last ``L`` train
    items, for each ``L`` in ``lengths``; users with test items, seen items excluded."""
    k = check_count("k", k, 1)
    relevance = relevance_matrix(test)
    users = np.flatnonzero(np.diff(relevance.indptr) > 0)
    seen = train.matrix
    rows = []
    for length in lengths:  # one batch per history length
        vectors = model.user_vectors(users, int(length))
        recommended = np.empty((len(users), k), dtype=np.int64)
        step = max(1, BATCH_CELLS // train.n_items)
        for lo in range(0, len(users), step):
            s = vectors[lo : lo + step] @ model.item_vectors_.T
            r, c = seen[users[lo : lo + step]].nonzero()
            s[r, c] = -np.inf
            recommended[lo : lo + step] = top_k(s, k)[0]
        m = accuracy_metrics(recommended, relevance[users], (k,))
        rows.append({"history length": int(length), f"ndcg@{k}": float(m[("ndcg", k)].mean()),
                     f"recall@{k}": float(m[("recall", k)].mean())})  # fmt: skip
    return pd.DataFrame(rows).set_index("history length")
