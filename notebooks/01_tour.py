import marimo

__generated_with = "0.25.2"
app = marimo.App(width="full", app_title="01 · Tour of a recommender")


@app.cell
def _():
    import marimo as mo
    import numpy as np
    import pandas as pd

    from workbench.metrics import relevance_matrix
    from workbench.pipeline import LATENCY_BUDGET_MS
    from workbench.report import DATASETS, NotebookSettings, notebook_settings, provenance, provenance_markdown
    from workbench.viz import charts
    from workbench.viz.whatif import fit_pipeline

    settings = notebook_settings(mo.cli_args())
    return (
        DATASETS,
        LATENCY_BUDGET_MS,
        NotebookSettings,
        charts,
        fit_pipeline,
        mo,
        np,
        pd,
        provenance,
        provenance_markdown,
        relevance_matrix,
        settings,
    )


@app.cell
def _(mo):
    mo.md(r"""
    # 01 · A tour of a production recommender

    Netflix, YouTube and Amazon do not score every item for every user: they narrow the
    catalogue in **stages**, each more expensive per item than the last and each handed
    fewer items.

    | stage | job | here |
    |---|---|---|
    | 1. **candidates** | find a few hundred items worth a look, fast, without losing the good ones | six sources (collaborative, content, two-tower, trending) fused |
    | 2. **ranking** | order them by predicted interest with a richer model | DeepFM over user, item and context features |
    | 3. **reranking** | choose the final slate: diversity, freshness, business rules, exploration | MMR, freshness boost, pins, ε-exploration |

    This page runs the whole pipeline on the data set below and shows, in one screen, what
    each stage keeps, what it costs in time, what one user finally sees and why, and how
    good the result is. The other notebooks open each stage up.
    """)
    return


@app.cell
def _(DATASETS, mo, settings):
    data_picker = mo.ui.dropdown(options=list(DATASETS), value=settings.data, label="data set")
    data_picker
    return (data_picker,)


@app.cell
def _(NotebookSettings, fit_pipeline, mo):
    @mo.cache
    def fitted(data: str, seed: int, small: bool):
        """Split in time and fit all three stages, once per data set (cached)."""
        return fit_pipeline(NotebookSettings(data, seed, small))

    return (fitted,)


@app.cell
def _(data_picker, fitted, mo, np, relevance_matrix, settings):
    with mo.status.spinner(title="Fitting the candidate sources and training the ranker (once; cached)..."):
        pipe, train, test, fit_s = fitted(data_picker.value, settings.seed, settings.small)
    _rel = relevance_matrix(test)
    users = np.flatnonzero(np.diff(_rel.indptr) > 0)
    slate = pipe.recommend(users)
    mo.md(
        f"**{train.name.split(':')[0]}**: {train.n_users:,} users, {train.n_items:,} items, "
        f"{train.n_interactions:,} training interactions (each user's last 20% is held out as the test period). "
        f"Fitting took {fit_s:.0f} s; recommending to the {len(users):,} users with test items took "
        f"{slate.timings_ms['total'].sum() / 1e3:.1f} s."
    )
    return pipe, slate, test, train, users


@app.cell
def _(LATENCY_BUDGET_MS, charts, mo, pd, pipe, settings, slate, train, users):
    _funnel = pd.DataFrame({
        "stage": ["catalogue", "candidates", "ranked", "slate"],
        "items": [train.n_items, slate.stages["candidates"].counts.mean(), slate.stages["ranked"].counts.mean(),
                  (slate.items >= 0).sum(axis=1).mean()],
    })  # fmt: skip
    latency = pipe.profile_latency(users[: 10 if settings.small else 40])
    _chart_table = latency.assign(budget_ms=[LATENCY_BUDGET_MS[s][1] for s in latency["stage"]])
    _total = latency.set_index("stage").loc["total"]
    mo.vstack([
        mo.md("## The funnel, and what each stage costs"),
        mo.hstack([
            charts.funnel_chart(_funnel, title="Items per user that survive each stage (mean over users)").properties(
                width=400),
            charts.latency_chart(
                _chart_table, title="Time per request (one user) against the budget (black tick)",
                reading=f"a request takes {_total['p50_ms']:.1f} ms at the median, {_total['p99_ms']:.1f} ms at p99 "
                        f"(budget: < 100 ms p99)",
            ).properties(width=400),
        ], justify="start", gap=2, wrap=True),
        mo.accordion({"Latency table (ms per request, p50/p99 over requests)": latency}),
    ])  # fmt: skip
    return


@app.cell
def _(mo, np, test, train, users):
    _ids = train.users["user_id"].to_numpy()
    _n_test = np.bincount(test.interactions["user"].to_numpy(), minlength=train.n_users)
    _options = {f"user {_ids[u]} · {_n_test[u]} test items": int(u) for u in users[:300]}
    user = mo.ui.dropdown(options=_options, value=next(iter(_options)), label="user", searchable=True)
    mo.vstack([mo.md("## One user's slate, explained"), user])
    return (user,)


@app.cell
def _(mo, pipe, slate, test, user):
    _why = pipe.explain(user.value, slate)
    _held_out = set(test.interactions.loc[test.interactions["user"] == user.value, "item"])
    _why.insert(3, "watched later", _why["item"].isin(_held_out))
    _why["ranking_score"] = _why["ranking_score"].astype(float)
    _cols = [c for c in ("position", "title", "watched later", "sources", "ranking_score", "ranked_position",
                         "what reranking did") if c in _why.columns]  # fmt: skip
    _source_cols = [c for c in _why.columns if c.startswith("rank in ")]
    mo.vstack([
        mo.md(f"Each row is one item of the final slate: which candidate sources proposed it (and at what rank, "
              f"0 = not proposed), the ranker's score and its place in the ranked list, and what reranking did. "
              f"**{int(_why['watched later'].sum())} of {len(_why)}** are items this user went on to watch."),
        mo.ui.table(_why[_cols].round(3), selection=None, page_size=len(_why)),
        mo.accordion({"Rank of each item in each source's own list": _why[["position", "title", *_source_cols]]}),
    ])  # fmt: skip
    return


@app.cell
def _(mo, pipe, slate, test):
    _table = pipe.evaluate(slate, test)
    _m = _table.set_index("metric")["mean"]
    mo.vstack([
        mo.md("## How good is it? (every user with test items)"),
        mo.md(f"NDCG@10 **{_m['ndcg']:.4f}**, recall@10 **{_m['recall']:.4f}**, catalogue coverage "
              f"**{_m['catalogue_coverage']:.1%}**, intra-list diversity **{_m['intra_list_diversity']:.3f}**. "
              "Notebook 05 works every one of these metrics out by hand."),
        mo.accordion({"The full metrics table (95% intervals over users)": mo.ui.table(
            _table.round(4), selection=None, page_size=len(_table))}),
    ])  # fmt: skip
    return


@app.cell
def _(mo):
    mo.md(r"""
    ## Where next

    1. **02 · Candidate generation**: each source's recall, their overlap, and how fusion picks between them.
    2. **03 · Ranking**: four rankers trained and compared, the features they see, what the best one looks at.
    3. **04 · Reranking what-if**: sliders for diversity, freshness and exploration, redrawn for every user.
    4. **05 · Metrics**: the textbook example, editable, every metric worked out.
    5. **06 · A/B testing** and **07 · Interleaving**: measuring online, with simulated users whose truth is known.
    """)
    return


@app.cell
def _(data_picker, mo, pipe, provenance, provenance_markdown, settings):
    _s = type(settings)(data_picker.value, settings.seed, settings.small)
    mo.md(provenance_markdown(provenance(_s, pipe.config.to_dict(), "01_tour.py")))
    return


if __name__ == "__main__":
    app.run()
