"""Notebook 08 served in Debian's Chromium: the page renders without a load test, its button runs one at the
slider's rate and says when it was measured, a later rate move says the figures shown are the earlier
run's, and the Redis the page started stops with the server."""

import re
import time
from pathlib import Path

import pytest

from .conftest import ROOT
from .test_browser import CHROMIUM, CHROMIUM_FLAGS, OUTPUT, marimo_served

NOTEBOOK = ROOT / "notebooks" / "08_serving.py"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"Debian's Chromium is not installed at {CHROMIUM} (apt-get install chromium)"),
]


def _alive(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status")
    try:
        return "\nState:\tZ" not in status.read_text()
    except OSError:
        return False


def test_the_load_test_runs_when_pressed_and_says_when_and_at_what_rate(small_env, small_built):
    playwright = pytest.importorskip("playwright.sync_api")
    with marimo_served(NOTEBOOK, small_env, OUTPUT / "marimo-run-08.log") as url, playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 2400})
            page.goto(url)
            page.get_by_text(re.compile(r"No load test has run yet: press run the load test to send 50 req/s")).wait_for(
                timeout=120_000)
            redis_pid = int(re.search(r"\(pid (\d+)\)", page.get_by_text("Redis at redis://").inner_text()).group(1))
            assert page.get_by_text(re.compile(r"^Open loop at")).count() == 0  # rendering measured nothing

            page.get_by_role("button", name="run the load test").click()
            measured = page.get_by_text(re.compile(r"Open loop at 50 req/s for 3 s: p50 [\d.]+ ms"))
            measured.wait_for(timeout=60_000)
            first = measured.inner_text()
            assert re.search(r"Measured at \d\d:\d\d:\d\d UTC\.", first)

            slider = page.locator("marimo-slider").filter(has_text="requests per second").locator('[role="slider"]')
            slider.focus()
            slider.press("ArrowRight")  # 50 -> 60: no new run, and the page says so
            page.get_by_text(re.compile(r"The controls now ask for 60 req/s")).wait_for(timeout=60_000)
            assert page.get_by_text(re.compile(r"Open loop at 50 req/s")).inner_text() == first
            page.screenshot(path=str(OUTPUT / "serving-load-test.png"), full_page=True)
        finally:
            browser.close()
    deadline = time.monotonic() + 15
    while _alive(redis_pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _alive(redis_pid), f"the page's redis-server (pid {redis_pid}) outlived the server that started it"
