"""Distribution drift between a reference sample (a baseline window) and a current one (serving).

- PSI, the population stability index (Siddiqi 2006; Yurdakul 2018):
  ``Σ_b (q_b − p_b) · ln(q_b / p_b)`` over bins ``b``, where ``p``/``q`` are the reference and
  current shares. Bins: ``bins`` quantile bins of the reference (equal reference shares),
  open at both ends so that every current value falls in one; a feature with few distinct
  values (``categorical``) is binned by value instead. Empty bins are floored at ``floor``
  so an unseen bin costs a finite amount. Common reading: < 0.1 stable, 0.1–0.25 a shift
  worth a look, > 0.25 a major shift.
- KS: the two-sample Kolmogorov–Smirnov statistic, ``sup_x |F_ref(x) − F_cur(x)|``, and its
  p-value (``scipy.stats.ks_2samp``). With large windows tiny shifts are "significant",
  so alert on the statistic, not the p-value.
- Jensen–Shannon distance on the same bins (``scipy.spatial.distance.jensenshannon``,
  base 2): the square root of the JS divergence, in [0, 1], symmetric, a metric.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats
from scipy.spatial.distance import jensenshannon


def _sample(name: str, x) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64).reshape(-1)
    if arr.size == 0:
        raise ValueError(f"{name} is empty: expected at least one value")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} holds {int((~np.isfinite(arr)).sum())} NaN or infinite values: expected finite numbers")
    return arr


def binned_shares(reference, current, bins: int = 10, categorical: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Shares ``(p, q)`` of the reference and current samples in common bins (see the module docstring)."""
    ref, cur = _sample("reference", reference), _sample("current", current)
    if categorical:
        values, codes = np.unique(np.concatenate([ref, cur]), return_inverse=True)
        p = np.bincount(codes[: len(ref)], minlength=len(values)) / len(ref)
        q = np.bincount(codes[len(ref) :], minlength=len(values)) / len(cur)
        return p, q
    if int(bins) != bins or bins < 2:
        raise ValueError(f"bins={bins!r}: expected an integer >= 2")
    inner = np.unique(np.quantile(ref, np.arange(1, bins) / bins))
    p = np.bincount(np.searchsorted(inner, ref, side="right"), minlength=len(inner) + 1) / len(ref)
    q = np.bincount(np.searchsorted(inner, cur, side="right"), minlength=len(inner) + 1) / len(cur)
    return p, q


def psi(reference, current, bins: int = 10, categorical: bool = False, floor: float = 1e-4) -> float:
    """Population stability index of ``current`` against ``reference``; 0 for identical samples."""
    if not 0 < floor < 1:
        raise ValueError(f"floor={floor!r}: expected a small share in (0, 1)")
    p, q = binned_shares(reference, current, bins, categorical)
    p, q = np.maximum(p, floor), np.maximum(q, floor)
    return float(np.sum((q - p) * np.log(q / p)))


def ks_statistic(reference, current) -> tuple[float, float]:
    """``(D, p)``: the two-sample KS statistic and its p-value (scipy's exact or asymptotic method)."""
    res = stats.ks_2samp(_sample("reference", reference), _sample("current", current))
    return float(res.statistic), float(res.pvalue)


def js_distance(reference, current, bins: int = 10, categorical: bool = False) -> float:
    """Jensen–Shannon distance (base 2, in [0, 1]) between the binned samples; 0 for identical samples."""
    p, q = binned_shares(reference, current, bins, categorical)
    return float(jensenshannon(p, q, base=2))


def drift_table(reference: Mapping[str, np.ndarray] | pd.DataFrame, current: Mapping[str, np.ndarray] | pd.DataFrame,
                bins: int = 10, categorical: Sequence[str] = ()) -> pd.DataFrame:  # fmt: skip
    """One row per feature present in both windows: ``psi``, ``ks``, ``ks_p``, ``js``, ``n_reference``, ``n_current``.

    ``reference``/``current``: columns of values (a DataFrame or a dict of arrays); features
    named in ``categorical`` are binned by value. A feature in only one window is an error.
    """
    ref_cols, cur_cols = list(reference.keys()), list(current.keys())
    if set(ref_cols) != set(cur_cols):
        raise ValueError(f"the windows hold different features: only in reference {sorted(set(ref_cols) - set(cur_cols))}, "
                         f"only in current {sorted(set(cur_cols) - set(ref_cols))}")  # fmt: skip
    unknown = sorted(set(categorical) - set(ref_cols))
    if unknown:
        raise ValueError(f"categorical names {unknown}, which are not features {ref_cols}")
    rows = []
    for name in ref_cols:
        ref, cur = _sample(f"reference[{name!r}]", reference[name]), _sample(f"current[{name!r}]", current[name])
        cat = name in categorical
        d, p_value = ks_statistic(ref, cur)
        rows.append({"feature": name, "psi": psi(ref, cur, bins, cat), "ks": d, "ks_p": p_value,
                     "js": js_distance(ref, cur, bins, cat), "n_reference": len(ref), "n_current": len(cur)})  # fmt: skip
    return pd.DataFrame(rows)


def drift_columns(drift: pd.DataFrame, figures: tuple[str, ...] = ("psi", "ks", "js")) -> dict[str, float]:
    """A `drift_table` as one wide row, ``{"psi:<feature>": …, "ks:<feature>": …}``, to stack one per day
    beside the online metrics (the alert rules match these names, e.g. ``"psi:*"``)."""
    return {f"{fig}:{row.feature}": float(getattr(row, fig)) for row in drift.itertuples() for fig in figures}


def source_shares(sources: np.ndarray, source_names: Sequence[str], mask: np.ndarray | None = None) -> pd.Series:
    """Share of the candidates each source proposed: ``sources`` is the ``CandidateSet.sources`` bitmask
    ``[U, n]`` (bit ``s`` for ``source_names[s]``), ``mask`` the real (non-padding) cells.

    A candidate proposed by several sources counts for each, so the shares can sum past 1;
    compare two windows' shares with `psi(..., categorical=True)` on the proposing source codes
    or directly, share by share."""
    bits = np.asarray(sources, dtype=np.int64)
    real = (bits != 0) if mask is None else np.asarray(mask, dtype=bool)
    if real.shape != bits.shape:
        raise ValueError(f"mask has shape {real.shape}, sources {bits.shape}: expected the same")
    if len(source_names) > 62:
        raise ValueError(f"{len(source_names)} sources do not fit the int64 bitmask (at most 62)")
    n = max(int(real.sum()), 1)
    cells = bits[real]
    shares = [int(((cells >> s) & 1).sum()) / n for s in range(len(source_names))]
    return pd.Series(shares, index=list(source_names), name="share of candidates")
