"""The experiment lab of notebooks 06 and 07: treatments of known effect, a test read day by day.

The world's ground truth gives each ranker's exact expected CTR (`studies.ctr_effect`),
so a treatment of known true lift is a noisy-oracle ranker with less noise than control.
`daily_readings` runs an A/B test in which ``users_per_day`` new users arrive each day
(one session each), and reads it the way a dashboard does: every day, on everyone so far.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from workbench.data.dataset import Dataset
from workbench.experiment.ab import metric_values
from workbench.experiment.interleaving import credit, identical_rows, interleave, sign_test_p
from workbench.experiment.oracle import world_for
from workbench.experiment.rankers import noisy_oracle_ranker
from workbench.experiment.simulator import SimulatorConfig, UserSimulator
from workbench.experiment.stats import grouped_moments, relative_ci, welch_arrays
from workbench.experiment.studies import ctr_effect, hashed_arms, simulate_replicates
from workbench.lessons.kit import ranks

ALPHA = 0.05  # significance level of every test the lab reads
SPLIT = (0.5, 0.5)  # share of arriving users hashed into A and into B
TREATMENT_SIGMAS = (2.0, 1.9, 1.8, 1.65, 1.5, 1.3, 1.1, 0.9)


@dataclass(eq=False)
class Lab:
    """A simulated world with a control ranker and treatments of known true CTR lift.

    lists: ``{sigma: int [n_users, k]}``, the noisy-oracle top-k of every user at each noise level.
    effects: one row per treatment sigma: ``lift_pct`` (true relative CTR lift over control, %),
        ``mde`` (absolute CTR difference), ``mean_a``, ``mean_b``, ``sd_a``, ``sd_b`` (one-session CTR).
    """

    dataset: Dataset
    sim: UserSimulator
    population: np.ndarray
    control_sigma: float
    lists: dict[float, np.ndarray]
    effects: pd.DataFrame

    def treatment(self, lift_pct: float) -> float:
        """The treatment sigma whose true lift is closest to ``lift_pct``."""
        i = int(np.argmin(np.abs(self.effects["lift_pct"].to_numpy() - lift_pct)))
        return float(self.effects["sigma"].iloc[i])


def make_lab(ds: Dataset, k: int = 10, control_sigma: float = 2.0, sigmas: tuple[float, ...] = TREATMENT_SIGMAS,
             seed: int = 0) -> Lab:  # fmt: skip
    """Control = noisy oracle with ``control_sigma``; one treatment per sigma (same noise draw seed,
    so sigma = control_sigma is an A/A test). Every user of ``ds`` is in the population."""
    world = world_for(ds)
    sim = UserSimulator(world, SimulatorConfig(seed=seed))
    population = np.arange(ds.n_users)
    lists = {float(s): noisy_oracle_ranker(world, ds.n_users, ds.n_items, k, s, seed).table
             for s in (control_sigma, *sigmas)}  # fmt: skip
    rows = []
    for s in sigmas:
        eff = ctr_effect(sim, population, lists[control_sigma], lists[float(s)])
        rows.append({"sigma": float(s), "lift_pct": 100 * eff["mde"] / eff["mean_a"], **eff})
    effects = pd.DataFrame(rows).sort_values("lift_pct").reset_index(drop=True)
    return Lab(ds, sim, population, float(control_sigma), lists, effects)


def daily_readings(lab: Lab, sigma: float, users_per_day: int, days: int, runs: int = 1, alpha: float = ALPHA,
                   seed: int = 0) -> pd.DataFrame:  # fmt: skip
    """``runs`` independent A/B tests of control against treatment ``sigma``, read at the end of each day.

    Each day ``users_per_day`` new users (drawn from the population) arrive, are hashed into
    A or B (shares ``SPLIT``), and have one session. Day d's reading uses every user who arrived by day d:
    Welch's t-test on per-user CTR. Returns one row per (run, day): users, ``p_value``, and
    the relative lift in % with its 95% delta-method interval (``estimate``, ``low``, ``high``).
    """
    if users_per_day < 2 or days < 1 or runs < 1:
        raise ValueError(f"users_per_day={users_per_day}, days={days}, runs={runs}: expected >= 2, >= 1, >= 1")
    n = users_per_day * days
    arms = hashed_arms(runs, n, SPLIT, f"daily-{seed}")
    arrival = np.arange(n) // users_per_day
    sessions = np.broadcast_to((arrival[:, None] == np.arange(days)[None, :]).astype(np.int64), (runs, n, days))
    totals = simulate_replicates(lab.sim, [lab.lists[lab.control_sigma], lab.lists[float(sigma)]], lab.population,
                                 arms, days, np.random.default_rng(seed), np.ascontiguousarray(sessions))  # fmt: skip
    ctr = metric_values(**totals)["ctr"]  # [runs, n, days]
    active = totals["sessions"] > 0
    rows = []
    for d in range(days):
        mean_a, var_a, n_a = grouped_moments(ctr[:, :, d], active[:, :, d] & (arms == 0))
        mean_b, var_b, n_b = grouped_moments(ctr[:, :, d], active[:, :, d] & (arms == 1))
        with np.errstate(divide="ignore", invalid="ignore"):
            test = welch_arrays(mean_a, var_a, n_a, mean_b, var_b, n_b, alpha)
            rel, lo, hi = relative_ci(mean_a, np.sqrt(var_a / n_a), mean_b, np.sqrt(var_b / n_b), alpha)
        rows.append(pd.DataFrame({"run": np.arange(runs), "day": d + 1, "users": n_a + n_b, "p_value": test["p"],
                                  "estimate": 100 * rel, "low": 100 * lo, "high": 100 * hi}))  # fmt: skip
    return pd.concat(rows, ignore_index=True)


def example_impression(lab: Lab, sigma: float, user: int, method: str = "team_draft",
                       seed: int = 0) -> tuple[pd.DataFrame, int, int]:  # fmt: skip
    """One impression of an interleaving test: control's and treatment ``sigma``'s lists for ``user``
    merged by ``method``, one simulated session, and the credit the clicks earn each ranker.

    Returns (rows, credit_a, credit_b). One row per slot: ``position`` (1-based), ``item``,
    ``title``, ``team`` ('A' or 'B': whose pick filled the slot), ``rank_a`` / ``rank_b``
    (rank in each ranker's own list, `workbench.lessons.kit.RANKS`: from 1, ``<NA>`` if absent)
    and ``clicked``.
    """
    if not 0 <= user < len(lab.population):
        raise ValueError(f"user={user!r}: expected 0..{len(lab.population) - 1}")
    rng = np.random.default_rng(seed)
    a = lab.lists[lab.control_sigma][[user]]
    b = lab.lists[float(sigma)][[user]]
    inter = interleave(a, b, rng, method, a.shape[1])
    clicks = lab.sim.simulate(np.array([user]), inter.items, rng).clicks
    credit_a, credit_b = credit(inter, clicks, a, b)
    items = inter.items[0]
    real = items >= 0
    rows = pd.DataFrame({
        "position": np.arange(1, len(items) + 1),
        "item": items,
        "title": lab.dataset.items["title"].to_numpy()[np.where(real, items, 0)],
        "team": np.where(inter.team[0] == 0, "A", "B"),
        "rank_a": ranks(((a[0][None, :] == items[:, None]) * np.arange(1, a.shape[1] + 1)).sum(axis=1)),
        "rank_b": ranks(((b[0][None, :] == items[:, None]) * np.arange(1, b.shape[1] + 1)).sum(axis=1)),
        "clicked": clicks[0],
    })[real].reset_index(drop=True)  # fmt: skip
    return rows, int(credit_a[0]), int(credit_b[0])


def interleaving_readings(lab: Lab, sigma: float, users_per_day: int, days: int, runs: int = 1,
                          method: str = "team_draft", alpha: float = ALPHA, seed: int = 0) -> pd.DataFrame:  # fmt: skip
    """``runs`` independent interleaving experiments of control against treatment ``sigma``, read daily.

    Each day ``users_per_day`` new users (drawn from the population) arrive and have one session,
    shown a fresh ``method`` interleaving of both rankers' lists; clicks credit the rankers
    (`workbench.experiment.interleaving.credit`; identical lists are ties). Day d's reading is the
    sign test over every user so far. Returns one row per (run, day): ``users``, ``wins_a``,
    ``wins_b``, ``ties``, ``share_b`` (B's share of the users who preferred one ranker) and ``p_value``.
    """
    if users_per_day < 2 or days < 1 or runs < 1:
        raise ValueError(f"users_per_day={users_per_day}, days={days}, runs={runs}: expected >= 2, >= 1, >= 1")
    rng = np.random.default_rng(seed)
    n = users_per_day * days
    pick = rng.integers(0, len(lab.population), size=runs * n)
    a, b = lab.lists[lab.control_sigma][pick], lab.lists[float(sigma)][pick]
    k = a.shape[1]
    inter = interleave(a, b, rng, method, k)
    clicks = lab.sim.simulate(lab.population[pick], inter.items, rng).clicks
    ca, cb = credit(inter, clicks, a, b)
    same = identical_rows(a, b, k)
    a_won = ((ca > cb) & ~same).reshape(runs, days, users_per_day).sum(axis=2).cumsum(axis=1)
    b_won = ((cb > ca) & ~same).reshape(runs, days, users_per_day).sum(axis=2).cumsum(axis=1)
    users = users_per_day * np.arange(1, days + 1)[None, :].repeat(runs, axis=0)
    decided = a_won + b_won
    return pd.DataFrame({
        "run": np.repeat(np.arange(runs), days), "day": np.tile(np.arange(1, days + 1), runs), "users": users.ravel(),
        "wins_a": a_won.ravel(), "wins_b": b_won.ravel(), "ties": (users - decided).ravel(),
        "share_b": np.where(decided > 0, b_won / np.maximum(decided, 1), 0.5).ravel(),
        "p_value": sign_test_p(a_won, b_won).ravel(),
    })  # fmt: skip


def online_metrics(lab: Lab, sigma: float, n_users: int, days: int, seed: int = 0) -> tuple[pd.DataFrame, list[str]]:
    """The same comparison as one full A/B report: ``n_users`` users (drawn without replacement from the
    population, at most all of it, hashed into A and B) who can leave and come back (`workbench.experiment.retention.RetentionSimulator`, items priced,
    no clickbait, no latency), ``days`` days from everyone's first visit on day 1. Returns the analysis (one
    row per online metric of `workbench.experiment.ab.METRICS` it can measure, each with its 95% interval,
    ``p_holm``) and the report's multiple-testing note and the metrics it could not measure, as lines."""
    from workbench.experiment.ab import ABConfig, run_ab
    from workbench.experiment.retention import RetentionSimulator, make_catalogue

    if n_users < 2 or days < 1:
        raise ValueError(f"n_users={n_users}, days={days}: expected >= 2 and >= 1")
    sim = RetentionSimulator(lab.sim.world, make_catalogue(lab.dataset.n_items, seed=seed), config=lab.sim.config)
    users = np.sort(np.random.default_rng(seed).choice(lab.population, size=min(n_users, len(lab.population)),
                                                        replace=False))  # fmt: skip
    lists = (lab.lists[lab.control_sigma], lab.lists[float(sigma)])
    result = run_ab(sim, [lambda u, t=t: t[u] for t in lists], users,
                    ABConfig(experiment="lab-online", days=days, alpha=ALPHA, seed=seed))  # fmt: skip
    return result.analyse(), result.multiple_testing()
