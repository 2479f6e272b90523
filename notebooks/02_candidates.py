import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="02 · Candidate generation")


@app.cell
def _():
    import time

    import marimo as mo
    import numpy as np
    import pandas as pd

    from workbench.candidates.diagnostics import overlap_table, recall_table
    from workbench.candidates.fusion import DEFAULT_WEIGHTS, CandidateGenerator, fuse
    from workbench.data import temporal_split
    from workbench.metrics import relevance_matrix
    from workbench.report import DATASETS, NotebookSettings, load_data, notebook_settings, provenance, provenance_markdown
    from workbench.viz import charts
    from workbench.viz.candidates import slot_winners

    settings = notebook_settings(mo.cli_args())
    return (
        CandidateGenerator,
        DATASETS,
        DEFAULT_WEIGHTS,
        NotebookSettings,
        charts,
        fuse,
        load_data,
        mo,
        np,
        overlap_table,
        pd,
        provenance,
        provenance_markdown,
        recall_table,
        relevance_matrix,
        settings,
        slot_winners,
        temporal_split,
        time,
    )


@app.cell
def _(mo):
    mo.md(r"""
    # 02 · Candidate generation: recall first, cheaply

    Stage 1 narrows a catalogue of thousands to about a thousand candidates per user, and
    it must not lose the items the user will want: a later stage can only reorder what
    stage 1 found. So it is judged by **recall@N**: of the items each user went on to
    interact with (the test period), what share is among their N candidates?

    No single source finds everything. Collaborative sources (EASE, item-kNN, ALS) follow
    co-behaviour; content finds look-alikes of what the user watched; the two-tower model
    learns both; trending catches what is hot. The union covers more than any one of them,
    and **fusion** decides which of them fill the list.
    """)
    return


@app.cell
def _(DATASETS, mo, settings):
    data_picker = mo.ui.dropdown(options=list(DATASETS), value=settings.data, label="data set")
    data_picker
    return (data_picker,)


@app.cell
def _(CandidateGenerator, NotebookSettings, load_data, mo, np, relevance_matrix, temporal_split, time):
    @mo.cache
    def stage_one(data: str, seed: int, small: bool):
        """Fit every source once (cached) and retrieve each one's own top-N for every test user."""
        train, test = temporal_split(load_data(NotebookSettings(data, seed, small)))
        relevance = relevance_matrix(test)
        users = np.flatnonzero(np.diff(relevance.indptr) > 0)
        t0 = time.perf_counter()
        gen = CandidateGenerator().fit(train)
        fit_s = time.perf_counter() - t0
        n_max = min(500, train.n_items // 2)
        each = gen.retrieve_each(users, n_max)
        return train, test, gen, each, n_max, fit_s

    return (stage_one,)


@app.cell
def _(data_picker, mo, settings, stage_one):
    with mo.status.spinner(title="Fitting every candidate source (cached after the first run)..."):
        train, test, gen, each, n_max, fit_s = stage_one(data_picker.value, settings.seed, settings.small)
    mo.md(
        f"**{train.name.split(':')[0]}**: {train.n_items:,} items. Fitted {len(gen.sources)} sources "
        f"({', '.join(gen.sources)}) in {fit_s:.1f} s; each retrieved its own top {n_max} for the "
        f"{len(next(iter(each.values())).users):,} users who have test items."
    )
    return each, gen, n_max, test, train


@app.cell
def _(recall_table):
    def recall_curves(sets, test, ns):
        """recall_table's wide table as one row per (source, N), for the chart."""
        wide = recall_table(sets, test, ns)
        long = wide.rename_axis("source").reset_index().melt(id_vars="source", var_name="n", value_name="recall")
        return long.assign(n=long["n"].str.removeprefix("recall@").astype(int)).dropna()

    return (recall_curves,)


@app.cell
def _(charts, each, n_max, recall_curves, test):
    ns = [n for n in (10, 20, 50, 100, 200, 500) if n <= n_max]
    curves = recall_curves(each, test, ns)
    _best = curves[curves["n"] == ns[-1]].sort_values("recall")
    charts.recall_curve_chart(
        curves,
        reading=f"at N={ns[-1]}: best {_best['source'].iloc[-1]} ({_best['recall'].iloc[-1]:.1%}), "
                f"worst {_best['source'].iloc[0]} ({_best['recall'].iloc[0]:.1%}) of the test items found",
    )  # fmt: skip
    return (ns,)


@app.cell
def _(mo, n_max):
    n_pick = mo.ui.slider(steps=[n for n in (20, 50, 100, 200, 500) if n <= n_max], value=min(100, n_max),
                          label="candidates per user N", show_value=True, debounce=True)  # fmt: skip
    n_pick
    return (n_pick,)


@app.cell
def _(charts, each, mo, n_pick, overlap_table, train):
    _table = overlap_table(each, n_pick.value, train.n_items)
    overlap = _table.rename_axis("a").reset_index().melt(id_vars="a", var_name="b", value_name="overlap")
    mo.vstack([
        charts.overlap_chart(
            overlap, title=f"How much of each source's top {n_pick.value} (x) another source (y) also proposes",
            value_title="share of x's list also in y's (0–1, mean over users)",
        ),
        mo.md("Low overlap is good news: each source brings items the others miss, so their union recalls more."),
    ])  # fmt: skip
    return


@app.cell
def _(mo):
    mo.md(r"""
    ## Fusion: whose candidates fill the list?

    Sources score on different scales: a co-occurrence count, a cosine in [−1, 1], a
    popularity count. **Max of raw scores** keeps, for each item, its largest raw score and
    sorts by it, so the source with the biggest numbers wins nearly every slot.
    **Reciprocal-rank fusion** (Cormack et al. 2009) scores an item Σ w_s / (60 + rank_s + 1):
    only ranks matter, and an item several sources agree on rises. Both keep each source's
    quota of its own best items; the rest of the list is where they differ.
    """)
    return


@app.cell
def _(DEFAULT_WEIGHTS, charts, each, fuse, gen, mo, n_pick, ns, pd, recall_curves, slot_winners, test):
    fused = {
        method: fuse(each, n_pick.value, gen.weights, method, seen=gen.seen_, available=gen.available_)
        for method in ("rrf", "max_score")
    }
    _fused_curves = recall_curves({f"fused: {m}": cs for m, cs in fused.items()}, test,
                                  [n for n in ns if n <= n_pick.value])  # fmt: skip
    _winners = pd.concat([slot_winners(cs, gen.weights, m, top=10).assign(method=m) for m, cs in fused.items()],
                         ignore_index=True)  # fmt: skip
    _at = _fused_curves[_fused_curves["n"] == _fused_curves["n"].max()].set_index("source")["recall"]
    _top = _winners.loc[_winners.groupby("method")["share"].idxmax()].set_index("method")
    mo.vstack([
        charts.metric_bars(
            _winners.rename(columns={"source": "metric", "share": "value"}), group="method",
            title="Who wins the top 10 slots of the fused list",
            reading=f"max-of-raw-scores: {_top.loc['max_score', 'source']} wins {_top.loc['max_score', 'share']:.0%}; "
                    f"RRF: the most any source wins is {_top.loc['rrf', 'share']:.0%} ({_top.loc['rrf', 'source']})",
            value_title="share of the top-10 slots won (0–1)",
        ),
        charts.recall_curve_chart(
            _fused_curves, title=f"Recall of the fused list of {n_pick.value}: rank-based against max-of-raw-scores",
            reading=f"recall@{_fused_curves['n'].max()}: RRF {_at['fused: rrf']:.1%}, max-score {_at['fused: max_score']:.1%}",
        ),
        mo.md("A slot is *won* by the source with the largest term of the item's fused score: its raw score under "
              "max-score, its weighted reciprocal rank under RRF. Recall alone can favour max-score when the "
              "loudest source is a good one (popularity is, in a world with popularity bias), but then every "
              "user's list opens with the same items, and stages 2–3 have little left to personalise. "
              "Source weights (RRF weights and quotas): "
              + ", ".join(f"{s} {w:g}" for s, w in gen.weights.items())
              + f". The textbook default: {DEFAULT_WEIGHTS}."),
    ])  # fmt: skip
    return


@app.cell
def _(data_picker, gen, mo, n_pick, provenance, provenance_markdown, settings):
    _s = type(settings)(data_picker.value, settings.seed, settings.small)
    _cfg = {"sources": {n: repr(s) for n, s in gen.sources.items()}, "weights": gen.weights, "n": n_pick.value}
    mo.md(provenance_markdown(provenance(_s, _cfg, "02_candidates.py")))
    return


if __name__ == "__main__":
    app.run()
