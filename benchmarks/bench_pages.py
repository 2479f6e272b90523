"""How long a learner waits on each page `make run` serves, in Debian's Chromium (playwright; never a downloaded browser).

Starts `workbench notebooks --headless --port P` (what `make run` starts, without the background training, so
that the page timings do not share the CPU with it; the store must hold the artefacts: `workbench train
--notebooks` first), then for every page:

- first visit: the first visit after the server started (a fresh kernel, nothing of the page imported yet in
  the server process: the page loads its artefacts from the store and reads what it shows from
  data/page-results/, or computes it);
- warm: a second visit (again a fresh kernel: in marimo's run mode every visit gets one, a thread of the
  server process, so what modules hold stays, what cells computed does not);
- each slider's redraw on the warm visit: one arrow-key step, until no cell runs;
- on 05, an exercise answered in its code box: seconds to the verdict of a wrong, then a right answer.

``--warm-only`` skips the first visit. ``--cold`` adds, before the rest, a cold render of every page: "a page
whose artefact exists" but whose results are not computed yet: a fresh server per page whose page-results
folder is a new empty temporary one (``WORKBENCH_PAGE_RESULTS``; data/page-results/ is left alone), until no
cell runs, bounded by ``--cold-timeout``; the table says whether a progress spinner showed meanwhile.
``--cells`` starts marimo's server through `page_clock.py`, which times every cell on the server, and adds a
second table: for every visit, navigation to the first cell, the cells' code (wall and the kernel thread's CPU
seconds, the figure that load does not inflate), marimo formatting and sending their output, the last cell to
the page settling (the browser drawing), and the three costliest cells.

"Until no cell runs": marimo's run mode shows its loading indicator (``data-testid="loading-indicator"``) while
the kernel runs cells; a render ends at the page's last change once it shows output, the indicator is gone,
no output is marked loading or stale, no spinner or progress bar (``marimo-progress``: a cell still at work
inside ``mo.status.spinner``), and nothing changed for ``--settle`` seconds (a MutationObserver in the
page; times on the page's own clock). One table at the end (stdout), with the load average beside it: on a machine that is
shared the figures are under load and say so.

    .venv/bin/python benchmarks/bench_pages.py                 # every page, default data
    .venv/bin/python benchmarks/bench_pages.py --small 04 10   # two pages on the small world
    .venv/bin/python benchmarks/bench_pages.py --warm-only      # warm renders and redraws only (store filled first)
    .venv/bin/python benchmarks/bench_pages.py --cold --cells --no-sliders 01 03   # cold, first, warm; per cell
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
TARGETS = {"warm": 5.0, "cold": 30.0, "slider 04/10": 1.0, "slider": 2.0}  # the issue's, on a quiet machine


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


WATCH = """
window.__last = 0;
window.__progress = false;
new MutationObserver(() => {
  window.__last = performance.now();
  if (!window.__progress && document.querySelector('marimo-progress')) window.__progress = true;
})
  .observe(document, {subtree: true, childList: true, attributes: true, characterData: true});
"""
STATE = """() => [performance.now(), window.__last,
  document.querySelectorAll('[data-testid="loading-indicator"], .marimo-output-loading, .marimo-output-stale, [data-status="running"], [data-status="queued"], marimo-progress').length,
  Array.from(document.querySelectorAll('.marimo-cell')).filter(c => c.innerText.trim().length > 0).length]"""


def settle(page, since_ms: float, timeout_s: float, quiet_s: float) -> float | None:
    """Seconds from ``since_ms`` (the page's clock) to the page's last change, once it has shown output,
    nothing is marked loading, stale or running, and it has not changed for ``quiet_s``; None past ``timeout_s``.

    The loading indicator is marimo's sign that the kernel is running cells."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout_s:
        now, last, busy, shown = page.evaluate(STATE)
        if shown and not busy and now - max(last, since_ms) >= quiet_s * 1e3:
            return max(last - since_ms, 0.0) / 1e3
        time.sleep(0.1)
    return None


def visit(browser, url: str, timeout_s: float, quiet_s: float) -> tuple[float | None, object]:
    page = browser.new_page(viewport={"width": 1300, "height": 2400})
    page.add_init_script(WATCH)
    page.goto(url, timeout=timeout_s * 1e3)  # a loaded machine can take longer than playwright's 30 s to load it
    return settle(page, 0.0, timeout_s, quiet_s), page  # the page's clock starts at navigation


def sliders(page, timeout_s: float, quiet_s: float, starts: list[float] | None = None) -> list[tuple[str, float | None]]:
    """Each slider moved one step on ``page``: (label, seconds until no cell runs); ``starts`` gets each move's
    wall-clock start (`breakdown` reads the cells that ran in its window)."""
    out = []
    handles = page.locator("marimo-slider")
    for i in range(handles.count()):
        el = handles.nth(i)
        label = el.evaluate("e => (e.shadowRoot || e).textContent") or ""
        label = re.sub(r"\s+", " ", label).strip()[:30] or f"slider {i + 1}"
        thumb = el.locator('[role="slider"]').first
        try:
            thumb.focus(timeout=5_000)
        except Exception:  # a slider inside a closed accordion: not reachable
            continue
        since = page.evaluate("performance.now()")
        if starts is not None:
            starts.append(time.time())
        thumb.press("ArrowRight")
        out.append((label, settle(page, since, timeout_s, quiet_s)))
    return out


EXERCISE_PAGE, EXERCISE = "05_metrics.py", "precision_at_k"


def exercise_verdicts(browser, url: str, timeout_s: float) -> list[float | None]:
    """Seconds from typing an answer into the exercise's code box (pasted: no per-key delay) to its verdict:
    a wrong answer ("Not yet"), then the solution ("Passed"). The answers go to $WORKBENCH_ANSWERS."""
    from workbench.lessons.exercises import EXERCISES

    ex = EXERCISES[EXERCISE]
    page = browser.new_page(viewport={"width": 1300, "height": 2400})
    page.goto(url)
    box = page.locator("marimo-code-editor").filter(has_text=ex.function).locator(".cm-content").first
    box.wait_for(timeout=timeout_s * 1e3)
    out = []
    for text, verdict in ((f"def {ex.function}(recommended, relevant, k):\n    return -1.0\n", re.compile(r"returned\W+-1")),
                          (textwrap.dedent(ex.solution).strip() + "\n", "Passed")):  # fmt: skip
        box.click()
        page.keyboard.press("Control+A")
        t0 = time.perf_counter()
        page.keyboard.insert_text(text)
        shown = page.locator("marimo-callout-output").filter(has_text=verdict).first
        try:
            shown.wait_for(timeout=timeout_s * 1e3)
            out.append(time.perf_counter() - t0)
        except Exception:  # no verdict within the timeout
            out.append(None)
    page.close()
    return out


def start_server(env: dict[str, str], cells: str | None) -> tuple[subprocess.Popen, str, float]:
    """The notebook server `make run` starts, on a free port: ``(process, base address, seconds to answer)``.

    With ``cells`` (a JSONL file): marimo's server with `page_clock`'s clock on every cell, started with the
    arguments ``workbench notebooks`` gives it."""
    port = free_port()
    if cells:
        cmd = [sys.executable, str(ROOT / "benchmarks" / "page_clock.py"), cells, "run", str(ROOT / "notebooks"),
               "--host", "127.0.0.1", "--port", str(port), "--headless", "--", "--data=synthetic"]  # fmt: skip
    else:
        cmd = [sys.executable, "-m", "workbench.cli", "notebooks", "--headless", "--port", str(port)]
    t0 = time.perf_counter()
    server = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}/"
    while True:
        try:
            urllib.request.urlopen(base, timeout=2)
            return server, base, time.perf_counter() - t0
        except OSError:
            if server.poll() is not None:
                raise RuntimeError("the notebook server stopped before serving") from None
            if time.perf_counter() - t0 > 120:
                stop_server(server)
                raise RuntimeError(f"the notebook server did not answer {base} within 120 s") from None
            time.sleep(0.1)


def stop_server(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(15)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def cold_visit(browser, name: str, env: dict[str, str], timeout_s: float, quiet_s: float,
               cells: str | None) -> tuple[float | None, bool, float]:  # fmt: skip
    """A cold render: a fresh server (nothing imported yet) whose page results folder is empty (a new temporary
    folder through ``WORKBENCH_PAGE_RESULTS``; data/page-results/ is not touched), the artefacts in the store.
    ``(seconds to settle or None, whether a progress spinner showed, the navigation's wall-clock time)``."""
    from workbench.lessons.results import RESULTS_ENV

    with tempfile.TemporaryDirectory(prefix="bench-cold-results-") as empty:
        server, base, _ = start_server({**env, RESULTS_ENV: empty}, cells)
        try:
            at = time.time()
            seconds, page = visit(browser, f"{base}?file={name}", timeout_s, quiet_s)
            progress = page.evaluate("window.__progress === true")
            page.close()
        finally:
            stop_server(server)
    return seconds, progress, at


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("pages", nargs="*", help="page numbers (00 .. 12) or file names; default: every page")
    ap.add_argument("--small", action="store_true", help="the small synthetic world (WORKBENCH_SMALL=1)")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds a page or a redraw may take (default 120)")
    ap.add_argument("--settle", type=float, default=1.0, help="seconds with no cell running that end a render")
    ap.add_argument("--no-sliders", action="store_true", help="only renders, no slider moves")
    ap.add_argument("--warm-only", action="store_true",
                    help="no first visit: one visit per page, reading what `workbench train --notebooks` stored")
    ap.add_argument("--cold", action="store_true",
                    help="also a cold render per page: a fresh server, the artefacts stored, the page results "
                         "folder empty (a temporary one), until no cell runs (bounded by --cold-timeout)")  # fmt: skip
    ap.add_argument("--cold-timeout", type=float, default=180.0, help="seconds a cold render may take (default 180)")
    ap.add_argument("--cells", action="store_true",
                    help="time every cell on the server (benchmarks/page_clock.py) and print where each visit's "
                         "seconds go: start-up, cells, output, browser")  # fmt: skip
    ap.add_argument("--cells-out", metavar="PATH",
                    help="with --cells: keep page_clock's lines (one JSON line per cell run, slider moves included) "
                         "in PATH instead of a temporary file")  # fmt: skip
    args = ap.parse_args(argv)
    for flag in ("timeout", "settle", "cold_timeout"):
        if not getattr(args, flag) > 0:
            ap.error(f"--{flag.replace('_', '-')} {getattr(args, flag)}: expected seconds > 0")
    if not CHROMIUM.exists():
        print(f"Debian's Chromium is not installed at {CHROMIUM} (apt-get install chromium)", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    files = sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
    if args.pages:
        wanted = [p if p.endswith(".py") else next((f for f in files if f.startswith(p)), p) for p in args.pages]
        unknown = [w for w in wanted if w not in files]
        if unknown:
            print(f"unknown pages {unknown}: expected numbers or names of {files}", file=sys.stderr)
            return 2
        files = wanted
    answers = tempfile.mkdtemp(prefix="bench-answers-")  # the exercise's typed answers: never the learner's own
    env = {**os.environ, **({"WORKBENCH_SMALL": "1"} if args.small else {}), "WORKBENCH_ANSWERS": answers}
    cells = None
    if args.cells:
        if args.cells_out:
            cells = str(Path(args.cells_out).resolve())
            Path(cells).write_text("")
        else:
            fd, cells = tempfile.mkstemp(prefix="bench-cells-", suffix=".jsonl")
            os.close(fd)
    load0 = os.getloadavg()
    rows, verdicts, visits = [], [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        try:
            colds = {}
            if args.cold:
                for name in files:
                    seconds, progress, at = cold_visit(browser, name, env, args.cold_timeout, args.settle, cells)
                    colds[name] = (seconds, progress)
                    visits.append((name, "cold", at, seconds))
                    print(f"{name}: cold {fmt(seconds)}{' (progress shown)' if progress else ''}", file=sys.stderr, flush=True)
            server, base, served_s = start_server(env, cells)
            try:
                for name in files:
                    url = f"{base}?file={name}"
                    first = None
                    if not args.warm_only:
                        at = time.time()
                        first, page = visit(browser, url, args.timeout, args.settle)
                        visits.append((name, "first", at, first))
                        page.close()
                    at = time.time()
                    warm, page = visit(browser, url, args.timeout, args.settle)
                    visits.append((name, "warm", at, warm))
                    starts: list[float] = []
                    moves = [] if args.no_sliders or warm is None else sliders(page, args.timeout, args.settle, starts)
                    visits.extend((name, f"move: {label}", at, s) for (label, s), at in zip(moves, starts))  # --cells
                    page.close()
                    rows.append((name, colds.get(name), first, warm, moves))
                    if name == EXERCISE_PAGE:
                        verdicts = exercise_verdicts(browser, url, args.timeout)
                    print(f"{name}: first visit {fmt_opt(first, args.warm_only)}, warm {fmt(warm)}"
                          + "".join(f"; {label}: {fmt(s)}" for label, s in moves), file=sys.stderr, flush=True)  # fmt: skip
            finally:
                stop_server(server)
        finally:
            browser.close()
            shutil.rmtree(answers, ignore_errors=True)  # the exercise's typed answers: this run's own folder
    load = os.getloadavg()
    print(f"\nbench_pages: {'small' if args.small else 'default'} world{'; warm visits only' if args.warm_only else ''}; "
          f"server answered {served_s:.1f} s after start; load average {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f} "
          f"before, {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} after ({os.cpu_count()} cores): figures under that load. "
          f"Targets on a quiet 2-core machine: warm ≤ {TARGETS['warm']:g} s, cold ≤ {TARGETS['cold']:g} s (with progress), "
          f"slider ≤ {TARGETS['slider 04/10']:g} s on 04 and 10, ≤ {TARGETS['slider']:g} s elsewhere.")  # fmt: skip
    if args.cold:
        print("Cold: a fresh server per page, the artefacts stored, an empty page-results folder; "
              "\"first visit\": the first visit after one server started (its results stored), before the warm one.")
    if verdicts:
        print(f"Exercise {EXERCISE} on {EXERCISE_PAGE}: verdict {fmt(verdicts[0])} s after a wrong answer was typed, "
              f"{fmt(verdicts[1])} s after the right one (target ≤ 2 s).")
    print("\n| page | cold (s) | first visit (s) | warm (s) | slider redraws, end to end (s) |\n|---|---|---|---|---|")
    for name, cold, first, warm, moves in rows:
        cold_txt = "–" if cold is None else fmt(cold[0]) + (" (progress shown)" if cold[1] else "")
        print(f"| {name} | {cold_txt} | {fmt_opt(first, args.warm_only)} | {fmt(warm)} | "
              + (", ".join(f"{label} {fmt(s)}" for label, s in moves) or "–") + " |")  # fmt: skip
    if cells:
        print(breakdown(cells, visits))
        if not args.cells_out:
            os.unlink(cells)
    return 0


def breakdown(cells: str, visits: list[tuple[str, str, float, float | None]]) -> str:
    """Where each visit's seconds went (`page_clock`'s records inside the visit's window): navigation to the
    first cell; the cells' own code (wall and thread CPU); marimo formatting and sending their output; the
    last cell's end to the page settling (messages, the browser drawing); and the three costliest cells."""
    import json

    records = [json.loads(line) for line in Path(cells).read_text(encoding="utf-8").splitlines() if line]
    out = ["\nWhere the seconds go (cells timed on the server; CPU = the kernel thread's own CPU seconds, process CPU = every thread of the server):\n",
           ("| page | visit | render (s) | to first cell (s) | cells' code: wall / CPU / process CPU (s) | output: wall / CPU (s) "
            "| after last cell (s) | costliest cells (code wall s / CPU s) |"), "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for name, kind, at, seconds in visits:
        end = at + (seconds if seconds is not None else 1e9) + 0.5
        mine = [r for r in records if r["file"] == name and at <= r["start"] <= end]
        if not mine:
            out.append(f"| {name} | {kind} | {fmt(seconds)} | – | – | – | – | no cell ran |")
            continue
        runs = [r for r in mine if r["part"] == "run"]
        posts = [r for r in mine if r["part"] == "out"]
        first = min(r["start"] for r in mine) - at
        last = max(r["end"] for r in mine) - at
        top = sorted(runs, key=lambda r: -r["wall_s"])[: 6 if kind.startswith("move") else 3]
        out.append(f"| {name} | {kind} | {fmt(seconds)} | {first:.1f} | {sum(r['wall_s'] for r in runs):.1f} / "
                   f"{sum(r['cpu_s'] for r in runs):.1f} / {sum(r['proc_cpu_s'] for r in runs):.1f} | {sum(r['wall_s'] for r in posts):.1f} / "
                   f"{sum(r['cpu_s'] for r in posts):.1f} | "
                   f"{'–' if seconds is None else f'{max(seconds - last, 0):.1f}'} | "
                   + "; ".join(f"`{r['code'][:40]}` {r['wall_s']:.1f}/{r['cpu_s']:.1f}" for r in top) + " |")  # fmt: skip
    return "\n".join(out)


def fmt(s: float | None) -> str:
    return "timeout" if s is None else f"{s:.1f}"


def fmt_opt(s: float | None, skipped: bool) -> str:
    return "–" if skipped else fmt(s)


if __name__ == "__main__":
    raise SystemExit(main())
