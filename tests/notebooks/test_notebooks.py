"""Every notebook passes `marimo check --strict`, prints what it computed, draws charts that render
whole, and exports to HTML without a cell error, on the small synthetic world: from ONE run of each
notebook (its export; the kit writes the lines a script run prints to a transcript, the chart
recorder keeps its charts: `notebook_runs` in conftest.py). Running as a plain script is checked
by `test_both_argument_forms_reach_the_notebook` (05 run with `python`, both argument forms, `--out`).

The sequence is whatever ``notebooks/NN_name.py`` holds: numbered consecutively, and each with an
``EXPECTED_OUTPUT`` entry (patterns its exported page and its script run must show), so adding a
notebook means adding its entry here.
"""

import json
import math
import re
import subprocess
import sys

import numpy as np
import pytest

from workbench.lessons import verdicts
from workbench.report.export import list_notebooks
from workbench.viz.checks import chart_problems, rendering_problems

from .conftest import MARIMO, ROOT

NOTEBOOKS = list_notebooks(ROOT / "notebooks")
IDS = [p.stem for p in NOTEBOOKS]
NUMBER = r"[+-]?[\d,]*\.?\d+"

# What a reader must see. "page": patterns in the exported HTML (computed outputs, which the notebook's
# source code embedded in the page cannot match); "script": lines a script run prints (plain text).
EXPECTED_OUTPUT = {
    "00_start_here": {
        "page": [r"Learning path: \d+ notebooks, about \d+ h \d\d min in all", r"Your turn: \d+ exercises in \d+ notebooks"],
        "script": [r"^Learning path: \d+ notebooks, about \d+ h \d\d min in all, with \d+ 'Your turn' exercises",
                   r"^Your turn: \d+ exercises in \d+ notebooks"],
    },
    "01_tour": {
        "page": [r"catalogue 300 \\u2192 candidates \d+", r"a request takes [\d.]+ ms at the median", r"NDCG@10 \S*0\.\d{4}",
                 r"Model store:\S* (loaded|trained)"],
        "script": [r"^Model store: (loaded|trained and stored) artefact [0-9a-f]+", r"^Funnel per user: catalogue \d+ → ",
                   r"^NDCG@10 0\.\d{4}, recall@10 0\.\d{4}"],
    },
    "02_candidates": {
        "page": [r"at N=\d+: best \w+ \(\d+\.\d%\)", r"max of raw scores: \w+ wins \d+%", r"Textbook split:\S* (loaded|trained)"],
        "script": [r"^Each source alone, at N=\d+: best \w+", r"^Fused recall@\d+: pipeline, reciprocal-rank fusion"],
    },
    "03_ranking": {
        "page": [r"best: \w+ \(NDCG@10 0\.\d{4}", r"scrambling .{1,80} costs -?0\.\d{4} of NDCG@10"],
        "script": [r'^The pipeline\'s config ranks with .+ \(ranker = "\w+"\): NDCG@10 0\.\d{4}, #\d of \d',
                   r"^Stage 1 against the textbook split"],
    },
    "04_reranking": {
        "page": [r"Top of the slate:\S* [A-Z]", r"metrics@10 at \S+ = 0\.70: NDCG 0\.\d{4}", r"This move took \S*strong\S* ?\d+ ms",
                 r"MMR \S+ read backwards: at \S+ = 0\.3, as passed", r"Freshness after MMR: intra-list diversity of the first \d+ items"],
        "script": [r"^metrics@10 at λ = 0\.70: NDCG 0\.\d{4} · recall", r"^Top of the slate: [A-Z]",
                   r"^MMR λ read backwards: at λ = 0\.3, as passed, NDCG@10 0\.\d{4} and intra-list diversity \d\.\d{4}; at λ = 0\.7",
                   r"^Freshness after MMR: intra-list diversity of the first \d+ items \d\.\d{4} in the textbook's order against \d\.\d{4}",
                   r"^Sweep of the whole grid: \d+ configs (ran on \d+ Dask workers in [\d.]+ s|read from \S+); \d+ on the frontier\. "
                   r"The sliders give NDCG@10 0\.\d{4}"],
    },
    "05_metrics": {
        "page": [r"\[1/log2\(3\)\] / \[1/log2\(2\) \+ 1/log2\(3\) \+ 1/log2\(4\)\]", r"0\.2961"],
        "script": [r"^At k = 3: P@3 = 0\.3333", r"^The textbook's answers for likes"],
    },
    "06_ab_testing": {
        "page": [r"the test reads \S*[+-]\d+\.\d%", r"peeking declares \d+% of A/A tests", r"users switch arms, and the test converges to",
                 r"per impression \d+\.\d% of A/A tests significant, per user \d+\.\d%",
                 r"Multiple testing: 6 comparisons read at once"],
        "script": [r"^True CTR: A 0\.\d{4}, B 0\.\d{4}", r"^Multiple testing: 6 comparisons read at once", r"^Peeking: after \d+ days", r"^To detect|^With no true lift",
                   r"^Assignment across a restart \(true lift [+-]\d+\.\d%.*\(textbook\): \d+\.\d% of users switch arms",
                   r"^Unit of analysis: at \d+ sessions per user: per impression \d+\.\d% of A/A tests significant, per user \d+\.\d%",
                   r"^The library's own A/A study .*over \d+ days, \d+\.\d% per impression against \d+\.\d% per user"],
    },
    "07_interleaving": {
        "page": [r"correct: A/B needs ~[\d,]+ users", r"credit for this impression: A \d+, B \d+",
                 r"A first in every round \(textbook\): A wins \d+\.\d% of [\d,]+ decided impressions"],
        "script": [r"^\d+ days of interleaving over all [\d,]+ users", r"^For \d+% correct decisions",
                   r"^A/A interleaving, [\d,]+ impressions: A first in every round \(textbook\): A wins \d+\.\d% of [\d,]+ decided"],
    },
    "08_serving": {
        "page": [r"answered \d+ items in [\d.]+ ms at the client", r"Open loop at \d+ req/s for [\d.]+ s: p50 [\d.]+ ms",
                 r"answers flagged feature_store, slowest [\d.]+ ms"],
        "script": [r"^User \d+: answered \d+ items in [\d.]+ ms", r"^Open loop at \d+ req/s for [\d.]+ s: p50 [\d.]+ ms, p99",
                   r"^With Redis stopped: (\d+)/\1 answers flagged feature_store", r"personalised again [\d.]+ s after"],
    },
    "09_feedback_loop": {
        "page": [r"Each loop: [\d,]+ simulated users, \d+ days", r"on day 1, 0\.\d{4} on day \d+", r"\d+ alerts? fired",
                 r"arrivals together: [\d,]+ and [\d,]+ impressions", r"Over \d+ seeds: at \S+ = 0, the exposure Gini"],
        "script": [r"^Each loop: [\d,]+ simulated users, \d+ days, [\d,]+ sessions", r"^In this page's run: exposure Gini at ε = 0",
                   r"^The most appealing arrival, .+ \(appeal rank \d+ of \d+", r"^(Found by exploration|Exploration found no)",
                   r"^At ε = 0, \d+ alerts? fired and \d+ resolved", r"^Retraining every \d+ days: \d+ versions? published",
                   r"^Over \d+ seeds: at ε = 0, the exposure Gini (rose|fell|showed no detectable change)"],
    },
    "10_off_policy": {
        "page": [r"\d+ estimates spread with sd \S*0\.\d{3}", r"an A/B test needs ~[\d,]+ users"],
        "script": [r"^Truth: the target ranker earns \d\.\d{4} clicks per impression", r"^At ε = 0\.1: the largest importance weight",
                   r"^To decide whether the target", r"^On a log of the workbench's ε-exploration",
                   r"^BTS's own log: \d+ clicks in [\d,]+ rounds", r"^Why the intervals are this wide"],
    },
    "11_case_studies": {
        "page": [r"Watch-time-weighted training earns [\d.]+ s of expected watch time per session",
                 r"Adding SASRec to the default pipeline: NDCG@10 0\.\d{4} against 0\.\d{4}", r"regret is \d+% of",
                 r"distinct items per page of \d+ slots"],
        "script": [r"^Example age on: videos 2-7 days old at serving get \d+\.\d\d× their true share of views \(without "
                   r"example age: \d+\.\d\d×\)", r"^Watch-time-weighted training earns [\d.]+ s of expected watch time per "
                   r"session against [\d.]+ s for click-trained ranking", r"^Adding SASRec to the default pipeline: NDCG@10 "
                   r"0\.\d{4} against 0\.\d{4}", r"^After click 1 of user \d+'s session", r"^Reading the last 5 item\(s\), "
                   r"SASRec reaches NDCG@10 0\.\d{4}", r"^Deduplication on, personal row order: [\d.]+ distinct items per page",
                   r"^Over 30 days \([\d,]+ sessions\), Thompson sampling loses [\d.]+ expected clicks to the best row and "
                   r"ε-greedy [\d.]+", r"^At click weight 0\.5, the multi-task network"],
    },
    "12_offline_online_gap": {
        "page": [r"offline: the challenger loses to the incumbent on NDCG@10 of logged clicks",
                 r"the click-trained ranker loses to the watch-time-trained one on D7 retention",
                 r"Measured on the served path \(GET /recommend, no cache, the service's Server-Timing",
                 r"At the measured difference alone",
                 r"Share of clickbait in the trained rankers' top 10: click-trained \d+%"],
        "script": [r"^At ε = 0, offline: the challenger loses to the incumbent .* Online: the challenger beats the incumbent "
                   r"on CTR .* Offline and online disagree\.", r"^Off-policy estimate from a log that explores .* the "
                   r"challenger beats the incumbent", r"^Clickbait share 0\.3\. .* Offline and online disagree\.",
                   r"^Extra latency [\d.]+ ms \([\d.]+ ms measured \+ \d+ ms added\): 100 ms against [\d.]+ ms.* Offline and "
                   r"online disagree\."],
    },

    # reads a running system; with none (the test run) it says that Prometheus is not readable
    "13_operations": {"page": [r"Operations: ", r"One replica against two: "],
                      "script": [r"^Operations: (no reading from Prometheus|[\d.]+ req/s)",
                                 r"^One replica against two: (no measurement yet|the highest rate holding p99)",
                                 r"^Demonstration: not run yet \(press the button"]},
}
PAGE_WIDTH = {"medium": 1050, "compact": 700, "full": None}  # px a chart may take (marimo's column, less padding)


def _printed(notebook, notebook_runs) -> str:
    return notebook_runs(notebook).printed


def _figures(pattern: str, text: str) -> tuple[float, ...]:
    m = re.search(pattern, text, re.MULTILINE)
    assert m, f"no line matching {pattern!r} in:\n{text}"
    return tuple(float(g.replace(",", "")) for g in m.groups())


def test_notebooks_folder_holds_a_consecutive_sequence():
    numbers = [int(p.name[:2]) for p in NOTEBOOKS]
    assert numbers and numbers[0] in (0, 1)
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers))), f"gap or repeat in {numbers}"
    assert "01_tour" in IDS
    assert set(EXPECTED_OUTPUT) == set(IDS), "every notebook needs an EXPECTED_OUTPUT entry (and only they)"
    for stem, expected in EXPECTED_OUTPUT.items():
        assert expected["page"] and expected["script"], f"{stem}: give page and script patterns"


def test_every_notebook_passes_marimo_check_strict():
    run = subprocess.run([MARIMO, "check", "--strict", *map(str, NOTEBOOKS)], capture_output=True, text=True,
                         cwd=ROOT, timeout=120)  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr


@pytest.mark.slow
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=IDS)
def test_prints_what_it_computed(notebook, notebook_runs):
    printed = _printed(notebook, notebook_runs)
    for pattern in EXPECTED_OUTPUT[notebook.stem]["script"]:
        assert re.search(pattern, printed, re.MULTILINE), f"{notebook.name} printed no line matching {pattern!r}:\n{printed}"
    assert f"Reproduce: python notebooks/{notebook.name} --data synthetic --seed 0 --small" in printed


def _chart_calls(source: str) -> int:
    """Calls of chart builders in a notebook: ``charts.<builder>(`` and builders imported by name from
    a ``workbench.viz`` module (``from workbench.viz.sweep import sweep_frontier_chart``)."""
    named = [n.strip() for names in re.findall(r"from workbench\.viz\.\w+ import ([\w, ]+)", source)
             for n in names.split(",")]  # fmt: skip
    calls = len(re.findall(r"\bcharts\.\w+\(", source))
    return calls + sum(len(re.findall(rf"(?<![\w.]){re.escape(n)}\(", source)) for n in named if n)


@pytest.mark.slow
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=IDS)
def test_charts_render_whole(notebook, notebook_runs):
    folder = notebook_runs(notebook).charts
    source = notebook.read_text(encoding="utf-8")
    specs = [json.loads(p.read_text()) for p in sorted(folder.glob("*.vl.json"))]
    assert len(specs) == _chart_calls(source), "every chart call of the notebook drew once"
    width = PAGE_WIDTH[re.search(r'marimo\.App\(width="(\w+)"', source).group(1)]
    for spec in specs:
        title = spec["title"]["text"]
        assert chart_problems(spec) == [], title
        assert rendering_problems(spec, max_width=width) == [], title


@pytest.mark.slow
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=IDS)
def test_exports_to_stamped_html_without_a_cell_error(notebook, notebook_runs):
    run = notebook_runs(notebook)  # marimo's own page: the patterns read it
    tmp_path, text = run.folder, run.page.read_text(encoding="utf-8")
    assert 'id="workbench-stamp"' in text
    assert f"python notebooks/{notebook.name} --data synthetic --seed 0 --small" in text
    for pattern in EXPECTED_OUTPUT[notebook.stem]["page"]:
        assert re.search(pattern, text), f"no output matching {pattern!r} in the exported {notebook.name}"
    prov = json.loads((tmp_path / f"{notebook.stem}.json").read_text())
    assert prov["seed"] == 0 and prov["data"] == "synthetic" and prov["versions"]["marimo"] != "absent"
    assert notebook.stem in (tmp_path / "index.html").read_text()


# Every page opens with the data card of the data it runs on (`kit.data_header`), pipeline or not; the one
# page without a data set says why here.
NO_DATA_SET = {"13_operations": "reads a running system (Prometheus, the serving event log), not a data set"}


def test_pages_without_the_data_card_are_named_pages():
    assert set(NO_DATA_SET) <= set(IDS)


@pytest.mark.slow
@pytest.mark.parametrize("notebook", [p for p in NOTEBOOKS if p.stem not in NO_DATA_SET],
                         ids=[i for i in IDS if i not in NO_DATA_SET])  # fmt: skip
def test_every_page_shows_the_data_card(notebook, notebook_runs):
    from workbench.data import load
    from workbench.data.card import card_for, card_markdown
    from workbench.lessons import kit

    card = card_for(load("synthetic", seed=0, small=True), "temporal", seed=0)  # what the run's --small --seed 0 reads
    line = kit.plain(card_markdown(card))
    run = notebook_runs(notebook)
    assert re.search(rf"^{re.escape(line)}$", run.printed, re.MULTILINE), f"{notebook.name} showed no card {line!r}"
    page = run.page.read_text(encoding="utf-8")
    assert re.search(rf"Data: synthetic\S*: {card['users']:,} users, {card['items']:,} items, {card['interactions']:,} "
                     rf"interactions", page), f"no data card on the exported {notebook.name}"  # fmt: skip


# --- the script runs' figures, checked against this process's own computation ------------------------------

NB = {p.stem: p for p in NOTEBOOKS}


@pytest.mark.slow
def test_both_argument_forms_reach_the_notebook(tmp_path, small_env):
    metrics = NB["05_metrics"]
    expected = "Reproduce: python notebooks/05_metrics.py --data movielens-100k --seed 3"
    for args in (["--", "--data", "movielens-100k", "--seed", "3"], ["--data", "movielens-100k", "--seed=3"]):
        run = subprocess.run([sys.executable, str(metrics), *args, "--out", str(tmp_path / "out")], capture_output=True,
                             text=True, cwd=ROOT, env=small_env, timeout=300)  # fmt: skip
        assert run.returncode == 0, run.stderr[-3000:]
        assert expected in run.stdout
        written = tmp_path / "out" / "05_metrics.md"
        assert f"Exported what this notebook showed to {written}" in run.stdout
        assert "- At k = 3: P@3 = 0.3333" in written.read_text()
    bad = subprocess.run([sys.executable, str(metrics), "--", "--dataset", "x"], capture_output=True, text=True,
                         cwd=ROOT, env=small_env, timeout=300)  # fmt: skip
    assert bad.returncode != 0 and "unknown notebook argument(s) ['--dataset']" in bad.stderr


@pytest.mark.slow
def test_tour_prints_the_pipelines_own_figures(notebook_runs, small_built):
    from threadpoolctl import threadpool_limits

    from workbench.metrics import relevance_matrix

    printed = _printed(NB["01_tour"], notebook_runs)
    pipe, train, test = small_built.pipeline, small_built.train, small_built.test
    cfg = pipe.config
    users = np.flatnonzero(np.diff(relevance_matrix(test).indptr) > 0)
    with threadpool_limits(1):
        metrics = pipe.evaluate(pipe.recommend(users), test).set_index("metric")["mean"]
    ndcg, recall = _figures(rf"^NDCG@{cfg.k} ({NUMBER}), recall@{cfg.k} ({NUMBER})", printed)
    assert ndcg == pytest.approx(metrics["ndcg"], abs=5e-5) and recall == pytest.approx(metrics["recall"], abs=5e-5)
    catalogue, candidates, ranked, slate = _figures(
        rf"^Funnel per user: catalogue ({NUMBER}) → candidates ({NUMBER}) → ranked ({NUMBER}) → slate ({NUMBER})", printed)
    assert catalogue == train.n_items and 0 < candidates <= cfg.n_candidates
    assert ranked <= cfg.n_ranked and slate == cfg.k
    page_claim = re.search(r"^synthetic: (\d+) users, (\d+) items", printed, re.MULTILINE)
    assert page_claim and (int(page_claim.group(1)), int(page_claim.group(2))) == (train.n_users, train.n_items)


@pytest.mark.slow
def test_candidates_page_studies_the_pipelines_stage_one(notebook_runs, small_built):
    from workbench.candidates.fusion import DEFAULT_WEIGHTS
    from workbench.lessons.rankers import candidate_recall
    from workbench.metrics import relevance_matrix

    printed = _printed(NB["02_candidates"], notebook_runs)
    cfg = small_built.pipeline.config
    n_sources, each = _figures(r"The pipeline's stage 1: (\d+) sources .*?each proposing its top (\d+)", printed)
    assert (n_sources, each) == (len(cfg.weights), cfg.per_source_k or cfg.n_candidates)
    assert _figures(r"The textbook split \(CandidateGenerator\(\)\): (\d+) sources", printed) == (len(DEFAULT_WEIGHTS),)
    n, rrf, max_score, textbook = _figures(
        rf"^Fused recall@(\d+): pipeline, reciprocal-rank fusion \(RRF\) ({NUMBER})%, pipeline, max of raw scores "
        rf"({NUMBER})%, textbook split ({NUMBER})%", printed)  # fmt: skip
    assert n == cfg.n_candidates
    relevance = relevance_matrix(small_built.test)
    users = np.flatnonzero(np.diff(relevance.indptr) > 0)
    own = candidate_recall(small_built.pipeline.candidate_stage(users), relevance[users])
    assert cfg.fusion == "rrf" and rrf == pytest.approx(100 * own, abs=0.05)  # the pipeline's list is its RRF fusion
    assert all(0 <= v <= 100 for v in (max_score, textbook))


@pytest.mark.slow
def test_ranking_page_reconciles_its_best_ranker_with_the_config(notebook_runs, small_built):
    from workbench.metrics import accuracy_metrics, relevance_matrix
    from workbench.ranking import RANKERS
    from workbench.types import CandidateSet

    printed = _printed(NB["03_ranking"], notebook_runs)
    cfg = small_built.pipeline.config
    m = re.search(r'\(ranker = "(\w+)"\): NDCG@10 (0\.\d{4}), #(\d) of (\d)', printed)
    assert m and m.group(1) == cfg.ranker and int(m.group(4)) == len(RANKERS)
    relevance = relevance_matrix(small_built.test)
    users = np.flatnonzero(np.diff(relevance.indptr) > 0)
    cands = small_built.pipeline.candidate_stage(users)
    top = CandidateSet(cands.users, cands.items, small_built.pipeline.ranker_.score(cands)).top(10)
    ndcg = float(np.nanmean(accuracy_metrics(top.items, relevance[users], (10,))[("ndcg", 10)]))
    assert float(m.group(2)) == pytest.approx(ndcg, abs=5e-5)
    line = printed[m.start():].splitlines()[0]
    [gap] = verdicts.read(line)  # the best against the next (or against the config's ranker), paired
    if int(m.group(3)) == 1:
        assert "It is also the highest" in line
    elif gap["kind"] == "beats":  # a switch is recommended only outside the noise
        assert re.search(r'To serve it, set ranker = "\w+"', line)
    else:
        assert "no reason to switch" in line and "To serve it" not in line


@pytest.mark.slow
def test_reranking_page_prints_the_what_ifs_metrics(notebook_runs, small_whatif):
    from threadpoolctl import threadpool_limits

    from workbench.lessons.whatif import HEADLINE

    printed = _printed(NB["04_reranking"], notebook_runs)
    with threadpool_limits(1):
        expected = small_whatif.run(small_whatif.knobs).headline()
    line = re.search(r"^metrics@10 at λ = 0\.70: (.+)$", printed, re.MULTILINE).group(1)
    for name, label in HEADLINE.items():
        shown = float(re.search(re.escape(label) + rf" ({NUMBER})", line).group(1))
        assert shown == pytest.approx(expected[name], abs=1e-4), name


@pytest.mark.slow
def test_metrics_page_prints_the_textbook_numbers_worked_by_hand(notebook_runs):
    printed = _printed(NB["05_metrics"], notebook_runs)
    p, r, ndcg, ap = _figures(rf"^At k = 3: P@3 = ({NUMBER}) .*R@3 = ({NUMBER}) .*NDCG@3 = ({NUMBER}) .*AP@3 = ({NUMBER})",
                              printed)  # fmt: skip
    assert p == pytest.approx(1 / 3, abs=5e-5) and r == pytest.approx(1 / 3, abs=5e-5)  # one hit (A) of {A, B, C}
    assert ndcg == pytest.approx((1 / math.log2(3)) / (1 + 1 / math.log2(3) + 1 / 2), abs=5e-5)
    assert ap == pytest.approx((1 / 2) / 3, abs=5e-5)


@pytest.mark.slow
def test_experiment_pages_print_consistent_figures(notebook_runs):
    ab = _printed(NB["06_ab_testing"], notebook_runs)
    mean_a, mean_b, lift = _figures(rf"^True CTR: A ({NUMBER}), B ({NUMBER}) \(({NUMBER})%\)", ab)
    assert lift == pytest.approx(100 * (mean_b / mean_a - 1), abs=0.1)
    est, low, high, p = _figures(rf"the test reads ({NUMBER})% \[({NUMBER})%, ({NUMBER})%\], p = ({NUMBER}(?:e-?\d+)?)", ab)
    assert low <= est <= high and 0 <= p <= 1
    assert re.search(r"not significant at α" if p >= 0.05 else r": significant at α", ab)
    peeking, once = _figures(r"peeking declares (\d+)% of A/A tests significant, against (\d+)% read once", ab)
    assert peeking >= once  # any day so far includes the last day
    inter = _printed(NB["07_interleaving"], notebook_runs)
    credit_a, credit_b = _figures(r"credit for this impression: A (\d+), B (\d+)", inter)
    verdict = "B wins" if credit_b > credit_a else "A wins" if credit_a > credit_b else "a tie"
    assert f"A {int(credit_a)}, B {int(credit_b)}: {verdict}" in inter
    users_ab, users_il, ratio = _figures(rf"A/B needs ~({NUMBER}) users, interleaving ~({NUMBER}) \(({NUMBER})× fewer\)", inter)
    assert ratio == pytest.approx(users_ab / users_il, abs=0.5 + 0.01 * ratio)
