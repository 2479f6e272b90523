"""How good is stage 1? Candidate recall (the ceiling of every later stage), overlap, each source alone.

Run ``python -m workbench.candidates.diagnostics --data movielens-100k`` to print the tables.
Recall and NDCG come from `workbench.metrics` (binary relevance, log2 discount, IDCG from
the user's own test items); users without test items are left out.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from workbench.candidates.base import CandidateSource
from workbench.candidates.fusion import CandidateGenerator
from workbench.data import load, temporal_split
from workbench.data.dataset import Dataset
from workbench.metrics import accuracy_metrics, relevance_matrix
from workbench.types import CandidateSet


def _judged_rows(cs: CandidateSet, relevance: sp.csr_matrix) -> tuple[np.ndarray, sp.csr_matrix]:
    rel = relevance[cs.users]
    has = np.diff(rel.indptr) > 0
    return cs.items[has], rel[has]


def candidate_recall(cs: CandidateSet, test: Dataset, n: int | None = None) -> float:
    """Mean recall@n (default: the set's width) of ``cs`` against ``test``, over users with test items."""
    n = n or cs.n
    if n > cs.n:
        raise ValueError(f"n={n} exceeds the CandidateSet's width {cs.n}")
    items, rel = _judged_rows(cs, relevance_matrix(test))
    return float(accuracy_metrics(items, rel, (n,))[("recall", n)].mean()) if len(items) else float("nan")


def recall_table(
    sets: Mapping[str, CandidateSet], test: Dataset, ns: Sequence[int] = (10, 50, 100, 200)
) -> pd.DataFrame:
    """Recall@N of each named CandidateSet at each N (≤ its width): one row per source, one column per N."""
    relevance = relevance_matrix(test)
    rows = {}
    for name, cs in sets.items():
        ks = tuple(n for n in ns if n <= cs.n)
        items, rel = _judged_rows(cs, relevance)
        values = accuracy_metrics(items, rel, ks) if ks else {}
        rows[name] = {f"recall@{k}": float(values[("recall", k)].mean()) for k in ks}
    return pd.DataFrame.from_dict(rows, orient="index")


def _indicator(cs: CandidateSet, n: int, n_items: int) -> sp.csr_matrix:
    items = cs.items[:, :n]
    real = items >= 0
    rows = np.broadcast_to(np.arange(cs.n_users)[:, None], items.shape)[real]
    return sp.csr_matrix((np.ones(rows.size, dtype=np.float32), (rows, items[real])), shape=(cs.n_users, n_items))


def overlap_table(sets: Mapping[str, CandidateSet], n: int, n_items: int) -> pd.DataFrame:
    """Mean over users of ``|A ∩ B| / |A|``: the share of row source A's top-``n`` also in column source B's."""
    ind = {name: _indicator(cs, n, n_items) for name, cs in sets.items()}
    out = pd.DataFrame(index=list(sets), columns=list(sets), dtype=float)
    for a, ma in ind.items():
        size = np.asarray(ma.sum(axis=1)).ravel()
        for b, mb in ind.items():
            both = np.asarray(ma.multiply(mb).sum(axis=1)).ravel()
            out.loc[a, b] = float(np.divide(both, size, out=np.zeros_like(both), where=size > 0).mean())
    return out


def source_contribution(fused: CandidateSet) -> pd.DataFrame:
    """Per source: share of fused candidates it proposed, and share it alone proposed (from the bitmask)."""
    real = fused.mask
    total = max(int(real.sum()), 1)
    rows = []
    for bit, name in enumerate(fused.source_names):
        has = ((fused.sources >> bit) & 1 == 1) & real
        alone = has & (fused.sources == (1 << bit))
        rows.append({"source": name, "proposed": has.sum() / total, "only_source": alone.sum() / total})
    return pd.DataFrame(rows).set_index("source")


def evaluate_sources(
    sources: Mapping[str, CandidateSource], train: Dataset, test: Dataset, k: int = 10, n: int = 200, fit: bool = True
) -> pd.DataFrame:
    """Each source used alone as a recommender: fit seconds, NDCG@k, recall@k and candidate recall@n.

    Seen items are excluded; every item is ranked; users without test items are left out.
    """
    relevance = relevance_matrix(test)
    users = np.flatnonzero(np.diff(relevance.indptr) > 0)
    rows = {}
    for name, source in sources.items():
        start = time.perf_counter()
        if fit:
            source.fit(train)
        fit_s = time.perf_counter() - start
        cs = source.retrieve(users, max(k, n))
        values = accuracy_metrics(cs.items, relevance[users], (k, n))
        rows[name] = {
            "fit_s": fit_s, f"ndcg@{k}": float(values[("ndcg", k)].mean()),
            f"recall@{k}": float(values[("recall", k)].mean()), f"recall@{n}": float(values[("recall", n)].mean()),
        }  # fmt: skip
    return pd.DataFrame.from_dict(rows, orient="index")


def main(argv: Sequence[str] | None = None) -> None:
    """Print every diagnostic for the textbook and tuned generators on one data set."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="synthetic", help="synthetic or movielens-100k")
    parser.add_argument("--n", type=int, default=200, help="candidates per user")
    parser.add_argument("--preset", default="textbook", choices=("textbook", "tuned"))
    args = parser.parse_args(argv)
    train, test = temporal_split(load(args.data))
    gen = CandidateGenerator.preset(args.preset)
    print(f"{train.name}: {train.n_users} users, {train.n_items} items; preset {args.preset!r}, N = {args.n}\n")
    gen.fit(train)
    alone = evaluate_sources(gen.sources, train, test, n=args.n, fit=False)
    alone["fit_s"] = pd.Series(gen.fit_seconds_)
    print("Each source alone (seen items excluded, all items ranked):")
    print(alone.round(4).to_string(), "\n")
    users = np.flatnonzero(test.user_activity > 0)
    each = gen.retrieve_each(users, args.n)
    fused = gen.retrieve(users, args.n)
    print(f"Candidate recall (fused: {gen.method}, quotas {gen.use_quotas}, unavailable items excluded):")
    print(recall_table({**each, "FUSED": fused}, test, (10, 50, 100, args.n)).round(4).to_string(), "\n")
    print(f"Overlap of top-{args.n} lists (share of the row source's items also in the column source's):")
    print(overlap_table(each, args.n, train.n_items).round(3).to_string(), "\n")
    print("Who fills the fused list:")
    print(source_contribution(fused).round(3).to_string())


if __name__ == "__main__":
    main()
