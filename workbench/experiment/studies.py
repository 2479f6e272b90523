"""Many simulated experiments at once: A/A validity, unit of analysis, peeking, power.

Each study runs ``n_tests`` experiments as arrays ``[n_tests, n_users, days]``:
every simulated user is a draw (with replacement) from a population of the world's
users, assigned by the stable hash with a different experiment name per test.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from workbench.experiment.ab import metric_values, validate_split
from workbench.experiment.hashing import key64, stable_uniform
from workbench.experiment.simulator import UserSimulator
from workbench.experiment.stats import grouped_moments, sample_size_means, welch_arrays, ztest_arrays

STUDY_TESTS = {
    "ctr": "Welch t per user",
    "session_time": "Welch t per user",
    "conversion": "two-proportion z per user",
    "ctr_per_impression": "two-proportion z per item shown (wrong unit)",
}


def _check_lists(lists: Sequence[np.ndarray], population: np.ndarray) -> np.ndarray:
    stack = np.stack([np.asarray(x, dtype=np.int64) for x in lists])
    if stack.ndim != 3 or stack.shape[1] != len(population):
        raise ValueError(f"lists must be one [n_population={len(population)}, k] array per arm, got {stack.shape}")
    return stack


def simulate_replicates(
    sim: UserSimulator,
    lists: Sequence[np.ndarray],
    population: np.ndarray,
    arms: np.ndarray,
    days: int,
    rng: np.random.Generator,
    sessions: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Simulate ``arms [T, U]`` (arm index per simulated user) over ``days``; returns cumulative totals ``[T, U, D]``.

    ``lists[j]`` is arm j's ranking ``[n_population, k]`` of ``population`` users.
    """
    population = np.asarray(population, dtype=np.int64)
    stack = _check_lists(lists, population)
    t, u = arms.shape
    pick = rng.integers(0, len(population), size=(t, u)).ravel()
    items = stack[arms.ravel(), pick]
    ud = sim.simulate_days(population[pick], items, days, rng, None if sessions is None else sessions.reshape(t * u, days))
    cum = ud.cumulative()
    names = ("sessions", "slots", "clicks", "conversions", "seconds")
    return {n: getattr(cum, n).reshape(t, u, days) for n in names}


def hashed_arms(n_tests: int, n_users: int, split: Sequence[float], experiment: str) -> np.ndarray:
    """Arm index ``[n_tests, n_users]``: visitor ids 0..n_users-1 hashed with ``f"{experiment}#{test}"``."""
    cuts = np.cumsum(validate_split(split))[:-1]
    keys = np.array([key64(f"{experiment}#{i}") for i in range(n_tests)], dtype=np.uint64)[:, None]
    return np.searchsorted(cuts, stable_uniform(keys, np.arange(n_users)[None, :]), side="right")


def p_values(totals: dict[str, np.ndarray], arms: np.ndarray, day: int, alpha: float = 0.05,
             metrics: Sequence[str] = tuple(STUDY_TESTS)) -> dict[str, np.ndarray]:  # fmt: skip
    """p-value per test ``[T]`` for each of ``metrics`` (default every one of ``STUDY_TESTS``), arm 1 against
    arm 0, on data up to ``day``.

    A test with fewer than two active users in an arm cannot decide and gets p = 1.
    """
    unknown = [m for m in metrics if m not in STUDY_TESTS]
    if unknown or not metrics:
        raise ValueError(f"metrics={metrics!r}: expected some of {tuple(STUDY_TESTS)}")
    tot = {n: v[:, :, day] for n, v in totals.items()}
    vals = metric_values(**tot)
    active = tot["sessions"] > 0
    ma, mb = active & (arms == 0), active & (arms == 1)
    out = {}
    for metric in (m for m in ("ctr", "session_time") if m in metrics):
        mean_a, var_a, n_a = grouped_moments(vals[metric], ma)
        mean_b, var_b, n_b = grouped_moments(vals[metric], mb)
        with np.errstate(divide="ignore", invalid="ignore"):
            p = welch_arrays(mean_a, var_a, n_a, mean_b, var_b, n_b, alpha)["p"]
        out[metric] = np.where((n_a >= 2) & (n_b >= 2), p, 1.0)
    for metric, (x, n) in {
        "conversion": (vals["conversion"], active.astype(np.float64)),
        "ctr_per_impression": (tot["clicks"], tot["slots"]),
    }.items():
        if metric not in metrics:
            continue
        xa, na, xb, nb = (x * ma).sum(1), (n * ma).sum(1), (x * mb).sum(1), (n * mb).sum(1)
        with np.errstate(divide="ignore", invalid="ignore"):
            p = ztest_arrays(xa, na, xb, nb, alpha)["p"]
        out[metric] = np.where((na > 0) & (nb > 0), p, 1.0)
    return out


def _rate_row(rejected: np.ndarray, alpha: float) -> dict:
    k, n = int(rejected.sum()), len(rejected)
    ci = stats.binomtest(k, n).proportion_ci(1 - alpha)
    return {"n_tests": n, "rejection_rate": k / n, "ci_low": ci.low, "ci_high": ci.high}


def aa_study(
    sim: UserSimulator,
    lists: np.ndarray,
    population: np.ndarray,
    n_tests: int = 2000,
    n_users: int = 400,
    days: int = 1,
    alpha: float = 0.05,
    seed: int = 0,
    split: Sequence[float] = (0.5, 0.5),
) -> pd.DataFrame:
    """Rejection rate of ``n_tests`` A/A tests (both arms show ``lists``) per metric and test.

    A valid test rejects about α of the time; the per-impression z-test of CTR does not.
    """
    arms = hashed_arms(n_tests, n_users, split, f"aa-{seed}")
    totals = simulate_replicates(sim, [lists, lists], population, arms, days, np.random.default_rng(seed))
    ps = p_values(totals, arms, days - 1, alpha)
    active = totals["sessions"][:, :, -1] > 0
    users = active.sum(1).mean() / 2
    rows = [{"metric": m, "test": STUDY_TESTS[m], "alpha": alpha, "users_per_arm": users, **_rate_row(p < alpha, alpha)}
            for m, p in ps.items()]  # fmt: skip
    return pd.DataFrame(rows)


def peeking_study(
    sim: UserSimulator,
    lists: np.ndarray,
    population: np.ndarray,
    n_tests: int = 1000,
    n_users: int = 400,
    days: int = 14,
    alpha: float = 0.05,
    metric: str = "ctr",
    seed: int = 0,
) -> pd.DataFrame:
    """A/A tests checked every day: the rate of p < α on day d alone, and on any day up to d.

    The first stays near α; the second (stopping at the first significant look) climbs
    well above it: peeking inflates the false-positive rate.
    """
    if metric not in STUDY_TESTS:
        raise ValueError(f"metric={metric!r}: expected one of {tuple(STUDY_TESTS)}")
    arms = hashed_arms(n_tests, n_users, (0.5, 0.5), f"peek-{seed}")
    totals = simulate_replicates(sim, [lists, lists], population, arms, days, np.random.default_rng(seed))
    p = np.stack([p_values(totals, arms, d, alpha, (metric,))[metric] for d in range(days)], axis=1)
    users = (totals["sessions"] > 0).sum(1).mean(0)
    return pd.DataFrame({
        "day": np.arange(1, days + 1),
        "active_users": users,
        "reject_at_day": (p < alpha).mean(0),
        "reject_by_day": np.maximum.accumulate(p < alpha, axis=1).mean(0),
        "alpha": alpha,
    })  # fmt: skip


def ctr_effect(sim: UserSimulator, population: np.ndarray, lists_a: np.ndarray, lists_b: np.ndarray) -> dict[str, float]:
    """Exact population mean and standard deviation of one-session per-user CTR under each ranker.

    Law of total variance over users drawn uniformly from ``population``:
    ``Var = E_u[Var(ctr | u)] + Var_u(E[ctr | u])`` (position model).
    """
    out = {}
    for name, lists in (("a", lists_a), ("b", lists_b)):
        mean_u, var_u = sim.expected_ctr(population, lists)
        out[f"mean_{name}"] = float(mean_u.mean())
        out[f"sd_{name}"] = float(np.sqrt(var_u.mean() + mean_u.var()))
    out["mde"] = out["mean_b"] - out["mean_a"]
    return out


def power_study(
    sim: UserSimulator,
    lists_a: np.ndarray,
    lists_b: np.ndarray,
    population: np.ndarray,
    n_per_arm: int | None = None,
    n_tests: int = 1000,
    alpha: float = 0.05,
    power: float = 0.8,
    seed: int = 0,
) -> dict[str, float]:
    """Simulated power of Welch's test on one-session CTR at the planned sample size.

    ``n_per_arm`` defaults to ``sample_size_means`` for the exact effect and standard
    deviations (``ctr_effect``) at the nominal ``power``; each user has one session.
    """
    eff = ctr_effect(sim, population, lists_a, lists_b)
    n = n_per_arm or sample_size_means(eff["mde"], eff["sd_a"], alpha, power, eff["sd_b"])
    arms = np.broadcast_to(np.repeat([0, 1], n), (n_tests, 2 * n))
    sessions = np.ones((n_tests, 2 * n, 1), dtype=np.int64)
    rng = np.random.default_rng(seed)
    rejected = 0
    correct = 0
    for lo in range(0, n_tests, max(1, 2_000_000 // (2 * n))):
        block = arms[lo : lo + max(1, 2_000_000 // (2 * n))]
        totals = simulate_replicates(sim, [lists_a, lists_b], population, block, 1, rng, sessions[: len(block)])
        tot = {k: v[:, :, 0] for k, v in totals.items()}
        ctr = metric_values(**tot)["ctr"]
        mean_a, var_a, n_a = grouped_moments(ctr, block == 0)
        mean_b, var_b, n_b = grouped_moments(ctr, block == 1)
        r = welch_arrays(mean_a, var_a, n_a, mean_b, var_b, n_b, alpha)
        rejected += int((r["p"] < alpha).sum())
        correct += int(((r["p"] < alpha) & (np.sign(r["diff"]) == np.sign(eff["mde"]))).sum())
    return {**eff, "n_per_arm": n, "n_tests": n_tests, "nominal_power": power,
            "simulated_power": rejected / n_tests, "correct_direction": correct / n_tests}  # fmt: skip
