"""Feedback-loop benchmarks: the time of one simulated day, and the feedback-loop demonstration.

Run: .venv/bin/python benchmarks/bench_loop.py [--sections speed,demo] [--users 10000] [--days 4]
     [--demo-days 30] [--retrain-every 7]

- speed: one simulated day for ``--users`` users, in-process (`workbench.loop.Loop.step`: sessions,
  stages 1-2 once for the day's visitors, stage 3 per session round, clicks, the durable SQLite log,
  the stream step, monitoring and the state written), retraining off. The default synthetic world
  has 3,000 users, so the bench draws a synthetic world of ``--users`` users (`make_synthetic`, every
  other setting the default's) and fits the default pipeline on its temporal split once, keeping it
  in the model store under a key of its own (a later run loads it). Median over ``--days`` days after
  a first one, with the features in Redis and in memory. Side by side, the reference: the pipeline's
  own ``recommend`` for the same day's visitors, once (producing one slate each and nothing else).
  Target: ≤ 5 s per day, in-process, excluding retraining.
- demo: two loops of ``--demo-days`` days on the default synthetic world, retraining (refresh) every
  ``--retrain-every`` days, at ε = 0 and ε = 0.1; the daily exposure Gini and coverage of both, side by
  side (the same runs as ``workbench loop --days 30 --retrain-every 7 --epsilon E``).
- arrivals: a living catalogue (``--arrivals-per-day`` items arriving on days 1..30), ``--seeds`` seeds ×
  ``--demo-days`` days at ε = 0 and ε = 0.1, retraining (refresh) every ``--retrain-every`` days, the default
  pipeline on the ``--world`` (small or default) synthetic world: per run, how the exposure Gini moved and the
  share of the arrived items ever shown; their means over seeds with 95% intervals and the paired difference
  (`workbench.lessons.loop`, what notebook 09 reads); ``--repeat-consumption``: seen items may return to slates.
- monitoring: the drift detectors and alert rules (`workbench.monitoring`, the loop's defaults `LOOP_RULES`: drift of
  the served items and scores against the previous ``--drift-window`` days, CTR and coverage against the previous 3
  days) on ``--seeds`` seeds from ``--seed0`` × ``--demo-days`` days of the ``--world``
  synthetic world at ε = 0.1 without retraining (a promotion starts a new baseline window), once stable and
  once with a shift injected on day ``--shift-day`` (1 = the first; every slate explores at ε = 0.5 from
  then on): false alerts per detector per 30 days on the stable runs (target ≤ 1 on average), and each
  detector's delay to its first firing on or after the shift day (target: within 2 days, delay 0-2, in
  ≥ 90% of seeds). ``--runs-out``/``--runs-in``: keep the runs' daily tables, read them again (seeds run apart).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

from workbench.loop import Base, Loop, LoopConfig


def load_line() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} on {os.cpu_count()} cores"


def versions() -> str:
    libs = ("numpy", "pandas", "scipy", "torch", "redis", "marimo")
    found = []
    for lib in libs:
        try:
            found.append(f"{lib} {metadata.version(lib)}")
        except metadata.PackageNotFoundError:
            found.append(f"{lib} absent")
    return f"Python {platform.python_version()}, " + ", ".join(found)


class TimedLoop(Loop):
    """A `Loop` that also adds up the time spent in stages 1-2 (the pipeline's ranking of the day's visitors)."""

    rank_seconds = 0.0

    def _rank(self, key, rows, ts):
        t = time.perf_counter()
        out = super()._rank(key, rows, ts)
        self.rank_seconds += time.perf_counter() - t
        self.visitors = rows
        return out


def big_world(n_users: int, say) -> Base:
    """The default pipeline on a synthetic world of ``n_users`` users, from the store when fitted before."""
    from workbench.data import make_synthetic, split
    from workbench.pipeline import Pipeline, PipelineConfig
    from workbench.store import DataSpec, ModelStore, artefact_key, load_pipeline, save_pipeline

    t = time.perf_counter()
    ds = make_synthetic(seed=0, n_users=n_users)
    train, _ = split(ds, "temporal")
    config = PipelineConfig(seed=0)
    store = ModelStore()
    key = artefact_key(DataSpec("synthetic", 0), train.fingerprint, config)  # the fingerprint tells the worlds apart
    folder = store.path(key)
    if folder.is_dir():
        pipe = load_pipeline(folder, train)
        pipe.config = config
        how = f"loaded artefact {key} in {time.perf_counter() - t:.1f} s"
    else:
        say(f"fitting the default pipeline on a synthetic world of {n_users:,} users (once; stored as {key})")
        pipe = Pipeline(config).fit(train, progress=say)
        save_pipeline(pipe, folder, None, key)
        how = f"fitted and stored artefact {key} in {time.perf_counter() - t:.1f} s"
    return Base(pipe, train, ds.truth, key, how)


def speed(args) -> None:
    say = lambda msg: print(f"  {msg}", file=sys.stderr, flush=True)  # noqa: E731
    base = big_world(args.users, say)
    print(f"World: synthetic, {base.train.n_users:,} users × {base.train.n_items:,} items "
          f"({base.train.n_interactions:,} training interactions); {base.description}")  # fmt: skip
    rows = []
    for features in ("redis", "memory"):
        with tempfile.TemporaryDirectory(prefix="bench-loop-") as folder:
            config = LoopConfig(days=args.days + 1, retrain_every=0, features=features, seed=0)
            loop = TimedLoop(config, folder, base=base)
            try:
                times, ranks, rest, ref, visitors = [], [], [], [], []
                for day in range(args.days + 1):
                    loop.rank_seconds = 0.0
                    t = time.perf_counter()
                    loop.step()
                    wall = time.perf_counter() - t
                    if day == 0:
                        continue  # the first day warms caches and threads
                    times.append(wall)
                    ranks.append(loop.rank_seconds)
                    rest.append(wall - loop.rank_seconds)
                    visitors.append(len(loop.visitors))
                    t = time.perf_counter()
                    loop.base.pipeline.recommend(loop.visitors)
                    ref.append(time.perf_counter() - t)
                last = loop.rows_daily[-1]
            finally:
                loop.close()
        med = statistics.median(times)
        rows.append({"features": features, "median s/day": med, "min s/day": min(times),
                     "stages 1-2 s": statistics.median(ranks), "rest of the day s": statistics.median(rest),
                     "visitors/day": int(statistics.median(visitors)), "sessions (last day)": int(last["impressions"]),
                     "reference recommend() s": statistics.median(ref), "day / reference": med / statistics.median(ref),
                     "target ≤ 5 s": "met" if med <= 5.0 else "missed"})  # fmt: skip
        print(f"  features in {features}: days {', '.join(f'{x:.2f}' for x in times)} s; {load_line()}", flush=True)
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.float_format", "{:.2f}".format):
        print(pd.DataFrame(rows).to_string(index=False))


def demo(args) -> None:
    say = lambda msg: print(f"  {msg}", file=sys.stderr, flush=True)  # noqa: E731
    curves = {}
    with tempfile.TemporaryDirectory(prefix="bench-loop-demo-") as root:
        for eps in (0.0, 0.1):
            config = LoopConfig(days=args.demo_days, retrain_every=args.retrain_every, epsilon=eps, seed=0)
            t = time.perf_counter()
            with Loop(config, Path(root) / f"eps{eps}", progress=say) as loop:
                result = loop.run()
            print(f"ε = {eps}: {args.demo_days} days in {time.perf_counter() - t:.0f} s, "
                  f"{len(result.versions) - 1} retrained versions; {load_line()}", flush=True)  # fmt: skip
            curves[eps] = result.daily.set_index("day")[["exposure_gini", "coverage", "ctr"]]
    table = pd.concat({f"ε={e}": c for e, c in curves.items()}, axis=1)
    table.index = table.index + 1
    with pd.option_context("display.width", 200, "display.max_rows", 100, "display.float_format", "{:.4f}".format):
        print(table.to_string())
    for eps, c in curves.items():
        g = c["exposure_gini"].to_numpy()
        print(f"ε = {eps}: exposure Gini day 1 {g[0]:.4f} → day {len(g)} {g[-1]:.4f} ({g[-1] - g[0]:+.4f}); "
              f"coverage {c['coverage'].iloc[0]:.4f} → {c['coverage'].iloc[-1]:.4f}; "
              f"mean Gini over the last 7 days {np.mean(g[-7:]):.4f}")  # fmt: skip


def arrivals(args) -> None:
    from workbench.lessons import loop as lesson

    t0 = time.perf_counter()
    say = lambda msg: print(f"  [{time.perf_counter() - t0:6.0f} s] {msg}", file=sys.stderr, flush=True)  # noqa: E731
    small = args.world == "small"
    config = LoopConfig(small=small, days=args.demo_days, retrain_every=args.retrain_every, features="memory",
                        arrivals_per_day=args.arrivals_per_day, arrival_days=args.demo_days,
                        repeat_consumption=args.repeat_consumption)  # fmt: skip
    seeds = list(range(args.seed0, args.seed0 + args.seeds))
    t = time.perf_counter()
    if args.tables_in:  # the per-seed rows of earlier runs (e.g. seeds run in two processes), pooled
        table = pd.concat([pd.read_csv(path) for path in args.tables_in.split(",")], ignore_index=True)
        seeds = sorted(table["seed"].unique().tolist())
    else:
        parts = []
        for seed in seeds:  # one seed at a time, each written out at once: a slow run leaves the seeds it finished
            parts.append(lesson.seed_study(config, [seed], (0.0, 0.1), progress=say))
            table = pd.concat(parts, ignore_index=True)
            if args.table_out:
                table.to_csv(args.table_out, index=False)
    print(f"{len(seeds)} seeds × 2 policies × {args.demo_days} days on the {args.world} synthetic world, "
          f"{args.arrivals_per_day} arrivals a day, retraining every {args.retrain_every} days, repeat consumption "
          f"{'on (seen items may return)' if args.repeat_consumption else 'off (the seen filter)'}: "
          f"{time.perf_counter() - t:.0f} s; {load_line()}")  # fmt: skip
    with pd.option_context("display.width", 200, "display.float_format", "{:.4f}".format):
        print(table.to_string(index=False))
        summ = lesson.summary(table)
        print(summ.drop(columns=["what"]).to_string(index=False))
    for key, line in lesson.verdicts(summ).items():
        print(f"{key}: {line}")


def monitoring(args) -> None:
    import dataclasses

    say = lambda msg: print(f"  {msg}", file=sys.stderr, flush=True)  # noqa: E731
    config = LoopConfig(small=args.world == "small", days=args.demo_days, retrain_every=0, features="memory", epsilon=0.1,
                        drift_window=args.drift_window)  # fmt: skip
    print(f"drift reference: {'the first 3 days (fixed)' if not args.drift_window else f'the previous {args.drift_window} days (rolling)'}")
    shift = args.shift_day - 1  # 0-based
    incidents = args.shift_kinds.split(",")
    runs = {}
    t = time.perf_counter()
    if args.runs_in:  # the daily tables of earlier runs (e.g. seeds run in two processes), read by today's rules
        for path in args.runs_in.split(","):  # ("shifted" in older tables: the ε push, kind "explore")
            runs.update({(seed, "shifted:explore" if run == "shifted" else run): daily
                         for (seed, run), daily in pd.read_pickle(path).items()})  # fmt: skip
    else:
        with tempfile.TemporaryDirectory(prefix="bench-loop-monitoring-") as root:
            for seed in range(args.seed0, args.seed0 + args.seeds):
                short = min(args.demo_days, args.shifted_days or args.demo_days)  # a delay beyond 2 days is a miss anyway
                variants = [("stable", config)] + [(f"shifted:{kind}", dataclasses.replace(config, shift_day=shift, shift_kind=kind,
                                                                                           days=short))
                                                   for kind in incidents]  # fmt: skip
                for run, c in variants:
                    c = dataclasses.replace(c, seed=seed)
                    with Loop(c, Path(root) / f"{run.replace(':', '-')}{seed}", progress=say) as loop:
                        runs[seed, run] = loop.run().daily
                if args.runs_out:  # after each seed: a slow run leaves what it finished
                    pd.to_pickle(runs, args.runs_out)
    seeds = sorted({seed for seed, _ in runs})
    print(f"seeds {seeds} × {args.demo_days} days × (stable, {', '.join(incidents)} incident from day {args.shift_day}) on the "
          f"{args.world} synthetic world in {time.perf_counter() - t:.0f} s; {load_line()}")  # fmt: skip
    print("\nWhat each detector reads (the tuning figures): per seed, the most extreme value of a stable run over all its days, "
          f"and of each shifted run over days {args.shift_day}-{args.shift_day + 2} (the shift's first 3 days):")
    with pd.option_context("display.width", 250, "display.max_columns", 30, "display.float_format", "{:.3f}".format):
        print(_extremes(runs, config, shift).to_string())
    for kind in incidents:
        print(f"\n=== incident: {kind} (workbench.loop.incidents) ===")
        _monitoring_tables(args, config, {key: d for key, d in runs.items() if key[1] in ("stable", f"shifted:{kind}")}, shift)


def _extremes(runs, config, shift) -> pd.DataFrame:
    """Per detector (rule · column) and run: the value the rule compares with its threshold (relative rules: against the
    mean of the previous ``baseline_window`` days), at its most extreme (max for ``above``, min for ``below``)."""
    import fnmatch

    window = config.alerts.baseline_window
    out = {}
    for (seed, run), daily in sorted(runs.items()):
        col = {}
        for rule in config.alerts.rules:
            for metric in fnmatch.filter(daily.columns, rule.metric):
                raw = daily[metric].astype(float)
                base = (raw.shift(1).rolling(window, min_periods=1).mean() if window
                        else raw.iloc[: config.alerts.baseline_days].mean())  # fmt: skip
                value = raw / base - 1.0 if rule.relative else raw
                days = value if run == "stable" else value.iloc[shift : shift + 3]
                col[f"{rule.label} · {metric}"] = days.max() if rule.above is not None else days.min()
        out[f"{run} {seed}"] = col
    return pd.DataFrame(out)


def _monitoring_tables(args, config, runs, shift) -> None:
    import dataclasses
    import fnmatch

    from workbench.loop import run_alerts

    n = len({seed for seed, run in runs if run != "stable"})
    per30 = 30.0 / args.demo_days
    for for_days in (1, 2):  # the same runs, read by the default rules with for_days 1 and 2
        alerts_config = dataclasses.replace(config.alerts, for_days=for_days)
        cfg = dataclasses.replace(config, alerts=alerts_config)
        rows = []
        for (seed, run), daily in sorted(runs.items()):  # the delays printed in seed order
            kind = "stable" if run == "stable" else "shifted"
            alerts = _by_detector(run_alerts(daily, cfg))
            for rule in alerts_config.rules:
                for metric in fnmatch.filter(daily.columns, rule.metric):
                    fired = [a.when[1] for a in alerts.get((rule.label, metric), []) if a.state == "firing"]
                    after = [d - shift for d in fired if d >= shift]
                    rows.append({"seed": seed, "run": kind, "detector": f"{rule.label} · {metric}", "firings": len(fired),
                                 "delay": min(after) if after else np.nan})  # fmt: skip
        table = pd.DataFrame(rows)
        stable = table[table["run"] == "stable"].groupby("detector", sort=False)["firings"]
        shifted = table[table["run"] == "shifted"].groupby("detector", sort=False)["delay"]
        out = pd.DataFrame({
            "false alerts / 30 days (mean)": stable.mean() * per30,
            "max in one run": stable.max(),
            "detected within 2 days (seeds)": shifted.apply(lambda d: int(((d >= 0) & (d <= 2)).sum())),
            "delays (days; - = never)": shifted.apply(lambda d: " ".join("-" if pd.isna(x) else str(int(x)) for x in d)),
        })  # fmt: skip
        out["≤ 1 false / 30 days"] = np.where(out["false alerts / 30 days (mean)"] <= 1.0, "met", "missed")
        out["≥ 90% within 2 days"] = np.where(out["detected within 2 days (seeds)"] >= 0.9 * n, "met", "missed")
        print(f"\nfor_days = {for_days} (an alert fires after {for_days} breaching day{'s' if for_days > 1 else ''} in a row):")
        with pd.option_context("display.width", 250, "display.max_columns", 20, "display.max_colwidth", 60):
            print(out.to_string())


def _by_detector(alerts) -> dict:
    out: dict = {}
    for a in alerts:
        out.setdefault((a.rule, a.metric), []).append(a)
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sections", default="speed,demo")
    p.add_argument("--users", type=int, default=10_000)
    p.add_argument("--days", type=int, default=4, help="timed days after a first one (default 4)")
    p.add_argument("--demo-days", type=int, default=30)
    p.add_argument("--retrain-every", type=int, default=7)
    p.add_argument("--seeds", type=int, default=5, help="arrivals: seeds 0..N-1 (default 5)")
    p.add_argument("--seed0", type=int, default=0, help="arrivals: the first seed (seeds seed0 … seed0+N-1)")
    p.add_argument("--repeat-consumption", action="store_true",
                   help="arrivals: seen items may return to slates (LoopConfig.repeat_consumption)")
    p.add_argument("--arrivals-per-day", type=int, default=2, help="arrivals: items arriving each day (default 2)")
    p.add_argument("--drift-window", type=int, default=3, help="monitoring: 0 = the first 3 days, N = the previous N days")
    p.add_argument("--table-out", help="arrivals: write the per-seed readings to this CSV")
    p.add_argument("--tables-in", help="arrivals: pool per-seed readings (comma-separated CSVs of --table-out) instead of running")
    p.add_argument("--runs-out", help="monitoring: write the runs' daily tables to this pickle")
    p.add_argument("--runs-in", help="monitoring: read daily tables (comma-separated pickles of --runs-out) instead of running")
    p.add_argument("--shift-kinds", default="explore",
                   help="monitoring: the injected incidents, comma-separated (workbench.loop.incidents: explore, ranker)")
    p.add_argument("--shifted-days", type=int, default=0,
                   help="monitoring: days of each shifted run (default: --demo-days; the stable runs always run them all)")
    p.add_argument("--shift-day", type=int, default=15, help="monitoring: the day (1 = the first) the shift starts")
    p.add_argument("--world", choices=("small", "default"), default="default", help="arrivals: the synthetic world")
    args = p.parse_args()
    print(versions())
    print(f"Start: {load_line()}")
    for section in args.sections.split(","):
        print(f"\n== {section} ==", flush=True)
        {"speed": speed, "demo": demo, "arrivals": arrivals, "monitoring": monitoring}[section](args)
    print(f"\nEnd: {load_line()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
