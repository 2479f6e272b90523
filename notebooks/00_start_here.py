# /// script
# [tool.marimo.opengraph]
# title = "00 · Start here"
# description = "The learning path: what each notebook teaches, what to try there, how long it takes and which to read first."
# ///
import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="00 · Start here")

with app.setup:
    import marimo as mo
    import pandas as pd

    from workbench.lessons import exercises, guide, kit
    from workbench.lessons.guide import MINUTES_PER_CONTROL, MINUTES_PER_EXERCISE, WORDS_PER_MINUTE

    settings = kit.settings()


@app.cell
def _():
    mo.md(r"""
    # 00 · Start here

    This workbench is a small but real recommender system: the kind that picks the rows of films on
    a streaming service's home page, the products under "customers also bought", the next video.
    It narrows a whole catalogue to a short list in three stages (find candidates, rank them,
    rerank the top), measures the result offline, and tests changes online on simulated users whose
    true tastes are known, so you can see whether a measurement finds the truth.

    The notebooks below each open one part. Every number on a page is computed when the page runs;
    move a control and the page recomputes. Most pages end with **Your turn**: you write a small
    function in a cell, and a check under it runs your function against the workbench's own code on
    the textbook's example and on random cases, then says whether it agrees, shows the first case
    where it does not, and gives a hint (a solution waits, folded, underneath).
    """)
    return


@app.cell
def _():
    kit.data_header_for(settings)  # the data card of the data set the pages run on (--data)
    return


@app.cell
def _():
    path = guide.learning_path()
    steps = [s for s in path if s.stem != "00_start_here"]
    titles = {s.stem: s.title for s in path}
    _rows = pd.DataFrame({
        "notebook": [f"[{s.title}](?file={s.file})" for s in steps],
        "what it teaches": [s.description for s in steps],
        "what to try": [s.to_try() for s in steps],
        "time": [f"about {s.minutes} min" for s in steps],
        "read first": [", ".join(titles.get(a, a) for a in s.after) or "nothing" for s in steps],
    })  # fmt: skip
    _total = sum(s.minutes for s in steps)
    _n_ex = sum(len(s.exercises) for s in steps)
    mo.vstack([
        mo.md("## The learning path"),
        kit.show(f"Learning path: {len(steps)} notebooks, about {_total // 60} h {_total % 60:02d} min in all, "
                 f"with {_n_ex} 'Your turn' exercises."),
        mo.md(markdown_table(_rows)),
        mo.md(f"<small>Each row is read from the notebook itself: its title and one-line description (the "
              f"header marimo's index page shows), the labels of its controls and its exercises. The time is an "
              f"estimate: its words at {WORDS_PER_MINUTE} a minute, {MINUTES_PER_CONTROL} minutes per control and "
              f"{MINUTES_PER_EXERCISE} per exercise, rounded up to 5 minutes. A new notebook appears here "
              f"by itself.</small>"),
    ])  # fmt: skip
    return (steps,)


@app.function
def markdown_table(df: pd.DataFrame) -> str:
    """A DataFrame as a Markdown table (cells may hold Markdown links)."""
    cell = lambda v: str(v).replace("|", "\\|").replace("\n", " ")  # noqa: E731
    lines = ["| " + " | ".join(map(cell, df.columns)) + " |", "|" + "---|" * len(df.columns)]
    return "\n".join(lines + ["| " + " | ".join(map(cell, row)) + " |" for row in df.itertuples(index=False)])


@app.cell
def _(steps):
    _by_notebook = {s.title: list(s.exercises) for s in steps if s.exercises}
    mo.vstack([
        mo.md("## Your turn, notebook by notebook"),
        kit.show(f"Your turn: {len(exercises.EXERCISES)} exercises in {len(_by_notebook)} notebooks."),
        mo.md("\n".join(f"* **{t}**: " + "; ".join(e) for t, e in _by_notebook.items())),
    ])  # fmt: skip
    return


@app.cell
def _():
    _terms = guide.glossary()
    mo.vstack([
        mo.md(f"""
    ## Plain words first

    Every page opens a panel, *Words used on this page*, that defines the terms the page uses before
    it uses them. All {len(_terms)} definitions live in `docs/GLOSSARY.md`; here they are together.
    """),
        mo.accordion({f"The glossary ({len(_terms)} terms)": mo.md(
            "\n\n".join(f"**{t.term}**: {t.definition}" for t in _terms))}),
    ])  # fmt: skip
    return


@app.cell
def _():
    mo.md(r"""
    ## Other ways in

    * **Edit any page**: `.venv/bin/marimo edit notebooks/04_reranking.py` (here, pages are apps:
      code hidden). Your exercise answers go in their cells there.
    * **JupyterLab**: `make lab` opens the ipywidgets panels (`jupyter_panel.ipynb`,
      `experiments_panel.ipynb`) with the same sliders over the same code.
    * **Reports**: `make report` writes every page as one HTML file that opens offline, from disk;
      `workbench report --compare A.toml B.toml` sets two configs side by side.
    """)
    return


@app.cell
def _():
    kit.footer(settings, None, __file__)
    return


if __name__ == "__main__":
    app.run()
