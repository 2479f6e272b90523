"""The guided route (`workbench.lessons.guide`): the learning path read from the notebook files, the glossary,
and the words each page shows."""

import re
import textwrap

import pytest

from workbench.lessons import guide
from workbench.lessons.exercises import EXERCISES
from workbench.report.export import NOTEBOOK_DIR, list_notebooks

NOTEBOOKS = list_notebooks(NOTEBOOK_DIR)


TEMPLATE = textwrap.dedent('''\
    import marimo

    app = marimo.App(width="medium", app_title="TITLE")


    @app.cell
    def _():
        mo.md(r"""
        # TITLE

        BODY
        """)
        return


    @app.cell
    def _():
        k = mo.ui.slider(1, 10, label="cut-off k")
        d = mo.ui.dropdown(["a"], label=f"not a fixed {label}")
        return
    ''')


def _notebook(folder, stem, title, header="", body="Some words here."):
    (folder / f"{stem}.py").write_text(header + TEMPLATE.replace("TITLE", title).replace("BODY", body))


def test_the_path_is_read_from_the_files_and_grows_with_them(tmp_path):
    header = '# /// script\n# [tool.marimo.opengraph]\n# title = "02 · Two"\n# description = "What two teaches."\n' \
             '# [tool.workbench]\n# after = ["00_zero"]\n# ///\n'  # fmt: skip
    _notebook(tmp_path, "00_zero", "00 · Zero", body="First paragraph of zero.\n\n    Second one.")
    _notebook(tmp_path, "01_one", "01 · One")
    _notebook(tmp_path, "02_two", "02 · Two (app title)", header=header)
    steps = guide.learning_path(tmp_path)
    assert [s.stem for s in steps] == ["00_zero", "01_one", "02_two"]
    zero, one, two = steps
    assert (zero.title, zero.description, zero.after) == ("00 · Zero", "First paragraph of zero.", ())
    assert one.after == ("00_zero",)  # the previous number by default
    assert (two.title, two.description, two.after) == ("02 · Two", "What two teaches.", ("00_zero",))  # the header wins
    assert one.controls == ("cut-off k",)  # a label built at run time is not a fixed control name
    assert one.to_try() == "change cut-off k"
    words = len(re.findall(r"[A-Za-z]{2,}", "01 · One Some words here."))
    assert one.words == words
    raw = words / guide.WORDS_PER_MINUTE + guide.MINUTES_PER_CONTROL * 1
    assert one.minutes == max(5, 5 * -(-raw // 5))
    _notebook(tmp_path, "03_three", "03 · Three")
    assert [s.stem for s in guide.learning_path(tmp_path)][-1] == "03_three"  # a new notebook is a new step


def test_the_real_path_names_every_notebook_with_its_exercises():
    steps = {s.stem: s for s in guide.learning_path()}
    assert list(steps) == [p.stem for p in NOTEBOOKS]
    for stem, step in steps.items():
        assert step.title.startswith(stem[:2] + " · ") and len(step.description) > 40, stem
        assert step.exercises == tuple(ex.title for ex in EXERCISES.values() if ex.notebook == stem)
        assert step.minutes % 5 == 0 and step.minutes >= 5
    for ex in EXERCISES.values():
        assert ex.title in steps[ex.notebook].to_try()


KEY_TERMS = ("EASE", "ALS", "item-kNN", "Novelty in bits", "RRF", "Exposure Gini", "MMR", "NDCG@k", "Two-tower",
             "IPS", "Team draft", "p-value", "Power", "AUC", "LambdaMART", "DeepFM", "Wide & Deep", "NCF")  # fmt: skip


def test_the_glossary_defines_the_key_terms_in_plain_words():
    terms = {t.term: t for t in guide.glossary()}
    for term in KEY_TERMS:
        assert term in terms, f"docs/GLOSSARY.md has no entry for {term}"
        assert len(terms[term].definition.split()) >= 12, term
    assert len(terms) == len(guide.glossary())  # no heading twice
    ease = [t.term for t in guide.used_on("sources: ease, itemknn and als, fused by reciprocal-rank fusion")]
    assert {"EASE", "item-kNN", "ALS", "RRF"} <= set(ease)
    assert "MAP" not in [t.term for t in guide.used_on(guide.prose("x = df.map(str)\nmo.md('a map of the city')"))]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_notebook_opens_with_its_words_and_gallery_header(notebook):
    source = notebook.read_text(encoding="utf-8")
    meta = guide.header(source)["tool"]["marimo"]["opengraph"]
    assert meta["title"] == re.search(r'app_title="([^"]+)"', source).group(1)
    assert meta["description"]
    if notebook.stem != "00_start_here":
        assert "guide.panel(__file__" in source, f"{notebook.name} lacks the 'Words used on this page' panel"
        assert guide.used_on(guide.prose(source)), notebook.name
