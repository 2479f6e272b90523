"""Drive the reranking notebook in a real headless Chromium: move the λ slider, watch it redraw.

Serves notebooks/04_reranking.py with ``marimo run`` on 127.0.0.1 (a free port) on the
small synthetic world, then checks that the rendered metrics and slate are the ones
`workbench.lessons.whatif` computes for the old and the new λ, and that lowering λ (more
weight on diversity) raised intra-list diversity. A screenshot of each state goes to
``test-output/``.
"""

import contextlib
import dataclasses
import re
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from threadpoolctl import threadpool_limits

from workbench.lessons.whatif import HEADLINE

from .conftest import MARIMO, ROOT

CHROMIUM = Path("/usr/bin/chromium")
OUTPUT = ROOT / "test-output"
NOTEBOOK = ROOT / "notebooks" / "04_reranking.py"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"Debian's Chromium is not installed at {CHROMIUM} (apt-get install chromium)"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def marimo_served(target: Path, env: dict[str, str], log: Path):
    """``marimo run TARGET -- --small`` on 127.0.0.1 (a free port), as `workbench notebooks` starts it; yields its
    URL once it answers and stops it by its PID on the way out."""
    port = _free_port()
    OUTPUT.mkdir(exist_ok=True)
    with open(log, "w") as out:
        proc = subprocess.Popen([MARIMO, "run", str(target), "--host", "127.0.0.1", "--port", str(port), "--headless",
                                 "--no-token", "--", "--small"], stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, env=env)  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(url, timeout=2)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"marimo run did not serve {url}:\n{log.read_text()[-3000:]}")
                time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def served_notebook(small_env, small_whatif):  # small_whatif first: the served notebook loads its stored pipeline
    with marimo_served(NOTEBOOK, small_env, OUTPUT / "marimo-run.log") as url:
        yield url


def _readout(page) -> dict[str, float]:
    text = page.get_by_text(re.compile(r"metrics@\d+ at λ = [\d.]+: NDCG")).inner_text()
    return {name: float(re.search(re.escape(label) + r" (-?[\d.]+)", text).group(1)) for name, label in HEADLINE.items()}


def _slate_text(page) -> str:
    return page.get_by_text("Top of the slate:").locator("xpath=..").inner_text()


def test_lambda_slider_redraws_metrics_and_slate(served_notebook, small_whatif):
    playwright = pytest.importorskip("playwright.sync_api")
    whatif = small_whatif
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 2400})
            page.goto(served_notebook)
            page.get_by_role("heading", name=re.compile(r"λ = 0\.70")).wait_for(timeout=120_000)
            page.get_by_text("Top of the slate:").wait_for(timeout=60_000)
            page.screenshot(path=str(OUTPUT / "reranking-lambda-0.70.png"), full_page=True)
            before, slate_before = _readout(page), _slate_text(page)

            slider = page.locator("marimo-slider").filter(has_text="MMR λ").locator('[role="slider"]')
            slider.focus()
            for _ in range(8):  # 0.70 -> 0.30 in steps of 0.05
                slider.press("ArrowLeft")
            page.get_by_role("heading", name=re.compile(r"λ = 0\.30")).wait_for(timeout=60_000)
            deadline = time.monotonic() + 30
            while (_readout(page) == before or _slate_text(page) == slate_before) and time.monotonic() < deadline:
                time.sleep(0.2)
            after, slate_after = _readout(page), _slate_text(page)
            page.screenshot(path=str(OUTPUT / "reranking-lambda-0.30.png"), full_page=True)
        finally:
            browser.close()

    user = whatif.pickable_users()[0]
    for lam, shown, slate_shown in ((0.7, before, slate_before), (0.3, after, slate_after)):
        with threadpool_limits(1):  # same BLAS summation order as the single-threaded notebook process
            result = whatif.run(dataclasses.replace(whatif.knobs, lam=lam))
        expected = result.headline()
        for name in HEADLINE:
            assert shown[name] == pytest.approx(expected[name], abs=1e-4), (lam, name)
        top = ", ".join(whatif.before_after(result, user)[1]["title"].head(5))
        assert f"Top of the slate: {top}." in slate_shown, lam
    assert after["intra_list_diversity"] > before["intra_list_diversity"]
    assert slate_after != slate_before
