"""Progress of a sweep: a bar in the terminal, ``mo.status.progress_bar`` in a marimo notebook.

A progress object has ``start(total, title)``, ``update(row)`` (one finished row) and
``close()``; `workbench.sweep.run_sweep` calls them as rows arrive.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO


class TerminalBar:
    """``[#########.........] 412/1000 configs · 2 failed · 18.3 s · ETA 26 s`` on one line
    (a terminal), or a line per tenth (a log file)."""

    def __init__(self, stream: TextIO | None = None, width: int = 30, every_s: float = 0.2) -> None:
        self.stream = stream or sys.stderr
        self.width, self.every_s = width, every_s
        self.tty = getattr(self.stream, "isatty", lambda: False)()

    def start(self, total: int, title: str = "sweep") -> None:
        self.total, self.title, self.done, self.failed = total, title, 0, 0
        self.t0 = self.last = time.perf_counter()
        self.tenth = 0
        self._draw(force=True)

    def update(self, row: dict[str, Any]) -> None:
        self.done += 1
        self.failed += row.get("status") != "ok"
        self._draw(force=self.done == self.total)

    def _line(self) -> str:
        elapsed = time.perf_counter() - self.t0
        frac = self.done / max(1, self.total)
        bar = "#" * int(round(frac * self.width))
        eta = elapsed / self.done * (self.total - self.done) if self.done else float("nan")
        eta_text = f" · ETA {eta:.0f} s" if self.done and self.done < self.total else ""
        return (f"{self.title} [{bar:<{self.width}}] {self.done}/{self.total} configs · {self.failed} failed · "
                f"{elapsed:.1f} s{eta_text}")  # fmt: skip

    def _draw(self, force: bool = False) -> None:
        now = time.perf_counter()
        if self.tty:
            if force or now - self.last >= self.every_s:
                self.stream.write("\r" + self._line() + ("\n" if self.done == self.total else ""))
                self.stream.flush()
                self.last = now
            return
        tenth = int(10 * self.done / max(1, self.total))
        if force or tenth > self.tenth:
            self.tenth = tenth
            self.stream.write(self._line() + "\n")
            self.stream.flush()

    def close(self) -> None:
        if self.tty and self.done < self.total:
            self.stream.write("\n")
            self.stream.flush()


class NotebookBar:
    """The same through ``mo.status.progress_bar`` (marimo): one step per finished config."""

    def __init__(self, title: str = "sweep") -> None:
        self.title = title

    def start(self, total: int, title: str | None = None) -> None:
        import marimo as mo

        self.failed = 0
        self._cm = mo.status.progress_bar(total=total, title=title or self.title, show_rate=True, show_eta=True,
                                          remove_on_exit=True)  # fmt: skip
        self._bar = self._cm.__enter__()

    def update(self, row: dict[str, Any]) -> None:
        self.failed += row.get("status") != "ok"
        self._bar.update(1, subtitle=f"{self.failed} failed" if self.failed else None)

    def close(self) -> None:
        self._cm.__exit__(None, None, None)


class Silent:
    def start(self, total: int, title: str = "") -> None:
        pass

    def update(self, row: dict[str, Any]) -> None:
        pass

    def close(self) -> None:
        pass
