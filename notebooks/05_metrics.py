# /// script
# [tool.marimo.opengraph]
# title = "05 · Metrics"
# description = "Offline metrics worked by hand on the textbook's example: precision, recall, NDCG, MAP and MRR with every formula written out in numbers."
# ///
import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="05 · Metrics")


with app.setup:
    import math

    import marimo as mo

    from workbench.lessons import exercises, guide, kit
    from workbench.lessons.worked import explain, metric_table, parse_example, position_table
    from workbench.viz import charts

    settings = kit.settings()
    # The textbook's worked example and the answers it prints for it (checked against ours below).
    TEXTBOOK = {"liked": "A, B, C", "recommended": "D, A, E, B, F"}
    TEXTBOOK_ANSWERS = {("precision", "@3"): "1/3", ("recall", "@5"): "2/3", ("ndcg", "@3"): "≈ 0.2961"}


@app.cell
def _():
    mo.md(r"""
    # 05 · Offline metrics, worked by hand

    Before trusting a metric on thousands of users, check it on one. The textbook example:
    a user who likes **{A, B, C}** is recommended **[D, A, E, B, F]**. Edit either box below:
    every metric is recomputed by the same functions (`workbench.metrics`) that score the
    whole pipeline, and each formula is written out with your numbers.

    Grades are optional: `A=3, B=2, C=1` makes the example *graded*, which changes NDCG
    (and only NDCG) because the other metrics only ask *whether* an item is relevant.
    """)
    return


@app.cell
def _():
    guide.panel(__file__)
    return


@app.cell
def _():
    kit.data_header_for(settings)  # the data card of the data set the other pages run on (--data); this page's worked example is one user
    return


@app.cell
def _():
    liked = mo.ui.text(value=TEXTBOOK["liked"], label="liked items (optionally graded: A=3, B=2)", full_width=True)
    recommended = mo.ui.text(value=TEXTBOOK["recommended"], label="recommended list, best first", full_width=True)
    gain = mo.ui.dropdown(
        options={"exponential: 2^grade − 1": "exp", "linear: grade": "linear"},
        value="exponential: 2^grade − 1",
        label="NDCG gain",
    )
    mo.vstack([liked, recommended, gain])
    return gain, liked, recommended


@app.cell
def _(liked, recommended):
    try:
        example = parse_example(liked.value, recommended.value)
        problem = None
    except ValueError as err:
        example, problem = None, str(err)
    mo.stop(problem is not None, mo.callout(mo.md(f"**Cannot read the example:** {problem}"), kind="danger"))
    k_slider = mo.ui.slider(1, example.recommended.shape[1], value=min(3, example.recommended.shape[1]),
                            label="cut-off k", show_value=True)  # fmt: skip
    k_slider
    return example, k_slider


@app.cell
def _(example, gain, k_slider):
    k = k_slider.value
    worked = explain(example, k, gain.value)
    _shown = (("precision", "P"), ("recall", "R"), ("ndcg", "NDCG"), ("map", "AP"))
    cards = mo.hstack(
        [mo.stat(f"{worked.loc[m, 'value']:.4f}", label=f"{name}@{k}", caption=worked.loc[m, "worked"]) for m, name in _shown],
        widths="equal",
    )  # fmt: skip
    mo.vstack([
        mo.md(f"### Every metric at k = {k}"),
        cards,
        kit.show(f"At k = {k}: " + ", ".join(f"{name}@{k} = {worked.loc[m, 'value']:.4f} ({worked.loc[m, 'worked']})"
                                              for m, name in _shown) + "."),
        kit.table(worked.rename_axis("metric").reset_index()),
    ])  # fmt: skip
    return (k,)


@app.cell
def _(example, gain):
    textbook = parse_example(TEXTBOOK["liked"], TEXTBOOK["recommended"])
    is_textbook = (
        example.labels == textbook.labels
        and (example.relevance != textbook.relevance).nnz == 0
        and (example.recommended == textbook.recommended).all()
    )
    _ours = metric_table(textbook, "exp")
    _names = {"precision": "P", "recall": "R", "ndcg": "NDCG"}
    _pairs = ", ".join(f"{_names[m]}{at} {claim} (computed: {_ours.loc[m, at]:.4f})"
                       for (m, at), claim in TEXTBOOK_ANSWERS.items())  # fmt: skip
    _example = f"likes {{{TEXTBOOK['liked']}}} and list [{TEXTBOOK['recommended']}]"
    kit.show(
        f"The textbook's answers for {_example}: {_pairs}; they are columns of the table below."
        if is_textbook and gain.value == "exp"
        else f"You have changed the example: compare the table with the textbook's ({_example}: {_pairs})."
    )
    return


@app.cell
def _(example, gain):
    table = metric_table(example, gain.value)
    mo.vstack([
        mo.md("### The same metrics at every cut-off k"),
        mo.md("Read across a row: precision can fall as k grows (the new slots were misses) while recall never does."),
        kit.table(table.rename_axis("metric").reset_index()),
    ])  # fmt: skip
    return


@app.cell
def _(example, gain):
    positions = position_table(example, gain.value)
    hits = positions.loc[positions["relevant"], "position"].tolist()
    charts.position_gain_chart(
        positions,
        reading=f"hits at positions {hits}: each is worth its bar; the dashed line is the discount 1/log2(rank+1)"
        if hits else "no hits: DCG is 0 at every k",
    )
    return


@app.cell
def _(example, k):
    n_rel = example.relevance.nnz
    mo.md(rf"""
    ### Conventions (where libraries disagree)

    * **Precision@k divides by k**, even when the list holds fewer than k items: a short
      list is not rewarded for being short.
    * **AP@k divides by R**, the user's number of relevant items (trec_eval and ranx),
      not by min(k, R). Here R = {n_rel}: with k = {k} slots, a perfect list scores {min(k, n_rel)}/{n_rel}.
      MAP is the mean of AP over users.
    * **NDCG@k** is DCG@k / IDCG@k with discount 1/log2(rank + 1). IDCG ranks the user's own
      grades best first. With grades, the *exponential* gain 2^grade − 1 (Burges et al. 2005)
      rewards a top grade far more than the *linear* gain (Järvelin & Kekäläinen 2002); for
      binary relevance the two agree. Try `A=3, B=2, C=1` and switch the gain.
    * **MRR** is the mean over users of 1 / rank of the first hit (0 when none is in the top k).
    * Users with **no relevant item** in the test period get NaN and are left out of the mean
      (and counted): they say nothing about ranking quality.
    """)
    return


@app.cell
def _():
    precision_at_k_box = exercises.editor("precision_at_k")
    exercises.task("precision_at_k", precision_at_k_box)
    return (precision_at_k_box,)


@app.function
def my_precision_at_k(recommended, relevant, k):
    hits = sum(1 for item in recommended if item in relevant)  # all of them, or the top k?
    return hits / k


@app.cell
def _(precision_at_k_box):
    exercises.show("precision_at_k", my_precision_at_k, precision_at_k_box)
    return


@app.cell
def _():
    ndcg_at_k_box = exercises.editor("ndcg_at_k")
    exercises.task("ndcg_at_k", ndcg_at_k_box)
    return (ndcg_at_k_box,)


@app.function
def my_ndcg_at_k(recommended, relevant, k):
    dcg = sum(1.0 for item in recommended[:k] if item in relevant)  # where is the position's discount?
    ideal = min(k, len(relevant))
    return dcg / ideal


@app.cell
def _(ndcg_at_k_box):
    exercises.show("ndcg_at_k", my_ndcg_at_k, ndcg_at_k_box)
    return


@app.cell
def _():
    kit.footer(settings, TEXTBOOK, __file__)
    return


if __name__ == "__main__":
    app.run()
