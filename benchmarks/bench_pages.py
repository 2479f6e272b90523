"""How long a learner waits on each page `make run` serves, in Debian's Chromium (playwright; never a downloaded browser).

Starts `workbench notebooks --headless --port P` (what `make run` starts, without the background training, so
that the page timings do not share the CPU with it; the store must hold the artefacts: `workbench train
--notebooks` first, or pass --train to measure the first start as it is), then for every page:

- cold: the first visit after the server started (a fresh kernel: the page loads its artefacts from the store
  and computes what it shows, or reads it from data/page-results/);
- warm: a second visit (again a fresh kernel in marimo's run mode: what the disk holds, warm OS caches);
- each slider's redraw on the warm visit: one arrow-key step, until no cell runs;
- on 05, an exercise answered in its code box: seconds to the verdict of a wrong, then a right answer.

``--warm-only`` skips the cold visit: each page is visited once, a fresh kernel that reads what
``workbench train --notebooks`` stored (the artefacts and, since it runs each page once, the pages' results
in data/page-results/); run that first.

"Until no cell runs": marimo's run mode shows its loading indicator (``data-testid="loading-indicator"``) while
the kernel runs cells; a render ends at the page's last change once it shows output, the indicator is gone,
no output is marked loading or stale, no spinner or progress bar (``marimo-progress``: a cell still at work
inside ``mo.status.spinner``), and nothing changed for ``--settle`` seconds (a MutationObserver in the
page; times on the page's own clock). One table at the end (stdout), with the load average beside it: on a machine that is
shared the figures are under load and say so.

    .venv/bin/python benchmarks/bench_pages.py                 # every page, default data
    .venv/bin/python benchmarks/bench_pages.py --small 04 10   # two pages on the small world
    .venv/bin/python benchmarks/bench_pages.py --warm-only      # warm renders and redraws only (store filled first)
"""

from __future__ import annotations

import argparse
import os
import re
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
new MutationObserver(() => { window.__last = performance.now(); })
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
    page.goto(url)
    return settle(page, 0.0, timeout_s, quiet_s), page  # the page's clock starts at navigation


def sliders(page, timeout_s: float, quiet_s: float) -> list[tuple[str, float | None]]:
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("pages", nargs="*", help="page numbers (00 .. 11) or file names; default: every page")
    ap.add_argument("--small", action="store_true", help="the small synthetic world (WORKBENCH_SMALL=1)")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds a page or a redraw may take (default 120)")
    ap.add_argument("--settle", type=float, default=1.0, help="seconds with no cell running that end a render")
    ap.add_argument("--no-sliders", action="store_true", help="only cold and warm renders")
    ap.add_argument("--warm-only", action="store_true",
                    help="no cold visit: one visit per page, reading what `workbench train --notebooks` stored")
    args = ap.parse_args(argv)
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
    port = free_port()
    answers = tempfile.mkdtemp(prefix="bench-answers-")  # the exercise's typed answers: never the learner's own
    env = {**os.environ, **({"WORKBENCH_SMALL": "1"} if args.small else {}), "WORKBENCH_ANSWERS": answers}
    t_start = time.perf_counter()
    server = subprocess.Popen([sys.executable, "-m", "workbench.cli", "notebooks", "--headless", "--port", str(port)],
                              env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    base = f"http://127.0.0.1:{port}/"
    rows, verdicts = [], []
    try:
        while True:
            try:
                urllib.request.urlopen(base, timeout=2)
                break
            except OSError:
                if server.poll() is not None:
                    print("the notebook server stopped before serving", file=sys.stderr)
                    return 1
                time.sleep(0.1)
        served_s = time.perf_counter() - t_start
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
            try:
                for name in files:
                    url = f"{base}?file={name}"
                    cold = None
                    if not args.warm_only:
                        cold, page = visit(browser, url, args.timeout, args.settle)
                        page.close()
                    warm, page = visit(browser, url, args.timeout, args.settle)
                    moves = [] if args.no_sliders or warm is None else sliders(page, args.timeout, args.settle)
                    page.close()
                    rows.append((name, cold, warm, moves))
                    if name == EXERCISE_PAGE:
                        verdicts = exercise_verdicts(browser, url, args.timeout)
                    print(f"{name}: cold {fmt_cold(cold, args.warm_only)}, warm {fmt(warm)}"
                          + "".join(f"; {label}: {fmt(s)}" for label, s in moves), file=sys.stderr, flush=True)  # fmt: skip
            finally:
                browser.close()
    finally:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
    load = os.getloadavg()
    print(f"\nbench_pages: {'small' if args.small else 'default'} world{'; warm visits only' if args.warm_only else ''}; server answered {served_s:.1f} s after start; "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} ({os.cpu_count()} cores): figures under that load. "
          f"Targets on a quiet 2-core machine: warm ≤ {TARGETS['warm']:g} s, cold ≤ {TARGETS['cold']:g} s, "
          f"slider ≤ {TARGETS['slider 04/10']:g} s on 04 and 10, ≤ {TARGETS['slider']:g} s elsewhere.")  # fmt: skip
    if verdicts:
        print(f"Exercise {EXERCISE} on {EXERCISE_PAGE}: verdict {fmt(verdicts[0])} s after a wrong answer was typed, "
              f"{fmt(verdicts[1])} s after the right one (target ≤ 2 s).")
    print("\n| page | cold (s) | warm (s) | slider redraws, end to end (s) |\n|---|---|---|---|")
    for name, cold, warm, moves in rows:
        print(f"| {name} | {fmt_cold(cold, args.warm_only)} | {fmt(warm)} | " + (", ".join(f"{label} {fmt(s)}" for label, s in moves) or "–") + " |")
    return 0


def fmt(s: float | None) -> str:
    return "timeout" if s is None else f"{s:.1f}"


def fmt_cold(s: float | None, warm_only: bool) -> str:
    return "–" if warm_only else fmt(s)


if __name__ == "__main__":
    raise SystemExit(main())
