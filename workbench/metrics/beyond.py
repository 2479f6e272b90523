"""Beyond-accuracy figures of top-k lists: coverage, diversity, novelty, freshness, exposure, personalisation.

``recommended`` is int ``[n_users, k]`` with ``-1`` padding at row ends, as in
`workbench.metrics.accuracy`. Per-user figures return float64 ``[n_users]`` with NaN
where a list is too short to define them; catalogue-level figures return one float.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from workbench.metrics.accuracy import check_recommended


def _item_array(name: str, values: np.ndarray, ndim: int = 1) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D with one {'row' if ndim == 2 else 'entry'} per item, got shape {arr.shape}")
    if np.issubdtype(arr.dtype, np.number) and not np.isfinite(arr).all():
        raise ValueError(f"{name} holds NaN or infinite values; expected finite numbers")
    return arr


def _checked(recommended: np.ndarray, n_items: int, validate: bool) -> np.ndarray:
    return check_recommended(recommended, n_items) if validate else np.asarray(recommended)


def _indicator(rec: np.ndarray, columns: np.ndarray, n_columns: int) -> sp.csr_matrix:
    """CSR ``[n_users, n_columns]`` with a 1 at (u, columns[u, p]) for each real cell of ``rec``."""
    real = rec >= 0
    indptr = np.concatenate([[0], np.cumsum(real.sum(axis=1))])
    return sp.csr_matrix((np.ones(indptr[-1]), columns[real], indptr), shape=(rec.shape[0], n_columns))


def _per_user_mean(values: np.ndarray, real: np.ndarray) -> np.ndarray:
    m = real.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(m > 0, np.where(real, values, 0.0).sum(axis=1) / m, np.nan)


def exposure(recommended: np.ndarray, n_items: int, *, validate: bool = True) -> np.ndarray:
    """int64 ``[n_items]``: how many lists show each item (0 for items never recommended).

    ``validate=False`` (here and below) skips the checks of ``recommended``, for callers such
    as `evaluate` that made them once already.
    """
    rec = _checked(recommended, n_items, validate)
    return np.bincount(rec[rec >= 0], minlength=n_items).astype(np.int64)


def catalogue_coverage(recommended: np.ndarray, n_items: int, *, validate: bool = True) -> float:
    """Fraction of the ``n_items`` catalogue that appears in at least one list."""
    return float((exposure(recommended, n_items, validate=validate) > 0).mean())


def gini(values: np.ndarray) -> float:
    """Gini coefficient of non-negative values: sum_i (2i - n - 1) x_(i) / (n sum x), x ascending, i = 1..n.

    This equals the mean absolute difference over all ordered pairs divided by twice the
    mean: 0 when all are equal, (n - 1) / n when one holds everything. NaN when all are 0.
    """
    x = np.sort(np.asarray(values, dtype=np.float64).ravel())
    if x.size == 0 or x[0] < 0:
        raise ValueError(f"gini needs a non-empty array of values >= 0, got {x.size} values with minimum {x[:1].tolist()}")
    total = x.sum()
    if total == 0:
        return float("nan")
    n = x.size
    return float(np.sum((2 * np.arange(1, n + 1) - n - 1) * x) / (n * total))


def exposure_gini(recommended: np.ndarray, n_items: int, *, validate: bool = True) -> float:
    """Gini coefficient of item exposure over the whole catalogue (never-recommended items count as 0)."""
    return gini(exposure(recommended, n_items, validate=validate))


def intra_list_diversity(recommended: np.ndarray, item_vectors: np.ndarray, *, validate: bool = True) -> np.ndarray:
    """Mean pairwise cosine distance 1 - cos(v_i, v_j) within each list (Ziegler et al. 2005), in 0–2
    (above 1 only when vectors point in opposite directions, so only with negative parts).

    Uses sum_{i<j} cos = (||sum_i u_i||^2 - sum_i ||u_i||^2) / 2 over unit vectors u_i, the sums
    taken as one sparse product (user×item indicator) @ (unit vectors): O(k d) per user, not
    O(k^2 d). An item with an all-zero vector has cosine 0 to every other item (distance 1).
    NaN for lists with fewer than 2 items.
    """
    vecs = _item_array("item_vectors", item_vectors, ndim=2).astype(np.float64)
    rec = _checked(recommended, vecs.shape[0], validate)
    norms = np.linalg.norm(vecs, axis=1, keepdims=True)
    unit = np.divide(vecs, norms, out=np.zeros_like(vecs), where=norms > 0)
    x = _indicator(rec, rec, vecs.shape[0])
    total = x @ unit
    sq_norms = x @ (norms[:, 0] > 0).astype(np.float64)
    m = (rec >= 0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_cos = (np.einsum("ij,ij->i", total, total) - sq_norms) / (m * (m - 1))
    return np.where(m >= 2, 1.0 - mean_cos, np.nan)


def category_diversity(recommended: np.ndarray, item_category: np.ndarray, *, validate: bool = True) -> np.ndarray:
    """Fraction of within-list item pairs whose categories differ. NaN for lists with fewer than 2 items."""
    cats = _item_array("item_category", item_category)
    if not np.issubdtype(cats.dtype, np.integer) or (cats.size and cats.min() < 0):
        raise ValueError(f"item_category must hold integer codes >= 0, got dtype {cats.dtype}")
    rec = _checked(recommended, cats.shape[0], validate)
    counts = _indicator(rec, cats[rec], int(cats.max(initial=0)) + 1)
    counts.sum_duplicates()
    count_rows = np.repeat(np.arange(rec.shape[0]), np.diff(counts.indptr))
    same = np.bincount(count_rows, weights=counts.data * (counts.data - 1) / 2, minlength=rec.shape[0])
    m = (rec >= 0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(m >= 2, 1.0 - same / (m * (m - 1) / 2), np.nan)


def novelty(
    recommended: np.ndarray, item_popularity: np.ndarray, n_users: int, *, validate: bool = True
) -> np.ndarray:
    """Mean self-information of the recommended items, in bits (Zhou et al. 2010).

    I(i) = -log2((pop_i + 1) / (n_users + 1)), pop_i = training users who interacted with i.
    Add-one smoothing keeps items no training user touched finite (log2(n_users + 1) bits);
    for popular items it is close to the unsmoothed log2(n_users / pop_i). NaN for empty lists.
    """
    pop = _item_array("item_popularity", item_popularity).astype(np.float64)
    if pop.size and (pop.min() < 0 or pop.max() > n_users):
        raise ValueError(
            f"item_popularity spans [{pop.min():g}, {pop.max():g}]; "
            f"expected counts of users in [0, n_users={n_users}]"
        )
    rec = _checked(recommended, pop.shape[0], validate)
    info = -np.log2((pop + 1.0) / (n_users + 1.0))
    return _per_user_mean(info[np.maximum(rec, 0)], rec >= 0)


def mean_item_age(recommended: np.ndarray, item_age_days: np.ndarray, *, validate: bool = True) -> np.ndarray:
    """Mean age in days of the recommended items (freshness: lower is fresher). NaN for empty lists."""
    age = _item_array("item_age_days", item_age_days).astype(np.float64)
    rec = _checked(recommended, age.shape[0], validate)
    return _per_user_mean(age[np.maximum(rec, 0)], rec >= 0)


def personalisation(
    recommended: np.ndarray,
    n_items: int,
    *,
    max_exact_users: int = 2000,
    n_pairs: int = 50_000,
    seed: int = 0,
    validate: bool = True,
) -> float:
    """1 - mean Jaccard similarity |A ∩ B| / |A ∪ B| between the lists of two different users.

    Exact over all pairs (one sparse indicator product X Xᵀ) when there are at most
    ``max_exact_users`` users; otherwise the mean over ``n_pairs`` pairs of distinct users
    drawn uniformly with replacement with ``seed``. A pair where both lists are empty counts
    as similarity 0. 0 when every user gets the same list, 1 when lists are disjoint.
    NaN with fewer than 2 users.
    """
    rec = _checked(recommended, n_items, validate)
    n = rec.shape[0]
    if n < 2:
        return float("nan")
    m = (rec >= 0).sum(axis=1)
    if n <= max_exact_users:
        x = _indicator(rec, rec, n_items)
        inter = sp.triu(x @ x.T, k=1).tocoo()
        sim_sum = np.sum(inter.data / (m[inter.row] + m[inter.col] - inter.data))
        return float(1.0 - sim_sum / (n * (n - 1) / 2))
    rng = np.random.default_rng(seed)
    a = rng.integers(0, n, n_pairs)
    b = rng.integers(0, n - 1, n_pairs)
    b += b >= a
    both = np.sort(np.concatenate([rec[a], rec[b]], axis=1), axis=1)
    inter = ((both[:, 1:] == both[:, :-1]) & (both[:, 1:] >= 0)).sum(axis=1)
    union = m[a] + m[b] - inter
    sim = np.divide(inter, union, out=np.zeros(n_pairs), where=union > 0)
    return float(1.0 - sim.mean())
