"""Stage-2 rankers on MovieLens-100K (and the synthetic world): quality, training time, scoring speed.

Protocol: per-user temporal split (each user's last 20% is test); candidates for every
user from sources fitted on train; each ranker is trained by the two-stage recipe
(`fit_two_stage`: sources refitted on the earlier 80% of train, labels from the last 20%)
and ranks the test candidates; top-10 / top-20 lists are scored against test
(NDCG@10 binary relevance, log2 discount, IDCG capped at k; Recall@20). The best single
candidate source is measured on the same lists in the same run.

Held-out pairs: AUC over every (test user, candidate) pair, labelled by test; log-loss on
pairs drawn like the training pairs (positives + hard + easy negatives) from test.

Speed: scoring one user's 1000 candidates (median of repeats) against the textbook
reference, a per-pair Python loop (features and model call for one pair at a time,
timed on a slice and scaled); scoring every user's candidates.

    .venv/bin/python benchmarks/bench_ranking.py [--data movielens-100k|synthetic] [--models gbdt,deepfm]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from workbench.data import Dataset, load, temporal_split
from workbench.metrics import accuracy_metrics
from workbench.ranking import Context, Ranker, fit_two_stage
from workbench.ranking.train import PairSampler, first_times
from workbench.types import CandidateSet


def ease_scores(train: Dataset, lam: float = 250.0) -> np.ndarray:
    """EASE^R (Steck 2019): B = I − P·diag(1/diag P), P = (XᵀX + λI)⁻¹; scores X·B."""
    X = train.matrix.toarray().astype(np.float64)
    P = np.linalg.inv(X.T @ X + lam * np.eye(X.shape[1]))
    B = -P / np.diag(P)
    np.fill_diagonal(B, 0.0)
    return X @ B


def knn_scores(train: Dataset) -> np.ndarray:
    """Item-kNN (cosine over users; Sarwar et al. 2001): scores X·S."""
    X = train.matrix.astype(np.float64)
    norm = np.sqrt(np.asarray(X.sum(0))).ravel() + 1e-9
    S = (X.T @ X).toarray() / norm[:, None] / norm[None, :]
    np.fill_diagonal(S, 0.0)
    return np.asarray(X @ S)


def retrieve_fallback(train: Dataset, users: np.ndarray, per_source: int = 200) -> CandidateSet:
    """Stand-in candidate stage (until workbench.candidates lands): EASE, item-kNN and popularity top lists,
    union without seen items, fused by reciprocal-rank fusion (Cormack et al. 2009)."""
    seen = train.matrix[users].toarray() > 0
    pop = np.broadcast_to(train.item_popularity.astype(np.float64), seen.shape)
    raw = {"ease": ease_scores(train)[users], "itemknn": knn_scores(train)[users], "popular": pop}
    names = tuple(raw)
    n_items = train.n_items
    rank = np.full((len(users), n_items, len(names)), -1, np.int32)
    score = np.full((len(users), n_items, len(names)), np.nan, np.float32)
    rows = np.arange(len(users))[:, None]
    for s, name in enumerate(names):
        key = np.where(seen, -np.inf, raw[name])
        top = np.argsort(-key, axis=1, kind="stable")[:, :per_source]
        rank[rows, top, s] = np.arange(per_source)
        score[rows, top, s] = np.take_along_axis(key, top, 1)
    proposed = rank >= 0
    fused = np.where(proposed, 1.0 / (60.0 + rank + 1), 0.0).sum(-1)
    width = int(proposed.any(-1).sum(1).max())
    order = np.argsort(-np.where(proposed.any(-1), fused, -1.0), axis=1, kind="stable")[:, :width]
    real = np.take_along_axis(proposed.any(-1), order, 1)
    items = np.where(real, order, -1)
    bits = (proposed * (1 << np.arange(len(names)))).sum(-1)
    return CandidateSet(
        users, items, np.where(real, np.take_along_axis(fused, order, 1), -np.inf),
        np.where(real, np.take_along_axis(bits, order, 1), 0), names,
        np.where(real[..., None], rank[rows, order], -1), np.where(real[..., None], score[rows, order], np.nan),
    )  # fmt: skip


def metrics(top: np.ndarray, test: Dataset, users: np.ndarray) -> dict[str, float]:
    m = accuracy_metrics(np.asarray(top), test.matrix[users], ks=(10, 20))
    return {"ndcg@10": float(np.nanmean(m[("ndcg", 10)])), "recall@20": float(np.nanmean(m[("recall", 20)]))}


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Mann-Whitney AUC with average ranks for ties."""
    from scipy.stats import rankdata

    r = rankdata(scores)
    n1 = labels.sum()
    n0 = len(labels) - n1
    return float((r[labels == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def held_out(ranker: Ranker, cands: CandidateSet, test: Dataset, ctx: Context) -> dict[str, float]:
    mask = cands.mask
    labels = np.asarray(test.matrix[cands.users].toarray()[np.arange(cands.n_users)[:, None], np.maximum(cands.items, 0)])
    s = ranker.score(cands, ctx)[mask]
    cfg = ranker.train_config
    pairs = PairSampler(test, cands, test.n_items).sample(cfg.hard_negatives, cfg.easy_negatives, np.random.default_rng(7))
    sub = CandidateSet(pairs.users[:, None], pairs.items[:, None], np.zeros((len(pairs.users), 1)))
    p = ranker.predict_proba(sub, Context(first_times(test, 0)[pairs.users]))[:, 0]
    p = np.clip(p, 1e-7, 1 - 1e-7)
    y = pairs.labels
    logloss = float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))
    return {"auc": auc(s, labels[mask]), "logloss": logloss}


def median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def speed(ranker: Ranker, cands: CandidateSet, one: CandidateSet) -> dict[str, float]:
    ours = median_time(lambda: ranker.rank(None, one, top_k=100), 30)
    b = ranker.features
    block = b.source_block(one)[0]
    ts, _ = b.request_times(one, None)
    n_ref = 50

    def per_pair() -> None:
        for c in range(n_ref):
            num, cat = b.transform(one.users[:1], one.items[0, c : c + 1], ts[:1], None, block[c : c + 1])
            ranker.model.score(num, cat)

    ref = median_time(per_pair, 3) * one.n / n_ref
    every = median_time(lambda: ranker.rank(None, cands, top_k=100), 3)
    return {"one_user_ms": ours * 1e3, "per_pair_ref_ms": ref * 1e3, "ratio": ref / ours, "all_users_s": every}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="movielens-100k")
    ap.add_argument("--models", default="gbdt,deepfm,wide_deep,ncf")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    ds = load(args.data)
    train, test = temporal_split(ds, 0.2)
    users = np.flatnonzero(test.user_activity > 0)
    t = time.perf_counter()
    cands = retrieve_fallback(train, users)
    print(f"{ds}: {len(users)} test users, candidates {cands} width {cands.n}, mean {cands.counts.mean():.0f} "
          f"({time.perf_counter() - t:.1f} s)")  # fmt: skip
    ctx = Context(first_times(test, train.reference_ts)[users])
    rows = []
    for s, name in enumerate(cands.source_names):
        own = cands.take(np.argsort(np.where(cands.source_ranks[..., s] >= 0, cands.source_ranks[..., s], 1 << 30), 1))
        rows.append({"model": f"source:{name}", **metrics(own.items[:, :20], test, users)})
    rows.append({"model": "fused (RRF)", **metrics(cands.items[:, :20], test, users)})
    one = retrieve_fallback(train, users[:1], per_source=1000).top(1000)
    for name in args.models.split(","):
        ranker = fit_two_stage(train, retrieve_fallback, Ranker(name))
        top = ranker.rank(None, cands, ctx, top_k=100)
        row = {"model": name, **metrics(top.items[:, :20], test, users), **held_out(ranker, cands, test, ctx),
               "fit_s": ranker.report["fit_s"], **speed(ranker, cands, one)}  # fmt: skip
        print(ranker.report)
        rows.append(row)
        print(row, flush=True)
    import pandas as pd

    print(pd.DataFrame(rows).round(4).to_string(index=False))


if __name__ == "__main__":
    main()
