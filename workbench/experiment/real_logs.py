"""Off-policy evaluation on real logs: the Open Bandit Dataset sample, the loop's event log, your own file.

A *bandit log* is one row per round: a context (the user), the action shown (the item), its position,
the reward (a click) and the logging policy's propensity of that (action, position). Three readers:

- `read_obd`: the Open Bandit Dataset sample (Saito et al. 2021, ZOZOTOWN) that ``obp``'s wheel ships:
  10,000 rounds each of the uniform-random and the Bernoulli-Thompson-sampling (BTS) policies on the
  campaigns all/men/women, 80 (all), 34 (men) or 46 (women) items in 3 positions. obp 0.4.1's own
  ``OpenBanditDataset`` fails with this project's pandas, so the shipped CSVs are read directly.
- `read_event_log`: the loop's or the service's SQLite event log: every impression with its
  propensity; a round's reward is whether a click came back for the same request and position.
- `read_log_file`: a CSV/TSV/Parquet file with the roles ``context`` (or user), ``action`` (or item),
  ``position``, ``reward`` and ``propensity`` (a column mapping as for interaction files), checked
  as interaction files are (`workbench.data.validation`) before any estimate.

Target policies are context-free distributions ``π[a, p]`` over (action, position) (`target_policy`):
``bts`` (Bernoulli Thompson sampling: ZOZOTOWN's production prior for the OBD campaigns, as in the Open
Bandit paper; elsewhere Beta(1 + clicks, 1 + non-clicks) from the log), ``uniform`` and ``greedy``
(the log's best click rates, deterministic). `estimate` runs every one-action-per-round estimator of
`workbench.experiment.ope.estimators` (IPS, clipped IPS, SNIPS, DM, DR, SNDR; IIPS equals IPS with one
action per round, and PI needs whole slates, which these logs do not record as such) and says how much
of the target's mass the log cannot support (`unsupported_share`).
"""

from __future__ import annotations

import importlib.util
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from workbench.data.movielens import DataFileError
from workbench.data.validation import check_ids, check_ratings, read_table, resolve_columns, shown, where
from workbench.experiment.ope.estimators import (
    clipped_ips, direct_method, doubly_robust, ips, sn_doubly_robust, snips,
)  # fmt: skip

CAMPAIGNS = ("all", "men", "women")
OBD_POLICIES = ("random", "bts")
TARGETS = ("bts", "uniform", "greedy")
LOG_COLUMNS = {
    "context": ("context", "user", "user_id", "uid", "session_id"),
    "action": ("action", "item", "item_id", "iid", "arm"),
    "position": ("position", "slot", "pos", "rank"),
    "reward": ("reward", "click", "clicked", "label"),
    "propensity": ("propensity", "propensity_score", "pscore", "prob"),
}
LOG_REQUIRED = ("action", "reward", "propensity")


@dataclass(frozen=True)
class BanditLog:
    """One row per round. ``action``: int codes into ``actions`` (the original ids); ``position``: 0-based."""

    name: str
    context: np.ndarray
    action: np.ndarray
    position: np.ndarray
    reward: np.ndarray
    pscore: np.ndarray
    actions: np.ndarray
    len_list: int
    campaign: str | None = None  # OBD: the campaign (its BTS prior is the production one)

    @property
    def n(self) -> int:
        return len(self.reward)

    @property
    def n_actions(self) -> int:
        return len(self.actions)

    def on_policy(self, alpha: float = 0.05) -> tuple[float, float, float]:
        """The logging policy's own mean reward with its normal interval: ``(mean, low, high)``."""
        m, se = self.reward.mean(), self.reward.std(ddof=1) / np.sqrt(self.n)
        z = float(stats.norm.ppf(1 - alpha / 2))
        return float(m), float(m - z * se), float(m + z * se)


# ---- readers ---------------------------------------------------------------------------------------


def obd_folder() -> Path:
    """Where ``obp``'s wheel keeps the Open Bandit Dataset sample (FileNotFoundError without obp)."""
    spec = importlib.util.find_spec("obp")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the Open Bandit Dataset sample ships in obp's wheel: pip install 'obp>=0.4.1,<0.5' "
                                "(the project's ope-test extra)")  # fmt: skip
    return Path(next(iter(spec.submodule_search_locations))) / "dataset" / "obd"


def read_obd(policy: str = "random", campaign: str = "all") -> BanditLog:
    """The OBD sample of ``policy`` (random or bts) on ``campaign`` (all, men or women)."""
    if policy not in OBD_POLICIES or campaign not in CAMPAIGNS:
        raise ValueError(f"OBD {policy}/{campaign}: expected a policy in {OBD_POLICIES} and a campaign in {CAMPAIGNS}")
    path = obd_folder() / policy / campaign / f"{campaign}.csv"
    items = pd.read_csv(path.parent / "item_context.csv", usecols=["item_id"])["item_id"].to_numpy(np.int64)
    frame = read_table(path, "utf-8", "rounds")
    log = _from_frame(frame, path, {"context": "user_feature_0", "action": "item_id", "position": "position",
                                    "reward": "click", "propensity": "propensity_score"}, f"obd-{policy}-{campaign}",
                      actions=np.sort(items))  # fmt: skip
    return BanditLog(**{**log.__dict__, "campaign": campaign})


def read_log_file(path: str | Path, columns: dict[str, str] | None = None, encoding: str = "utf-8") -> BanditLog:
    """A user's log file (CSV, TSV or Parquet) with the roles of `LOG_COLUMNS`; DataFileError before any work."""
    p = Path(path)
    if not p.is_file():
        raise DataFileError(f"--log {path}: no such file; expected a CSV, TSV or Parquet log, 'obd' or an event log")
    frame = read_table(p, encoding, "logged rounds")
    return _from_frame(frame, p, columns or {}, p.name)


def read_event_log(path: str | Path) -> BanditLog:
    """The loop's / the service's SQLite event log: one round per impression, reward 1 where a click
    came back for the same request and position."""
    p = Path(path)
    try:
        conn = sqlite3.connect(f"file:{p}?mode=ro", uri=True)
        try:
            ev = pd.read_sql_query("SELECT request_id, position, event_type, user_id, item_id, propensity FROM events", conn)
        finally:
            conn.close()
    except (sqlite3.Error, pd.errors.DatabaseError) as exc:
        raise DataFileError(f"{p}: not an event log ({exc}); expected the SQLite file the loop or the service writes "
                            "(a table 'events')") from None  # fmt: skip
    imp = ev[ev["event_type"] == "impression"].reset_index(drop=True)
    if imp.empty:
        raise DataFileError(f"{p}: no impressions in its events table; expected a log the loop or the service wrote")
    clicks = ev.loc[ev["event_type"] == "click", ["request_id", "position"]].drop_duplicates().assign(reward=1)
    imp = imp.merge(clicks, on=["request_id", "position"], how="left").fillna({"reward": 0})
    return _from_frame(imp, p, {"context": "user_id", "action": "item_id", "position": "position", "reward": "reward",
                                "propensity": "propensity"}, p.name)  # fmt: skip


def _from_frame(frame: pd.DataFrame, path: Path, columns: dict[str, str], name: str,
                actions: np.ndarray | None = None) -> BanditLog:
    cols = resolve_columns(frame, columns, path, roles=tuple(LOG_COLUMNS), defaults=LOG_COLUMNS, required=LOG_REQUIRED)
    action_ids = check_ids(frame[cols["action"]], path, cols["action"], "action")
    context = (check_ids(frame[cols["context"]], path, cols["context"], "context").to_numpy() if cols["context"]
               else np.zeros(len(frame), np.int64))  # fmt: skip
    reward = check_ratings(frame[cols["reward"]], path, cols["reward"]).astype(np.float64)
    pscore = check_ratings(frame[cols["propensity"]], path, cols["propensity"]).astype(np.float64)
    bad = ~((pscore > 0) & (pscore <= 1))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataFileError(f"{where(path, row)}, column {cols['propensity']!r}: propensity {shown(frame[cols['propensity']].iloc[row])} "
                            f"({int(bad.sum()):,} such rows); expected the logging policy's probability, in (0, 1]")  # fmt: skip
    if cols["position"]:
        pos = check_ratings(frame[cols["position"]], path, cols["position"]).astype(np.float64)
        bad = (pos != np.floor(pos)) | (pos < 0)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DataFileError(f"{where(path, row)}, column {cols['position']!r}: position {shown(frame[cols['position']].iloc[row])}; "
                                "expected a whole number >= 0 (0- or 1-based)")  # fmt: skip
        position = (pos - pos.min()).astype(np.int64)  # 1-based positions become 0-based
    else:
        position = np.zeros(len(frame), np.int64)
    if actions is None:
        codes, uniques = pd.factorize(action_ids, sort=True)
        actions = np.asarray(uniques)
    else:
        codes = pd.Index(actions).get_indexer(action_ids)
        if (codes < 0).any():
            row = int(np.flatnonzero(codes < 0)[0])
            raise DataFileError(f"{where(path, row)}, column {cols['action']!r}: action {shown(action_ids.iloc[row])} is "
                                "not in the item table; expected one of its items")  # fmt: skip
    if len(actions) < 2:
        raise DataFileError(f"{path}, column {cols['action']!r}: a single action; expected at least 2 to compare policies")
    return BanditLog(name, np.asarray(context), codes.astype(np.int64), position, reward, pscore, np.asarray(actions),
                     int(position.max()) + 1)  # fmt: skip


def read_log(spec: str, columns: dict[str, str] | None = None, policy: str = "random", campaign: str = "all") -> BanditLog:
    """``obd`` (the OBD sample of ``policy``/``campaign``), an SQLite event log (``.sqlite``/``.db``) or a
    CSV/TSV/Parquet log file."""
    if spec == "obd":
        return read_obd(policy, campaign)
    if Path(spec).suffix.lower() in (".sqlite", ".db", ".sqlite3"):
        return read_event_log(spec)
    return read_log_file(spec, columns)


# ---- target policies -------------------------------------------------------------------------------


def bts_prior(campaign: str) -> tuple[np.ndarray, np.ndarray]:
    """ZOZOTOWN's production Beta prior of BTS for an OBD campaign (obp's ``policy/conf/prior_bts.yaml``)."""
    import yaml

    conf = yaml.safe_load((obd_folder().parent.parent / "policy" / "conf" / "prior_bts.yaml").read_text())
    return np.asarray(conf[campaign]["alpha"], np.float64), np.asarray(conf[campaign]["beta"], np.float64)


def thompson_dist(alpha: np.ndarray, beta: np.ndarray, len_list: int, n_sim: int = 100_000, seed: int = 0,
                  chunk: int = 10_000) -> np.ndarray:
    """``π[a, p]``: how often Thompson sampling with Beta(alpha, beta) puts action ``a`` at position ``p``
    (each draw ranks the actions by a sampled click rate; Monte Carlo over ``n_sim`` draws, as obp's
    ``BernoulliTS.compute_batch_action_dist``, vectorised)."""
    rng = np.random.default_rng(seed)
    n_actions = len(alpha)
    counts = np.zeros((n_actions, len_list))
    for start in range(0, n_sim, chunk):
        m = min(chunk, n_sim - start)
        theta = rng.beta(alpha, beta, size=(m, n_actions))
        top = np.argpartition(-theta, len_list - 1, axis=1)[:, :len_list]
        order = np.take_along_axis(top, np.argsort(-np.take_along_axis(theta, top, axis=1), axis=1), axis=1)
        for p in range(len_list):
            counts[:, p] += np.bincount(order[:, p], minlength=n_actions)
    return counts / n_sim


def target_policy(name: str, log: BanditLog, seed: int = 0, n_sim: int = 100_000) -> np.ndarray:
    """The named target's ``π[a, p]`` (columns sum to 1) over the log's actions and positions."""
    a, k = log.n_actions, log.len_list
    if name == "uniform":
        return np.full((a, k), 1.0 / a)
    clicks = np.bincount(log.action, weights=log.reward, minlength=a)
    shows = np.bincount(log.action, minlength=a).astype(np.float64)
    if name == "greedy":
        rate = (clicks + 1) / (shows + 2)
        best = np.lexsort((np.arange(a), -rate))[:k]  # ties by action index: deterministic
        dist = np.zeros((a, k))
        dist[best, np.arange(min(k, a))] = 1.0
        return dist
    if name == "bts":
        if log.campaign is not None:
            alpha, beta = bts_prior(log.campaign)
        else:
            alpha, beta = 1.0 + clicks, 1.0 + shows - clicks
        return thompson_dist(alpha, beta, k, n_sim, seed)
    raise ValueError(f"--target {name!r}: expected one of {TARGETS}")


# ---- estimates -------------------------------------------------------------------------------------


def unsupported_share(log: BanditLog, dist: np.ndarray) -> float:
    """The share of the target's mass the log cannot support, per round averaged: in a round logged with
    propensity 1 (no exploration) only the logged action is supported; otherwise the (action, position)
    pairs the log never shows are unsupported."""
    seen = np.zeros_like(dist, dtype=bool)
    seen[log.action, log.position] = True
    unseen_mass = (dist * ~seen).sum(axis=0)  # per position
    fixed = log.pscore >= 1.0
    per_round = np.where(fixed, 1.0 - dist[log.action, log.position], unseen_mass[log.position])
    return float(per_round.mean())


def reward_model(log: BanditLog, folds: int = 2, shrink: float = 10.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Cross-fitted ``q̂(a, p)``: ``(fold [N], tables [folds, A, K])``, where ``tables[f]`` is the click rate
    of each (action, position) on the rounds outside fold ``f``, shrunk towards that position's rate by
    ``shrink`` pseudo-rounds; a round is predicted by the table of its own fold (fitted without it)."""
    a, k = log.n_actions, log.len_list
    fold = np.random.default_rng(seed).permutation(log.n) % folds
    cell = log.action * k + log.position
    tables = np.empty((folds, a, k))
    for f in range(folds):
        train = fold != f
        n = np.bincount(cell[train], minlength=a * k).reshape(a, k)
        c = np.bincount(cell[train], weights=log.reward[train], minlength=a * k).reshape(a, k)
        prior = c.sum(axis=0) / np.maximum(n.sum(axis=0), 1)
        tables[f] = (c + shrink * prior) / (n + shrink)
    return fold, tables


def estimate(log: BanditLog, dist: np.ndarray, alpha: float = 0.05, clip: float = 100.0, seed: int = 0) -> pd.DataFrame:
    """Every one-action-per-round estimator of the target ``dist`` on ``log``: value (clicks per round),
    interval, se and effective sample size."""
    target = dist[log.action, log.position]
    fold, tables = reward_model(log, seed=seed)
    q_logged = tables[fold, log.action, log.position]
    q_target = (tables * dist[None]).sum(axis=1)[fold, log.position]  # Σ_a π(a, p) q̂(a, p), p the round's position
    r, p = log.reward, log.pscore
    rows = [ips(r, p, target, alpha=alpha), clipped_ips(r, p, target, clip, alpha=alpha), snips(r, p, target, alpha=alpha),
            direct_method(q_target, alpha=alpha), doubly_robust(r, p, target, q_logged, q_target, alpha=alpha),
            sn_doubly_robust(r, p, target, q_logged, q_target, alpha=alpha)]  # fmt: skip
    table = pd.DataFrame([e.to_dict() for e in rows])
    w = target / p
    table.attrs.update(max_weight=float(w.max()), mean_weight=float(w.mean()), clicks=int(r.sum()),
                       weighted_clicks=float(w[r > 0].sum()))  # fmt: skip
    return table
