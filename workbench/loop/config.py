"""The loop's settings: one frozen dataclass, readable from TOML (``configs/loop.toml``), checked at once.

``LoopConfig`` holds what decides the loop's figures (the world, the population, the policies, the
retraining job, the simulator's behaviour, the alert rules) and ``days``, how far to run. Everything
but ``days`` is the loop's identity: a resumed loop must be started with the same settings (the state
folder records them and a difference is an error naming the field), while ``days`` may grow.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.checks import check_count, check_unit_interval
from workbench.experiment.simulator import CLICK_MODELS
from workbench.loop.incidents import SHIFT_KINDS
from workbench.loop.logging_policy import EXPLORE_MODES
from workbench.monitoring import LOOP_RULES, AlertConfig
from workbench.settings import check_fields, load, load_file

RETRAIN_MODES = ("refresh", "full")
FEATURE_BACKENDS = ("redis", "memory")
# Drift features (workbench.monitoring.drift) of the served items (every impression: its popularity in the starting data,
# its age on the loop's first day, so that the clock ageing every item alike is no drift) and of the scores shown: each
# day's served traffic against a baseline window of the same traffic (a version's previous days, or its first days).
DRIFT_FEATURES = ("item_popularity", "item_age_days", "score")
SAME_RUN = ("days",)  # the only field a resumed loop may change


@dataclass(frozen=True)
class Arm:
    """One policy of the loop: its name, exploration rate and whether retraining reaches it.

    retrained: False pins the arm to the model version the loop started with (a frozen model),
    so an A/B test inside the loop can compare the retrained versions against it.
    """

    name: str
    epsilon: float
    retrained: bool = True


@dataclass(frozen=True)
class LoopConfig:
    """Every setting of the feedback loop (see `workbench.loop`).

    data, small, seed: the world (``workbench.data.load``) and the seed of every draw (users'
        sessions and clicks, exploration, the pipeline's fit).
    users: simulated users, a seeded sample of the world's users (None: all of them).
    days: how many simulated days to run (a resumed loop may raise it).
    epsilon: exploration rate ε of reranking (the share of the k slots shown at random from
        below the slate, with their propensities logged); None: the pipeline config's.
    explore: how ε explores (`workbench.loop.logging_policy`): "slots" (default), ε of each slate's slots from below
        it, the ranker's items with propensity 1 elsewhere; "slates", a uniformly random slate of every item the
        session may be shown in ε of the sessions, every slot with its exact propensity: a log that supports
        off-policy evaluation of other targets (`workbench ope --log EVENTS.sqlite`).
    k: slate length (None: the pipeline config's).
    retrain_every: the retraining job's cadence in days (0: never). It runs at the start of
        every day ``d > 0`` with ``d % retrain_every == 0`` on the log's clicks before that day.
    retrain: "refresh" refits stage 1 on the grown history and refreshes the ranker's feature
        statistics, keeping its weights (seconds); "full" fits the whole pipeline again (minutes).
    ab_epsilon / ab_frozen: when either is set, the users are split by hash (`workbench.experiment.ab`)
        into arm A (the policy above) and arm B (ε = ``ab_epsilon`` and/or frozen on the starting
        version); ``ab_split`` is arm B's share, ``ab_experiment`` the hash's experiment name.
    features: the online feature store of the in-process loop: "redis" (a real Redis through
        `workbench.serving.feature_store`) or "memory" (the same state in this process only).
    arrivals_per_day, arrival_days: a living catalogue (`workbench.loop.arrivals`): ``arrivals_per_day`` items
        of the world arrive at the start of each day ``1 … arrival_days`` (0: a fixed catalogue); the
        starting model is fitted without them, and they can be shown from their day on.
    repeat_consumption: False (default): an item a user clicked is not shown to them again (the online seen
        filter of stage 3); True: it may be, and clicked again.
    shift_day, shift_kind, shift_epsilon: an incident injected to test monitoring (`workbench.loop.incidents`), from
        day ``shift_day`` on (0-based; 0: none): ``shift_kind = "explore"`` (default), every arm explores at
        ``shift_epsilon`` (a bad configuration push: what is shown moves, CTR barely does); ``"ranker"``, a bad
        model push: the ranker's scores come out negated, each visitor's pool ranked upside down (CTR falls).
    click_model, visit_rate: the simulator's (`workbench.experiment.simulator.SimulatorConfig`).
    drift_bins: quantile bins of PSI and Jensen–Shannon.
    drift_window: the drift reference, a baseline window of the same arm's served traffic under the same model
        version (a promotion starts a new one): 0, the version's first ``alerts.baseline_days`` days (fixed);
        N >= 1 (default 3), the version's previous N days (rolling: it follows the slow change a loop makes by itself
        and reports sudden shifts; benchmarks/RESULTS.md measures both).
    redis_timeout_ms, ranker_budget_ms: the served loop's service deadlines (`workbench.serving.service.ServiceConfig`;
        a loaded machine misses the defaults, and the answers come back degraded, as they would in production).
    alerts: the alert rules over the daily table (`workbench.monitoring.AlertConfig`; default: `LOOP_RULES`, relative
        rules against the previous 3 days).
    """

    data: str = "synthetic"
    small: bool = False
    seed: int = 0
    users: int | None = None
    days: int = 14
    epsilon: float | None = None
    explore: str = "slots"
    k: int | None = None
    retrain_every: int = 7
    retrain: str = "refresh"
    ab_epsilon: float | None = None
    ab_frozen: bool = False
    ab_split: float = 0.5
    ab_experiment: str = "loop"
    features: str = "redis"
    arrivals_per_day: int = 0
    arrival_days: int = 30
    repeat_consumption: bool = False
    shift_day: int = 0
    shift_kind: str = "explore"
    shift_epsilon: float = 0.5
    click_model: str = "position"
    visit_rate: float = 0.5
    drift_bins: int = 10
    drift_window: int = 3
    redis_timeout_ms: float = 8.0
    ranker_budget_ms: float = 50.0
    alerts: AlertConfig = field(default_factory=lambda: AlertConfig(rules=LOOP_RULES, baseline_window=3))

    def __post_init__(self) -> None:
        from workbench.data import dataset_name

        check_fields(self)  # types (no string for a number or a bool, no NaN), as a file's values are checked
        object.__setattr__(self, "data", dataset_name(self.data))
        if self.data != "synthetic":
            object.__setattr__(self, "small", False)
        check_count("seed", self.seed, 0)
        if self.users is not None:
            check_count("users (None: every user of the world)", self.users, 2)
        check_count("days", self.days, 1)
        if self.epsilon is not None:
            check_unit_interval("epsilon (ε, None: the pipeline config's)", self.epsilon)
        if self.k is not None:
            check_count("k (None: the pipeline config's)", self.k, 1)
        if self.explore not in EXPLORE_MODES:
            raise ValueError(f"explore={self.explore!r}: expected one of {EXPLORE_MODES}")
        check_count("retrain_every (0: never)", self.retrain_every, 0)
        if self.retrain not in RETRAIN_MODES:
            raise ValueError(f"retrain={self.retrain!r}: expected one of {RETRAIN_MODES}")
        if self.ab_epsilon is not None:
            check_unit_interval("ab_epsilon (arm B's ε)", self.ab_epsilon)
        if not 0.0 < self.ab_split < 1.0:
            raise ValueError(f"ab_split={self.ab_split!r}: expected arm B's share of users in (0, 1)")
        if not self.ab_experiment:
            raise ValueError("ab_experiment='': expected a non-empty experiment name (it salts the assignment)")
        if self.features not in FEATURE_BACKENDS:
            raise ValueError(f"features={self.features!r}: expected one of {FEATURE_BACKENDS}")
        check_count("arrivals_per_day (0: a fixed catalogue)", self.arrivals_per_day, 0)
        check_count("arrival_days", self.arrival_days, 1)
        check_count("shift_day (0: no injected shift)", self.shift_day, 0)
        if self.shift_kind not in SHIFT_KINDS:
            raise ValueError(f"shift_kind={self.shift_kind!r}: expected one of {SHIFT_KINDS}")
        check_unit_interval("shift_epsilon", self.shift_epsilon)
        if self.click_model not in CLICK_MODELS:
            raise ValueError(f"click_model={self.click_model!r}: expected one of {CLICK_MODELS}")
        if not self.visit_rate > 0:
            raise ValueError(f"visit_rate={self.visit_rate!r}: expected sessions per user per day > 0")
        check_count("drift_bins", self.drift_bins, 2)
        check_count("drift_window (0: the first baseline_days days; N: the previous N days)", self.drift_window, 0)
        if not self.redis_timeout_ms > 0 or not self.ranker_budget_ms >= 0:
            raise ValueError(f"redis_timeout_ms={self.redis_timeout_ms!r}, ranker_budget_ms={self.ranker_budget_ms!r}: "
                             "expected a positive deadline and a budget >= 0 (milliseconds)")  # fmt: skip

    @property
    def ab(self) -> bool:
        """Whether the loop runs an A/B test (arm B differs from arm A)."""
        return self.ab_epsilon is not None or self.ab_frozen

    def arms(self, default_epsilon: float) -> tuple[Arm, ...]:
        """Arm A (and B when `ab`), with ε resolved against the pipeline config's ``default_epsilon``."""
        eps = self.epsilon if self.epsilon is not None else default_epsilon
        a = Arm("A", eps, True)
        if not self.ab:
            return (a,)
        return a, Arm("B", self.ab_epsilon if self.ab_epsilon is not None else eps, not self.ab_frozen)

    # --- TOML and the state folder -------------------------------------------------------------------

    @classmethod
    def from_toml(cls, path: str | Path, **overrides: Any) -> LoopConfig:
        """Settings from a TOML file (top-level keys are fields; ``[alerts]`` is an `AlertConfig` table, its
        ``[[alerts.rules]]`` `AlertRule` tables), read strictly by `workbench.settings` (errors name the file
        and the dotted key), then ``overrides`` (e.g. the CLI's options that were given)."""
        config = load_file(cls, path, "a loop TOML such as configs/loop.toml")
        return dataclasses.replace(config, **overrides) if overrides else config

    @classmethod
    def from_dict(cls, raw: dict[str, Any], source: str = "loop config") -> LoopConfig:
        """The config a mapping describes (a TOML file's tables, the state folder's record), read strictly."""
        return load(cls, raw, source, "", "loop setting(s)")

    def to_dict(self) -> dict[str, Any]:
        """Plain data (the alert rules as a table), what the state folder records."""
        out = dataclasses.asdict(self)
        out["alerts"] = {"baseline_days": self.alerts.baseline_days, "repeat": self.alerts.repeat, "for_days": self.alerts.for_days,
                         "baseline_window": self.alerts.baseline_window,
                         "rules": [dataclasses.asdict(r) for r in self.alerts.rules]}  # fmt: skip
        return out

    def differences(self, other: LoopConfig) -> list[str]:
        """The fields (but ``days``) in which ``other`` differs, as ``name: this → other`` lines."""
        a, b = self.to_dict(), other.to_dict()
        return [f"{k}: {a[k]!r} → {b[k]!r}" for k in a if k not in SAME_RUN and a[k] != b[k]]

