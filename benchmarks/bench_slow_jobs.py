"""The slow jobs of issue 26, one after another and then at once, side by side in one run.

Run: .venv/bin/python benchmarks/bench_slow_jobs.py [--sections study,report,cadence] [--seeds 5] [--days 30]
     [--pages 05_metrics 09_feedback_loop ...] [--jobs 2] [--cadences 0 14 3] [--small]

- study: page 09's verdict study (`workbench.lessons.loop.seed_study`: ``--seeds`` seeds × ε = 0 and 0.1 ×
  ``--days`` days of the small synthetic world, retraining every 7 days, 3 arrivals a day), in one process and
  then in ``--jobs`` processes at once, each into an empty model store of its own (each fits its starting
  models and versions, as ``workbench train --notebooks`` does on a fresh clone). Prints wall and CPU seconds
  (this process and its children), the ratio, and checks that both tables are the same, row for row.
- report: ``workbench report`` of ``--pages`` (default: every page) into two folders, one page at a time and then
  ``--jobs`` at once, with the page results and the model store as they are (run `workbench train --notebooks`
  first for the warm store the target is about). Prints both wall times and their ratio.

- cadence: page 09's retrain-cadence slider (`workbench.lessons.loop.live`) on the default synthetic world (``--small``:
  the small one), ε = 0, ``--days`` days: the page's default loop (every 7 days) leaves its snapshots, then each of
  ``--cadences`` is lived from day 1 and then forked from the snapshot (`workbench.loop.fork`), each side in a copy of
  the same model store (so each fits its own versions). Prints both wall times, their ratio, and checks that both
  daily tables are the same (`LoopResult.figures`, exactly).

Every figure is printed with the load averages before and after: on a shared machine it is "under load".
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def cpu() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def study(seeds: int, days: int, jobs: int) -> None:
    import pandas as pd

    from workbench.lessons import kit
    from workbench.lessons import loop as lesson
    from workbench.loop import LoopConfig

    small = dataclasses.replace(kit.NotebookSettings(), small=True)
    config = LoopConfig(small=True, days=days, retrain_every=7, features="memory", arrivals_per_day=3, arrival_days=days)
    tables, walls = {}, {}
    for workers in (1, jobs):
        os.environ["WORKBENCH_MODEL_STORE"] = tempfile.mkdtemp(prefix=f"workbench-bench-store-{workers}-")
        t0, c0, l0 = time.perf_counter(), cpu(), load()
        tables[workers] = lesson.seed_study(config, range(seeds), (0.0, 0.1), pipeline_config=kit.default_config(small),
                                            workers=workers)  # fmt: skip
        walls[workers] = time.perf_counter() - t0
        print(f"study, {seeds} seeds x 2 policies x {days} days, {workers} process(es): {walls[workers]:.1f} s wall, "
              f"{cpu() - c0:.1f} s CPU (load {l0} -> {load()})", flush=True)  # fmt: skip
    pd.testing.assert_frame_equal(tables[1], tables[jobs], check_exact=True)
    print(f"study: {jobs} at once / one at a time = {walls[jobs] / walls[1]:.2f} of the wall time; tables identical "
          f"({len(tables[1])} rows)")  # fmt: skip


def report(pages: list[str], jobs: int) -> None:
    walls = {}
    names = [str(ROOT / "notebooks" / (p if p.endswith(".py") else p + ".py")) for p in pages]
    for n in (1, jobs):
        out = tempfile.mkdtemp(prefix=f"workbench-bench-report-{n}-")
        t0, l0 = time.perf_counter(), load()
        subprocess.run([sys.executable, "-m", "workbench.report", "--out", out, "--jobs", str(n), *names], cwd=ROOT,
                       check=True, stdout=subprocess.DEVNULL)  # fmt: skip
        walls[n] = time.perf_counter() - t0
        print(f"report, {len(names) or 'every'} page(s), {n} at once: {walls[n]:.1f} s (load {l0} -> {load()})", flush=True)
    print(f"report: {jobs} at once / one at a time = {walls[jobs] / walls[1]:.2f} of the wall time")


def cadence(cadences: list[int], days: int, small: bool) -> None:
    import shutil

    import pandas as pd

    from workbench.lessons import kit
    from workbench.lessons import loop as lesson
    from workbench.loop import LoopConfig, load_base
    from workbench.store import default_root

    default = 7
    s = kit.NotebookSettings(small=small)
    root = Path(tempfile.mkdtemp(prefix="workbench-bench-cadence-"))
    shutil.copytree(default_root(), root / "store", copy_function=os.link)  # hard links: the stored artefacts
    os.environ["WORKBENCH_MODEL_STORE"] = str(root / "store")
    base = load_base(s.data, s.seed, s.small, kit.default_config(s), cache_dir=kit.DATA_DIR)

    def config(every: int) -> LoopConfig:
        return LoopConfig(small=small, days=days, epsilon=0.0, retrain_every=every, features="memory",
                          arrivals_per_day=3, arrival_days=days)  # fmt: skip

    def live(every: int, name: str, forks: Path | None):
        os.environ["WORKBENCH_MODEL_STORE"] = str(root / name)
        if not (root / name).exists():
            shutil.copytree(root / "store", root / name, copy_function=os.link)
        t0, l0 = time.perf_counter(), load()
        out = lesson.live(config(every), Path(tempfile.mkdtemp(dir=root)), base, forks=forks, default=default,
                          cadences=[default, *cadences], cache_dir=kit.DATA_DIR)  # fmt: skip
        return out[0], time.perf_counter() - t0, f"load {l0} -> {load()}"

    _, wall, where = live(default, "store", root / "forks")
    print(f"cadence: the default loop (every {default} days, {days} days, snapshots kept): {wall:.1f} s ({where})", flush=True)
    for every in cadences:
        straight, t_straight, w1 = live(every, f"straight-{every}", None)
        forked, t_forked, w2 = live(every, f"forked-{every}", root / "forks")
        pd.testing.assert_frame_equal(straight.figures(), forked.figures(), check_exact=True)
        print(f"cadence every {every} days: from day 1 {t_straight:.1f} s ({w1}), forked {t_forked:.1f} s ({w2}): "
              f"forked / from day 1 = {t_forked / t_straight:.2f}; daily figures identical", flush=True)  # fmt: skip
    shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sections", default="study,report")
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--pages", nargs="*", default=[], help="notebook names (default: every page)")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    p.add_argument("--cadences", nargs="*", type=int, default=[0, 14, 3], help="retrain cadences (days; 0: never)")
    p.add_argument("--small", action="store_true", help="cadence: the small synthetic world")
    args = p.parse_args()
    sections = set(args.sections.split(","))
    if unknown := sections - {"study", "report", "cadence"}:
        p.error(f"--sections: unknown {sorted(unknown)}; expected study, report and/or cadence")
    if any(c < 0 or c == 7 for c in args.cadences):
        p.error(f"--cadences {args.cadences}: expected days >= 0 other than the page's default 7")
    if args.seeds < 2 or args.days < 1 or args.jobs < 2:
        p.error("expected --seeds >= 2, --days >= 1 and --jobs >= 2 (one at a time is the other side)")
    if "study" in sections:
        study(args.seeds, args.days, args.jobs)
    if "report" in sections:
        report(args.pages, args.jobs)
    if "cadence" in sections:
        cadence(args.cadences, args.days, args.small)


if __name__ == "__main__":
    main()
