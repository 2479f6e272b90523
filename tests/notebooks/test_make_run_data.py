"""`make run DATA=PATH` end to end on an interactions file the test writes: make's own command line (with the
file's COLUMNS and DUPLICATES options, on a free port, bounded in time, stopped by its PID) serves the pages,
and the start page renders in Debian's headless Chromium with that file's data card."""

import os
import re
import signal
import subprocess
import time
import urllib.request

import numpy as np
import pandas as pd
import pytest

from workbench.cli import start_url

from .conftest import ROOT
from .test_browser import CHROMIUM, CHROMIUM_FLAGS, OUTPUT, _free_port

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"Debian's Chromium is not installed at {CHROMIUM} (apt-get install chromium)"),
]

COLUMNS = "user=uid,item=iid,timestamp=ts"


def _log(path):
    """40 users x 30 items, one row repeated in every column (refused unless DUPLICATES=drop reaches the pages)."""
    rng = np.random.default_rng(7)
    df = pd.DataFrame({"uid": rng.integers(0, 40, 600), "iid": rng.integers(0, 30, 600),
                       "ts": 1_600_000_000 + rng.integers(0, 60 * 86_400, 600)}).drop_duplicates(["uid", "iid"])  # fmt: skip
    pd.concat([df, df.iloc[:1]]).to_parquet(path, index=False)
    return df


def _stop(proc):
    os.killpg(proc.pid, signal.SIGTERM)  # make, `workbench notebooks`, marimo and the trainer: its own session
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def test_make_run_data_serves_the_pages_on_that_file(tmp_path, small_env):
    playwright = pytest.importorskip("playwright.sync_api")
    from workbench.data import load
    from workbench.data.card import card_for, card_markdown
    from workbench.lessons import kit

    path = tmp_path / "log.parquet"
    rows = _log(path)
    card = card_for(load(f"{path}?columns={COLUMNS}&duplicates=drop"))
    assert (card["users"], card["items"], card["interactions"]) == (rows.uid.nunique(), rows.iid.nunique(), len(rows))
    line = kit.plain(card_markdown(card))

    port = _free_port()
    OUTPUT.mkdir(exist_ok=True)
    log = OUTPUT / "make-run-data.log"
    env = {**small_env, "BROWSER": "true"}  # make run opens a browser: `true` stands in (Python's webbrowser reads $BROWSER)
    # -o: the venv counts as installed (make run would otherwise reinstall it whenever pyproject.toml is newer)
    cmd = ["make", "--no-print-directory", "-o", ".venv/.installed", "run", f"DATA={path}", f"COLUMNS={COLUMNS}",
           "DUPLICATES=drop", f"PORT={port}"]  # fmt: skip
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(start_url(port), timeout=2)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"make run did not serve the pages:\n{log.read_text()[-3000:]}")
                time.sleep(0.3)
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
            try:
                page = browser.new_page(viewport={"width": 1300, "height": 2400})
                page.goto(start_url(port))
                page.get_by_text(re.compile(r"Data: log\.parquet")).first.wait_for(timeout=120_000)
                page.screenshot(path=str(OUTPUT / "make-run-data.png"), full_page=True)
                text = re.sub(r"\s+", " ", page.locator("body").inner_text())
            finally:
                browser.close()
    finally:
        _stop(proc)
    assert line in text, f"the start page lacks the file's data card {line!r}"
    said = log.read_text()
    assert "Stopping the workbench" in said and "Traceback" not in said, said[-3000:]
