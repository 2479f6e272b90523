"""Drive the ipywidgets reranking panel in a real JupyterLab, in Debian's headless Chromium.

The test starts ``jupyter lab`` itself on 127.0.0.1 (a free port, a random token, a scratch
root holding a copy of notebooks/jupyter_panel.ipynb so that JupyterLab's autosave never
touches the repository) on the small synthetic world, opens the notebook, runs every cell
from the Run menu, and checks what the page shows: the λ slider at the value the notebook set
from Python (0.50) with the metrics `workbench.lessons.whatif` computes for it. It then moves the
slider with the keyboard, as a reader would, and checks that the metrics changed to the ones
computed here for the new λ. The server is stopped by its PID; screenshots go to ``test-output/``.

The start-up race, fixed at its cause: a page opened on a fresh server starts its own kernel, and
JupyterLab may replace it while the page loads, or connect the page's websocket before the kernel
is ready (widget messages are then lost: "Error displaying widget"). So the test starts the
notebook's kernel session through the REST API first, then opens the page and waits, through
JupyterLab's own objects (``window.jupyterapp``, exposed by ``--LabApp.expose_app_in_browser``),
until the page's notebook is connected to that same kernel and idle. Only then does it click Run > Run All Cells,
once. Every wait is on a condition; none is retried and no exception is swallowed.
"""

import dataclasses
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from threadpoolctl import threadpool_limits

from workbench.lessons.whatif import HEADLINE

from .conftest import ROOT
from .test_browser import CHROMIUM, CHROMIUM_FLAGS, OUTPUT, _free_port

NOTEBOOK = ROOT / "notebooks" / "jupyter_panel.ipynb"
JUPYTER = Path(sys.executable).with_name("jupyter")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"Debian's Chromium is not installed at {CHROMIUM} (apt-get install chromium)"),
    pytest.mark.skipif(not JUPYTER.exists(), reason=f"JupyterLab is not installed in {JUPYTER.parent} (the notebooks extra)"),
]


@pytest.fixture
def jupyterlab(small_env, small_whatif, tmp_path):  # small_whatif first: the kernel loads its stored pipeline
    root = tmp_path / "root"
    root.mkdir()
    shutil.copy(NOTEBOOK, root / NOTEBOOK.name)
    settings = tmp_path / "user-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    # JupyterLab 4.6 asks which kernel to start unless told to start the notebook's own (its kernelspec: python3)
    tracker = tmp_path / "user-settings" / "@jupyterlab" / "notebook-extension"
    tracker.mkdir(parents=True)
    (tracker / "tracker.jupyterlab-settings").write_text(json.dumps({"autoStartDefaultKernel": True}))
    port, token = _free_port(), secrets.token_hex(16)
    env = {**small_env, "JUPYTER_CONFIG_DIR": str(tmp_path / "config"), "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
           "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "user-settings"), "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "ws")}  # fmt: skip
    OUTPUT.mkdir(exist_ok=True)
    log = OUTPUT / "jupyterlab.log"
    cmd = [str(JUPYTER), "lab", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
           "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
           "--LabApp.expose_app_in_browser=True"]  # fmt: skip
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=root, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"jupyter lab did not serve {base}:\n{log.read_text()[-3000:]}")
                time.sleep(0.5)
        kernel = _start_session(base, token, NOTEBOOK.name)
        yield f"{base}/lab/tree/{NOTEBOOK.name}?token={token}", kernel
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def _api(base: str, token: str, path: str, body: dict | None = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{base}{path}", data=data, method="GET" if body is None else "POST",
                                     headers={"Authorization": f"token {token}", "Content-Type": "application/json"})  # fmt: skip
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def _start_session(base: str, token: str, name: str) -> str:
    """Start the notebook's kernel session before any page opens (so the page attaches to it and
    starts none of its own); the kernel's id. jupyter_server answers once the kernel process runs."""
    session = _api(base, token, "/api/sessions", {"path": name, "name": name, "type": "notebook",
                                                  "kernel": {"name": "python3"}})  # fmt: skip
    return session["kernel"]["id"]


# True once the page's notebook is connected to ``kernel`` (the session started above) and idle.
CONNECTED = """kernel => {
    const widget = window.jupyterapp && window.jupyterapp.shell.currentWidget;
    const k = widget && widget.sessionContext && widget.sessionContext.session && widget.sessionContext.session.kernel;
    return !!k && k.id === kernel && k.connectionStatus === "connected" && k.status === "idle";
}"""


def _metrics(page) -> tuple[float, dict[str, float]]:
    """λ and the metrics the panel's metrics table shows."""
    box = page.locator(".widget-html-content", has_text="Every user, at λ =").first
    text = box.inner_text()
    lam = float(re.search(r"at λ = ([\d.]+),", text).group(1))
    rows = {label: float(re.search(re.escape(label) + r"@\d+\s+(-?[\d.]+)", text).group(1)) for label in HEADLINE.values()}
    return lam, rows


def test_panel_in_jupyterlab_runs_all_and_follows_a_slider(jupyterlab, small_whatif):
    playwright = pytest.importorskip("playwright.sync_api")
    url, kernel = jupyterlab
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1800})
            page.goto(url)
            try:
                page.locator(".jp-Notebook").wait_for(timeout=120_000)
                page.wait_for_function(CONNECTED, arg=kernel, timeout=120_000)  # the started kernel, not a new one
                # Run > Run All Cells, as a reader would, once the notebook is connected to an idle kernel
                page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
                page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
                page.locator(".jp-OutputArea-output", has_text="the slider still shows λ = 0.50").wait_for(timeout=240_000)
                page.locator(".widget-html-content", has_text="Every user, at λ = 0.50").wait_for(timeout=60_000)
            except playwright.TimeoutError:
                page.screenshot(path=str(OUTPUT / "jupyterlab-stuck.png"), full_page=True)
                raise
            assert page.get_by_text("Error displaying widget").count() == 0
            page.screenshot(path=str(OUTPUT / "jupyterlab-lambda-0.50.png"), full_page=True)
            slider = page.locator(".widget-slider", has_text="MMR λ")
            assert slider.locator(".widget-readout").inner_text().strip() == "0.50"
            lam_before, before = _metrics(page)

            handle = slider.locator(".noUi-handle")
            handle.focus()
            for _ in range(4):  # 0.50 -> 0.30 in steps of 0.05
                handle.press("ArrowLeft")
            page.locator(".widget-html-content", has_text="Every user, at λ = 0.30").wait_for(timeout=120_000)
            lam_after, after = _metrics(page)
            shown = slider.locator(".widget-readout").inner_text().strip()
            page.screenshot(path=str(OUTPUT / "jupyterlab-lambda-0.30.png"), full_page=True)
        finally:
            browser.close()

    assert (lam_before, lam_after, shown) == (0.5, 0.3, "0.30")
    for lam, figures in ((0.5, before), (0.3, after)):
        with threadpool_limits(1):  # same BLAS summation order as the single-threaded kernel
            expected = small_whatif.run(dataclasses.replace(small_whatif.knobs, lam=lam)).headline()
        for name, label in HEADLINE.items():
            assert figures[label] == pytest.approx(expected[name], abs=1e-4), (lam, name)
    assert after["intra-list diversity"] > before["intra-list diversity"]
