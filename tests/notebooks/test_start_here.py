"""`make run`'s landing: marimo's index of the notebooks folder shows each notebook's real title and one-line
description, and the learning path page (00_start_here) renders, in Debian's headless Chromium."""

import re
import subprocess
import time
import urllib.request

import pytest

from workbench.cli import start_url
from workbench.lessons import guide
from workbench.report.export import NOTEBOOK_DIR, list_notebooks

from .conftest import MARIMO, ROOT
from .test_browser import CHROMIUM, CHROMIUM_FLAGS, OUTPUT, _free_port

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"Debian's Chromium is not installed at {CHROMIUM} (apt-get install chromium)"),
]


@pytest.fixture
def served_folder(small_env):
    port = _free_port()
    OUTPUT.mkdir(exist_ok=True)
    log = OUTPUT / "marimo-run-folder.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([MARIMO, "run", str(NOTEBOOK_DIR), "--host", "127.0.0.1", "--port", str(port), "--headless",
                                 "--", "--small"], stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, env=small_env)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"marimo run did not serve the notebooks folder:\n{log.read_text()[-3000:]}")
                time.sleep(0.3)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_index_shows_titles_and_descriptions_and_the_path_opens(served_folder):
    playwright = pytest.importorskip("playwright.sync_api")
    expected = {p.stem: guide.header(p.read_text(encoding="utf-8"))["tool"]["marimo"]["opengraph"]
                for p in list_notebooks(NOTEBOOK_DIR)}  # fmt: skip
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 2400})
            page.goto(f"http://127.0.0.1:{served_folder}/")
            page.get_by_text(expected["00_start_here"]["title"], exact=True).first.wait_for(timeout=60_000)
            page.screenshot(path=str(OUTPUT / "marimo-index.png"), full_page=True)
            index = page.locator("body").inner_text()
            page.goto(start_url(served_folder))
            page.get_by_text(re.compile(r"Learning path: \d+ notebooks")).wait_for(timeout=120_000)
            page.screenshot(path=str(OUTPUT / "start-here.png"), full_page=True)
            start = page.locator("body").inner_text()
        finally:
            browser.close()
    flat = re.sub(r"\s+", " ", index)
    for stem, og in expected.items():
        assert og["title"] in flat, f"the index lacks {stem}'s title"
        assert og["description"][:60] in flat, f"the index lacks {stem}'s description"
    steps = guide.learning_path()
    for step in steps[1:]:
        assert step.title in start and f"about {step.minutes} min" in start


def test_make_run_opens_on_the_learning_path(monkeypatch):
    """The command line `make run` gives: marimo serves the folder, the browser opens the start page once it
    answers, and --train adds the background training (`workbench.launch.serve` is tested in tests/test_launch.py)."""
    import workbench.cli as cli
    import workbench.launch as launch

    ran, opened = [], []

    def serve(cmd, port, url, train=None, on_served=None):
        ran.append((cmd, port, url, train))
        if on_served:
            on_served()
        return 0

    monkeypatch.setattr(launch, "serve", serve)
    monkeypatch.setattr(cli, "_open_when_served", opened.append)
    assert cli.main(["notebooks", "--port", "2799"]) == 0
    assert opened == ["http://127.0.0.1:2799/?file=00_start_here.py"] == [start_url(2799)]
    cmd, port, url, train = ran[0]
    assert str(NOTEBOOK_DIR) in cmd and "--headless" in cmd and port == 2799 and train is None
    assert cli.main(["notebooks", "--port", "2799", "--headless", "--train", "--data", "movielens-100k"]) == 0
    assert len(opened) == 1
    assert ran[1][3][-4:] == ["train", "--notebooks", "--data", "movielens-100k"]
    assert (NOTEBOOK_DIR / cli.START_PAGE).is_file()
