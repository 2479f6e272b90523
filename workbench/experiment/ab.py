"""A/B tests: stable hash assignment, per-user outcomes, analysis and a report.

Assignment hashes (salt, experiment name, user id) to a uniform number and cuts it
by the traffic split (``hashing.stable_uniform``), so a user lands in the same arm in
every process and on every machine, and different experiments split users
independently. (``hash(str(user_id))`` would not: Python salts string hashes per
process.)

The unit of analysis is the user, because the user is what was randomised. One
user's impressions share their taste, activity and slate, so they are correlated;
an impression-level test treats them as independent, understates the variance and
rejects a true null more often than α (``studies.aa_study`` measures by how much).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from workbench.experiment.hashing import key64, stable_uniform
from workbench.experiment.rankers import item_lists, make_ranker
from workbench.experiment.simulator import SimulatorConfig, UserDays, UserSimulator
from workbench.experiment.stats import TestResult, holm, srm_test, two_proportion_ztest, welch_ttest

METRICS = {
    "ctr": "clicks per item shown, per user (Welch t)",
    "conversion": "share of users with at least one conversion (two-proportion z)",
    "session_time": "mean session length in seconds, per user (Welch t)",
    "revenue_per_user": "revenue of the user's conversions over the test (Welch t)",
    "d7_retention": "share of the day-1 users with a session on day 8, 7 days later (two-proportion z)",
    "return_rate": "share of users who came back on a later day than their first (two-proportion z)",
}
PROPORTIONS = ("conversion", "d7_retention", "return_rate")  # 0/1 per user: two-proportion z
LEAVING = ("revenue_per_user", "d7_retention", "return_rate")  # need users who can leave and items with prices
UNITS = {"session_time": "s"}  # metrics with a unit; the others are rates or shares


def metric_label(metric: str) -> str:
    """The metric's name with its unit, e.g. ``session_time (s)``."""
    return f"{metric} ({UNITS[metric]})" if metric in UNITS else metric


def validate_split(split: Sequence[float]) -> np.ndarray:
    """The traffic split as an array; raises unless it has ≥ 2 non-negative shares summing to 1."""
    arr = np.asarray(split, dtype=np.float64).reshape(-1)
    if len(arr) < 2:
        raise ValueError(f"split={tuple(split)!r}: expected at least two arms")
    if (arr < 0).any() or not np.isfinite(arr).all():
        raise ValueError(f"split={tuple(split)!r}: shares must be finite and non-negative")
    if abs(arr.sum() - 1.0) > 1e-9:
        raise ValueError(f"split={tuple(split)!r} sums to {arr.sum():.6g}: expected the shares to sum to 1")
    return arr


def assign(user_ids, experiment: str, split: Sequence[float] = (0.5, 0.5), salt: str = "") -> np.ndarray:
    """Arm index (0 = control) per user: ``stable_uniform(salt|experiment, id)`` cut at the split's cumulative shares."""
    cuts = np.cumsum(validate_split(split))[:-1]
    u = stable_uniform(key64(f"{salt}|{experiment}"), np.asarray(user_ids))
    return np.searchsorted(cuts, u, side="right").astype(np.int64)


def metric_values(sessions, slots, clicks, conversions, seconds) -> dict[str, np.ndarray]:
    """Per-user metric values from per-user totals (any array shape); 0 where a user had no session."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return {
            "ctr": np.where(slots > 0, clicks / slots, 0.0),
            "conversion": (conversions > 0).astype(np.float64),
            "session_time": np.where(sessions > 0, seconds / sessions, 0.0),
        }


@dataclass(frozen=True)
class ABConfig:
    """An A/B test's design. ``split`` lists each arm's share, control first."""

    experiment: str = "abtest"
    split: tuple[float, ...] = (0.5, 0.5)
    days: int = 14
    alpha: float = 0.05
    salt: str = ""
    seed: int = 0
    srm_alpha: float = 0.001
    metrics: tuple[str, ...] = tuple(METRICS)

    def __post_init__(self) -> None:
        validate_split(self.split)
        if self.days < 1:
            raise ValueError(f"ABConfig.days={self.days!r}: expected a positive integer")
        unknown = [m for m in self.metrics if m not in METRICS]
        if unknown:
            raise ValueError(f"ABConfig.metrics has unknown {unknown}: expected some of {tuple(METRICS)}")


@dataclass(eq=False)
class ABResult:
    """A finished (simulated) A/B test: who was in which arm, and what each user did each day."""

    config: ABConfig
    arm_names: tuple[str, ...]
    arms: np.ndarray  # [U] arm index per user
    outcomes: UserDays  # per-user-day totals
    meta: dict = field(default_factory=dict)

    def _day(self, day: int | None) -> int:
        d = self.outcomes.days - 1 if day is None else day
        if not 0 <= d < self.outcomes.days:
            raise ValueError(f"day={day!r}: expected 0..{self.outcomes.days - 1}")
        return d

    def per_user(self, day: int | None = None) -> pd.DataFrame:
        """One row per user who had at least one session by ``day`` (0-based; default: the last)."""
        d = self._day(day)
        cum = self.outcomes.cumulative()
        tot = {n: getattr(cum, n)[:, d] for n in ("sessions", "slots", "clicks", "conversions", "seconds")}
        active = tot["sessions"] > 0
        frame = pd.DataFrame({"user": cum.users, "arm": np.asarray(self.arm_names)[self.arms], **tot})
        for name, v in metric_values(**tot).items():
            frame[name] = v
        if self.outcomes.users_leave:
            seen = self.outcomes.sessions[:, : d + 1] > 0
            first = seen.argmax(axis=1)
            frame["revenue_per_user"] = cum.revenue[:, d]
            frame["return_rate"] = (seen & (np.arange(d + 1) > first[:, None])).any(axis=1).astype(np.float64)
            frame["d7_retention"] = np.where(seen[:, 0], seen[:, 7], np.nan) if d >= 7 else np.nan
        return frame[active].reset_index(drop=True)

    def unmeasured(self, day: int | None = None) -> dict[str, str]:
        """The configured metrics these outcomes cannot measure, each with the reason."""
        d = self._day(day)
        out = {}
        for m in self.config.metrics:
            if m in LEAVING and not self.outcomes.users_leave:
                out[m] = ("this simulator's users never leave and its items have no price: simulate with "
                          "workbench.experiment.retention.RetentionSimulator, e.g. workbench abtest --users-leave")  # fmt: skip
            elif m == "d7_retention" and d < 7:
                out[m] = f"needs 8 days of data, the test has {d + 1}"
        return out

    def srm(self, day: int | None = None) -> tuple[float, float]:
        """χ² and p of the active users' arm counts against the planned split."""
        users = self.per_user(day)
        counts = users["arm"].value_counts().reindex(self.arm_names, fill_value=0).to_numpy()
        return srm_test(counts, self.config.split)

    def tests(self, day: int | None = None) -> list[tuple[str, TestResult]]:
        """Each treatment arm against control, each metric, on data up to ``day``."""
        users = self.per_user(day)
        alpha = self.config.alpha
        out = []
        control = users[users["arm"] == self.arm_names[0]]
        skip = self.unmeasured(day)
        for name in self.arm_names[1:]:
            treat = users[users["arm"] == name]
            for arm, df in ((self.arm_names[0], control), (name, treat)):
                if len(df) == 0:
                    raise ValueError(
                        f"arm {arm!r} has no users with a session (split={self.config.split}, "
                        f"{len(users)} active users): enlarge the experiment or its share"
                    )
            for metric in (m for m in self.config.metrics if m not in skip):
                if metric in PROPORTIONS:
                    a, b = control[metric].dropna(), treat[metric].dropna()  # D7: the day-1 cohort only
                    res = two_proportion_ztest(int(a.sum()), len(a), int(b.sum()), len(b), alpha, metric)
                else:
                    res = welch_ttest(control[metric], treat[metric], alpha, metric)
                out.append((name, res))
        return out

    def analyse(self, day: int | None = None) -> pd.DataFrame:
        """One row per (treatment arm, metric): means, differences with CIs, p-value, decision; and
        ``p_holm`` / ``significant_holm``: Holm's correction over all the rows, read at once."""
        rows = []
        for name, r in self.tests(day):
            row = {"arm": name, **r.to_dict(), "decision": r.decision((self.arm_names[0], name))}
            rows.append(row)
        frame = pd.DataFrame(rows)
        frame["p_holm"] = holm(frame["p_value"])
        frame["significant_holm"] = frame["p_holm"] < self.config.alpha
        return frame

    def trajectory(self, metric: str = "ctr") -> pd.DataFrame:
        """The p-value and CI of ``metric`` as the experiment would have read each day (for peeking plots).

        Days on which an arm has no active user yet have no row.
        """
        frames = []
        for d in range(self.outcomes.days):
            try:
                df = self.analyse(d)
            except ValueError:
                continue
            frames.append(df[df["metric"] == metric].assign(day=d + 1))
        cols = ["day", "arm", "n_a", "n_b", "mean_a", "mean_b", "diff", "ci_low", "ci_high", "p_value", "significant"]
        return pd.concat(frames, ignore_index=True)[cols]

    def report(self, day: int | None = None) -> str:
        """A plain-text report: design, sample-ratio check, one line per metric, decisions."""
        c = self.config
        d = self._day(day)
        users = self.per_user(d)
        chi2, p_srm = self.srm(d)
        counts = users["arm"].value_counts().reindex(self.arm_names, fill_value=0)
        split = "/".join(f"{s:.0%}" for s in c.split)
        lines = [
            f"A/B test {c.experiment!r} — {self.meta.get('dataset', '?')}, day {d + 1} of {self.outcomes.days}, "
            f"split {split}, α = {c.alpha:g}, seed {c.seed}",
            *(f"  arm {n}: {self.meta.get('rankers', {}).get(n, '')} — {counts[n]} users" for n in self.arm_names),
            f"Sample-ratio check: χ² = {chi2:.2f}, p = {p_srm:.3g} "
            + ("— MISMATCH: do not trust the results until the cause is found" if p_srm < c.srm_alpha
               else "(no mismatch detected)"),  # fmt: skip
            "Unit of analysis: the user (users were randomised; one user's impressions are correlated).",
            "",
            f"{'arm':<4} {'metric':<19} {'control':>9} {'treatment':>9} {'difference [95% CI]':>32} "
            f"{'relative [95% CI]':>26} {'p':>8}",
        ]
        results = self.tests(d)
        for name, r in results:
            rel = f"{r.rel_diff:+.1%} [{r.rel_ci_low:+.1%}, {r.rel_ci_high:+.1%}]"
            lines.append(
                f"{name:<4} {metric_label(r.metric):<19} {r.mean_a:>9.4g} {r.mean_b:>9.4g} "
                f"{f'{r.diff:+.4g} [{r.ci_low:+.4g}, {r.ci_high:+.4g}]':>32} {rel:>26} {r.p_value:>8.3g}"
            )
        lines.append("")
        lines.append("Decisions (relative intervals by the delta method; each metric on its own, uncorrected):")
        for name, r in results:
            lines.append(f"  {name} {metric_label(r.metric)}: {r.decision((self.arm_names[0], name))}" + (f" [{r.note}]" if r.note else ""))
        lines += self.multiple_testing(d, results)
        return "\n".join(lines)

    def multiple_testing(self, day: int | None = None, results: list[tuple[str, TestResult]] | None = None) -> list[str]:
        """The multiple-testing note (Holm 1979) and the metrics not measured, as report lines."""
        day = self._day(day)
        results = self.tests(day) if results is None else results
        alpha = self.config.alpha
        out = []
        if len(results) > 1:
            adj = holm([r.p_value for _, r in results])
            kept = [f"{n} {r.metric} (Holm p = {p:.3g})" for (n, r), p in zip(results, adj) if p < alpha]
            raw = sum(r.p_value < alpha for _, r in results)
            out += ["", f"Multiple testing: {len(results)} comparisons read at once. At α = {alpha:g} each, the chance of "
                        f"at least one false 'significant' grows with their number (up to {min(1.0, len(results) * alpha):.0%} "
                        "by Bonferroni's bound). Holm's step-down correction keeps that chance ≤ α: "
                        f"{len(kept)} of the {raw} uncorrected significant results remain: " + (", ".join(kept) or "none") + "."]  # fmt: skip
        for m, why in self.unmeasured(day).items():
            out.append(f"Not measured: {m} ({why}).")
        return out


def run_ab(
    sim: UserSimulator,
    rankers: Sequence[Callable[[np.ndarray], np.ndarray]],
    users: np.ndarray,
    config: ABConfig | None = None,
    arm_names: Sequence[str] | None = None,
    latency_ms: Sequence[float] | None = None,
) -> ABResult:
    """Assign ``users`` to arms by hash, show each arm's ranker's lists, simulate ``config.days`` days.

    ``latency_ms``: each arm's serving latency, for a simulator whose users abandon slow requests
    (`workbench.experiment.retention.RetentionSimulator`)."""
    config = config or ABConfig()
    users = np.asarray(users, dtype=np.int64)
    if len(rankers) != len(config.split):
        raise ValueError(f"{len(rankers)} rankers but the split has {len(config.split)} arms")
    names = tuple(arm_names or ("A", "B", "C", "D", "E", "F")[: len(rankers)])
    arms = assign(users, config.experiment, config.split, config.salt)
    lists = None
    for j, ranker in enumerate(rankers):
        rows = np.flatnonzero(arms == j)
        got = item_lists(ranker(users[rows]), len(rows), f"ranker of arm {names[j]!r}")
        if lists is None:
            lists = np.full((len(users), got.shape[1]), -1, dtype=np.int64)
        if got.shape[1] != lists.shape[1]:
            raise ValueError(f"arm {names[j]!r} returned lists of length {got.shape[1]}, arm A of {lists.shape[1]}")
        lists[rows] = got
    rng = np.random.default_rng(config.seed)
    if latency_ms is None:
        outcomes = sim.simulate_days(users, lists, config.days, rng)
    else:
        if len(latency_ms) != len(rankers):
            raise ValueError(f"{len(latency_ms)} latencies but {len(rankers)} arms: expected one per arm")
        outcomes = sim.simulate_days(users, lists, config.days, rng, latency_ms=np.asarray(latency_ms, dtype=np.float64)[arms])
    return ABResult(config, names, arms, outcomes, {"rankers": {n: repr(r) for n, r in zip(names, rankers)}})


def true_means(sim: UserSimulator, users: np.ndarray, lists: np.ndarray, days: int) -> dict[str, float]:
    """Each metric's population value had every user in ``users`` seen ``lists`` for ``days`` days:
    what an arm's mean estimates. Exact under the position click model (the simulator knows ``e·a``).

    The analysis averages over users with a session, so user ``u`` weighs ``P(active) = 1 − e^(−λ_u)``,
    ``λ_u = days · visit_rate · v_u``. Given a session: CTR has mean ``Σ e·a / slots``; session time
    ``browse_seconds · Σ e + watch_seconds · Σ e·a``; P(any conversion) is ``(1 − e^(−λ_u (1 − q_u))) / P(active)``
    with ``q_u = Π (1 − e·a·min(1, conversion_scale · a))``, a session's chance of converting nothing.
    """
    c = sim.config
    if c.click_model != "position":
        raise ValueError(f"true_means needs the position click model, not {c.click_model!r}")
    users = np.asarray(users, dtype=np.int64)
    lists = np.asarray(lists, dtype=np.int64)
    e = sim.examination(users, lists.shape[1]) * (lists >= 0)
    a = sim.attractiveness(users, lists)
    p = e * a
    lam = days * c.visit_rate * sim.visit_factor(users)
    active = -np.expm1(-lam)
    q = np.prod(1.0 - p * np.minimum(1.0, c.conversion_scale * a), axis=1)
    per_user = {
        "ctr": p.sum(axis=1) / np.maximum(1, (lists >= 0).sum(axis=1)),
        "conversion": -np.expm1(-lam * (1.0 - q)) / active,
        "session_time": c.browse_seconds * e.sum(axis=1) + c.watch_seconds * p.sum(axis=1),
    }
    return {m: float(np.average(v, weights=active)) for m, v in per_user.items()}


def load_world(dataset_name: str = "synthetic", seed: int = 0, cache_dir: str = "data", small: bool = False):
    """``(Dataset, world)`` for a data set name: the synthetic truth or the MovieLens oracle
    (``small``: the small synthetic world, ``workbench.data.SMALL_WORLD``)."""
    from workbench.data import load
    from workbench.experiment.oracle import world_for

    ds = load(dataset_name, cache_dir=cache_dir, seed=seed, small=small)
    return ds, world_for(ds)


def run_abtest(
    dataset_name: str = "synthetic",
    seed: int = 0,
    control: str | Callable = "noisy:2.0",
    treatment: str | Callable = "noisy:1.5",
    n_users: int | None = None,
    days: int = 14,
    split: Sequence[float] = (0.5, 0.5),
    alpha: float = 0.05,
    k: int = 10,
    click_model: str = "position",
    experiment: str = "abtest",
    cache_dir: str = "data",
    small: bool = False,
    users_leave: bool = True,
) -> tuple[str, pd.DataFrame]:
    """Simulate an A/B test on a data set's world; returns (report text, one row per metric).

    Rankers are spec strings (``popularity``, ``oracle``, ``random``, ``noisy:<sigma>``)
    or callables ``users -> int[U, k]``; noisy oracles share their noise draws (same
    seed), so ``noisy:1.5`` against ``noisy:1.5`` is an A/A test and ``noisy:2`` against
    ``noisy:1.5`` is a slightly better version of one model. ``n_users``: a seeded
    sample of the data set's users (default: all). The report ends with the true effect
    (``true_means``; position click model only) and the frame has ``true_a``/``true_b``.

    ``users_leave`` (the default): simulate users who come back with a probability that follows the value
    they consumed, with item prices (`workbench.experiment.retention.RetentionSimulator`, no clickbait,
    no latency), so the report reads every online metric of ``METRICS``: CTR, conversion, session
    duration, revenue per user, D7 retention (tests of 8 days or more) and return rate; the true effect
    is then ``RetentionSimulator.truth`` for CTR, revenue per user, D7 retention and return rate.
    ``users_leave=False``: the plain simulator (visits at a fixed rate, no prices), which reads CTR,
    conversion and session duration only, each with its exact true effect (``true_means``).
    """
    ds, world = load_world(dataset_name, seed, cache_dir, small)
    rng = np.random.default_rng(seed)
    if n_users is None:
        users = np.arange(ds.n_users)
    elif not 2 <= n_users <= ds.n_users:
        raise ValueError(f"n_users={n_users!r}: expected 2..{ds.n_users} (users in {ds.name!r})")
    else:
        users = np.sort(rng.choice(ds.n_users, size=n_users, replace=False))
    rankers = [make_ranker(control, ds, world, k, seed), make_ranker(treatment, ds, world, k, seed)]
    sim = UserSimulator(world, SimulatorConfig(click_model=click_model, seed=seed))
    if users_leave:
        from workbench.experiment.retention import RetentionSimulator, make_catalogue

        sim = RetentionSimulator(world, make_catalogue(ds.n_items, seed=seed), config=sim.config)
    config = ABConfig(experiment=experiment, split=tuple(split), days=days, alpha=alpha, seed=seed)
    result = run_ab(sim, rankers, users, config)
    result.meta["dataset"] = ds.name
    text, frame = result.report(), result.analyse()
    if click_model != "position":
        return text + f"\n\nTrue effect: computed exactly only under the position click model (this run: {click_model}).", frame
    if users_leave:
        cols = ["ctr", "revenue_per_user", "return_rate"] + (["d7_retention"] if days >= 8 else [])
        truth = [sim.truth(users, item_lists(r(users), len(users)), days)[cols].mean().to_dict() for r in rankers]
        where = f"{len(users)} users, every one starting on day 1, over {days} days"
    else:
        truth = [true_means(sim, users, item_lists(r(users), len(users)), days) for r in rankers]
        where = f"{len(users)} users weighted by their chance of a session in {days} days"
    lines = ["", f"True effect (known to the simulator: the population value each arm estimates, over these {where}):"]
    for m in (m for m in config.metrics if m in truth[0]):
        ta, tb = truth[0][m], truth[1][m]
        lines.append(f"  {metric_label(m):<17} A {ta:.4g}, B {tb:.4g}: B − A {tb - ta:+.4g} ({tb / ta - 1:+.1%})")
    unknown = [metric_label(m) for m in config.metrics if m not in truth[0] and m not in result.unmeasured()]
    if unknown:
        lines.append(f"  (no exact true value for {', '.join(unknown)}"
                     + (": visits here depend on what users consumed)" if users_leave else ")"))  # fmt: skip
    frame = frame.assign(true_a=frame["metric"].map(truth[0]), true_b=frame["metric"].map(truth[1]))
    return text + "\n" + "\n".join(lines), frame
