"""Page 13's demonstrations: one replica against two (read from `benchmarks/bench_replicas.py`'s last
run), and a bounded, self-stopping run against a stack started on 127.0.0.1 that shows a key
revoked, an alert firing and resolving, and a recovery drill.

`replicas_reading` reads ``data/bench/replicas.json`` (git-ignored; written by the bench) and says so
when no measurement exists yet. `demonstrate` starts, on loopback only: one redis-server, two
service replicas (real uvicorns) over it and one SQLite event log, Debian's nginx gateway with API
keys, and Debian's Prometheus scraping them with the shipped alert rules templated short (a 5 s
window, a 1 s ``for``, scrapes every 0.5 s: production uses 1 m and 1 m). Then, each step timed:

1. **a key revoked**: the reader key gets a 200; the keys file is rewritten without it and the
   gateway restarted on it (nginx reads its keys at start); the same key now gets a 401, the admin
   key still a 200.
2. **an alert firing and resolving**: Redis frozen (``CLIENT PAUSE`` slices, as in
   tests/serving/test_prometheus.py): reads miss their deadline, answers come from the fallback,
   flagged ``feature_store``, until ``WorkbenchDegradedShare`` fires; Redis answers again and the
   alert resolves once the window has forgotten the degraded answers.
3. **a drill**: `workbench.serving.drills.redis_wipe` through the gateway: Redis wiped, time until
   every asked user gets a personalised answer again, slates compared with those before.

Everything is stopped when the run ends (or fails); each wait is bounded (``step_timeout_s``); the
children also get SIGTERM from the kernel if this process dies first (``die_with_parent``).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

BENCH_JSON = Path("data") / "bench" / "replicas.json"
BENCH_COMMAND = "PYTHONPATH=$PWD .venv/bin/python benchmarks/bench_replicas.py --quick"
# the tests' cheap pipeline (tests/conftest.py's TINY_PIPELINE_TOML): EASE, item-kNN and popularity fused, 2-epoch Wide & Deep
DEMO_PIPELINE = {"n_candidates": 100, "per_source_k": 100, "n_ranked": 50, "ranker": "wide_deep",
                 "weights": {"ease": 1.0, "itemknn": 1.0, "popular": 1.0}, "train": {"epochs": 2}}  # fmt: skip
ALERT = "WorkbenchDegradedShare"


def replicas_reading(path: str | Path = BENCH_JSON) -> dict | None:
    """The last `bench_replicas.py` run's figures (the JSON it writes), or None when it never ran."""
    path = Path(path)
    if not path.is_file():
        return None
    reading = json.loads(path.read_text())
    for key in ("replicas", "cpus", "load_before", "load_after", "command"):
        if key not in reading:
            raise ValueError(f"{path}: key {key!r} missing (rerun `{BENCH_COMMAND}`)")
    return reading


@dataclass
class Step:
    what: str
    seconds: float
    outcome: str


@dataclass
class Demo:
    """What `demonstrate` saw: the steps (timed), and the figures the page and the test read."""

    steps: list[Step] = field(default_factory=list)
    revoked: dict[str, int] = field(default_factory=dict)  # HTTP status per moment
    alert: dict = field(default_factory=dict)
    drill: object | None = None

    def add(self, what: str, t0: float, outcome: str) -> None:
        self.steps.append(Step(what, time.perf_counter() - t0, outcome))

    def table(self):
        import pandas as pd

        return pd.DataFrame([vars(s) for s in self.steps]).round({"seconds": 2})


def _wait(what: str, predicate, timeout: float, pause: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(pause)
    raise TimeoutError(f"{what}: not within {timeout:g} s")


def demonstrate(step_timeout_s: float = 60.0, workdir: str | Path | None = None, progress=None) -> Demo:
    """Run the three demonstrations of the module docstring against a fresh loopback stack; all stopped at the end."""
    import tempfile
    from contextlib import ExitStack

    import httpx

    from workbench.pipeline import PipelineConfig
    from workbench.serving.app import ServerThread, create_app
    from workbench.serving.drills import redis_wipe
    from workbench.serving.eventlog import SQLiteEventLog
    from workbench.serving.gateway import ApiKey, ApiKeys, Gateway, find_nginx
    from workbench.serving.model import load_model
    from workbench.serving.prometheus_server import PrometheusServer, find_prometheus
    from workbench.serving.redis_server import RedisServer, find_redis_server
    from workbench.serving.service import RecommenderService, ServiceConfig

    if not 1 <= step_timeout_s <= 600:
        raise ValueError(f"step_timeout_s={step_timeout_s!r}: expected seconds in [1, 600]")
    find_redis_server(), find_nginx(), find_prometheus()  # before any work
    say = progress or (lambda msg: None)
    demo = Demo()
    tmp = None if workdir else tempfile.TemporaryDirectory(prefix="workbench-ops-demo-")
    work = Path(workdir or tmp.name)
    # a patient Redis deadline for personalised answers, a 1 s breaker cool-down, no exploration (equal slates)
    config = ServiceConfig(redis_timeout_ms=100.0, redis_cooldown_s=1.0, ranker_budget_ms=10_000.0, exploration_rate=0.0)
    t0 = time.perf_counter()
    say("loading the model (trained once into the model store)")
    model = load_model("synthetic", PipelineConfig.from_dict(DEMO_PIPELINE, "operations demo"), seed=0, small=True)
    users = model.train.users["user_id"].tolist()
    demo.add("model loaded", t0, model.description)
    with ExitStack() as stack:
        if tmp is not None:
            stack.callback(tmp.cleanup)
        t0 = time.perf_counter()
        redis = stack.enter_context(RedisServer(dir=work / "redis", die_with_parent=True))
        servers = []
        for _ in range(2):
            service = RecommenderService(model, redis.url, SQLiteEventLog(work / "events.sqlite"), config)
            stack.callback(service.close)
            servers.append(stack.enter_context(ServerThread(create_app(service))))
        ups = [s.url.removeprefix("http://") for s in servers]
        keys = ApiKeys.generate()
        keys.write(work / "keys.txt")
        reader, admin = keys.by_name("reader").key, keys.by_name("admin").key
        gw = stack.enter_context(Gateway(ups, keys, die_with_parent=True))
        demo.add("stack started", t0, f"redis-server, {len(servers)} replicas, nginx gateway on {gw.url}")

        # 1. a key revoked
        say("revoking a key")
        with httpx.Client(base_url=gw.url, timeout=30) as http:
            ask = lambda key: http.get("/recommend", params={"user": users[0]}, headers={"X-API-Key": key}).status_code
            demo.revoked["reader, before"] = ask(reader)
        t0 = time.perf_counter()
        kept = ApiKeys([ApiKey(k.name, k.scope, k.key) for k in keys if k.name != "reader"])
        kept.write(work / "keys.txt")
        port = gw.port
        gw.stop()
        gw = stack.enter_context(Gateway(ups, ApiKeys.load(work / "keys.txt"), port=port, die_with_parent=True))
        with httpx.Client(base_url=gw.url, timeout=30) as http:
            demo.revoked["reader, after"] = ask(reader)
            demo.revoked["admin, after"] = ask(admin)
        demo.add("key revoked (keys file rewritten, gateway restarted)", t0,
                 ", ".join(f"{k}: {v}" for k, v in demo.revoked.items()))  # fmt: skip

        # 2. an alert firing and resolving
        say("starting Prometheus; freezing Redis until the alert fires")
        t0 = time.perf_counter()
        prom = stack.enter_context(PrometheusServer(ups, gateway=gw.url.removeprefix("http://"), scrape_s=0.5,
                                                    evaluate_s=0.5, window="5s", for_="1s", die_with_parent=True))  # fmt: skip
        _wait("Prometheus sees every target up", lambda: len(t := prom.targets()) == 3
              and all(x["health"] == "up" for x in t), step_timeout_s)  # fmt: skip
        demo.add("Prometheus scraping (every 0.5 s, 5 s window)", t0, f"{len(prom.targets())} targets up")
        http = stack.enter_context(httpx.Client(base_url=gw.url, timeout=30, headers={"X-API-Key": admin}))
        some = iter(users * 50)
        rec = lambda: http.get("/recommend", params={"user": next(some)}).json()["degraded"]
        demo.alert["degraded before"] = sum(rec() is not None for _ in range(20))
        listed = lambda: [a for a in prom.alerts() if a["name"] == ALERT]
        demo.alert["listed before"] = len(listed())
        flags: list = []
        frozen_until = [0.0]

        def frozen() -> bool:
            if time.monotonic() >= frozen_until[0]:  # a paused Redis answers nothing: renew the slice once it ends
                redis.pause(1500)
                frozen_until[0] = time.monotonic() + 1.5
            flags.append(rec())
            return any(a["state"] == "firing" for a in listed())

        t0 = time.perf_counter()
        _wait(f"{ALERT} firing", frozen, step_timeout_s, pause=0.0)
        demo.alert["seconds to fire"] = time.perf_counter() - t0
        demo.alert["degraded while frozen"], demo.alert["answers while frozen"] = sum(f is not None for f in flags), len(flags)
        demo.add(f"Redis frozen → {ALERT} firing", t0,
                 f"{demo.alert['degraded while frozen']}/{len(flags)} answers degraded meanwhile")  # fmt: skip
        time.sleep(max(0.0, frozen_until[0] - time.monotonic()) + 0.05)  # the last slice ends
        t0 = time.perf_counter()
        after: list = []

        def thawed() -> bool:
            after.append(rec())
            return after[-1] is None and not listed()

        _wait(f"{ALERT} resolved", thawed, step_timeout_s)
        demo.alert["seconds to resolve"] = time.perf_counter() - t0
        demo.alert["degraded after thaw"], demo.alert["answers after thaw"] = sum(f is not None for f in after), len(after)
        demo.add(f"Redis answering → {ALERT} resolved", t0,
                 f"{demo.alert['degraded after thaw']}/{len(after)} answers degraded while the window forgot")  # fmt: skip

        # 3. the Redis-wipe drill, through the gateway
        say("the Redis-wipe drill")
        t0 = time.perf_counter()
        demo.drill = redis_wipe(gw.url, redis.url, users[:8], headers={"X-API-Key": admin}, timeout_s=step_timeout_s)
        demo.add("drill: Redis wiped → rebuilt", t0, demo.drill.report())
        say("stopping the stack")
    return demo


def replicas_statement(reading: dict | None) -> str:
    """Page 13's sentence on one replica against two, from the bench's saved figures (or how to make them)."""
    if reading is None:
        return (f"One replica against two: no measurement yet. Make one with `{BENCH_COMMAND}` (about two minutes on "
                "the small world; drop `--quick` and pass `--data movielens-100k` for the issue's figures): it saves "
                f"its figures to `{BENCH_JSON}`, and this page reads them.")  # fmt: skip
    one, two = reading["replicas"].get("1"), reading["replicas"].get("2")
    budget = reading.get("p99_budget_ms", 50.0)
    held = lambda b: "none of the rates tried" if b is None else f"{b['rate']:g} req/s (p99 {b['p99_ms']:.1f} ms there)"
    ratio = ("no ratio (a count held none of the rates)" if not (one and two)
             else f"a ratio of {two['rate'] / one['rate']:.2f}×")  # fmt: skip
    return (f"One replica against two: the highest rate holding p99 ≤ {budget:g} ms is {held(one)} with one replica "
            f"and {held(two)} with two: {ratio} on {reading['cpus']} CPUs (one run of `{reading['command']}`, "
            f"{reading.get('finished', 'time not saved')}; the rate steps make the ratio as coarse as they are, and one "
            f"run gives no interval; load average {reading['load_before']} before, {reading['load_after']} after: "
            "a loaded machine's figures are not the quiet-machine targets).")  # fmt: skip


def demo_statement(demo: Demo) -> str:
    """Page 13's sentence on what `demonstrate` saw."""
    r, a, d = demo.revoked, demo.alert, demo.drill
    return (f"Key revoked: the reader key got {r['reader, before']} before and {r['reader, after']} after the gateway "
            f"restarted on the new keys file (admin key: {r['admin, after']}). {ALERT} fired "
            f"{a['seconds to fire']:.1f} s after Redis froze ({a['degraded while frozen']}/{a['answers while frozen']} "
            f"answers degraded meanwhile) and resolved {a['seconds to resolve']:.1f} s after it answered again. "
            f"Drill: {d.report()}.")  # fmt: skip
