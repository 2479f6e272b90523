import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="04 · Reranking what-if")


@app.cell
def _():
    import time

    import marimo as mo
    import numpy as np

    from workbench.report import DATASETS, NotebookSettings, notebook_settings, provenance, provenance_markdown
    from workbench.viz import charts
    from workbench.viz.whatif import HEADLINE, Knobs
    from workbench.viz.whatif import prepare as prepare_whatif

    settings = notebook_settings(mo.cli_args())
    return (
        DATASETS,
        HEADLINE,
        Knobs,
        NotebookSettings,
        charts,
        mo,
        np,
        prepare_whatif,
        provenance,
        provenance_markdown,
        settings,
        time,
    )


@app.cell
def _(mo):
    mo.md(r"""
    # 04 · Reranking what-if

    The ranker (stage 2) orders each user's candidates by predicted relevance. Stage 3,
    **reranking**, decides what the user actually sees, trading a little accuracy for
    things a relevance score does not measure:

    * **MMR λ** (Carbonell & Goldstein 1998): each next slot goes to the item maximising
      λ·relevance − (1 − λ)·(similarity to the items already placed). λ = 1 keeps the
      ranker's order; lower λ buys **diversity**.
    * **Freshness decay**: relevance × (1 + w·e^(−decay·age/30 days)). A higher decay
      favours only the very newest items; 0 boosts everything equally (no change).
    * **Exploration rate ε**: a share ε of the slots shows random items from below the
      slate, so the system keeps learning about items it would never show.

    Business rules stay on: seen and unavailable items are dropped, and a promoted item may be
    pinned to the top (it shows as *entered* in the slate chart below).

    Stages 1–2 ran once, above the controls, and are cached: moving a slider re-runs
    only reranking and the metrics, for **every** user.
    """)
    return


@app.cell
def _(DATASETS, mo, settings):
    data_picker = mo.ui.dropdown(options=list(DATASETS), value=settings.data, label="data set")
    data_picker
    return (data_picker,)


@app.cell
def _(NotebookSettings, mo, prepare_whatif):
    @mo.cache
    def prepare(data: str, seed: int, small: bool):
        """Stages 1–2, once per data set (cached): load, split in time, retrieve and score candidates."""
        return prepare_whatif(NotebookSettings(data, seed, small))

    return (prepare,)


@app.cell
def _(data_picker, mo, prepare, settings):
    with mo.status.spinner(title="Retrieving and ranking candidates (cached after the first run)..."):
        whatif, stages_ms = prepare(data_picker.value, settings.seed, settings.small)
    train = whatif.train
    mo.md(
        f"**{train.name.split(':')[0]}**: {train.n_users:,} users, {train.n_items:,} items; "
        f"{whatif.ranked.n} ranked candidates per user from stages 1–2, computed once in {stages_ms:,.0f} ms."
    )
    return stages_ms, train, whatif


@app.cell
def _(mo, np, train, whatif):
    _pickable = whatif.pickable_users()
    _ids = train.users["user_id"].to_numpy()
    user_options = {f"user {_ids[u]} · {int(np.diff(whatif.relevance.indptr)[u])} test items": int(u) for u in _pickable}

    lam = mo.ui.slider(0.0, 1.0, 0.05, value=0.7, label="MMR λ (relevance weight)", show_value=True, debounce=True)
    decay = mo.ui.slider(steps=[0.0, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0], value=1.0,
                         label="freshness decay (per 30 days)", show_value=True, debounce=True)  # fmt: skip
    explore = mo.ui.slider(0.0, 0.5, 0.05, value=0.0, label="exploration rate ε", show_value=True, debounce=True)
    k = mo.ui.slider(5, 30, 5, value=10, label="slate size k", show_value=True, debounce=True)
    user = mo.ui.dropdown(options=user_options, value=next(iter(user_options)), label="user", searchable=True)
    mo.vstack([mo.hstack([lam, decay], justify="start", gap=2), mo.hstack([explore, k, user], justify="start", gap=2)])
    return decay, explore, k, lam, user


@app.cell
def _(Knobs, k, whatif):
    baseline = whatif.run(Knobs(lam=1.0, freshness_decay=0.0, exploration_rate=0.0, k=k.value)).headline()
    return (baseline,)


@app.cell
def _(Knobs, decay, explore, k, lam, time, whatif):
    knobs = Knobs(lam=lam.value, freshness_decay=decay.value, exploration_rate=explore.value, k=k.value)
    _t0 = time.perf_counter()
    result = whatif.run(knobs)
    move_ms = (time.perf_counter() - _t0) * 1e3
    headline = result.headline()
    return headline, knobs, move_ms, result


@app.cell
def _(HEADLINE, baseline, headline, knobs, mo, move_ms, stages_ms):
    def _card(name):
        delta = headline[name] - baseline[name]
        return mo.stat(
            f"{headline[name]:.4f}" if abs(headline[name]) < 100 else f"{headline[name]:,.0f}",
            label=f"{HEADLINE[name]}@{knobs.k}",
            caption=f"{delta:+.4f} vs ranking order" if abs(baseline[name]) < 100 else f"{delta:+,.0f} vs ranking order",
            direction="increase" if delta > 0 else "decrease" if delta < 0 else None,
            target_direction="decrease" if name == "mean_item_age_days" else "increase",
            bordered=True,
        )

    _readout = " · ".join(f"{HEADLINE[n]} {headline[n]:.4f}" for n in HEADLINE)
    mo.vstack([
        mo.md(f"### Every user, at λ = {knobs.lam:.2f}, decay = {knobs.freshness_decay:g}, ε = {knobs.exploration_rate:.2f}, k = {knobs.k}"),
        mo.hstack([_card(n) for n in HEADLINE], widths="equal", wrap=True),
        mo.md(f"<small>metrics: {_readout}</small>"),
        mo.md(f"This move took **{move_ms:.0f} ms** (reranking + metrics for every user); "
              f"the cached stages 1–2 it skipped took {stages_ms:,.0f} ms."),
    ])  # fmt: skip
    return


@app.cell
def _(charts, mo, result, user, whatif):
    before, after = whatif.before_after(result, user.value)
    _chart = charts.slate_change_chart(before, after, title=f"What reranking did to the slate of {user.selected_key.split(' ·')[0]}")
    _top = ", ".join(after["title"].head(5))
    _hits = int(after["in_test"].sum())
    mo.vstack([
        _chart,
        mo.md(f"**Top of the slate:** {_top}. {_hits} of the {len(after)} items are ones this user went on to watch "
              f"(held-out test items)."),
    ])  # fmt: skip
    return (after,)


@app.cell
def _(after, mo):
    _cols = [c for c in ("position", "title", "score", "ranked_position", "freshness_boost", "moved_by_mmr",
                         "pinned", "explored", "in_test") if c in after.columns]  # fmt: skip
    mo.accordion({"The final slate, with what each step did": after[_cols].round(4)})
    return


@app.cell
def _(Knobs, decay, explore, k, mo, whatif):
    @mo.cache
    def frontier_at(freshness_decay: float, exploration_rate: float, k: int):
        return whatif.frontier(Knobs(freshness_decay=freshness_decay, exploration_rate=exploration_rate, k=k))

    frontier = frontier_at(decay.value, explore.value, k.value)
    return (frontier,)


@app.cell
def _(charts, frontier, headline, knobs):
    charts.frontier_chart(
        frontier,
        {"lam": knobs.lam, **headline},
        x_title=f"intra-list diversity@{knobs.k} (mean pairwise cosine distance, 0–1)",
        y_title=f"NDCG@{knobs.k} (0–1)",
        title="The accuracy–diversity frontier traced by λ (other knobs as set)",
    )
    return


@app.cell
def _(mo, result):
    _table = result.metrics[["metric", "k", "mean", "ci_low", "ci_high", "users", "note"]].round(4)
    mo.vstack([
        mo.md("### All metrics (mean over users, 95% interval)"),
        mo.ui.table(_table, page_size=len(_table), selection=None),
        mo.md("Accuracy metrics count only users with held-out test items; catalogue figures (coverage, "
              "exposure Gini, personalisation) describe all slates together."),
    ])  # fmt: skip
    return


@app.cell
def _(data_picker, knobs, mo, provenance, provenance_markdown, settings, whatif):
    _s = type(settings)(data_picker.value, settings.seed, settings.small)
    mo.md(provenance_markdown(provenance(_s, {"rerank": whatif.config(knobs), "k": knobs.k}, "04_reranking.py")))
    return


if __name__ == "__main__":
    app.run()
