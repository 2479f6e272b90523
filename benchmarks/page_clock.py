"""marimo's server with a clock on every cell: where a page's seconds go (``bench_pages.py --cells``).

Run as ``python benchmarks/page_clock.py OUT.jsonl run notebooks/ --port P ...`` (marimo's own arguments
after the file name): it starts marimo's server in this process, after wrapping two methods of marimo's
cell runner, and appends one JSON line per cell run to ``OUT.jsonl``:

- ``run``: the cell's own code (marimo's ``Runner.run``): imports, data loads, artefact loads, computing;
- ``out``: what marimo does after the code ran (``Runner._run_post_execution_hooks``): the output formatted
  (charts to Vega-Lite JSON, tables to their rows) and sent to the browser, the variables broadcast.

Each line holds the notebook file, the cell's first line of code, wall, thread-CPU and process-CPU seconds
of both parts (process CPU also counts the helper threads numpy, torch or LightGBM start, and whatever
else the server did meanwhile), and the wall-clock times (``time.time()``) it started and ended, so that `bench_pages` can set a
visit's cells against the browser's clock: navigation → first cell (the page and the kernel starting),
the cells, last cell → the page settled (messages and the browser drawing). In run mode every kernel is
a thread of this one server process (marimo's ``KernelManager``: threads in run mode), so thread-CPU
seconds are the cell's own, whatever else the machine runs: the figure to compare under load.

Wraps private marimo methods (checked against marimo 0.25.2); a marimo without them stops here with a
message rather than timing nothing.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time

from marimo._runtime.runner.cell_runner import Runner

OUT_ENV = "PAGE_CLOCK_OUT"
_write = threading.Lock()


def _where() -> str:
    from marimo._runtime.context import get_context
    from marimo._runtime.context.types import ContextNotInitializedError

    try:
        return os.path.basename(get_context().filename or "?")
    except ContextNotInitializedError:  # no kernel context (not expected inside a cell run)
        return "?"


def _first_line(code: str) -> str:
    for line in code.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "@", "def _", '"""')):
            return line[:70]
    return "(empty)"


def _record(part: str, cell, t_wall: float, t_cpu: float, t_proc: float, t_start: float) -> None:
    row = {"file": _where(), "cell": cell.cell_id, "code": _first_line(cell.code), "part": part,
           "wall_s": round(time.perf_counter() - t_wall, 4), "cpu_s": round(time.thread_time() - t_cpu, 4),
           "proc_cpu_s": round(time.process_time() - t_proc, 4), "start": t_start, "end": time.time()}  # fmt: skip
    with _write, open(os.environ[OUT_ENV], "a", encoding="utf-8") as out:
        out.write(json.dumps(row) + "\n")


def install() -> None:
    if not (hasattr(Runner, "run") and hasattr(Runner, "_run_post_execution_hooks")):
        raise SystemExit("page_clock: this marimo's Runner has no run/_run_post_execution_hooks to time")
    run, post = Runner.run, Runner._run_post_execution_hooks

    async def timed_run(self, cell_id):
        t_start, t_wall, t_cpu, t_proc = time.time(), time.perf_counter(), time.thread_time(), time.process_time()
        try:
            return await run(self, cell_id)
        finally:
            _record("run", self.graph.cells[cell_id], t_wall, t_cpu, t_proc, t_start)

    def timed_post(self, cell, ctx, run_result):
        t_start, t_wall, t_cpu, t_proc = time.time(), time.perf_counter(), time.thread_time(), time.process_time()
        try:
            return post(self, cell, ctx, run_result)
        finally:
            _record("out", cell, t_wall, t_cpu, t_proc, t_start)

    Runner.run, Runner._run_post_execution_hooks = timed_run, timed_post


if __name__ == "__main__":
    os.environ[OUT_ENV] = os.path.abspath(sys.argv[1])
    install()
    from marimo._cli.cli import main

    sys.argv = ["marimo", *sys.argv[2:]]
    main(prog_name="marimo")
