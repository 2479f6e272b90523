"""What notebook 09 (the feedback loop) reads off its loops, apart from how it is drawn.

A run of the loop with a living catalogue (`workbench.loop.arrivals`) gives one reading per policy
(`readings`): how the exposure Gini moved from the first day to the last, and how much of the new
catalogue the policy ever showed. Over seeds (`seed_study`: the same settings, one world, model and
arrival schedule per seed) `summary` gives each reading's mean with its 95% Student-t interval, and
the paired difference between the policies; `verdicts` turns them into the page's sentences, saying
"no detectable change" (or difference) whenever an interval covers zero.

`live` runs one of the page's loops; on the retrain-cadence slider a cadence other than the page's default starts
from a snapshot of the default loop taken on the last day both cadences share (`workbench.loop.fork`: the same
figures as living every day again, fewer days lived).

The page's other readings live here too, so the notebook only draws and prints: one run's curves (`run_figures`,
`run_sentence`), the arrival exploration found (`found_by_exploration`), the monitoring day by day
(`monitoring_readings`, `monitoring_sentence`) and the retrain cadence (`last_week`).

``benchmarks/bench_loop.py --sections arrivals`` runs the same study for RESULTS.md.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

READINGS = {
    "gini_change": "exposure Gini, last day minus first day",
    "gini_first_version": "exposure Gini, last day of the starting model minus first day (before any retraining)",
    "new_ever_shown": "share of the arrived items ever shown",
    "new_impression_share": "share of the last week's impressions on arrived items",
}
LAST = 7  # days of the last week


def live(config, folder, base, *, forks: Path | None = None, default: int | None = None, cadences: Sequence[int] = (),
         cache_dir=None, progress: Callable[[str], None] | None = None):
    """One loop with ``config`` in the empty state folder ``folder`` from ``base`` (a `workbench.loop.Base`):
    (its `LoopResult`, each item's exposure day by day (`workbench.loop.discovery.exposure_by_day`), each
    item's arrival day), saying the day and the time left after each day.

    ``forks`` (a folder; None: none): with ``config.retrain_every == default`` the loop leaves there a snapshot
    after each day on which one of ``cadences`` first differs from ``default`` (``day-N``); with another cadence,
    the loop starts from the snapshot of its own such day when one is there (`workbench.loop.fork`), else from day 1.
    Either way the figures are the same; only the days lived differ."""
    import time

    from workbench.loop import Loop
    from workbench.loop.discovery import exposure_by_day
    from workbench.loop.fork import first_difference, fork, snapshot

    say = progress or (lambda _msg: None)
    keep: set[int] = set()
    if forks is not None and config.retrain_every == default:
        keep = {first_difference(default, c, config.days) for c in cadences if c != default} - {config.days}
    elif forks is not None and default is not None:
        day = first_difference(default, config.retrain_every, config.days)
        if (Path(forks) / f"day-{day}").is_dir():
            try:  # fork refuses, before copying anything, a snapshot that does not fit: then every day is lived
                fork(Path(forks) / f"day-{day}", folder, config)
                say(f"days 1 to {day} are the same as retraining every {default} days: read back, not lived again")
            except ValueError as exc:
                say(f"{exc}: living every day instead")
    with Loop(config, folder, base=base, cache_dir=cache_dir, progress=say) as loop:
        t0, first = time.perf_counter(), loop.done
        while loop.done < config.days:
            loop.step()
            if loop.done in keep and not (Path(forks) / f"day-{loop.done}").exists():
                snapshot(loop, Path(forks) / f"day-{loop.done}")
            left = (time.perf_counter() - t0) / (loop.done - first) * (config.days - loop.done)
            say(f"day {loop.done} of {config.days} lived" + (f", about {left:.0f} s left" if loop.done < config.days else ""))
        result = loop.result()
        exposure = exposure_by_day(loop.events(), base.train.reference_ts, base.train.items[["item_id", "title"]], config.days)
        return result, exposure, loop.arrival


def readings(daily: pd.DataFrame, last: int = LAST) -> dict[str, float]:
    """One run's readings from its daily table (one arm): see `READINGS`."""
    g = daily["exposure_gini"].to_numpy(np.float64)
    first = (daily["version"] == daily["version"].iloc[0]).to_numpy().cumprod().astype(bool)  # the starting model's days
    return {"gini_change": float(g[-1] - g[0]), "gini_first": float(g[0]), "gini_last": float(g[-1]),
            "gini_first_version": float(g[first][-1] - g[0]),
            "new_ever_shown": float(daily["new_ever_shown"].iloc[-1]),
            "new_impression_share": float(daily["new_impression_share"].iloc[-last:].mean())}  # fmt: skip


def interval(values: Sequence[float], level: float = 0.95) -> tuple[float, float, float]:
    """``(mean, low, high)``: the mean and its Student-t interval over independent runs (a single value: no width)."""
    x = np.asarray(values, dtype=np.float64)
    mean = float(x.mean())
    if len(x) < 2:
        return mean, mean, mean
    half = float(stats.t.ppf(0.5 + level / 2, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x)))
    return mean, mean - half, mean + half


def seed_study(config, seeds: Sequence[int], epsilons: Sequence[float], *, pipeline_config=None, base_for=None,
               progress: Callable[[str], None] | None = None, workers: int = 1) -> pd.DataFrame:  # fmt: skip
    """One loop per (seed, ε) with ``config``'s other settings (a `LoopConfig` with arrivals); one row of `readings`
    each, with ``seed`` and ``epsilon``. ``base_for(seed)``: the starting point (None: the model store's).

    ``workers`` > 1: the seeds run in that many processes at once (spawned, with this process's torch thread
    count, stopped with it; each seed's loops in one process, so that its starting model is fitted once); every loop is seeded by
    its own settings, so the table is the same as one process's, row for row. Progress then comes per seed."""
    seeds = [int(s) for s in seeds]
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers={workers!r}: expected a positive integer (processes)")
    if workers == 1 or len(seeds) < 2 or base_for is not None:  # a base_for callable stays in this process
        rows = [row for seed in seeds for row in _seed_rows(config, seed, epsilons, pipeline_config, base_for, progress)]
        return pd.DataFrame(rows)
    import functools
    import multiprocessing

    import torch

    say = progress or (lambda _msg: None)
    n = min(workers, len(seeds))
    done: dict[int, list[dict]] = {}
    say(f"{len(seeds)} seeds in {n} processes at once")
    # multiprocessing's Pool: leaving the block (an error, Ctrl-C) terminates the workers at once
    with multiprocessing.get_context("spawn").Pool(n, initializer=_worker_init, initargs=(torch.get_num_threads(),)) as pool:
        for seed, rows in pool.imap_unordered(functools.partial(_rows_of, config, tuple(epsilons), pipeline_config), seeds):
            done[seed] = rows
            say(f"seed {seed} done ({len(done)} of {len(seeds)} seeds)")
    return pd.DataFrame([row for seed in seeds for row in done[seed]])


def _rows_of(config, epsilons: Sequence[float], pipeline_config, seed: int) -> tuple[int, list[dict]]:
    """(``seed``, its `_seed_rows`), for a worker process."""
    return seed, _seed_rows(config, seed, epsilons, pipeline_config)


def _worker_init(threads: int) -> None:
    """A `seed_study` process: this process's torch thread count, and it stops when its parent dies."""
    import torch

    from workbench.launch import _die_with_parent

    _die_with_parent()
    torch.set_num_threads(threads)


def _seed_rows(config, seed: int, epsilons: Sequence[float], pipeline_config=None, base_for=None,
               progress: Callable[[str], None] | None = None) -> list[dict]:  # fmt: skip
    """`seed_study`'s rows of one seed: a loop per ε, each in a temporary state folder."""
    import dataclasses

    from workbench.loop import Loop

    rows = []
    for eps in epsilons:
        c = dataclasses.replace(config, seed=int(seed), epsilon=float(eps))
        with tempfile.TemporaryDirectory(prefix="workbench-loop-seeds-") as folder:
            base = base_for(seed) if base_for is not None else None
            with Loop(c, Path(folder), base=base, pipeline_config=pipeline_config, progress=progress) as loop:
                daily = loop.run().daily
        rows.append({"seed": int(seed), "epsilon": float(eps), **readings(daily)})
    return rows


def summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per reading: each policy's mean and 95% interval over seeds, and the paired difference (second ε minus first)."""
    eps = sorted(table["epsilon"].unique())
    wide = table.pivot(index="seed", columns="epsilon")
    rows = []
    for name, what in READINGS.items():
        row = {"reading": name, "what": what, "seeds": len(wide)}
        share = not name.startswith("gini")  # a share's interval is clipped to [0, 1], where a share can be
        for e in eps:
            m, lo, hi = interval(wide[(name, e)])
            row[f"ε={e:g}"], row[f"ε={e:g} low"], row[f"ε={e:g} high"] = (m, max(lo, 0.0), min(hi, 1.0)) if share else (m, lo, hi)
        if len(eps) == 2:  # a difference of shares lies in [-1, 1]
            m, lo, hi = interval(wide[(name, eps[1])] - wide[(name, eps[0])])
            row["difference"], row["difference low"], row["difference high"] = (m, max(lo, -1.0), min(hi, 1.0)) if share else (m, lo, hi)
        rows.append(row)
    return pd.DataFrame(rows)


def moved(mean: float, low: float, high: float, up: str = "rose", down: str = "fell") -> str:
    """``"rose"``/``"fell"`` when the interval excludes zero, else ``"no detectable change"``."""
    if low > 0:
        return up
    if high < 0:
        return down
    return "no detectable change"


def fmt(mean: float, low: float, high: float, pct: bool = False) -> str:
    f = (lambda v: f"{v:+.1%}") if pct else (lambda v: f"{v:+.4f}")  # noqa: E731
    return f"{f(mean)} [{f(low)}, {f(high)}]"


def verdicts(summ: pd.DataFrame) -> dict[str, str]:
    """The page's sentences from `summary`: per policy, how the Gini moved and how much of the new catalogue it
    found; and the heading's claim (which effect the no-exploration policy shows, with its interval)."""
    s = summ.set_index("reading")
    eps = sorted({c.split()[0] for c in s.columns if c.startswith("ε=")})
    n = int(s["seeds"].iloc[0])
    out = {}
    for e in eps:
        g = tuple(s.loc["gini_change", [e, f"{e} low", f"{e} high"]])
        found = tuple(s.loc["new_ever_shown", [e, f"{e} low", f"{e} high"]])
        how = moved(*g)
        how = "showed no detectable change" if how == "no detectable change" else how
        out[e] = (f"at {e.replace('ε=', 'ε = ')}, the exposure Gini {how} over the run ({fmt(*g)}, mean over {n} seeds, "
                  f"95% interval) and {found[0]:.1%} [{found[1]:.1%}, {found[2]:.1%}] of the arrived items were ever shown")  # fmt: skip
    out["gini"] = gini_sentence(s, eps[0]) if "gini_first_version" in s.index else ""
    if len(eps) == 2 and "difference" in s:
        d = tuple(s.loc["new_ever_shown", ["difference", "difference low", "difference high"]])
        verdict = moved(*d, up="more", down="fewer")
        out["difference"] = (f"exploration showed {verdict} of the new items than no exploration: {fmt(*d, pct=True)} "
                             "of them (paired by seed)" if verdict != "no detectable change" else
                             f"no detectable difference in the share of new items shown ({fmt(*d, pct=True)}, paired by seed)")  # fmt: skip
        f0 = tuple(s.loc["new_ever_shown", [eps[0], f"{eps[0]} low", f"{eps[0]} high"]])
        g0 = tuple(s.loc["gini_change", [eps[0], f"{eps[0]} low", f"{eps[0]} high"]])
        if f0[2] < 0.5 and d[1] > 0:
            out["heading"] = "Without exploration, new items are never found"
        elif g0[1] > 0:
            out["heading"] = "Without exploration, exposure concentrates"
        else:
            out["heading"] = "The feedback loop, with and without exploration: no detectable amplification here"
    return out


def gini_sentence(s: pd.DataFrame, e: str) -> str:
    """Why the exposure Gini of policy ``e`` (e.g. ``"ε=0"``) moved, from `summary` (indexed by reading): the whole
    run's change, and the part before any retraining (the starting model's days)."""
    g = tuple(s.loc["gini_change", [e, f"{e} low", f"{e} high"]])
    g1 = tuple(s.loc["gini_first_version", [e, f"{e} low", f"{e} high"]])
    at = e.replace("ε=", "ε = ")
    if g[1] > 0:
        return f"at {at} exposure concentrated: the exposure Gini rose over the run ({fmt(*g)})"
    if g[2] >= 0:
        return f"at {at} the exposure Gini showed no detectable change over the run ({fmt(*g)}): no concentration shows"
    before = moved(*g1)
    why = ("the seen filter (an item a user clicked is not shown to them again) moves each user's slates down their own "
           "list, which spreads exposure by itself" if before == "fell" else
           "so the fall came with the retrainings, each of which refits the model on the loop's own clicks")  # fmt: skip
    return (f"at {at} the exposure Gini fell over the run ({fmt(*g)}) instead of concentrating; before any retraining "
            f"it {'showed no detectable change' if before == 'no detectable change' else before} ({fmt(*g1)}): {why}")


def trend(values) -> str:
    """One run's direction, last value against the first (one seed: no interval; the seed study has them)."""
    v = np.asarray(values, dtype=np.float64)
    return "rose" if v[-1] > v[0] else "fell" if v[-1] < v[0] else "stayed"


def run_figures(daily: pd.DataFrame) -> dict[str, float | str | int]:
    """One run's exposure Gini on its first and last day, its direction, and the share of arrived items ever shown."""
    g = daily["exposure_gini"].to_numpy(np.float64)
    return {"days": len(g), "gini_first": float(g[0]), "gini_last": float(g[-1]), "moved": trend(g),
            "new_ever_shown": float(daily["new_ever_shown"].iloc[-1])}  # fmt: skip


def run_sentence(runs: dict[str, pd.DataFrame]) -> str:
    """The page's one-seed sentence for two policies (``{label: daily table}``, no exploration first)."""
    (a, da), (b, db) = runs.items()
    fa, fb = run_figures(da), run_figures(db)
    return (f"In this page's run: exposure Gini at {a}: {fa['gini_first']:.4f} on day 1, {fa['gini_last']:.4f} on day "
            f"{fa['days']} ({fa['moved']}); at {b}: {fb['gini_first']:.4f} → {fb['gini_last']:.4f} ({fb['moved']}). By day "
            f"{fa['days']}, {a} had shown {fa['new_ever_shown']:.1%} of the arrived items and {b} {fb['new_ever_shown']:.1%} "
            "(one seed: the verdict above is the one with intervals).")  # fmt: skip


def switch_days(versions: pd.Series) -> list[int]:
    """The (0-based) days on which the served version changed (a promotion)."""
    v = pd.Series(np.asarray(versions))
    return (np.flatnonzero((v != v.shift()).to_numpy()[1:]) + 1).tolist()


def found_by_exploration(totals0: pd.DataFrame, totals1: pd.DataFrame, new_ids) -> object | None:
    """The arrived item exploration found: among the arrivals ``new_ids`` never shown without exploration
    (``totals0``, per item id: ``impressions``), the one clicked most with it (``totals1``: ``clicks``, then
    ``impressions``); None when no such arrival was clicked."""
    t0 = totals0.loc[list(new_ids)]
    never = t0.index[t0["impressions"].to_numpy() == 0]
    found = totals1.loc[never].query("clicks > 0")
    if not len(found):
        return None
    found = found.assign(_id=found.index.astype(str)).sort_values(["clicks", "impressions", "_id"],
                                                                   ascending=[False, False, True])  # fmt: skip
    return found.index[0]


def monitoring_readings(daily: pd.DataFrame, alerts) -> dict:
    """One arm's monitoring, read off its daily table and its alerts (`workbench.monitoring.Alert`, ``when`` =
    (arm, day)): the firings and resolutions, the first firing, the days without drift figures (a version's first
    day: no baseline yet), the CTR on the first and last day, and the CTR rule's first firing (None: none)."""
    fired = [a for a in alerts if a.state == "firing"]
    ctr = daily["ctr"].to_numpy(np.float64)
    ctr_alerts = [a for a in fired if a.metric == "ctr"]
    return {"fired": len(fired), "resolved": sum(a.state == "resolved" for a in alerts),
            "first": fired[0] if fired else None, "no_baseline_days": int(daily["psi:score"].isna().sum()),
            "ctr_first": float(ctr[0]), "ctr_last": float(ctr[-1]), "days": len(ctr),
            "ctr_alert": ctr_alerts[0] if ctr_alerts else None}  # fmt: skip


def monitoring_sentence(m: dict, policy: str) -> str:
    """The monitoring section's sentence from `monitoring_readings`."""
    first, ctr_alert = m["first"], m["ctr_alert"]
    plural = lambda n, word: f"{n} {word}{'s' if n != 1 else ''}"  # noqa: E731
    return (f"At {policy}, {plural(m['fired'], 'alert')} fired and {m['resolved']} resolved ({plural(m['no_baseline_days'], 'day')}, "
            "each the first of a version, had no baseline and no drift figures)"
            + (f"; the first on day {first.when[1] + 1}: {first.rule} ({first.reason})" if first else "")
            + f". CTR went from {m['ctr_first']:.4f} on day 1 to {m['ctr_last']:.4f} on day {m['days']} "
            f"({m['ctr_last'] / m['ctr_first'] - 1:+.1%}); "
            + (f"the CTR rule fired on day {ctr_alert.when[1] + 1} ({ctr_alert.reason})." if ctr_alert
               else "the CTR rule did not fire."))  # fmt: skip


def last_week(daily: pd.DataFrame, last: int = LAST) -> dict[str, float]:
    """The mean exposure Gini and CTR over a run's last ``last`` days."""
    tail = daily.iloc[-last:]
    return {"gini": float(tail["exposure_gini"].mean()), "ctr": float(tail["ctr"].mean())}
