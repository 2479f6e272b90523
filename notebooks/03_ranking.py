import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="03 · Ranking")


@app.cell
def _():
    import marimo as mo
    import numpy as np

    from workbench.data import temporal_split
    from workbench.metrics import relevance_matrix
    from workbench.ranking import feature_table
    from workbench.report import DATASETS, NotebookSettings, load_data, notebook_settings, provenance, provenance_markdown
    from workbench.viz import charts
    from workbench.viz.ranking import compare_rankers, permutation_importance, train_rankers

    settings = notebook_settings(mo.cli_args())
    return (
        DATASETS,
        NotebookSettings,
        charts,
        compare_rankers,
        feature_table,
        load_data,
        mo,
        np,
        permutation_importance,
        provenance,
        provenance_markdown,
        relevance_matrix,
        settings,
        temporal_split,
        train_rankers,
    )


@app.cell
def _(mo):
    mo.md(r"""
    # 03 · Ranking: a richer model over a few hundred candidates

    Stage 1 handed each user about 300 candidates. Stage 2 can afford a model that looks at
    each (user, candidate) pair in detail: who the user is, what the item is, when and on
    what device the request comes, how the user's taste matches the item, and which
    candidate sources proposed it. Four rankers are trained here on the same features:

    * **DeepFM** (Guo et al. 2017): factorisation-machine pairwise interactions + a deep network.
    * **Wide & Deep** (Cheng et al. 2016): a linear "memorising" part + a deep "generalising" part.
    * **NCF / NeuMF** (He et al. 2017): user and item embeddings through matrix factorisation and an MLP.
    * **GBDT** (LightGBM LambdaMART): boosted trees that optimise a ranking objective directly.

    Each learns the pipeline's way: candidates come from sources fitted on an *earlier*
    slice of the training data, and the labels are what each user did in its last slice,
    so the ranker learns to pick, among realistic candidates, the ones that happen next.
    """)
    return


@app.cell
def _(DATASETS, mo, settings):
    data_picker = mo.ui.dropdown(options=list(DATASETS), value=settings.data, label="data set")
    data_picker
    return (data_picker,)


@app.cell
def _(NotebookSettings, load_data, mo, np, relevance_matrix, temporal_split, train_rankers):
    @mo.cache
    def trained(data: str, seed: int, small: bool):
        """Train the four rankers and retrieve serving candidates for the test users (once; cached)."""
        train, test = temporal_split(load_data(NotebookSettings(data, seed, small)))
        rankers, generator = train_rankers(train)
        relevance = relevance_matrix(test)
        users = np.flatnonzero(np.diff(relevance.indptr) > 0)
        return train, rankers, generator.retrieve(users, 300), relevance[users]

    return (trained,)


@app.cell
def _(data_picker, mo, settings, trained):
    with mo.status.spinner(title="Training DeepFM, Wide & Deep, NCF and GBDT (once; cached)..."):
        train, rankers, candidates, relevance = trained(data_picker.value, settings.seed, settings.small)
    mo.md(
        f"**{train.name.split(':')[0]}**: trained {len(rankers)} rankers; judged on the "
        f"{candidates.n_users:,} test users' {candidates.n} candidates each, against what they did next."
    )
    return candidates, rankers, relevance, train


@app.cell
def _(mo):
    k = mo.ui.slider(5, 50, 5, value=10, label="cut-off k", show_value=True, debounce=True)
    k
    return (k,)


@app.cell
def _(candidates, charts, compare_rankers, k, mo, rankers, relevance):
    table = compare_rankers(rankers, candidates, relevance, k=k.value)
    best = table.iloc[1:].sort_values(f"ndcg@{k.value}").iloc[-1]
    _base = table.iloc[0]
    _long = table.melt(id_vars="model", value_vars=[f"ndcg@{k.value}", f"recall@{k.value}", "auc"],
                       var_name="metric", value_name="value")  # fmt: skip
    mo.vstack([
        charts.metric_bars(
            _long, group="model", title="The rankers against the fused candidate order (no ranker)",
            reading=f"best: {best['model']} (NDCG@{k.value} {best[f'ndcg@{k.value}']:.4f}, "
                    f"{best[f'ndcg@{k.value}'] / _base[f'ndcg@{k.value}'] - 1:+.0%} over the fused order)",
            value_title="metric value (0–1)",
        ),
        mo.ui.table(table.round(4), selection=None),
        mo.md("**AUC** is per user: the chance that a candidate the user went on to watch outscores one they did "
              "not, over all their candidates. **NDCG** and **recall** judge only the top k, which is what the "
              "user sees: a model can order the tail well (high AUC) and still miss at the top."),
    ])  # fmt: skip
    return (best,)


@app.cell
def _(feature_table, mo):
    _features = feature_table()
    mo.vstack([
        mo.md(f"## The features every ranker sees ({len(_features)} definitions; `<genre>` and `<source>` "
              "expand to one column each)"),
        mo.ui.table(_features, selection=None, page_size=len(_features)),
    ])  # fmt: skip
    return


@app.cell
def _(best, candidates, charts, mo, np, permutation_importance, rankers, relevance, settings):
    @mo.cache
    def importance_of(model: str, n_users: int):
        rng = np.random.default_rng(settings.seed)
        rows = np.sort(rng.choice(candidates.n_users, size=min(n_users, candidates.n_users), replace=False))
        sample = candidates.select_users(rows).top(100)
        return permutation_importance(rankers[model], sample, relevance[rows], k=10, seed=settings.seed)

    with mo.status.spinner(title=f"Shuffling each feature to see what {best['model']} relies on..."):
        _imp = importance_of(best["model"], 150 if settings.small else 300)
    _top = _imp.iloc[0]
    mo.vstack([
        mo.md(f"## What {best['model']} looks at"),
        charts.importance_chart(
            _imp, title=f"NDCG@10 lost when one feature is shuffled ({best['model']}, top 100 candidates per user)",
            reading=f"scrambling {_top['feature']} costs {_top['importance']:.4f} of NDCG@10 "
                    f"({_top['importance'] / _imp.attrs['ndcg']:.0%} of {_imp.attrs['ndcg']:.4f}); "
                    "near-zero bars are features it ignores",
            value_title="NDCG@10 lost (absolute, 0–1 scale)",
        ),
    ])  # fmt: skip
    return


@app.cell
def _(data_picker, mo, provenance, provenance_markdown, rankers, settings):
    _s = type(settings)(data_picker.value, settings.seed, settings.small)
    _cfg = {name: r.report for name, r in rankers.items()}
    mo.md(provenance_markdown(provenance(_s, _cfg, "03_ranking.py")))
    return


if __name__ == "__main__":
    app.run()
