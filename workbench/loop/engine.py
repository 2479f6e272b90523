"""The loop itself: simulated users live through days of a recommender that learns from them.

One day (`Loop.step`), vectorised over users:

0. **retrain** (when due): the scheduled job reads the event log, fits a new version on the
   clicks before today and publishes it to the model store (`workbench.loop.versions`); arms
   that follow retraining switch to it, their features are materialised for it.
1. **sessions**: each simulated user visits Poisson(``visit_rate · v_u``) times
   (`workbench.experiment.simulator`; ``v_u`` fixed per user). Session round ``r`` of the day
   holds the users with more than ``r`` sessions; rounds run in order.
2. **slates**: in-process, stages 1-2 run once per day for the day's visitors (request time: the
   day's start), and before each round stage 3 reranks with the online seen list read from the
   feature store, item ages at the round's time and a fresh exploration draw (ε of the slots,
   propensities logged). With ``serve``, every session is an HTTP request to the running service
   (`workbench.loop.served`), which does all of that on its side.
3. **clicks and conversions**: the simulator draws them from the world's true click probabilities.
4. **log**: every impression (with its propensity), click and conversion goes to the durable event
   log (`workbench.serving.eventlog.SQLiteEventLog`; with ``serve``, through ``POST /events``),
   keyed by (request id, position, type), so a day re-run after a crash logs nothing twice.
5. **stream step**: the clicks and conversions update the online features (recent items,
   popularity counters) of every version in use (`workbench.loop.features`; with ``serve``, the
   service does it when it logs the events).
6. **monitoring**: the day's online metrics, drift of the served traffic (the items shown: their popularity in the
   starting data and age on the loop's first day; the scores shown) against its baseline window (the
   arm's traffic under the same version over its previous ``drift_window`` days, or with ``drift_window = 0``
   its first ``alerts.baseline_days`` days; a promotion starts a new window; not the training data, another
   population), candidate source
   shares (in-process) and, with ``serve``, p99 latency and the degraded-answer rate read from the
   service's ``/metrics``; alert rules over the whole table (`workbench.monitoring`).

With two arms (``ab_epsilon`` / ``ab_frozen``), users are split by hash (`workbench.experiment.ab.assign`)
and each arm runs its own policy; `LoopResult.ab` is an `ABResult` on the per-user, per-day totals.

State survives a restart: after each day the state folder records the day, the versions, the
daily table and the per-user totals (written atomically). Every random draw is seeded by (seed, day,
arm, round), the features are rebuilt from the log on resume, and versions are found again in the
store, so a loop interrupted (even mid-day) and resumed ends with the same figures as one run straight
through (in-process; a served loop's exploration is drawn by the service, per request).

(Over 500 lines: `Loop` is one state machine whose steps share its state; what stands alone lives in the
sibling modules: `arrivals`, `features`, `versions`, `served`, `shown`, `logging_policy`.)
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.data.dataset import SECONDS_PER_DAY
from workbench.experiment.ab import ABConfig, ABResult, assign
from workbench.experiment.simulator import SimulatorConfig, UserDays, UserSimulator
from workbench.loop.arrivals import arrivals_base, fresh_items, schedule, with_fresh
from workbench.loop.config import DRIFT_FEATURES, Arm, LoopConfig
from workbench.loop.features import MemoryFeatures, RedisFeatures, interactions_frame
from workbench.loop.incidents import invert_scores
from workbench.loop.logging_policy import random_slates
from workbench.loop.shown import Shown
from workbench.loop.versions import Base, Version, Versions, day_ts, load_base
from workbench.monitoring import (
    Alert, alert_timeline, alerts_frame, daily_metrics, drift_columns, drift_table, source_shares,
)  # fmt: skip
from workbench.pipeline import Pipeline, PipelineConfig
from workbench.ranking.features import Context
from workbench.rerank import rerank
from workbench.serving.eventlog import EVENT_COLUMNS, EVENT_TYPES, SQLiteEventLog, read_events
from workbench.types import PAD, CandidateSet

FORMAT = 3  # 2: drift references are baseline windows of served traffic; 3: drift of the served items, not the clicked
STATE_FILE = "loop.json"
USERS_FILE = "users.npz"
LOG_FILE = "events.sqlite"
RANK_CHUNK = 2048  # visitors ranked at once (bounds the candidate arrays' memory)
TOTALS = ("sessions", "slots", "clicks", "conversions", "seconds")
Progress = Callable[[str], None]


def _atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    write(tmp)
    os.replace(tmp, path)


def _seed(*parts: int) -> int:
    """A 32-bit seed from integers (numpy's SeedSequence hash: distinct tuples, unrelated streams)."""
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1)[0])


def concat_candidates(sets: list[CandidateSet]) -> CandidateSet:
    """Row-wise concatenation of candidate sets with the same sources (narrower rows padded)."""
    if len(sets) == 1:
        return sets[0]
    width = max(s.n for s in sets)

    def pad(a, fill):
        if a is None:
            return None
        extra = width - a.shape[1]
        if not extra:
            return a
        return np.concatenate([a, np.full((a.shape[0], extra, *a.shape[2:]), fill, a.dtype)], axis=1)

    def cat(name, fill):
        parts = [pad(getattr(s, name), fill) for s in sets]
        return None if parts[0] is None else np.concatenate(parts)

    return CandidateSet(np.concatenate([s.users for s in sets]), cat("items", PAD), cat("scores", -np.inf),
                        cat("sources", 0), sets[0].source_names, cat("source_ranks", -1), cat("source_scores", np.nan))  # fmt: skip


@dataclass
class LoopResult:
    """What a loop run produced: the daily table, the alerts, the A/B test (two arms), the versions."""

    config: LoopConfig
    daily: pd.DataFrame
    alerts: list[Alert]
    versions: list[Version]
    ab: ABResult | None
    description: str
    state: Path
    mode: str
    population: int = 0

    def alerts_frame(self) -> pd.DataFrame:
        return alerts_frame(self.alerts)

    def events(self) -> pd.DataFrame:
        """Every event of the loop's log (`workbench.serving.eventlog.read_events`)."""
        return read_events(self.state / LOG_FILE)

    def figures(self) -> pd.DataFrame:
        """The daily table without wall times (what must not depend on the machine or on a restart)."""
        return self.daily.drop(columns=[c for c in ("seconds", "retrain_seconds") if c in self.daily]).reset_index(drop=True)

    def report(self) -> str:
        """A plain-text report: the set-up, one line per day and arm, versions, alerts, the A/B test."""
        c = self.config
        retrain = f"retraining ({c.retrain}) every {c.retrain_every} days" if c.retrain_every else "no retraining"
        lines = [f"Feedback loop on {c.data}{' (small world)' if c.small else ''}, {self.mode}, seed {c.seed}: "
                 f"{self.daily['day'].nunique()} days, {self.population:,} simulated users; {retrain}"]  # fmt: skip
        lines.append(f"  {self.description}")
        lines.append(f"  state and event log: {self.state}")
        cols = ["day", "arm", "version", "users", "impressions", "ctr", "conversion", "session_time", "coverage",
                "exposure_gini", *[f"psi:{f}" for f in DRIFT_FEATURES], "p99_ms", "degraded_rate", "seconds"]  # fmt: skip
        table = self.daily[[col for col in cols if col in self.daily]].copy()
        table["day"] = table["day"] + 1
        table["version"] = table["version"].str[:8]
        with pd.option_context("display.width", 200, "display.max_columns", 30, "display.float_format", "{:.4f}".format):
            lines += ["", "Per day (day 1 is the first):", table.to_string(index=False)]
        lines += ["", "Model versions:"]
        for v in self.versions:
            how = "the starting model" if v.mode == "base" else f"{v.mode} on the log before day {v.day + 1}"
            done = "" if v.mode == "base" else (f", loaded from the store in {v.seconds:.1f} s" if v.loaded
                                                 else f", fitted and published in {v.seconds:.1f} s")  # fmt: skip
            lines.append(f"  {v.key}: {how}{done}")
        fired = sum(a.state == "firing" for a in self.alerts)
        lines += ["", f"Alerts ({fired} fired, {len(self.alerts) - fired} resolved):" if self.alerts else "Alerts: none fired."]
        lines += [f"  day {a.when[1] + 1} arm {a.when[0]}: {a.state.upper()} {a.rule}: {a.reason}" for a in self.alerts]
        if self.ab is not None:
            lines += ["", self.ab.report()]
        return "\n".join(lines)


def run_alerts(daily: pd.DataFrame, config: LoopConfig) -> list[Alert]:
    """The alert rules over each arm's daily rows: every firing and resolution (`Alert.state`); an alert's ``when``
    is ``(arm, day)`` (0-based day)."""
    out: list[Alert] = []
    numeric = [c for c in daily.columns if c not in ("arm", "version", "seconds", "retrain_seconds")]
    for arm, rows in daily.groupby("arm", sort=True):
        table = rows[numeric].reset_index(drop=True)
        for a in alert_timeline(table, config.alerts, when="day"):
            out.append(dataclasses.replace(a, when=(arm, int(a.when))))
    return sorted(out, key=lambda a: (a.when[1], a.when[0]))


class Loop:
    """A feedback loop over a state folder (see the module docstring); `run` advances it.

    config: the loop's settings; state: its folder (created; resumed when it holds a loop).
    pipeline_config: the pipeline (a `PipelineConfig`, a TOML path, or None for the defaults with
    the loop's seed); base: a fitted starting point instead of the model store's (e.g. a world of
    another size); serve: sessions go to the service over HTTP (`workbench.loop.served`);
    store: the model store's root; redis_url: an existing Redis (default: start one, stopped by `close`).
    """

    def __init__(self, config: LoopConfig, state: str | Path, *, pipeline_config: PipelineConfig | str | Path | None = None,
                 base: Base | None = None, serve: bool = False, store: str | Path | None = None,
                 cache_dir: str | Path | None = None, redis_url: str | None = None,
                 progress: Progress | None = None) -> None:  # fmt: skip
        from workbench.store import ModelStore

        if serve and config.features == "memory":
            raise ValueError("serve=True with features='memory': the served loop's features live in the service's "
                             "Redis; use features='redis'")  # fmt: skip
        if serve and config.arrivals_per_day:
            raise ValueError("serve=True with arrivals_per_day > 0: the service does not know the loop's arrivals "
                             "(run the living catalogue in-process)")  # fmt: skip
        if serve and config.explore != "slots":
            raise ValueError(f"serve=True with explore={config.explore!r}: the service explores slots itself "
                             "(run whole random slates in-process)")  # fmt: skip
        if serve and config.shift_day:
            raise ValueError("serve=True with shift_day > 0: the injected shift is an in-process experiment")
        if serve and base is not None:
            raise ValueError("serve=True with a custom base: the service must rebuild the starting model from the "
                             "model store (data, seed, pipeline config)")  # fmt: skip
        self.config, self.serve = config, serve
        self.say = progress or (lambda _msg: None)
        self.folder = Path(state)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.pipeline_path = str(pipeline_config) if isinstance(pipeline_config, (str, Path)) else None
        self.store = ModelStore(store)
        self.cache_dir = cache_dir
        saved = self._read_state()
        if saved is not None:  # the settings must be those the state was made with (only days may change)
            diff = LoopConfig.from_dict(saved["config"]).differences(config)
            if diff:
                raise ValueError(f"the loop in {self.folder} was started with other settings; resume it with the same "
                                 f"ones or use a new state folder: {'; '.join(diff)}")  # fmt: skip
        if base is None:  # a resumed loop goes on with the model it started from, whatever the code is now
            base = load_base(config.data, config.seed, config.small, pipeline_config, self.store, cache_dir, self.say,
                             key=None if saved is None else saved["base"])  # fmt: skip
            self.say(base.description)
        elif saved is not None and saved["base"] != base.key:
            raise ValueError(f"the loop in {self.folder} started from model {saved['base']}, not {base.key}; "
                             "use a new state folder")  # fmt: skip
        self.origin_key = base.key  # the state records the model the loop started from (arrivals: refitted from it)
        if config.arrivals_per_day:
            self.arrival = schedule(base.train.n_items, config.arrivals_per_day, config.arrival_days, config.seed)
            base = arrivals_base(base, self.arrival, self.store, self.say)
            self.say(base.description)
        else:
            self.arrival = np.zeros(base.train.n_items, np.int64)
        self.arrival_ts = np.where(self.arrival > 0, day_ts(base.train, 0) + self.arrival * int(SECONDS_PER_DAY),
                                   np.iinfo(np.int64).min)  # fmt: skip
        self.base = base
        self.versions = Versions(self.base, self.store, self.say)
        self.train0 = self.base.train
        self.pipe_config = self.base.pipeline.config
        self.k = config.k or self.pipe_config.k
        if self.k > self.pipe_config.n_ranked:
            raise ValueError(f"k={self.k}: expected at most the pipeline's n_ranked={self.pipe_config.n_ranked}")
        self.arms: tuple[Arm, ...] = config.arms(self.pipe_config.rerank.exploration_rate)
        self.sim = UserSimulator(self.base.world, SimulatorConfig(click_model=config.click_model,
                                                                  visit_rate=config.visit_rate, seed=config.seed))  # fmt: skip
        n_world = self.train0.n_users
        if config.users is not None and config.users > n_world:
            raise ValueError(f"users={config.users}: expected at most the {n_world} users of {self.train0.name!r}")
        if config.users is None:
            self.rows = np.arange(n_world)
        else:
            self.rows = np.sort(np.random.default_rng(config.seed).choice(n_world, config.users, replace=False))
        self.user_ids = self.train0.users["user_id"].to_numpy()
        ids = self.user_ids[self.rows]
        self.arm_of = (assign(ids, config.ab_experiment, (1 - config.ab_split, config.ab_split))
                       if config.ab else np.zeros(len(self.rows), np.int64))  # fmt: skip
        self.item_ids = self.train0.items["item_id"].to_numpy()
        self.release = self.train0.items["release_ts"].to_numpy(np.float64)
        self.log_path = self.folder / LOG_FILE
        self._redis_server = None
        self.redis_url = redis_url
        self._baseline: dict[str, dict[str, Any]] = {}  # "arm|version" → days filled and each feature's sample
        self._served: dict[str, Any] = {}
        self._shares: dict[str, pd.Series] = {}
        self._pending: list = []  # the day's log commits not yet waited for
        self.log = None if serve else SQLiteEventLog(self.log_path)
        self.ever_shown = {a.name: np.zeros(self.train0.n_items, bool) for a in self.arms}  # per arm, for arrivals
        self._acted: list[pd.DataFrame] = []  # in-process: the log's clicks and conversions, in log order (`_acted_events`)
        self._init_state(saved)
        self.features = self._open_features()
        self._arrive()

    # --- set-up ---------------------------------------------------------------------------------------

    def _read_state(self) -> dict[str, Any] | None:
        path = self.folder / STATE_FILE
        if not path.is_file():
            return None
        state = json.loads(path.read_text(encoding="utf-8"))
        if state.get("format") != FORMAT:
            raise ValueError(f"{path}: loop state format {state.get('format')!r}, this code reads {FORMAT}")
        return state

    def _init_state(self, saved: dict[str, Any] | None) -> None:
        if saved is None:
            self.done = 0
            self.version_list = [Version(self.base.key, 0, "base")]
            self.current = {a.name: self.base.key for a in self.arms}
            self.rows_daily: list[dict[str, Any]] = []
            self.totals = {name: np.zeros((len(self.rows), 0)) for name in TOTALS}
            return
        self.done = int(saved["done"])
        self.version_list = [Version(**v) for v in saved["versions"]]
        self.current = dict(saved["current"])
        self.rows_daily = list(saved["daily"])
        with np.load(self.folder / USERS_FILE) as z:
            self.totals = {name: z[name][:, : self.done] for name in TOTALS}
        for name, file in saved.get("baseline", {}).items():
            with np.load(self.folder / file) as z:
                self._baseline[name] = {k: (int(z[k]) if k == "days" else z[k]) for k in z.files}
        events = self.events()
        acted = (events["event_type"] != "impression").to_numpy()  # of the finished days (a re-run day logs its own again)
        self._acted = [events[acted & (events["event_ts"].to_numpy(np.float64) < day_ts(self.train0, self.done))]]
        imp = events[(events["event_type"] == "impression").to_numpy()]
        arm_of_event = imp["request_id"].astype(str).str.split(".").str[2].to_numpy()
        for arm in self.arms:  # which items each arm has shown so far, from the log
            ids = imp["item_id"].to_numpy()[arm_of_event == arm.name]
            self.ever_shown[arm.name][pd.Index(self.item_ids).get_indexer(ids)] = True
        by_key = {v.key: v for v in self.version_list}
        for key in set(self.current.values()):
            self.versions.reopen(by_key[key], events)
        self.say(f"resuming the loop in {self.folder} after day {self.done} ({len(events):,} logged events)")

    def _open_features(self):
        if self.config.features == "memory" and not self.serve:
            features = MemoryFeatures()
        else:
            if self.redis_url is None:
                from workbench.serving.redis_server import redis_url

                self.redis_url, self._redis_server = redis_url(die_with_parent=True)  # no orphan after kill -9
            features = RedisFeatures(self.redis_url)
        return features

    def _arrive(self) -> None:
        """Open the features of every version in use, rebuilt from the log (and start the services)."""
        for key in sorted(set(self.current.values())):
            self._open_version(key)
        if self.serve:
            for arm in self.arms:
                self._start_service(arm)

    def _open_version(self, key: str) -> None:
        version = next(v for v in self.version_list if v.key == key)
        replay = self._interactions(day_ts(self.train0, version.day), day_ts(self.train0, self.done))
        self.features.open(key, self.versions.train(key), replay)

    def _interactions(self, after_ts: float, before_ts: float) -> pd.DataFrame:
        """The log's clicks and conversions with ``after_ts <= ts < before_ts``, as the stream step's frame."""
        ev = self._acted_events()
        ts = ev["event_ts"].to_numpy(np.float64)
        ev = ev[(ev["event_type"] != "impression").to_numpy() & (ts >= after_ts) & (ts < before_ts)]
        rows = pd.Index(self.item_ids).get_indexer(ev["item_id"].to_numpy())
        return interactions_frame(ev["user_id"].to_numpy(), rows, ev["event_type"].to_numpy(), ev["event_ts"].to_numpy())

    def _acted_events(self) -> pd.DataFrame:
        """The log's clicks and conversions so far, in log order: what the retraining job and the stream step's replay
        read. In-process they are kept in memory as they are logged (reading the whole log back at every retraining
        took 3% of a default-world loop, benchmarks/RESULTS.md); served, the service logged them: read the log."""
        if self.serve or not self._acted:
            ev = self.events()
            return ev[(ev["event_type"] != "impression").to_numpy()]
        if len(self._acted) > 1:
            self._acted = [pd.concat(self._acted, ignore_index=True)]
        return self._acted[0]

    def events(self) -> pd.DataFrame:
        """Every event logged so far (`workbench.serving.eventlog.read_events`); empty before the first."""
        if not self.log_path.exists():
            return pd.DataFrame(columns=[*EVENT_COLUMNS, "received_at"])
        return read_events(self.log_path)

    # --- the days -------------------------------------------------------------------------------------

    def run(self, days: int | None = None) -> LoopResult:
        """Advance to ``days`` days in all (default: the config's); returns the result so far."""
        days = self.config.days if days is None else days
        while self.done < days:
            self.step()
        return self.result()

    def step(self) -> None:
        """Run the next day (retraining first when it is due), then record the state."""
        day = self.done
        t_retrain = self._retrain(day)
        t0 = time.perf_counter()
        c = self.config
        rate = c.visit_rate * self.sim.visit_factor(self.rows)
        sessions = np.random.default_rng(_seed(c.seed, day, 0)).poisson(rate)
        day_totals = {name: np.zeros(len(self.rows)) for name in TOTALS}
        rows_out = []
        for a, arm in enumerate(self.arms):
            members = np.flatnonzero((self.arm_of == a) & (sessions > 0))
            shown = self._arm_day(day, a, arm, members, sessions[members], day_totals)
            rows_out.append((arm, shown))
        for future in self._pending:  # every event of the day durable before the day counts as done
            future.result()
        self._pending.clear()
        new_rows = [self._monitor(day, arm, shown) for arm, shown in rows_out]
        seconds = time.perf_counter() - t0  # the day's sessions, log, stream step and monitoring
        for row in new_rows:
            row.update(seconds=seconds, retrain_seconds=t_retrain)
            self.rows_daily.append(row)
        for name in TOTALS:
            self.totals[name] = np.column_stack([self.totals[name], day_totals[name]])
        self.done = day + 1
        self._checkpoint()
        self.say(f"day {day + 1}: " + "; ".join(f"arm {r['arm']} CTR {r['ctr']:.4f}, exposure Gini {r['exposure_gini']:.3f}"
                                               for r in self.rows_daily[-len(self.arms):]) + f" ({seconds:.1f} s)")  # fmt: skip

    def _retrain(self, day: int) -> float:
        c = self.config
        if not c.retrain_every or day == 0 or day % c.retrain_every:
            return 0.0
        if not any(arm.retrained for arm in self.arms):
            return 0.0
        t0 = time.perf_counter()
        version = self.versions.retrain(day, c.retrain, self._acted_events())
        if all(v.key != version.key for v in self.version_list):
            self.version_list.append(version)
        else:  # the same data as an earlier version (no click since): keep serving it
            version = next(v for v in self.version_list if v.key == version.key)
        old = set(self.current.values())
        for arm in self.arms:
            if arm.retrained:
                self.current[arm.name] = version.key
        if version.key not in old:
            self._open_version(version.key)
        for key in old - set(self.current.values()):
            if not self.serve:  # no arm serves it any more
                self.features.drop(key)
        if self.serve:
            for arm in self.arms:
                if arm.retrained:
                    self._start_service(arm)
        return time.perf_counter() - t0

    def _arm_day(self, day: int, a: int, arm: Arm, members: np.ndarray, counts: np.ndarray,
                 totals: dict[str, np.ndarray]) -> list[Shown]:  # fmt: skip
        """Every session of the arm's visitors today, round by round; returns what each round showed."""
        key = self.current[arm.name]
        rows = self.rows[members]
        n_rounds = int(counts.max()) if len(counts) else 0
        ranked = None if self.serve or not len(rows) else self._rank(key, rows, day_ts(self.train0, day))
        c = self.config
        if ranked is not None and c.shift_day and c.shift_kind == "ranker" and day >= c.shift_day:  # a bad model push
            ranked = invert_scores(ranked)
        out = []
        for r in range(n_rounds):
            sel = np.flatnonzero(counts > r)
            ts = day_ts(self.train0, day) + (r * int(SECONDS_PER_DAY)) // (n_rounds + 1)
            if self.serve:
                shown = self._served[arm.name].slates(rows[sel], self.user_ids[rows[sel]], self.k, ts, self.item_ids)
            else:
                shown = self._slates(key, arm, ranked.select_users(sel), rows[sel], ts, _seed(self.config.seed, day, a, r, 1))
            imp = self.sim.simulate(shown.rows, shown.items, np.random.default_rng(_seed(self.config.seed, day, a, r, 2)))
            shown.clicks, shown.conversions, shown.session_seconds = imp.clicks, imp.conversions, imp.seconds
            self._record(arm, shown, f"d{day}.r{r}.{arm.name}.u")
            idx = members[sel]
            totals["sessions"][idx] += 1
            totals["slots"][idx] += (shown.items >= 0).sum(axis=1)
            totals["clicks"][idx] += imp.clicks.sum(axis=1)
            totals["conversions"][idx] += imp.conversions.sum(axis=1)
            totals["seconds"][idx] += imp.seconds
            out.append(shown)
        if ranked is not None:
            self._shares[arm.name] = source_shares(ranked.sources, ranked.source_names, ranked.mask)
        return out

    def _rank(self, key: str, rows: np.ndarray, ts: int) -> CandidateSet:
        """Stages 1-2 for the day's visitors (request time ``ts``), in chunks of `RANK_CHUNK`."""
        pipe: Pipeline = self.versions.pipeline(key)
        fresh = fresh_items(self.arrival_ts, ts, self.versions.train(key))  # a living catalogue's new items
        parts = []
        for lo in range(0, len(rows), RANK_CHUNK):
            chunk = rows[lo : lo + RANK_CHUNK]
            cands = with_fresh(pipe.candidate_stage(chunk), fresh) if len(fresh) else None
            ranked = pipe.rank_stage(chunk, Context(timestamp=np.full(len(chunk), ts)), candidates=cands)
            parts.append(with_fresh(ranked, fresh) if len(fresh) else ranked)  # the rest below the pool (arrivals.py)
        return concat_candidates(parts)

    def _slates(self, key: str, arm: Arm, ranked: CandidateSet, rows: np.ndarray, ts: int, seed: int) -> Shown:
        """Stage 3 for one round, as the service runs it: seen list from the feature store, ages at ``ts``."""
        train = self.versions.train(key)
        seen = None if self.config.repeat_consumption else self.features.seen(key, rows, self.user_ids[rows])
        c = self.config
        pushed = c.shift_day and c.shift_kind == "explore" and ts >= day_ts(self.train0, c.shift_day)
        eps = c.shift_epsilon if pushed else arm.epsilon  # an injected configuration push (workbench.loop.incidents)
        slates = c.explore == "slates"  # whole random slates in ε of the sessions (logging_policy.py)
        config = dataclasses.replace(self.pipe_config.rerank, exploration_rate=0.0 if slates else eps, seed=seed)
        available = train.item_available & (self.arrival_ts <= ts)  # an arriving item only from its day on
        slate = rerank(ranked, self.k, item_vectors=train.item_features, item_category=train.item_category,
                       item_age_days=(ts - self.release) / SECONDS_PER_DAY, item_available=available,
                       item_promoted=train.item_promoted, seen=seen, config=config)  # fmt: skip
        n = len(rows)
        items, props, scores = slate.items, slate.propensities, np.where(slate.items >= 0, slate.scores, np.nan)
        if slates:
            eligible = np.broadcast_to(available, (n, len(available))).copy()
            if seen is not None:
                eligible &= ~seen[rows].toarray().astype(bool)
            items, props = random_slates(slate.items, eligible, eps, np.random.default_rng([seed, 3]))
            scores = np.where(items == slate.items, scores, np.nan)  # a random slot has no ranker score
        return Shown(rows, items, props, scores, np.full(n, "", dtype=object), ts)

    def _record(self, arm: Arm, shown: Shown, prefix: str) -> None:
        """Log the round's impressions, clicks and conversions; the stream step updates the features.

        In-process, the log's writer commits in the background while the next round runs (`step` waits
        for every commit before it records the day as done); the service acknowledges each batch itself.
        """
        ids = self.user_ids[shown.rows]
        if not self.serve:
            shown.request_ids = (prefix + pd.Series(ids).astype(str)).to_numpy(dtype=object)
        items, k = shown.items, shown.items.shape[1]
        cells = [np.nonzero(m) for m in (items >= 0, shown.clicks, shown.conversions)]
        r = np.concatenate([rc[0] for rc in cells])
        c = np.concatenate([rc[1] for rc in cells])
        kind = np.repeat(np.arange(3), [len(rc[0]) for rc in cells])
        events = pd.DataFrame({
            "request_id": shown.request_ids[r], "position": c + 1, "event_type": np.array(EVENT_TYPES, dtype=object)[kind],
            "user_id": ids[r], "item_id": self.item_ids[items[r, c]],
            "propensity": np.where(kind == 0, shown.propensities[r, c], np.nan),
            "event_ts": float(shown.ts) + kind * (c + 1) / (k + 1),
        })  # fmt: skip
        if self.serve:
            self._served[arm.name].post_events(events)
            return
        self._pending.append(self.log.append(events))
        act = kind > 0
        self._acted.append(events[act])
        frame = interactions_frame(ids[r[act]], items[r[act], c[act]], events["event_type"].to_numpy()[act],
                                   events["event_ts"].to_numpy()[act])  # fmt: skip
        for key in sorted(set(self.current.values())):  # every version in use: its features stay current
            self.features.record(key, frame)

    # --- monitoring -----------------------------------------------------------------------------------

    def _drift(self, arm: Arm, key: str, current: dict[str, np.ndarray]) -> dict[str, float]:
        """Drift of today's served traffic against a baseline window of the same arm's traffic under the same
        version ``key`` (a promotion starts a new window): with ``drift_window = 0``, its first
        ``alerts.baseline_days`` days (fixed; while they fill, today's sample joins them); with ``drift_window = N``,
        its previous N days (rolling). The figures are NaN while there is no baseline (no alert can fire)."""
        win = self._baseline.setdefault(f"{arm.name}|{key}", {"days": 0, **{f: np.zeros(0) for f in DRIFT_FEATURES},
                                                               **{f"{f}:sizes": np.zeros(0, np.int64) for f in DRIFT_FEATURES}})  # fmt: skip
        rolling = self.config.drift_window
        fixed_full = not rolling and win["days"] >= self.config.alerts.baseline_days
        out = {f"{fig}:{name}": np.nan for name in DRIFT_FEATURES for fig in ("psi", "ks", "js")}
        if fixed_full or (rolling and win["days"]):
            for name in DRIFT_FEATURES:
                if len(current[name]) and len(win[name]):
                    out.update(drift_columns(drift_table({name: win[name]}, {name: current[name]}, bins=self.config.drift_bins)))
        if not fixed_full:  # the window takes today's sample (rolling: and forgets the day that left it)
            for name in DRIFT_FEATURES:
                sizes = np.append(win[f"{name}:sizes"], len(current[name]))
                values = np.concatenate([win[name], current[name]])
                if rolling and len(sizes) > rolling:
                    values, sizes = values[int(sizes[: len(sizes) - rolling].sum()) :], sizes[-rolling:]
                win[name], win[f"{name}:sizes"] = values, sizes
            win["days"] += 1
            win["dirty"] = True
        return out

    def _monitor(self, day: int, arm: Arm, shown: list[Shown]) -> dict[str, Any]:
        key = self.current[arm.name]
        row: dict[str, Any] = {"day": day, "arm": arm.name, "version": key, "epsilon": arm.epsilon}
        n_items = self.train0.n_items
        if not shown:
            return row | {"impressions": 0, "users": 0}
        cat = lambda name: np.concatenate([getattr(s, name) for s in shown])  # noqa: E731
        items, clicks, conversions = cat("items"), cat("clicks"), cat("conversions")
        m = daily_metrics(np.full(len(items), day), cat("rows"), items, clicks, conversions, cat("session_seconds"), n_items)
        row.update({k: (v.item() if hasattr(v, "item") else v) for k, v in m.to_dict("records")[0].items() if k != "day"})
        if self.config.arrivals_per_day:
            row.update(self._arrival_figures(day, arm, items))
        scores = cat("scores")
        scores = scores[np.isfinite(scores)]
        served = items[items >= 0]  # every impression (many more than the clicks: a steadier sample)
        pop = self.train0.item_popularity  # one lens for every day: the starting data's popularity
        current = {"item_popularity": np.log1p(pop[served].astype(np.float64)),  # age on day 1: the clock is no drift
                   "item_age_days": (day_ts(self.train0, 0) - self.release[served]) / SECONDS_PER_DAY, "score": scores}  # fmt: skip
        row.update(self._drift(arm, key, current))
        if self.serve:
            row.update(self._served[arm.name].day_metrics(shown))
        else:
            row.update({f"share:{s}": float(v) for s, v in self._shares.pop(arm.name, pd.Series(dtype=float)).items()})
        return row

    # --- state ----------------------------------------------------------------------------------------

    def _arrival_figures(self, day: int, arm: Arm, items: np.ndarray) -> dict[str, float]:
        """The living catalogue's day: items arrived so far, the share of them this arm has ever shown, and the share
        of the day's impressions that went to arrived items."""
        shown = items[items >= 0]
        self.ever_shown[arm.name][shown] = True
        arrived = (self.arrival > 0) & (self.arrival <= day)
        n = int(arrived.sum())
        return {"new_items": n, "new_ever_shown": float(self.ever_shown[arm.name][arrived].mean()) if n else np.nan,
                "new_impression_share": float(arrived[shown].mean()) if len(shown) else np.nan}  # fmt: skip

    def _checkpoint(self) -> None:
        """Record the state after a day: the per-user totals first, then the JSON (the commit point)."""
        _atomic_write(self.folder / USERS_FILE, lambda p: np.savez(open(p, "wb"), **self.totals))
        refs = {}
        for name, win in self._baseline.items():
            refs[name] = f"baseline_{name.replace('|', '_')}.npz"
            if win.pop("dirty", False):
                arrays = {k: np.asarray(v) for k, v in win.items()}
                _atomic_write(self.folder / refs[name], lambda p, a=arrays: np.savez(open(p, "wb"), **a))
        state = {"format": FORMAT, "config": self.config.to_dict(), "base": self.origin_key,
                 "pipeline_config": self.pipeline_path, "done": self.done,
                 "versions": [v.to_dict() for v in self.version_list], "current": self.current,
                 "daily": self.rows_daily, "baseline": refs}  # fmt: skip
        text = json.dumps(state, indent=1, default=float)
        _atomic_write(self.folder / STATE_FILE, lambda p: p.write_text(text, encoding="utf-8"))

    def result(self) -> LoopResult:
        daily = pd.DataFrame(self.rows_daily)
        alerts = run_alerts(daily, self.config) if len(daily) else []
        ab = None
        if self.config.ab and self.done:
            users = UserDays(self.user_ids[self.rows], *(self.totals[n] for n in TOTALS))
            cfg = ABConfig(experiment=self.config.ab_experiment, split=(1 - self.config.ab_split, self.config.ab_split),
                           days=self.done, seed=self.config.seed)  # fmt: skip
            ab = ABResult(cfg, ("A", "B"), self.arm_of, users,
                          {"dataset": self.train0.name, "rankers": {a.name: self._describe_arm(a) for a in self.arms}})  # fmt: skip
        mode = "served over HTTP" if self.serve else f"in-process, features in {self.features.backend}"
        return LoopResult(self.config, daily, alerts, list(self.version_list), ab, self.base.description, self.folder, mode,
                          len(self.rows))  # fmt: skip

    def _describe_arm(self, arm: Arm) -> str:
        return f"ε = {arm.epsilon:g}, " + ("retrained" if arm.retrained else "frozen on the starting model")

    # --- serving --------------------------------------------------------------------------------------

    def _start_service(self, arm: Arm) -> None:
        from workbench.loop.served import ServedArm

        old = self._served.pop(arm.name, None)
        if old is not None:
            old.stop()
        self._served[arm.name] = ServedArm(self, arm, self.current[arm.name]).start()

    def close(self) -> None:
        """Stop the services (by PID), close the log and the feature client, stop the Redis this loop started."""
        for served in self._served.values():
            served.stop()
        self._served.clear()
        if self.log is not None:
            self.log.close()
        self.features.close()
        if self._redis_server is not None:
            self._redis_server.stop(remove_dir=True)
            self._redis_server = None

    def __enter__(self) -> Loop:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
