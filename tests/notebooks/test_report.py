"""`workbench.report`: provenance stamps, static pages that open from disk with no network, `make report`'s
options, and the two-config comparison page.

The chromium checks open the written files at ``file://`` in a browser context that is offline and
refuses every request that is not for the file itself, so a page that needed a CDN (as marimo's own
export does) would show nothing but its stamp.
"""

import copy
import dataclasses
import json
import math
import re
import shlex
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench.lessons.kit import NotebookSettings
from workbench.provenance import provenance, provenance_markdown
from workbench.report.export import list_notebooks
from workbench.report.render import StaticRenderer, page, stamp_html, static_page

from .conftest import ROOT
from .test_browser import CHROMIUM, CHROMIUM_FLAGS, OUTPUT


def test_provenance_names_seed_command_and_versions():
    prov = provenance(NotebookSettings(seed=5).record(), config={"lam": 0.7}, notebook="04_reranking.py")
    assert prov["command"] == "python notebooks/04_reranking.py --data synthetic --seed 5"
    assert prov["config"] == {"lam": 0.7}
    assert {"python", "numpy", "marimo"} <= set(prov["versions"])
    text = provenance_markdown(prov)
    assert "seed **5**" in text and '"lam": 0.7' in text
    small = provenance(NotebookSettings("movielens-100k", 2, True, out="x").record(), notebook="01_tour.py")
    assert small["command"] == "python notebooks/01_tour.py --data movielens-100k --seed 2 --small"  # --out changes no figure


def test_notebooks_are_listed_in_teaching_order(tmp_path):
    for name in ("02_b.py", "01_a.py", "10_c.py", "00_start.py", "helper.py"):
        (tmp_path / name).write_text("")
    assert [p.name for p in list_notebooks(tmp_path)] == ["00_start.py", "01_a.py", "02_b.py", "10_c.py"]


# --- the static renderer, on marimo's own component HTML ----------------------------------------------------


def _fake_export(cells: list[str], files: dict | None = None) -> str:
    """A page shaped like ``marimo export html``: the session's outputs in the mount config."""
    config = {"filename": "x.py", "appConfig": {"app_title": "Fake · page"},
              "session": {"cells": [{"id": f"c{i}", "outputs": [{"type": "data", "data": {"text/html": h}}]}
                                    for i, h in enumerate(cells)]}}  # fmt: skip
    return ('<html><head><script data-marimo="true">Object.defineProperty(window, "__MARIMO_STATIC__", {value: '
            f"Object.freeze({{files: Object.freeze({json.dumps(files or {})}), modelNotifications: Object.freeze([])}}),"
            '});</script><script data-marimo="true">Object.defineProperty(window, "__MARIMO_MOUNT_CONFIG__", {'
            f"value: Object.freeze({json.dumps(config)}), writable: false}});</script></head><body></body></html>")  # fmt: skip


def test_static_renderer_draws_marimos_components_without_scripts():
    import altair as alt
    import marimo as mo

    df = pd.DataFrame({"metric": ["ndcg", "recall"], "mean": [0.1234, 0.5678]})
    chart = alt.Chart(df).mark_bar().encode(x="metric:N", y="mean:Q").properties(title="A chart title")
    cells = [
        mo.md("# Heading\n\nSome **bold** text.").text,
        mo.vstack([mo.ui.slider(1, 10, value=3, label="cut-off k"), mo.ui.dropdown(["a", "b"], value="b", label="pick")]).text,
        mo.stat("0.4200", label="NDCG@10", caption="+0.01 vs baseline").text,
        mo.ui.table(df, selection=None).text,
        mo.accordion({"Hidden answer": mo.md("the solution is 42")}).text,
        mo.as_html(chart).text,
        mo.callout(mo.md("careful"), kind="warn").text,
    ]
    prov = provenance(NotebookSettings(seed=3).record(), {"x": 1}, "99_fake.py")
    out, charts = static_page(_fake_export(cells), prov)
    assert charts == 1 and "<svg" in out and "A chart title" in out
    assert "<script" not in out and "marimo-" not in out
    assert re.search(r"cut-off k: <b>3</b>", out) and re.search(r"pick: <b>b</b>", out)
    assert "0.4200" in out and "NDCG@10" in out and "+0.01 vs baseline" in out
    assert "<td>ndcg</td><td>0.1234</td>" in out and "<td>recall</td><td>0.5678</td>" in out
    assert re.search(r"<details><summary>.*Hidden answer.*</summary>.*the solution is 42.*</details>", out, re.S)
    assert 'class="wb-callout warn"' in out and "careful" in out
    assert out.index('id="workbench-stamp"') < out.index("Heading")  # the stamp heads the page, in its flow
    assert "<title>Fake · page</title>" in out and "python notebooks/99_fake.py --data synthetic --seed 3" in out
    with pytest.raises(ValueError, match="not a marimo HTML export"):
        static_page("<html></html>", prov)


def test_chart_data_from_a_virtual_file_is_inlined():
    spec = {"$schema": "https://vega.github.io/schema/vega-lite/v6.4.1.json", "mark": "bar", "title": "From a file",
            "data": {"url": "./@file/12-abc.csv"}, "encoding": {"x": {"field": "a", "type": "nominal"},
                                                                   "y": {"field": "b", "type": "quantitative"}}}  # fmt: skip
    csv = "a,b\nfirst,1\nsecond,3\n"
    files = {"./@file/12-abc.csv": "data:text/csv;base64," + __import__("base64").b64encode(csv.encode()).decode()}
    renderer = StaticRenderer(files)
    svg = renderer.chart(spec)
    assert "From a file" in svg and "first" in svg and "second" in svg  # the bars' axis labels come from the data


def _open_offline(path: Path, screenshot: str):
    """Open ``path`` from disk in chromium with the network off; return (page facts, requests it tried)."""
    playwright = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists():
        pytest.skip(f"Debian's Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    tried = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        try:
            ctx = browser.new_context(offline=True, viewport={"width": 1280, "height": 900})
            ctx.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:") else route.abort())
            pg = ctx.new_page()
            pg.on("request", lambda r: tried.append(r.url))
            pg.goto(path.resolve().as_uri())
            pg.wait_for_load_state("load")
            OUTPUT.mkdir(exist_ok=True)
            pg.screenshot(path=str(OUTPUT / screenshot), full_page=True)
            facts = pg.evaluate("""() => {
                const stamps = [...document.querySelectorAll('.workbench-stamp')];
                const rect = (e) => e.getBoundingClientRect();
                const hit = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
                const content = [...document.querySelectorAll('main > :not(header), main > * > *')]
                    .filter((e) => !e.closest('header') && rect(e).height > 0);
                return {
                    text: document.body.innerText,
                    svgs: [...document.querySelectorAll('.wb-chart svg')].map((s) => ({w: rect(s).width, h: rect(s).height,
                        marks: s.querySelectorAll('path, rect, line, text').length})),
                    stampPositions: stamps.map((s) => getComputedStyle(s).position),
                    overlaps: stamps.flatMap((s) => content.filter((c) => !s.contains(c) && hit(rect(s), rect(c)))
                        .map((c) => c.tagName + '.' + c.className)),
                    scrollable: document.documentElement.scrollHeight >= rect(document.querySelector('main')).bottom - 1,
                };
            }""")
        finally:
            browser.close()
    return facts, [u for u in tried if not u.startswith("file:")]


@pytest.mark.browser
def test_exported_metrics_page_renders_from_disk_with_no_network(tmp_path, small_env, monkeypatch):
    from workbench.report.export import export_reports

    for key, value in small_env.items():
        monkeypatch.setenv(key, value)
    settings = NotebookSettings(small=True)
    notebook = ROOT / "notebooks" / "05_metrics.py"
    [written] = export_reports(tmp_path, settings, [notebook])
    text = written.read_text(encoding="utf-8")
    assert "<script" not in text and "cdn.jsdelivr" not in text
    facts, tried = _open_offline(written, "report-05-offline.png")
    assert tried == []  # nothing to fetch
    charts = len(re.findall(r"\bcharts\.\w+\(", notebook.read_text(encoding="utf-8")))
    assert len(facts["svgs"]) == charts and all(s["w"] > 200 and s["h"] > 100 and s["marks"] > 20 for s in facts["svgs"])
    # the textbook example worked by hand: likes {A, B, C}, recommended [D, A, E, B, F], k = 3
    ndcg = (1 / math.log2(3)) / (1 + 1 / math.log2(3) + 1 / 2)
    assert "05 · Offline metrics, worked by hand" in facts["text"]
    assert f"P@3 = {1 / 3:.4f}" in facts["text"] and f"NDCG@3 = {ndcg:.4f}" in facts["text"]
    assert facts["stampPositions"] == ["static"] and facts["overlaps"] == [] and facts["scrollable"]
    assert "python notebooks/05_metrics.py --data synthetic --seed 0 --small" in facts["text"]
    index = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert 'href="05_metrics.html"' in index and "<script" not in index


def test_pages_exported_at_once_are_the_pages_exported_one_by_one(tmp_path, small_env, monkeypatch):
    """Two pages in two processes at once: the same files, the same outputs, the index in teaching order."""
    from workbench.report.export import export_reports

    for key, value in small_env.items():
        monkeypatch.setenv(key, value)
    settings = NotebookSettings(small=True)
    pages = [ROOT / "notebooks" / "05_metrics.py", ROOT / "notebooks" / "00_start_here.py"]
    with pytest.raises(ValueError, match=r"jobs=0: expected a positive integer"):
        export_reports(tmp_path / "never", settings, pages, jobs=0)
    assert not (tmp_path / "never").exists()  # refused before any work
    one = export_reports(tmp_path / "one", settings, pages, jobs=1)
    two = export_reports(tmp_path / "two", settings, pages, jobs=2)
    assert [p.name for p in one] == [p.name for p in two] == ["05_metrics.html", "00_start_here.html"]  # as asked
    strip = lambda p: re.sub(r"<div class=\"workbench-stamp\".*?</div>", "", p.read_text(encoding="utf-8"), flags=re.S)  # noqa: E731
    for a, b in zip(one, two):
        assert strip(a) == strip(b) and "P@3" in strip(one[0])
    index = (tmp_path / "two" / "index.html").read_text(encoding="utf-8")
    assert index.index('href="05_metrics.html"') < index.index('href="00_start_here.html"')


# --- make report ---------------------------------------------------------------------------------------


def test_make_report_passes_its_options_through():
    from workbench.cli import build_parser

    run = subprocess.run(["make", "--no-print-directory", "-n", "report", "DATA=movielens-100k", "SEED=3", "OUT=elsewhere", "FORMAT=marimo", "SMALL=1"],
                         capture_output=True, text=True, cwd=ROOT, timeout=60)  # fmt: skip
    assert run.returncode == 0, run.stderr
    line = " ".join(run.stdout.replace("\\\n", " ").splitlines()[-1:])
    words = shlex.split(line)
    assert words[0].endswith("workbench") and words[1] == "report"
    args = build_parser().parse_args(words[1:])
    assert (args.data, args.seed, args.out, args.format, args.small) == ("movielens-100k", 3, "elsewhere", "marimo", True)
    plain = subprocess.run(["make", "--no-print-directory", "-n", "report"], capture_output=True, text=True, cwd=ROOT, timeout=60)
    args = build_parser().parse_args(shlex.split(plain.stdout.replace("\\\n", " ").splitlines()[-1])[1:])
    assert (args.data, args.seed, args.out, args.format, args.compare) == ("synthetic", 0, "reports", "static", None)


# --- two configs side by side ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_configs(tmp_path_factory):
    """configs/default.toml and the same with MMR λ = 0.3 (the same fitted stages 1–2: one store artefact)."""
    folder = tmp_path_factory.mktemp("configs")
    default = (ROOT / "configs" / "default.toml").read_text(encoding="utf-8")
    (folder / "default.toml").write_text(default, encoding="utf-8")
    diverse = re.sub(r"(?m)^lam = 0\.7\b", "lam = 0.3", default)
    assert diverse != default
    (folder / "diverse.toml").write_text(diverse, encoding="utf-8")
    return folder / "default.toml", folder / "diverse.toml"


@pytest.mark.browser
def test_compare_page_sets_two_configs_side_by_side(two_configs, tmp_path, small_built, small_env, monkeypatch):
    from threadpoolctl import threadpool_limits

    from workbench.metrics import ndcg_at_k, relevance_matrix
    from workbench.pipeline import PipelineConfig
    from workbench.report.comparison import compare, compare_html

    for key, value in small_env.items():
        monkeypatch.setenv(key, value)
    settings = NotebookSettings(small=True)
    with threadpool_limits(1):
        cmp = compare(*two_configs, settings)
    assert cmp.names == ("default", "diverse") and cmp.k == 10

    # A and B by hand: the stored pipeline with each config's reranking, every user, NDCG@10 per user
    pipe, test = copy.copy(small_built.pipeline), small_built.test  # a copy: the session's pipeline keeps its config
    relevance = relevance_matrix(test)
    users = np.arange(small_built.train.n_users)
    per_user = {}
    for path in two_configs:
        cfg = dataclasses.replace(PipelineConfig.from_toml(path), seed=0)
        pipe.config = cfg
        with threadpool_limits(1):
            slate = pipe.recommend(users)
        per_user[path.stem] = ndcg_at_k(slate.items, relevance[slate.users], 10)
    row = cmp.metrics.set_index("metric").loc["ndcg"]
    a, b = per_user["default"], per_user["diverse"]
    assert row["a"] == pytest.approx(np.nanmean(a), abs=1e-9) and row["b"] == pytest.approx(np.nanmean(b), abs=1e-9)
    d = (b - a)[~np.isnan(b - a)]
    half = 1.959963984540054 * d.std(ddof=1) / np.sqrt(d.size)
    assert (row["diff"], row["diff_low"], row["diff_high"]) == pytest.approx((d.mean(), d.mean() - half, d.mean() + half))
    assert row["users"] == d.size
    coverage = cmp.metrics.set_index("metric").loc["catalogue_coverage"]
    assert np.isnan(coverage["diff_low"]) and coverage["diff"] == pytest.approx(coverage["b"] - coverage["a"])
    assert list(cmp.current["lam"]) == [0.7, 0.3] and set(cmp.frontier["config"]) == {"default", "diverse"}

    html_page = compare_html(cmp)
    path = tmp_path / "compare.html"
    path.write_text(html_page, encoding="utf-8")
    facts, tried = _open_offline(path, "report-compare-offline.png")
    assert tried == [] and len(facts["svgs"]) == 1
    assert "default (λ=0.70)" in html_page and "diverse (λ=0.30)" in html_page  # both configs marked on the frontier
    assert f"{row['a']:.4f} [{row['a_low']:.4f}, {row['a_high']:.4f}]" in facts["text"]
    assert f"{row['diff']:.4f} [{row['diff_low']:.4f}, {row['diff_high']:.4f}]" in facts["text"]
    assert facts["stampPositions"] == ["static", "static"] and facts["overlaps"] == []
    for p in two_configs:
        assert f"{p}" in facts["text"]  # each stamp names its config file


def test_compare_refuses_a_missing_or_bad_config_before_fitting(tmp_path, capsys, monkeypatch):
    import workbench.report.comparison as report
    from workbench.cli import main

    monkeypatch.setattr(report, "compare", lambda *a, **k: pytest.fail("fitted despite a bad config"))
    missing = tmp_path / "missing.toml"
    assert main(["report", "--compare", str(missing), "configs/default.toml"]) == 2
    assert f"--compare {missing}: no such file" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text("frobnicate = 1\n")
    assert main(["report", "--compare", "configs/default.toml", str(bad)]) == 2
    assert "unknown pipeline setting(s) ['frobnicate']" in capsys.readouterr().err
    assert main(["report", "--compare", "configs/default.toml", "configs/default.toml", "notebooks/05_metrics.py"]) == 2
    assert "drop the notebooks" in capsys.readouterr().err
