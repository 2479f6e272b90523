"""One call from top-k lists and test relevance to a tidy table of accuracy and beyond-accuracy figures."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from workbench.data.dataset import Dataset
from workbench.metrics import beyond
from workbench.metrics.accuracy import ACCURACY_METRICS, Gain, accuracy_metrics, check_k, check_recommended
from workbench.types import ItemArrays

Z_95 = 1.959963984540054
COLUMNS = ("metric", "k", "mean", "ci_low", "ci_high", "users", "note")
CATALOGUE_NOTE = "catalogue-level figure: no per-user CI"
PER_USER = ("novelty_bits", "intra_list_diversity", "category_diversity", "mean_item_age_days")  # rows per user, with CIs
WHOLE = ("catalogue_coverage", "exposure_gini", "personalisation")  # rows of the catalogue as a whole


def relevance_matrix(test: Dataset, graded: bool = False) -> sp.csr_matrix:
    """Test interactions as a float64 user×item CSR relevance matrix, rows = user ids 0..n_users-1.

    Binary (every held-out interaction has grade 1) by default; the ratings when ``graded``.
    """
    m = test.rating_matrix if graded else test.matrix
    return sp.csr_matrix(m, dtype=np.float64)


def _summary(values: np.ndarray) -> tuple[float, float, float, int]:
    """Mean and 95% normal-approximation CI, mean ± 1.96·sd/√n (sd with ddof=1), over non-NaN values."""
    v = values[~np.isnan(values)]
    n = v.size
    if n == 0:
        return np.nan, np.nan, np.nan, 0
    mean = float(v.mean())
    if n < 2:
        return mean, np.nan, np.nan, n
    half = Z_95 * float(v.std(ddof=1)) / np.sqrt(n)
    return mean, mean - half, mean + half, n


def _resolve_n_items(relevance: sp.spmatrix | None, n_items: int | None, **item_arrays: np.ndarray | None) -> int:
    sizes = {} if relevance is None else {"relevance columns": relevance.shape[1]}
    if n_items is not None:
        sizes["n_items"] = int(n_items)
    sizes |= {name: len(arr) for name, arr in item_arrays.items() if arr is not None}
    if not sizes:
        raise ValueError("cannot tell the catalogue size: pass relevance, n_items or an item array")
    if len(set(sizes.values())) > 1:
        raise ValueError(f"catalogue sizes disagree: {sizes}; every item array needs one entry per item")
    return next(iter(sizes.values()))


def evaluate(
    recommended: np.ndarray,
    relevance: sp.spmatrix | None = None,
    ks: Sequence[int] = (10,),
    *,
    users: np.ndarray | None = None,
    gain: Gain = "exp",
    items: ItemArrays | None = None,
    item_popularity: np.ndarray | None = None,
    n_train_users: int | None = None,
    item_vectors: np.ndarray | None = None,
    item_category: np.ndarray | None = None,
    item_age_days: np.ndarray | None = None,
    n_items: int | None = None,
    personalisation_pairs: int = 50_000,
    seed: int = 0,
    only: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Accuracy and beyond-accuracy figures of top-k lists at each k in ``ks``, as a tidy table.

    recommended: int ``[n_users, width]``, ``-1`` padding at row ends.
    relevance: sparse ``[n, n_items]`` test grades (see `relevance_matrix`); its rows align with
        ``recommended``'s, or with ``users`` when given (row ``users[u]`` belongs to list ``u``,
        e.g. ``users=slate.users``). None: beyond-accuracy figures only.
    items: the training split's catalogue arrays in one object (`workbench.types.ItemArrays`:
        ``train.item_arrays()``), standing for every ``item_*``, ``n_train_users`` and ``n_items``
        argument below (not both).
    Beyond-accuracy rows appear when their inputs are given: novelty (``item_popularity``
    and ``n_train_users``), intra-list diversity (``item_vectors``), category diversity
    (``item_category``), mean item age in days (``item_age_days``). Coverage, exposure Gini
    and personalisation (sampled over ``personalisation_pairs`` pairs with ``seed`` beyond
    2000 users) are always reported.

    only: the metrics to compute (names of the table's ``metric`` column; the accuracy metrics come
    together); None: all. The rows it keeps are those of the whole table, computed by the same code.

    Columns: metric, k, mean, ci_low, ci_high (95% normal approximation mean ± 1.96·sd/√n
    over users; NaN for catalogue-level figures), users (users counted), note.
    Users with no relevant test item are left out of the accuracy rows;
    ``df.attrs["users_excluded"]`` holds their number, also written in those rows' note.
    """
    if items is not None:
        given = [n for n, v in (("item_popularity", item_popularity), ("n_train_users", n_train_users),
                                ("item_vectors", item_vectors), ("item_category", item_category),
                                ("item_age_days", item_age_days), ("n_items", n_items)) if v is not None]  # fmt: skip
        if given:
            raise ValueError(f"evaluate: items= and {given}: expected the item arrays once (items= holds them all)")
        item_popularity, n_train_users, n_items = items.popularity, items.n_users, items.n_items
        item_vectors, item_category, item_age_days = items.vectors, items.category, items.age_days
    ks = tuple(int(k) for k in ks)
    if only is not None:
        known = (*ACCURACY_METRICS, *PER_USER, *WHOLE)
        only = tuple(only)
        if not only or any(m not in known for m in only):
            raise ValueError(f"only={only!r}: expected a non-empty selection of {known}")
    if not ks:
        raise ValueError("ks is empty; expected at least one cut-off k")
    if relevance is None and users is not None:
        raise ValueError("users selects rows of relevance, but relevance is None; pass both or neither")
    if relevance is not None and users is not None:
        users = np.asarray(users, dtype=np.int64)
        if users.size and (users.min() < 0 or users.max() >= relevance.shape[0]):
            raise ValueError(f"users span [{users.min()}, {users.max()}]; relevance has rows 0..{relevance.shape[0] - 1}")
        relevance = sp.csr_matrix(relevance)[users]
    catalogue = _resolve_n_items(
        relevance, n_items, item_popularity=item_popularity, item_vectors=item_vectors,
        item_category=item_category, item_age_days=item_age_days,
    )  # fmt: skip
    rec = check_recommended(recommended, catalogue)
    for k in ks:
        check_k(k, rec.shape[1])
    if item_popularity is not None and n_train_users is None:
        raise ValueError("novelty needs n_train_users (the number of training users) alongside item_popularity")

    rows: list[tuple] = []
    excluded = 0
    wanted = (lambda name: True) if only is None else (lambda name: name in only)
    if relevance is not None and (only is None or any(m in only for m in ACCURACY_METRICS)):
        acc = accuracy_metrics(rec, relevance, ks, gain)
        excluded = int(np.isnan(acc[(ACCURACY_METRICS[0], ks[0])]).sum())
        note = f"{excluded} users without relevant test items excluded" if excluded else ""
        rows += [(name, k, *_summary(acc[(name, k)]), note) for name in ACCURACY_METRICS for k in ks if wanted(name)]

    per_user = {
        "novelty_bits": (item_popularity, lambda r: beyond.novelty(r, item_popularity, n_train_users, validate=False)),
        "intra_list_diversity": (item_vectors, lambda r: beyond.intra_list_diversity(r, item_vectors, validate=False)),
        "category_diversity": (item_category, lambda r: beyond.category_diversity(r, item_category, validate=False)),
        "mean_item_age_days": (item_age_days, lambda r: beyond.mean_item_age(r, item_age_days, validate=False)),
    }
    for name, (given, fn) in per_user.items():
        if given is not None and wanted(name):
            rows += [(name, k, *_summary(fn(rec[:, :k])), "") for k in ks]

    whole = {
        "catalogue_coverage": lambda r: beyond.catalogue_coverage(r, catalogue, validate=False),
        "exposure_gini": lambda r: beyond.exposure_gini(r, catalogue, validate=False),
        "personalisation": lambda r: beyond.personalisation(
            r, catalogue, n_pairs=personalisation_pairs, seed=seed, validate=False
        ),
    }
    for name, fn in whole.items():
        if wanted(name):
            rows += [(name, k, fn(rec[:, :k]), np.nan, np.nan, rec.shape[0], CATALOGUE_NOTE) for k in ks]

    df = pd.DataFrame(rows, columns=list(COLUMNS))
    df["users"] = df["users"].astype(np.int64)
    df.attrs.update(
        users_total=rec.shape[0],
        users_excluded=excluded,
        gain=gain,
        ci="95% normal approximation: mean ± 1.96·sd/√n over users",
    )
    return df
