"""Accuracy metrics at scale: workbench.metrics vs ranx, from the same arrays, side by side.

100,000 users x top-100 lists over 20,000 items, ~20 graded (1..5) relevant items per user.
Both start from the arrays (rec [n_users, 100], test triples user/item/grade); ranx's time
includes building its Qrels/Run with ``from_df`` as a user would, ours includes building the
relevance CSR. Metrics: P, R, MAP, NDCG (2^rel - 1 gain: ranx ``ndcg_burges``), MRR, HR at 10
and 100. ranx's numba JIT is warmed on a tiny input before timing.

    .venv/bin/python benchmarks/bench_metrics.py [--users 100000] [--repeats 5] [--ranx-repeats 1]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import pandas as pd
import scipy.sparse as sp

from workbench.metrics import accuracy_metrics

RANX_NAMES = {"precision": "precision", "recall": "recall", "map": "map", "ndcg": "ndcg_burges", "mrr": "mrr",
              "hit_rate": "hit_rate"}  # fmt: skip


def make_inputs(n_users: int, n_items: int, width: int, n_rel: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    rec = np.empty((n_users, width), dtype=np.int64)
    for start in range(0, n_users, 1000):  # chunks only bound memory while drawing
        block = rng.random((min(1000, n_users - start), n_items))
        rec[start : start + len(block)] = np.argpartition(block, width, axis=1)[:, :width]
    users = np.repeat(np.arange(n_users), n_rel)
    from_list = rec[users, rng.integers(0, width, users.size)]
    items = np.where(rng.random(users.size) < 0.3, from_list, rng.integers(0, n_items, users.size))
    pairs = np.unique(users * n_items + items)
    users, items = pairs // n_items, pairs % n_items
    grades = rng.integers(1, 6, users.size)
    return rec, users, items, grades


def ours(rec, users, items, grades, n_items, ks):
    rel = sp.csr_matrix((grades.astype(np.float64), (users, items)), shape=(rec.shape[0], n_items))
    return accuracy_metrics(rec, rel, ks, gain="exp")


def ranx_frames(rec, users, items, grades, n_items):
    q_names = np.array([f"u{u:07d}" for u in range(rec.shape[0])], dtype=object)
    d_names = np.array([f"d{i}" for i in range(n_items)], dtype=object)
    qrels = pd.DataFrame({"q_id": q_names[users], "doc_id": d_names[items], "score": grades.astype(np.int64)})
    real = rec >= 0
    rows = np.broadcast_to(np.arange(rec.shape[0])[:, None], rec.shape)[real]
    scores = np.broadcast_to(np.arange(rec.shape[1], 0, -1, dtype=np.float64), rec.shape)[real]
    run = pd.DataFrame({"q_id": q_names[rows], "doc_id": d_names[rec[real]], "score": scores})
    for df in (qrels, run):  # pandas >= 3 infers a `str` dtype; ranx's from_df asserts object
        df["q_id"] = df["q_id"].astype(object)
        df["doc_id"] = df["doc_id"].astype(object)
    return qrels, run


def with_ranx(rec, users, items, grades, n_items, ks):
    import ranx

    t0 = time.perf_counter()
    qrels_df, run_df = ranx_frames(rec, users, items, grades, n_items)
    qrels, run = ranx.Qrels.from_df(qrels_df), ranx.Run.from_df(run_df)
    t_build = time.perf_counter() - t0
    metrics = [f"{m}@{k}" for k in ks for m in RANX_NAMES.values()]
    t1 = time.perf_counter()
    scores = ranx.evaluate(qrels, run, metrics, return_mean=False)
    t_eval = time.perf_counter() - t1
    return scores, t_build, t_eval


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=100_000)
    ap.add_argument("--items", type=int, default=20_000)
    ap.add_argument("--width", type=int, default=100)
    ap.add_argument("--relevant", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=5, help="timed runs of ours")
    ap.add_argument("--ranx-repeats", type=int, default=1, help="timed runs of ranx (~10 min each at 100k users)")
    args = ap.parse_args()
    ks = (10, args.width)
    rec, users, items, grades = make_inputs(args.users, args.items, args.width, args.relevant)
    print(f"{args.users} users x top-{args.width}, {args.items} items, {users.size} relevant pairs, "
          f"cpus={os.cpu_count()}, ks={ks}")  # fmt: skip

    warm = make_inputs(50, 200, 20, 5, seed=1)
    with_ranx(*warm, 200, (10, 20))  # numba JIT warm-up, not timed
    ours(*warm, 200, (10, 20))

    t_ours, t_ranx, t_ranx_eval = [], [], []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        mine = ours(rec, users, items, grades, args.items, ks)
        t_ours.append(time.perf_counter() - t0)
    for _ in range(args.ranx_repeats):
        theirs, t_build, t_eval = with_ranx(rec, users, items, grades, args.items, ks)
        t_ranx.append(t_build + t_eval)
        t_ranx_eval.append(t_eval)

    diff = max(np.max(np.abs(mine[(m, k)] - theirs[f"{r}@{k}"])) for k in ks for m, r in RANX_NAMES.items())
    means = {f"{m}@{k}": float(np.mean(mine[(m, k)])) for k in ks for m in RANX_NAMES}
    print("means:", ", ".join(f"{n}={v:.4f}" for n, v in means.items()))
    print(f"max |ours - ranx| over all users and metrics: {diff:.3g}")
    mo, mr, me = (float(np.median(t)) for t in (t_ours, t_ranx, t_ranx_eval))
    print(f"workbench.metrics end to end (CSR build + validate + lookup + metrics): median {mo:.3f} s of {len(t_ours)}")
    print(f"ranx end to end (DataFrames + Qrels/Run.from_df + evaluate):          median {mr:.3f} s of {len(t_ranx)}")
    print(f"ranx evaluate only (Qrels/Run already built):                        median {me:.3f} s")
    print(f"speed ratio end to end: {mr / mo:.1f}x; vs ranx evaluate only: {me / mo:.2f}x")


if __name__ == "__main__":
    main()
