"""The feedback loop: simulated users live through days of a recommender that retrains on what they did.

::

      ┌───────────────────────────── model store (versions) ◀── retrain job (every N days) ──┐
      ▼                                                                                      │
    slates ── in-process: stages 1-2 per day, stage 3 per session round                      │
      │       served (--serve): POST /recommend to the service, one request per session      │
      ▼                                                                                      │
    simulated users (workbench.experiment.simulator: true click probabilities) ──▶ clicks,   │
      │                                                               conversions, seconds   │
      ▼                                                                                      │
    event log (SQLite WAL, idempotent keys; served: POST /events) ───────────────────────────┘
      │
      ├──▶ stream step ──▶ feature store (Redis: recent items, popularity counters) ──▶ slates
      └──▶ monitoring per day: CTR, conversion, session time, coverage, exposure Gini,
           drift (PSI, KS, JS) against a baseline window of served traffic, alerts (firing, resolved); served: p99, degraded share
           A/B (workbench.experiment.ab) when two arms (ε or frozen model) share the loop

- `config`: `LoopConfig` (every setting; TOML, ``configs/loop.toml``).
- `engine`: `Loop` (a day, the days, the state that survives a restart) and `LoopResult`.
- `versions`: the starting model and the versions the retraining job publishes.
- `arrivals`: a living catalogue (items arriving by day, new to the models before them).
- `features`: the stream step's target, Redis (`workbench.serving.feature_store`) or memory.
- `served`: the loop against the running service over HTTP.
- `shown`: `Shown`, one round of sessions (what the engine and the served loop share).
- `logging_policy`: ``explore = "slates"``, whole random slates in ε of the sessions with exact propensities
  (a log that supports off-policy evaluation of other targets).
- `cli`: ``workbench loop``.
"""

from workbench.loop.config import Arm, LoopConfig
from workbench.loop.engine import Loop, LoopResult, run_alerts
from workbench.loop.versions import Base, Version, Versions, load_base, training_data

__all__ = ["Arm", "Base", "Loop", "LoopConfig", "LoopResult", "Version", "Versions", "load_base", "run_alerts",
           "training_data"]  # fmt: skip
