"""Progress of a sweep: the terminal bar's lines, and marimo's progress bar outside a kernel."""

from __future__ import annotations

import io
import re

from workbench.sweep import NotebookBar, TerminalBar


def test_terminal_bar_in_a_log_writes_a_line_per_tenth_and_counts_failures():
    out = io.StringIO()  # not a terminal: whole lines
    bar = TerminalBar(out, width=10)
    bar.start(20, "sweep t")
    for i in range(20):
        bar.update({"status": "failed" if i in (3, 15) else "ok"})
    bar.close()
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("sweep t [          ] 0/20 configs · 0 failed")
    assert len(lines) == 11  # the start, then each tenth
    assert re.match(r"sweep t \[#{10}\] 20/20 configs · 2 failed · [\d.]+ s$", lines[-1])
    assert "10/20 configs · 1 failed" in lines[5] and "ETA" in lines[5]


def test_notebook_bar_counts_outside_a_marimo_kernel():
    bar = NotebookBar("sweep")
    bar.start(3)
    for status in ("ok", "failed", "ok"):
        bar.update({"status": status})
    bar.close()
    assert bar.failed == 1
