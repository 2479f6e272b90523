"""A learner's first hour in a real headless Chromium, on the notebooks folder served as ``make run`` serves it.

- A "Terms" link of an exercise opens the glossary page on that entry (the served page's links work).
- An exercise answered on the served page: a wrong answer typed into its code box gets "Not yet" with
  the failing case, a right one gets "Passed"; the answer is kept in the answers folder (git-ignored,
  here a temporary one) and comes back after a reload, and the tracked notebook is not written.
- A page whose pipeline another process is still training (``make run``'s background training holds the
  store's lock for it) says so, with the time left going by the last fit stored there, and fills itself in
  once the artefact is stored and the lock released.
"""

import hashlib
import re
import shutil
import subprocess
import textwrap
import time

import pytest

from workbench.lessons import guide
from workbench.lessons.answers import ANSWERS_ENV
from workbench.lessons.exercises import EXERCISES

from .conftest import ROOT
from .test_browser import CHROMIUM, CHROMIUM_FLAGS, OUTPUT, marimo_served

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"Debian's Chromium is not installed at {CHROMIUM} (apt-get install chromium)"),
]

PAGE = "05_metrics.py"  # needs no trained pipeline: the metrics are worked on the textbook's example
EXERCISE = "precision_at_k"


@pytest.fixture
def served_folder(small_env, tmp_path):
    """The notebooks folder under ``marimo run`` (as `workbench notebooks` starts it), answers in ``tmp_path``."""
    env = {**small_env, ANSWERS_ENV: str(tmp_path / "answers")}
    with marimo_served(ROOT / "notebooks", env, OUTPUT / "marimo-run-folder.log") as url:
        yield url, tmp_path / "answers"


@pytest.fixture
def browser():
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        try:
            yield b
        finally:
            b.close()


def test_a_terms_link_opens_its_glossary_entry(served_folder, browser):
    url, _ = served_folder
    entry = next(t for t in guide.glossary() if t.term == EXERCISES[EXERCISE].glossary[0])
    page = browser.new_page(viewport={"width": 1300, "height": 2000})
    page.goto(f"{url}?file={PAGE}")
    link = page.get_by_role("link", name=entry.term, exact=True)
    link.first.wait_for(timeout=120_000)
    link.first.click()
    page.wait_for_url(re.compile(r"file=glossary\.py&term=" + re.escape(entry.anchor)), timeout=30_000)
    first_words = " ".join(entry.definition.replace("*", "").split()[:6])
    callout = page.locator("marimo-callout-output").filter(has_text=first_words)
    callout.first.wait_for(timeout=120_000)  # the entry, on top of the page
    assert entry.term in _text(callout.first)
    page.screenshot(path=str(OUTPUT / "glossary-entry.png"), full_page=True)


def _text(locator) -> str:
    """The text a marimo element shows (its content sits in a shadow root, which inner_text does not read)."""
    return locator.evaluate("el => (el.shadowRoot || el).textContent")


def _type(page, box, text: str) -> None:
    box.click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text(text)  # as pasted: no auto-indent or auto-closed brackets


def _verdict(page, pattern: str) -> str:
    found = page.locator("marimo-callout-output").filter(has_text=re.compile(pattern))
    found.first.wait_for(timeout=60_000)
    return _text(found.first)


def test_an_exercise_answered_on_the_served_page(served_folder, browser):
    url, answers = served_folder
    ex = EXERCISES[EXERCISE]
    notebook = ROOT / "notebooks" / PAGE
    digest = hashlib.sha256(notebook.read_bytes()).hexdigest()
    status_before = _git_status()
    page = browser.new_page(viewport={"width": 1300, "height": 2400})
    page.goto(f"{url}?file={PAGE}")
    box = page.locator("marimo-code-editor").filter(has_text=ex.function).locator(".cm-content")
    box.first.wait_for(timeout=120_000)
    assert "Not yet" in _verdict(page, rf"Not yet.*{re.escape(ex.title)}")  # the starter does not pass

    wrong = f"def {ex.function}(recommended, relevant, k):\n    return 0.5\n"
    _type(page, box.first, wrong)
    shown = _verdict(page, rf"your `?{ex.function}`? returned `?0\.5")
    assert "Not yet" in shown and "the package gives" in shown

    right = textwrap.dedent(ex.solution).strip() + "\n"
    _type(page, box.first, right)
    shown = _verdict(page, r"Passed")
    assert "agrees with the package on all" in shown
    deadline = time.monotonic() + 10
    while not (answers / f"{EXERCISE}.py").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert (answers / f"{EXERCISE}.py").read_text() == right

    page.reload()  # the answer is kept: the box opens on it, and it passes again
    box.first.wait_for(timeout=120_000)
    assert right.splitlines()[-1].strip() in box.first.inner_text()  # the saved answer, not the starter
    _verdict(page, r"Passed")
    page.screenshot(path=str(OUTPUT / "exercise-passed.png"), full_page=True)

    assert hashlib.sha256(notebook.read_bytes()).hexdigest() == digest
    assert _git_status() == status_before  # nothing tracked (or untracked but not ignored) was written


def _git_status() -> str:
    return subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True, check=True).stdout


DEEP_TEXT = """() => { const walk = n => (n.shadowRoot ? walk(n.shadowRoot) : '') + Array.from(n.childNodes).map(
  c => c.nodeType === 3 ? c.textContent : walk(c)).join(' '); return walk(document.body); }"""


def _body_has(page, pattern: str, timeout_s: float) -> str:
    """The page's text (marimo's shadow roots included) once it matches ``pattern`` (a regular expression);
    fails after ``timeout_s``, with a screenshot and the text it had."""
    deadline = time.monotonic() + timeout_s
    while True:
        text = page.evaluate(DEEP_TEXT)
        if re.search(pattern, text):
            return text
        if time.monotonic() > deadline:
            page.screenshot(path=str(OUTPUT / "page-while-training-failed.png"), full_page=True)
            pytest.fail(f"the page never showed {pattern!r} in {timeout_s:g} s; it showed: {' '.join(text.split())[-3000:]}")
        time.sleep(0.5)


def test_a_page_whose_pipeline_is_training_says_so_and_fills_itself_in(small_env, small_built, browser, tmp_path):
    from workbench.store.lock import training

    store = tmp_path / "models"
    store.mkdir()
    key = small_built.key
    # an earlier fit of the same data stored here (the store reads the time left from the last fit of the data set)
    shutil.copytree(small_built.path, store / "earlier-fit")
    env = {**small_env, "WORKBENCH_MODEL_STORE": str(store), ANSWERS_ENV: str(tmp_path / "answers")}
    with marimo_served(ROOT / "notebooks", env, OUTPUT / "marimo-run-training.log") as url:
        with training(store, key, say=lambda line: None):  # as `make run`'s background trainer holds it
            held_since = time.monotonic()
            page = browser.new_page(viewport={"width": 1300, "height": 2000})
            page.goto(f"{url}?file=01_tour.py")
            text = _body_has(page, r"being trained by another process", 120)
            assert key in text
            started, left = (int(x) for x in re.search(r"started (-?\d+) s ago; about (-?\d+) s left, going by the "
                                                        r"last fit here", text).groups())  # fmt: skip
            assert 0 <= started <= time.monotonic() - held_since + 1  # the trainer's time so far, as the lock says
            assert 0 <= left <= small_built.seconds + 1  # the earlier fit's time, less what has passed
            page.screenshot(path=str(OUTPUT / "page-while-training.png"), full_page=True)
            staging = store / f".{key}.copying"
            shutil.copytree(small_built.path, staging)
            staging.rename(store / key)  # stored whole, as the store does, then the lock is released
        text = _body_has(page, rf"loaded artefact {key}", 120)
        assert "being trained by another process" not in text
        _body_has(page, r"Recommending to the [\d,]+ users", 120)  # the page went on to compute what it shows
        page.screenshot(path=str(OUTPUT / "page-after-training.png"), full_page=True)
