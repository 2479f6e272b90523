"""Notebook 12's back-end: a model that wins offline and loses online, once for each of the textbook's reasons.

Every demonstration reads two paired differences, each with its 95% interval: an **offline**
one (what the team would measure on logs before shipping) and an **online** one (a simulated
A/B test on users who can leave, `workbench.experiment.retention`). The world is the data set's
(synthetic truth or MovieLens oracle); each user's ``CANDIDATES`` candidates come from
`workbench.experiment.ope.lab.offpolicy_lab`, and a ranker of "noise ``sigma``" orders them by
``logit a(u, j) + sigma · z(u, j)`` (smaller is better; reasons 1 and 3). A/B tests draw ``N_USERS`` simulated
visitors from the world's users (with replacement, each assigned by the stable hash of its
visitor id, as `workbench.experiment.studies` does), so a small world still gives a powered test.

1. **Feedback loop** (`feedback_loop`): the incumbent (``INCUMBENT_SIGMA``) logged the data; a
   better challenger (``CHALLENGER_SIGMA``) is scored offline by NDCG@k of the logged clicks.
   Items the incumbent never showed have no clicks, so the log favours the incumbent. The
   mechanism's strength is ``1 − ε``, ε the logger's share of uniformly random slates (ε = 1:
   a uniform logging policy). The off-policy estimate (IPS of the difference, from an
   ε = ``OPE_EPSILON`` log; `workbench.experiment.ope.lab.difference_terms`) recovers the A/B's sign.
2. **Objective mismatch** (`objective_mismatch`): a share of items is clickbait (more clicks,
   a fifth of the value). Two real rankers are trained on one uniformly logged log
   (`train_objective_rankers`, the logistic regressions of notebook 11's watch-time case study,
   `workbench.casestudies.watchtime`): a click-trained one and a watch-time-trained one (clicks
   weighted by their watch seconds). Offline: NDCG of clicks on a second uniformly logged log;
   online: CTR and D7 retention over ``WEEKS`` weeks, in an A/B test of ``RETENTION_USERS`` visitors:
   D7 retention is one yes/no per visitor, so the test is sized by a power calculation
   (`workbench.experiment.stats.sample_size_proportions`) to detect a difference of ``RETENTION_MDE``
   at a D7 rate of ``RETENTION_PLAN_RATE`` with ``RETENTION_POWER``. At ``N_USERS`` visitors it could detect only
   about three times that, and without clickbait the rankers' true retention difference (the click-trained
   ranker's extra clicks are all worth watching) is about ``RETENTION_MDE``: the smaller test read it with
   either sign (benchmarks/RESULTS.md, issue 25, fourth session). The simulator's exact differences
   (`RetentionSimulator.truth`) are reported beside the A/B's.
3. **Latency** (`latency`): a heavier ranker (``HEAVY_SIGMA``) against a light one
   (``LIGHT_SIGMA``); it is ``extra_ms`` slower, and requests are abandoned with
   `workbench.experiment.retention.abandonment`. Offline: NDCG of clicks on a uniform log;
   online: session duration (an abandoned request is a 0 s session), revenue per user beside it.
   Both rankers share their noise draws (the heavier one is the light one with less noise).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from workbench.data.dataset import Dataset
from workbench.experiment.ab import ABConfig, ABResult, assign
from workbench.experiment.ope.lab import OffPolicyLab, difference_terms, offpolicy_lab
from workbench.experiment.ope.logs import SlateLog, log_impressions
from workbench.experiment.retention import (
    RetentionConfig,
    RetentionSimulator,
    abandonment,
    make_catalogue,
)
from workbench.experiment.simulator import SimulatorConfig
from workbench.experiment.stats import sample_size_proportions

K = 10
CANDIDATES = 20
INCUMBENT_SIGMA = 2.0
CHALLENGER_SIGMA = 1.0
OPE_EPSILON = 0.3
LIGHT_SIGMA = 1.0
HEAVY_SIGMA = 0.6
CLICKBAIT_SHARE = 0.3
CLICKBAIT_VALUE = 0.2  # a clickbait item is worth this fraction of a normal one
CLICKBAIT_BOOST = 0.5  # and draws clicks with a + boost · (1 − a)
EXTRA_MS = 800.0  # notebook 12's default latency added on top of the measured difference (benchmarks/RESULTS.md)
TEXTBOOK_MS = 100.0  # the textbook's example: "1% more accurate but 100 ms slower"
LOG_IMPRESSIONS = 20_000
N_USERS = 20_000
RETENTION_MDE = 0.005  # the smallest D7-retention difference the objective-mismatch A/B is sized to detect
RETENTION_POWER = 0.8  # with this power
RETENTION_PLAN_RATE = 0.2  # the D7 retention the power calculation assumes (the simulated users' is about 0.2)
RETENTION_USERS = 2 * sample_size_proportions(RETENTION_PLAN_RATE, RETENTION_MDE, alpha=0.05, power=RETENTION_POWER)
DAYS = 14
WEEKS = 4
ALPHA = 0.05


@dataclass(frozen=True)
class Gap:
    """One demonstration's two readings: offline and online differences (challenger − incumbent) with intervals."""

    reason: str  # extra["ab_table"]: the A/B test's analysis, every online metric with its interval and p_holm
    offline_metric: str
    offline: tuple[float, float, float]  # diff, lo, hi
    online_metric: str
    online: tuple[float, float, float]
    extra: dict

    @property
    def opposite(self) -> bool:
        """Offline and online point in opposite directions, each interval excluding zero."""
        return excludes_zero(self.offline) and excludes_zero(self.online) and np.sign(self.offline[0]) != np.sign(self.online[0])

    @property
    def agree(self) -> bool:
        """The gap is closed: same sign, or both intervals cover zero."""
        return np.sign(self.offline[0]) == np.sign(self.online[0]) or not (excludes_zero(self.offline) or excludes_zero(self.online))


def excludes_zero(ci: tuple[float, float, float]) -> bool:
    return bool(ci[1] > 0 or ci[2] < 0)


def verdict(name_b: str, name_a: str, ci: tuple[float, float, float], what: str, digits: int = 3) -> str:
    """"B beats A on what by x [lo, hi]", "B loses to A ...", or "no detectable difference" when the interval covers 0."""
    d, lo, hi = ci
    interval = f"{d:+.{digits}g} [{lo:+.{digits}g}, {hi:+.{digits}g}]"
    if not excludes_zero(ci):
        return (f"no detectable difference between {name_b} and {name_a} on {what}: {interval} (the {1 - ALPHA:.0%} "
                "interval covers 0)")  # fmt: skip
    return f"{name_b} {'beats' if d > 0 else 'loses to'} {name_a} on {what} by {interval}"


def mean_ci(terms: np.ndarray, alpha: float = ALPHA) -> tuple[float, float, float]:
    """Mean of paired per-unit differences and its normal interval."""
    from scipy import stats

    terms = np.asarray(terms, dtype=np.float64)
    m, se = float(terms.mean()), float(terms.std(ddof=1) / np.sqrt(len(terms)))
    z = float(stats.norm.ppf(1 - alpha / 2))
    return m, m - z * se, m + z * se


# ---------------------------------------------------------------- shared set-up


@dataclass(eq=False)
class World:
    """The data set's world and each user's candidates."""

    lab: OffPolicyLab
    seed: int
    dataset: Dataset

    @property
    def candidates(self) -> np.ndarray:
        return self.lab.candidates


def world(ds: Dataset, seed: int = 0) -> World:
    lab = offpolicy_lab(ds, k=K, n_candidates=CANDIDATES, logger_sigma=INCUMBENT_SIGMA, seed=seed)
    return World(lab, seed, ds)


def order(score: np.ndarray) -> np.ndarray:
    """Candidate columns ``[U, A]`` best first."""
    return np.argsort(-score, axis=1, kind="stable")


def simulator(w: World, clickbait_share: float = 0.0, retention: RetentionConfig | None = None) -> RetentionSimulator:
    cat = make_catalogue(int(w.candidates.max()) + 1, clickbait_share=clickbait_share, boost=CLICKBAIT_BOOST,
                         clickbait_value=CLICKBAIT_VALUE, seed=w.seed)  # fmt: skip
    return RetentionSimulator(w.lab.sim.world, cat, retention, SimulatorConfig(seed=w.seed))


def ndcg_of_clicks(log: SlateLog, ranking: np.ndarray, k: int = K) -> tuple[np.ndarray, np.ndarray]:
    """Offline NDCG@k per logged impression: the logged clicks as relevance, the ranker's order of the
    user's candidates (``ranking [U, A]``). Returns (values, mask of impressions with a click)."""
    n, a = log.n, log.candidates.shape[1]
    rel = np.zeros((n, a))
    np.put_along_axis(rel, log.slates, log.clicks, axis=1)
    top = ranking[log.users, :k]
    disc = 1.0 / np.log2(np.arange(k) + 2.0)
    dcg = (np.take_along_axis(rel, top, axis=1) * disc).sum(axis=1)
    n_rel = rel.sum(axis=1).astype(np.int64)
    ideal = np.concatenate([[0.0], np.cumsum(disc)])[np.minimum(n_rel, k)]
    has = n_rel > 0
    return np.where(has, dcg / np.where(has, ideal, 1.0), 0.0), has


def offline_ndcg(log: SlateLog, ranking_a: np.ndarray, ranking_b: np.ndarray) -> tuple[float, float, float]:
    """Paired NDCG@k of logged clicks, B − A, over the impressions with a click."""
    return offline_ndcg_and_base(log, ranking_a, ranking_b)[0]


def offline_ndcg_and_base(log: SlateLog, ranking_a: np.ndarray, ranking_b: np.ndarray):
    """`offline_ndcg` and A's mean NDCG over the same impressions (the base of the relative difference)."""
    a, has = ndcg_of_clicks(log, ranking_a)
    b, _ = ndcg_of_clicks(log, ranking_b)
    return mean_ci((b - a)[has]), float(a[has].mean())


def uniform_log(w: World, sim, n: int, seed: int) -> SlateLog:
    rng = np.random.default_rng(seed)
    users = rng.integers(0, len(w.lab.population), size=n)
    return log_impressions(sim, w.candidates, w.lab.policy(epsilon=1.0), users, rng)


def online_ab(sim: RetentionSimulator, w: World, rankings: tuple[np.ndarray, np.ndarray], days: int, seed: int,
              latency_ms: tuple[float, float] = (0.0, 0.0), n_users: int = N_USERS, experiment: str = "gap") -> ABResult:  # fmt: skip
    """An A/B test of two candidate orders: ``n_users`` visitors drawn from the world's users, hash-assigned."""
    rng = np.random.default_rng(seed)
    arms = assign(np.arange(n_users), f"{experiment}-{seed}")
    pick = rng.integers(0, len(w.lab.population), size=n_users)
    cols = np.stack([r[:, :K] for r in rankings])[arms, pick]
    items = np.take_along_axis(w.candidates[pick], cols, axis=1)
    out = sim.simulate_days(w.lab.population[pick], items, days, rng, latency_ms=np.asarray(latency_ms)[arms])
    return ABResult(ABConfig(experiment=experiment, days=days, seed=seed), ("A", "B"), arms, out,
                    {"dataset": "simulated visitors", "rankers": {}})  # fmt: skip


def reading(result: ABResult, metric: str) -> tuple[float, float, float]:
    row = result.analyse().set_index("metric").loc[metric]
    return float(row["diff"]), float(row["ci_low"]), float(row["ci_high"])


def relative(result: ABResult, metric: str) -> tuple[float, float, float]:
    """The A/B's relative difference B / A − 1 of ``metric`` and its delta-method interval."""
    row = result.analyse().set_index("metric").loc[metric]
    return float(row["rel_diff"]), float(row["rel_ci_low"]), float(row["rel_ci_high"])


# ---------------------------------------------------------------- the three reasons


def feedback_loop(w: World, epsilon: float = 0.0, seed: int = 0, n_log: int = LOG_IMPRESSIONS,
                  n_users: int = N_USERS, days: int = DAYS) -> Gap:  # fmt: skip
    """Incumbent vs challenger: naive offline NDCG on a log whose slates are the incumbent's except a share
    ``epsilon`` of uniform ones; the A/B on CTR; and IPS of the difference from an ``OPE_EPSILON`` log."""
    lab = w.lab
    inc, cha = (order(lab.logit + s * lab.noise) for s in (INCUMBENT_SIGMA, CHALLENGER_SIGMA))
    sim = simulator(w)
    rng = np.random.default_rng(seed)
    log = lab.log(lab.policy(epsilon=epsilon), n_log, rng)
    offline, base = offline_ndcg_and_base(log, inc, cha)
    ab = online_ab(sim, w, (inc, cha), days, seed + 1, n_users=n_users, experiment="feedback")
    explore = lab.log(lab.policy(epsilon=OPE_EPSILON), n_log, rng)
    ips_terms, _, _ = difference_terms(explore, lab.policy(CHALLENGER_SIGMA, 0.0), lab.policy(INCUMBENT_SIGMA, 0.0),
                                           lab.features())  # fmt: skip
    truth = lab.truth(lab.policy(CHALLENGER_SIGMA, 0.0)) - lab.truth(lab.policy(INCUMBENT_SIGMA, 0.0))
    return Gap("feedback loop", "NDCG@10 of logged clicks", offline, "CTR", reading(ab, "ctr"),
               {"ab_table": ab.analyse(), "ope": mean_ci(ips_terms), "true_clicks_per_impression": truth, "epsilon": epsilon,
                "offline_base": base, "online_relative": relative(ab, "ctr")})  # fmt: skip


@dataclass(eq=False)
class TrainedRankers:
    """The objective-mismatch pair, trained on one uniformly logged log: ``click`` and ``watch`` order every user's
    candidates ``[U, A]`` (best first); ``log`` is the training log with each click's watch seconds."""

    click: np.ndarray
    watch: np.ndarray
    log: SlateLog
    watch_seconds: np.ndarray  # [N, k], 0 where not clicked


def train_objective_rankers(w: World, sim: RetentionSimulator, n_log: int = LOG_IMPRESSIONS, seed: int = 0,
                            l2: float = 1e-3) -> TrainedRankers:  # fmt: skip
    """Two logistic regressions over the same features (`workbench.casestudies.watchtime`: the user's genre
    affinity, the SVD factor products of the interaction matrix, item popularity, and a per-item term), fitted
    on one uniformly logged log of ``n_log`` impressions in which every click is watched for an exponential
    time of mean the item's value (`workbench.experiment.retention.Catalogue.value`):

    - **click-trained**: label = click, every impression weight 1;
    - **watch-time-trained** (Covington, Adams & Sargin 2016): label = click, a clicked impression weighted by
      its watch seconds, an unclicked one by 1; its odds estimate the expected watch time of an impression.

    Neither sees the truth (``a(u, i)``, the values or which items are clickbait): only the log."""
    from workbench.casestudies.watchtime import LogisticModel, PairFeatures

    rng = np.random.default_rng([seed, 7])
    log = uniform_log(w, sim, n_log, int(rng.integers(2**31)))
    items = np.take_along_axis(w.candidates[log.users], log.slates, axis=1)
    clicked = log.clicks > 0
    watch = np.zeros(clicked.shape)
    watch[clicked] = rng.exponential(sim.catalogue.value[items[clicked]])
    ds = w.dataset
    feats = PairFeatures(ds, np.broadcast_to(ds.item_popularity.astype(np.float64), (ds.n_users, ds.n_items)), seed=seed)
    users = w.lab.population[log.users]
    dense = feats.dense(np.repeat(users, items.shape[1]), items.ravel())
    labels = clicked.ravel().astype(np.float64)
    click_model = LogisticModel(l2).fit(dense, items.ravel(), labels, None, ds.n_items)
    watch_model = LogisticModel(l2).fit(dense, items.ravel(), labels, np.where(clicked, watch, 1.0).ravel(), ds.n_items)
    all_users = np.repeat(w.lab.population, w.candidates.shape[1])
    all_dense = feats.dense(all_users, w.candidates.ravel())
    rank = lambda m: order(m.logit(all_dense, w.candidates.ravel()).reshape(w.candidates.shape))  # noqa: E731
    return TrainedRankers(rank(click_model), rank(watch_model), log, watch)


def objective_mismatch(w: World, clickbait_share: float = CLICKBAIT_SHARE, seed: int = 0, n_log: int = LOG_IMPRESSIONS,
                       n_users: int = RETENTION_USERS, weeks: int = WEEKS) -> Gap:  # fmt: skip
    """Click-trained (B) vs watch-time-trained (A), both fitted on a uniform log (`train_objective_rankers`):
    offline NDCG of clicks on a second uniform log, online CTR and D7 retention over ``weeks`` weeks; beside
    them the simulator's exact differences (``extra["truth"]``: D7 retention and CTR, averaged over the
    world's users, whom the visitors are drawn from uniformly)."""
    sim = simulator(w, clickbait_share)
    trained = train_objective_rankers(w, sim, n_log, seed)
    watch_rank, click_rank = trained.watch, trained.click
    offline, base = offline_ndcg_and_base(uniform_log(w, sim, n_log, seed), watch_rank, click_rank)
    ab = online_ab(sim, w, (watch_rank, click_rank), 7 * weeks, seed + 1, n_users=n_users, experiment="objective")
    bait = sim.catalogue.clickbait[w.candidates]
    top = lambda r: float(np.take_along_axis(bait, r[:, :K], axis=1).mean())  # noqa: E731
    exact = [sim.truth(w.lab.population, np.take_along_axis(w.candidates, r[:, :K], axis=1), days=7 * weeks)
             for r in (watch_rank, click_rank)]  # fmt: skip
    truth = {m: float((exact[1][m] - exact[0][m]).mean()) for m in ("d7_retention", "ctr")}
    return Gap("objective mismatch", "NDCG@10 of clicks", offline, "D7 retention", reading(ab, "d7_retention"),
               {"ab_table": ab.analyse(), "ctr": reading(ab, "ctr"), "return_rate": reading(ab, "return_rate"),
                "clickbait_share": clickbait_share, "offline_base": base, "truth": truth, "n_users": n_users,
                "online_relative": relative(ab, "d7_retention"),
                "clickbait_in_slates": {"click-trained": top(click_rank), "watch-time-trained": top(watch_rank)}})  # fmt: skip


def latency(w: World, extra_ms: float = EXTRA_MS, seed: int = 0, base_ms: float = 100.0, n_log: int = LOG_IMPRESSIONS,
            n_users: int = N_USERS, days: int = DAYS) -> Gap:  # fmt: skip
    """Light (A) vs heavier (B, ``extra_ms`` slower): offline NDCG of clicks, online session duration
    (seconds per session; an abandoned request is a session of 0 s), with revenue per user beside it."""
    if not extra_ms >= 0:
        raise ValueError(f"extra_ms={extra_ms!r}: expected >= 0 milliseconds")
    lab = w.lab
    light, heavy = order(lab.logit + LIGHT_SIGMA * lab.noise), order(lab.logit + HEAVY_SIGMA * lab.noise)
    sim = simulator(w)
    offline, base = offline_ndcg_and_base(uniform_log(w, sim, n_log, seed), light, heavy)
    lat = (base_ms, base_ms + extra_ms)
    ab = online_ab(sim, w, (light, heavy), days, seed + 1, lat, n_users=n_users, experiment="latency")
    p = abandonment(np.asarray(lat), sim.retention.loss_per_100ms)
    return Gap("latency", "NDCG@10 of clicks", offline, "session duration (s)", reading(ab, "session_time"),
               {"ab_table": ab.analyse(), "ctr": reading(ab, "ctr"), "revenue_per_user": reading(ab, "revenue_per_user"), "abandon": (float(p[0]), float(p[1])), "latency_ms": lat,
                "extra_ms": extra_ms, "offline_base": base, "online_relative": relative(ab, "session_time")})  # fmt: skip


def chart_rows(gaps: list[Gap]) -> pd.DataFrame:
    """For `workbench.viz.gap.gap_chart`: each reading relative to the incumbent, in percent. Offline: the paired
    difference and its interval divided by the incumbent's mean NDCG; online: the A/B's delta-method interval."""
    rows = []
    for g in gaps:
        base = g.extra["offline_base"]
        rows.append({"reason": g.reason, "measured": "offline", "metric": g.offline_metric,
                     **dict(zip(("rel", "lo", "hi"), (100 * v / base for v in g.offline)))})  # fmt: skip
        rows.append({"reason": g.reason, "measured": "online", "metric": g.online_metric,
                     **dict(zip(("rel", "lo", "hi"), (100 * v for v in g.extra["online_relative"])))})  # fmt: skip
    return pd.DataFrame(rows)


def table(gaps: list[Gap]) -> pd.DataFrame:
    """One row per demonstration: offline and online differences with intervals and whether they disagree."""
    rows = []
    for g in gaps:
        rows.append({"reason": g.reason, "offline metric": g.offline_metric, "offline diff": g.offline[0],
                     "offline 95% CI": f"[{g.offline[1]:+.4g}, {g.offline[2]:+.4g}]", "online metric": g.online_metric,
                     "online diff": g.online[0], "online 95% CI": f"[{g.online[1]:+.4g}, {g.online[2]:+.4g}]",
                     "opposite signs": g.opposite})  # fmt: skip
    return pd.DataFrame(rows)
