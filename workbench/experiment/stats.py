"""Tests, intervals and power for two-arm experiments (scipy for the distributions).

- Two-proportion z-test: pooled standard error under H0 for the test statistic,
  unpooled (Wald) for the interval of ``p_B − p_A``.
- Welch's t-test: unequal variances, Welch–Satterthwaite degrees of freedom.
- Relative difference ``mean_B / mean_A − 1``: delta method (first-order Taylor
  expansion of the ratio of two independent means; Deng, Knoblich & Lu 2018,
  "Applying the Delta Method in Metric Analytics"), normal interval.
- Power and sample size: normal approximation, two-sided
  (Fleiss, Levin & Paik 2003, ch. 4, for proportions).
- Sample-ratio mismatch: χ² goodness of fit of arm counts to the planned split.

Zero variance gets a defined answer rather than scipy's NaN: if both arms are the
same constant, p = 1 (no evidence of a difference); if they are different
constants, p = 0 (the difference is certain). The ``note`` says which.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats


@dataclass(frozen=True)
class TestResult:
    """Outcome of one two-arm comparison (B against A). Differences are ``B − A``."""

    metric: str
    test: str
    n_a: int
    n_b: int
    mean_a: float
    mean_b: float
    diff: float
    ci_low: float
    ci_high: float
    rel_diff: float
    rel_ci_low: float
    rel_ci_high: float
    statistic: float
    p_value: float
    alpha: float = 0.05
    note: str = ""

    @property
    def significant(self) -> bool:
        return bool(self.p_value < self.alpha)

    def decision(self, names: tuple[str, str] = ("A", "B")) -> str:
        """The conclusion, worded so that "not significant" never reads as "no difference"."""
        a, b = names
        ci = f"{1 - self.alpha:.0%} CI of {b} − {a}: [{self.ci_low:.4g}, {self.ci_high:.4g}]"
        if self.significant:
            side = "higher" if self.diff > 0 else "lower"
            return f"{b} is significantly {side} than {a} (p = {self.p_value:.3g} < α = {self.alpha:g}; {ci})"
        return (f"no significant difference at α = {self.alpha:g} (p = {self.p_value:.3g}); this does not show "
                f"the arms are equal: the data are consistent with any difference in the {ci}")  # fmt: skip

    def to_dict(self) -> dict:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        d["significant"] = self.significant
        return d


def _z(alpha: float) -> float:
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha={alpha!r}: expected a probability in (0, 1)")
    return float(stats.norm.ppf(1.0 - alpha / 2.0))


def welch_arrays(mean_a, var_a, n_a, mean_b, var_b, n_b, alpha: float = 0.05) -> dict[str, np.ndarray]:
    """Welch's t-test from per-arm moments, vectorised over any array shape.

    Returns diff, se, t, df, p, ci_low, ci_high. Where ``se == 0``: p = 1 if the means
    are equal else 0, df = inf, and the interval collapses to the difference.
    """
    mean_a, var_a, n_a, mean_b, var_b, n_b = (np.asarray(x, dtype=np.float64) for x in (mean_a, var_a, n_a, mean_b, var_b, n_b))
    diff = mean_b - mean_a
    va, vb = var_a / n_a, var_b / n_b
    se = np.sqrt(va + vb)
    ok = se > 0
    safe = np.where(ok, se, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        df = np.where(ok, (va + vb) ** 2 / (va**2 / (n_a - 1) + vb**2 / (n_b - 1)), np.inf)
    df = np.where(np.isfinite(df), df, np.inf)
    with np.errstate(invalid="ignore"):
        t = np.where(ok, diff / safe, np.where(diff == 0, 0.0, np.sign(diff) * np.inf))
    p = np.where(ok, 2.0 * stats.t.sf(np.abs(t), np.where(ok, df, 1.0)), np.where(diff == 0, 1.0, 0.0))
    q = np.where(ok, stats.t.ppf(1.0 - alpha / 2.0, np.where(ok, df, 1.0)), 0.0)
    return {"diff": diff, "se": se, "t": t, "df": df, "p": p, "ci_low": diff - q * se, "ci_high": diff + q * se}


def ztest_arrays(x_a, n_a, x_b, n_b, alpha: float = 0.05) -> dict[str, np.ndarray]:
    """Two-proportion z-test from success counts, vectorised. p = 1 where the pooled rate is 0 or 1."""
    x_a, n_a, x_b, n_b = (np.asarray(v, dtype=np.float64) for v in (x_a, n_a, x_b, n_b))
    pa, pb = x_a / n_a, x_b / n_b
    pool = (x_a + x_b) / (n_a + n_b)
    se0 = np.sqrt(pool * (1.0 - pool) * (1.0 / n_a + 1.0 / n_b))
    se1 = np.sqrt(pa * (1.0 - pa) / n_a + pb * (1.0 - pb) / n_b)
    diff = pb - pa
    ok = se0 > 0
    z = np.where(ok, diff / np.where(ok, se0, 1.0), 0.0)
    p = np.where(ok, 2.0 * stats.norm.sf(np.abs(z)), 1.0)
    q = _z(alpha)
    return {"diff": diff, "se": se1, "z": z, "p": p, "ci_low": diff - q * se1, "ci_high": diff + q * se1}


def relative_ci(mean_a, se_a, mean_b, se_b, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``mean_B / mean_A − 1`` and its delta-method interval; NaN where ``mean_A == 0`` (undefined)."""
    mean_a, se_a, mean_b, se_b = (np.asarray(v, dtype=np.float64) for v in (mean_a, se_a, mean_b, se_b))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = mean_b / mean_a
        se = np.sqrt(se_b**2 / mean_a**2 + mean_b**2 * se_a**2 / mean_a**4)
    ratio, se = (np.where(mean_a != 0, v, np.nan) for v in (ratio, se))
    q = _z(alpha)
    return ratio - 1.0, ratio - 1.0 - q * se, ratio - 1.0 + q * se


def _values(x, name: str) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64).reshape(-1)
    if len(arr) < 2:
        raise ValueError(f"arm {name} has {len(arr)} users: Welch's t-test needs at least 2 per arm")
    if not np.isfinite(arr).all():
        raise ValueError(f"arm {name} has {int((~np.isfinite(arr)).sum())} non-finite values (NaN/inf)")
    return arr


def welch_ttest(a, b, alpha: float = 0.05, metric: str = "") -> TestResult:
    """Welch's t-test of per-user values ``a`` (control) against ``b`` (treatment)."""
    a, b = _values(a, "A"), _values(b, "B")
    r = welch_arrays(a.mean(), a.var(ddof=1), len(a), b.mean(), b.var(ddof=1), len(b), alpha)
    rel, rlo, rhi = relative_ci(a.mean(), a.std(ddof=1) / np.sqrt(len(a)), b.mean(), b.std(ddof=1) / np.sqrt(len(b)), alpha)
    note = ""
    if r["se"] == 0:
        note = ("zero variance: both arms are the same constant, p = 1" if r["diff"] == 0
                else "zero variance: the arms are different constants, p = 0")  # fmt: skip
    if a.mean() == 0:
        note = "; ".join(filter(None, [note, "control mean is 0: relative difference undefined (NaN)"]))
    return TestResult(metric, "Welch t", len(a), len(b), float(a.mean()), float(b.mean()), float(r["diff"]),
                      float(r["ci_low"]), float(r["ci_high"]), float(rel), float(rlo), float(rhi), float(r["t"]),
                      float(r["p"]), alpha, note)  # fmt: skip


def two_proportion_ztest(x_a: int, n_a: int, x_b: int, n_b: int, alpha: float = 0.05, metric: str = "") -> TestResult:
    """Two-proportion z-test of ``x_b / n_b`` against ``x_a / n_a`` (successes / users)."""
    for name, x, n in (("A", x_a, n_a), ("B", x_b, n_b)):
        if n <= 0:
            raise ValueError(f"arm {name} has n={n} users: a proportion needs at least one")
        if not 0 <= x <= n:
            raise ValueError(f"arm {name} has {x} successes out of {n}: expected 0 <= x <= n")
    r = ztest_arrays(x_a, n_a, x_b, n_b, alpha)
    pa, pb = x_a / n_a, x_b / n_b
    rel, rlo, rhi = relative_ci(pa, np.sqrt(pa * (1 - pa) / n_a), pb, np.sqrt(pb * (1 - pb) / n_b), alpha)
    note = ""
    if x_a + x_b in (0, n_a + n_b):
        note = f"all users in both arms {'succeeded' if x_a else 'failed'}: zero variance, p = 1"
    if pa == 0:
        note = "; ".join(filter(None, [note, "control rate is 0: relative difference undefined (NaN)"]))
    return TestResult(metric, "two-proportion z", n_a, n_b, pa, pb, float(r["diff"]), float(r["ci_low"]),
                      float(r["ci_high"]), float(rel), float(rlo), float(rhi), float(r["z"]), float(r["p"]), alpha, note)  # fmt: skip


def srm_test(counts, split) -> tuple[float, float]:
    """Sample-ratio mismatch: χ² statistic and p-value of observed arm ``counts`` against the planned ``split``."""
    counts = np.asarray(counts, dtype=np.float64)
    split = np.asarray(split, dtype=np.float64)
    if counts.shape != split.shape:
        raise ValueError(f"{len(counts)} arm counts but a split over {len(split)} arms")
    if counts.sum() <= 0:
        raise ValueError("no users in any arm: nothing to check")
    res = stats.chisquare(counts, f_exp=split / split.sum() * counts.sum())
    return float(res.statistic), float(res.pvalue)


def _power_from_se(mde, se0, se1, alpha):
    z = _z(alpha)
    d = np.abs(np.asarray(mde, dtype=np.float64))
    return stats.norm.cdf((d - z * se0) / se1) + stats.norm.cdf((-d - z * se0) / se1)


def power_means(mde: float, sd_a: float, n_a, alpha: float = 0.05, sd_b: float | None = None, ratio: float = 1.0):
    """Power of a two-sided test of a mean difference ``mde`` with ``n_a`` and ``ratio · n_a`` users."""
    sd_b = sd_a if sd_b is None else sd_b
    n_a = np.asarray(n_a, dtype=np.float64)
    se = np.sqrt(sd_a**2 / n_a + sd_b**2 / (ratio * n_a))
    return _power_from_se(mde, se, se, alpha)


def sample_size_means(mde: float, sd_a: float, alpha: float = 0.05, power: float = 0.8, sd_b: float | None = None,
                      ratio: float = 1.0) -> int:  # fmt: skip
    """Users in arm A (B gets ``ratio`` times as many) to detect ``mde`` with the given power:
    ``n_A = (z_{1−α/2} + z_{power})² (σ_A² + σ_B²/ratio) / mde²``."""
    _check_plan(mde, power, ratio)
    sd_b = sd_a if sd_b is None else sd_b
    zb = stats.norm.ppf(power)
    return int(np.ceil((_z(alpha) + zb) ** 2 * (sd_a**2 + sd_b**2 / ratio) / mde**2))


def _proportion_se(p_a, mde, n_a, ratio):
    p_b = p_a + mde
    n_b = ratio * n_a
    pool = (p_a + ratio * p_b) / (1 + ratio)
    se0 = np.sqrt(pool * (1 - pool) * (1 / n_a + 1 / n_b))
    se1 = np.sqrt(p_a * (1 - p_a) / n_a + p_b * (1 - p_b) / n_b)
    return se0, se1


def power_proportions(p_a: float, mde: float, n_a, alpha: float = 0.05, ratio: float = 1.0):
    """Power of the two-proportion z-test for rates ``p_a`` and ``p_a + mde``."""
    _check_rates(p_a, mde)
    se0, se1 = _proportion_se(p_a, mde, np.asarray(n_a, dtype=np.float64), ratio)
    return _power_from_se(mde, se0, se1, alpha)


def sample_size_proportions(p_a: float, mde: float, alpha: float = 0.05, power: float = 0.8, ratio: float = 1.0) -> int:
    """Users in arm A for the two-proportion z-test (Fleiss et al. 2003, eq. 4.14 without continuity correction)."""
    _check_plan(mde, power, ratio)
    _check_rates(p_a, mde)
    se0, se1 = _proportion_se(p_a, mde, 1.0, ratio)
    return int(np.ceil((_z(alpha) * se0 + stats.norm.ppf(power) * se1) ** 2 / mde**2))


def _check_plan(mde: float, power: float, ratio: float) -> None:
    if mde == 0:
        raise ValueError("mde=0: a zero effect needs infinitely many users; give the smallest effect worth detecting")
    if not 0.0 < power < 1.0:
        raise ValueError(f"power={power!r}: expected a probability in (0, 1)")
    if ratio <= 0:
        raise ValueError(f"ratio={ratio!r}: expected > 0 (users in B per user in A)")


def _check_rates(p_a: float, mde: float) -> None:
    if not (0.0 < p_a < 1.0 and 0.0 < p_a + mde < 1.0):
        raise ValueError(f"rates p_a={p_a!r} and p_a + mde={p_a + mde!r} must both lie in (0, 1)")


def power_curve(n_per_arm, mde: float, sd: float | None = None, p_a: float | None = None, alpha: float = 0.05,
                ratio: float = 1.0) -> pd.DataFrame:  # fmt: skip
    """Power against users per arm, for a mean (give ``sd``) or a proportion (give ``p_a``)."""
    n = np.asarray(n_per_arm, dtype=np.float64)
    if (sd is None) == (p_a is None):
        raise ValueError("give exactly one of sd (a mean metric) or p_a (a proportion)")
    pw = power_means(mde, sd, n, alpha, ratio=ratio) if sd is not None else power_proportions(p_a, mde, n, alpha, ratio)
    return pd.DataFrame({"n_per_arm": n.astype(np.int64), "mde": mde, "alpha": alpha, "power": pw})


def sample_size_curve(mdes, sd: float | None = None, p_a: float | None = None, alpha: float = 0.05,
                      power: float = 0.8, ratio: float = 1.0) -> pd.DataFrame:  # fmt: skip
    """Users per arm (A) needed against the minimum detectable effect."""
    if (sd is None) == (p_a is None):
        raise ValueError("give exactly one of sd (a mean metric) or p_a (a proportion)")
    mdes = np.asarray(mdes, dtype=np.float64)
    if sd is not None:
        n = [sample_size_means(m, sd, alpha, power, ratio=ratio) for m in mdes]
    else:
        n = [sample_size_proportions(p_a, m, alpha, power, ratio) for m in mdes]
    return pd.DataFrame({"mde": mdes, "n_per_arm": n, "alpha": alpha, "power": power})


def grouped_moments(values: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, sample variance (ddof=1) and count of ``values`` where ``mask``, along the last axis."""
    m = mask.astype(np.float64)
    n = m.sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = (values * m).sum(axis=-1) / n
        var = (((values - mean[..., None]) ** 2) * m).sum(axis=-1) / (n - 1)
    return mean, var, n


def holm(p_values) -> np.ndarray:
    """Holm's step-down adjusted p-values (Holm 1979): sort ascending, ``p̃_(i) = max_{j ≤ i} min(1, (m − j + 1) p_(j))``.

    Rejecting where ``p̃ < α`` keeps the chance of any false rejection among the ``m`` tests at most ``α``
    (the family-wise error rate), whatever their dependence; never less powerful than Bonferroni (``m · p``).
    """
    p = np.asarray(p_values, dtype=np.float64).reshape(-1)
    if len(p) == 0:
        return p
    if not np.isfinite(p).all() or (p < 0).any() or (p > 1).any():
        raise ValueError(f"p_values={p.tolist()!r}: expected probabilities in [0, 1]")
    order = np.argsort(p, kind="stable")
    m = len(p)
    adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adjusted
    return out
