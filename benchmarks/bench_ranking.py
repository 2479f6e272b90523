"""Stage-2 rankers on MovieLens-100K (and the synthetic world): quality, training time, scoring speed.

Protocol: per-user temporal split (each user's last 20% is test); candidates for every
user from sources fitted on train; each ranker is trained by the two-stage recipe
(`fit_two_stage`: sources refitted on the earlier 80% of train, labels from the last 20%)
and ranks the test candidates; top-10 / top-20 lists are scored against test
(NDCG@10 binary relevance, log2 discount, IDCG capped at k; Recall@20). The best single
candidate source is measured on the same lists in the same run.

Held-out pairs: AUC over every (test user, candidate) pair, labelled by test; log-loss on
pairs drawn like the training pairs (positives + hard + easy negatives) from test, next to
the log-loss of a constant predictor at those pairs' base rate.

Speed: scoring one user's 1000 candidates (median of 50) against the textbook reference,
a per-pair Python loop (features and model call for one pair at a time, timed on 50 pairs
and scaled); scoring every user's candidates (median of 3). Wall and CPU medians are both
printed: the machine is shared, and the scoring path is single-threaded (``--threads 1``).

    .venv/bin/python benchmarks/bench_ranking.py [--data movielens-100k|synthetic] [--models gbdt,deepfm]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from workbench.candidates import ALS, CandidateGenerator, Popular
from workbench.candidates.fusion import tuned_sources
from workbench.data import Dataset, load, temporal_split
from workbench.metrics import accuracy_metrics
from workbench.ranking import Context, Ranker, fit_two_stage
from workbench.ranking.train import PairSampler, first_times
from workbench.types import CandidateSet


def generator(per_source_k: int = 200) -> CandidateGenerator:
    """Stage 1 for the ranker: the tuned sources (recency EASE, windowed item-kNN, two-tower) plus ALS and
    popularity, reciprocal-rank fused without quotas, so every source's rank and score reach the features."""
    sources = {**tuned_sources(), "als": ALS(), "popular": Popular()}
    return CandidateGenerator(sources, {s: 1.0 for s in sources}, use_quotas=False, per_source_k=per_source_k)


def retrieve(history: Dataset, users: np.ndarray, n: int = 300) -> CandidateSet:
    """``n`` fused candidates per user from sources fitted on ``history``."""
    return generator().fit(history).retrieve(users, n)


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
    p = ranker.predict_proba(cands, ctx).ravel()[np.maximum(pairs.cell, 0)]
    out = pairs.cell < 0  # easy negatives outside the candidates: scored as unproposed pairs
    sub = CandidateSet(pairs.users[out, None], pairs.items[out, None], np.zeros((int(out.sum()), 1)))
    p[out] = ranker.predict_proba(sub, Context(first_times(test, 0)[pairs.users[out]]))[:, 0]
    p = np.clip(p, 1e-7, 1 - 1e-7)
    y = pairs.labels
    logloss = float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))
    base = float(y.mean())
    const = -(base * np.log(base) + (1 - base) * np.log(1 - base))
    return {"auc": auc(s, labels[mask]), "logloss": logloss, "logloss_const": const}


def timed(fn, repeats: int) -> tuple[float, float]:
    """Median wall time and median CPU time (process_time) of ``repeats`` calls, in seconds.

    On this shared machine wall time includes waiting for a core; single-threaded CPU time
    is what the same call costs on an idle machine.
    """
    wall, cpu = [], []
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - w)
        cpu.append(time.process_time() - c)
    return float(np.median(wall)), float(np.median(cpu))


def speed(ranker: Ranker, cands: CandidateSet, one: CandidateSet) -> dict[str, float]:
    wall, cpu = timed(lambda: ranker.rank(None, one, top_k=100), 50)
    b = ranker.features_
    block = b.source_block(one)[0]
    ts, _ = b.request_times(one, None)
    n_ref = 50

    def per_pair() -> None:
        for c in range(n_ref):
            num, cat = b.transform(one.users[:1], one.items[0, c : c + 1], ts[:1], None, block[c : c + 1])
            ranker.model_.score(num, cat)

    ref_wall, _ = timed(per_pair, 3)
    every_wall, every_cpu = timed(lambda: ranker.rank(None, cands, top_k=100), 3)
    ref = ref_wall * one.n / n_ref
    return {"1user_ms": wall * 1e3, "1user_cpu_ms": cpu * 1e3, "per_pair_ref_ms": ref * 1e3, "ratio": ref / wall,
            "all_s": every_wall, "all_cpu_s": every_cpu}  # fmt: skip


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
    gen = generator().fit(train)
    cands = gen.retrieve(users, 300)
    print(f"{ds}: {len(users)} test users, candidates {cands} width {cands.n}, mean {cands.counts.mean():.0f} "
          f"({time.perf_counter() - t:.1f} s)")  # fmt: skip
    ctx = Context(first_times(test, train.reference_ts)[users])
    rows = [{"model": f"source:{name}", **metrics(cs.items, test, users)} for name, cs in gen.retrieve_each(users, 20).items()]
    rows.append({"model": "fused (RRF)", **metrics(cands.items[:, :20], test, users)})
    carved: dict = {}

    def retrieve_once(history: Dataset, who: np.ndarray) -> CandidateSet:
        if "c" not in carved:
            carved["c"] = retrieve(history, who)
        return carved["c"]

    gen.per_source_k = 1000
    one = gen.retrieve(users[:1], 1000)
    assert one.counts[0] == 1000, one.counts
    for name in args.models.split(","):
        ranker = fit_two_stage(train, retrieve_once, Ranker(name))
        top = ranker.rank(None, cands, ctx, top_k=100)
        row = {"model": name, **metrics(top.items[:, :20], test, users), **held_out(ranker, cands, test, ctx),
               "fit_s": ranker.report_["fit_s"], "fit_cpu_s": ranker.report_["fit_cpu_s"], **speed(ranker, cands, one)}  # fmt: skip
        print(ranker.report_)
        rows.append(row)
        print(row, flush=True)
    import pandas as pd

    print(pd.DataFrame(rows).round(4).to_string(index=False))


if __name__ == "__main__":
    main()
