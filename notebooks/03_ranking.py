# /// script
# [tool.marimo.opengraph]
# title = "03 · Ranking"
# description = "Stage 2: DeepFM, Wide & Deep, NCF and LambdaMART ranking the same candidates, compared by NDCG and AUC, and the features the best one relies on."
# ///
import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="03 · Ranking")

with app.setup:
    import dataclasses

    import marimo as mo
    import numpy as np
    import pandas as pd

    from workbench.lessons import exercises, guide, kit, results
    from workbench.lessons.candidates import describe_stage_one, textbook_config
    from workbench.lessons.rankers import (RANKER_NOTES, candidate_recall_per_user, compare_rankers_per_user,
                                          ranker_name, score_rankers)
    from workbench.lessons.verdicts import paired, paired_ratio, ratio, say
    from workbench.metrics import accuracy_metrics, relevance_matrix
    from workbench.ranking import RANKERS, feature_table
    from workbench.ranking.importance import permutation_importance
    from workbench.viz import charts

    settings = kit.settings()
    EVAL_USERS = 1000  # test users every comparison below is judged on (all of them when fewer)


@app.function
@mo.cache
def trained(s: kit.NotebookSettings, config=None):
    """The fitted pipeline for these settings: from the model store, or trained once and stored."""
    return kit.trained(s, config)


@app.cell
def _():
    _rankers = "\n".join(f"* **{ranker_name(r)}** (`{r}`): {RANKER_NOTES.get(r, '')}" for r in RANKERS)
    mo.md(f"""
    # 03 · Ranking: a richer model over a few hundred candidates

    Stage 1 hands each user a few hundred candidates. Stage 2 can afford a model that looks at
    each (user, candidate) pair in detail: who the user is, what the item is, when and on
    what device the request comes, how the user's taste matches the item, and which
    candidate sources proposed it. The {len(RANKERS)} rankers of the workbench learn on the same features:

    {_rankers}

    Each is a whole pipeline that differs from the configured one only in its ranker, trained the
    pipeline's way: candidates come from sources fitted on an *earlier* slice of the training data,
    and the labels are what each user did in its last slice, so the ranker learns to pick, among
    realistic candidates, the ones that happen next.
    """)
    return


@app.cell
def _():
    guide.panel(__file__, *kit.pipelines(settings))
    return


@app.cell
def _():
    picker = kit.data_picker(settings)
    picker
    return (picker,)


@app.cell
def _(picker):
    run = dataclasses.replace(settings, data=picker.value)
    built = trained(run)
    cfg = built.pipeline.config
    pipelines = {name: built if name == cfg.ranker else trained(run, dataclasses.replace(cfg, ranker=name))
                 for name in RANKERS}  # fmt: skip
    mo.vstack([kit.started(built)] + [kit.show(f"**{ranker_name(n)}:** {t.describe()}")
                                      for n, t in pipelines.items() if n != cfg.ranker])  # fmt: skip
    return built, cfg, pipelines, run


@app.cell
def _(built, cfg, pipelines, run):
    relevance_all = relevance_matrix(built.test)
    _with_test = np.flatnonzero(np.diff(relevance_all.indptr) > 0)
    _rng = np.random.default_rng(run.seed)
    users = np.sort(_rng.choice(_with_test, size=min(EVAL_USERS, len(_with_test)), replace=False))
    # what this page computes persists on disk (workbench.lessons.results), keyed by the artefacts' keys, the users
    # and the code of scoring and ranking: a later visit, in any process, reads it back
    RANK_CODE = results.code("candidates", "ranking", "metrics", "rerank", "pipeline.py", "lessons/rankers.py")

    @mo.persistent_cache(save_path=results.folder())
    def candidates_at(artefact: str, code: str, who: np.ndarray):
        return built.pipeline.candidate_stage(who)

    candidates = candidates_at(built.key, RANK_CODE, users)
    relevance = relevance_all[users]
    rankers = {name: t.pipeline.ranker_ for name, t in pipelines.items()}
    _who = (f"all {len(users):,} test users" if len(users) == len(_with_test)
            else f"{len(users):,} of the {len(_with_test):,} test users (a sample drawn with seed {run.seed})")  # fmt: skip
    kit.show(
        f"**{built.train.name.split(':')[0]}**: every ranker scores the same candidates, those of the pipeline's stage 1 "
        f"({describe_stage_one(cfg)}), for {_who}, judged against what they did next."
    )
    return RANK_CODE, candidates, rankers, relevance, users


@app.cell
def _(RANK_CODE, candidates, pipelines, rankers, relevance, users):
    # what the cut-off k does not change, once: each model's scores and AUC (a move of k only re-cuts the lists)
    @mo.persistent_cache(save_path=results.folder())
    def scored_at(artefacts: tuple, code: str, who: np.ndarray):
        return score_rankers(rankers, candidates, relevance)

    scored = scored_at(tuple(t.key for t in pipelines.values()), RANK_CODE, users)
    return (scored,)


@app.cell
def _():
    k = mo.ui.slider(5, 50, 5, value=10, label="cut-off k", show_value=True, debounce=True)
    k
    return (k,)


@app.cell
def _(candidates, cfg, k, rankers, relevance, scored):
    table, _per_user = compare_rankers_per_user(rankers, candidates, relevance, k=k.value, scored=scored)
    _ndcg = f"ndcg@{k.value}"
    _models = table.iloc[1:].sort_values(_ndcg, ascending=False).reset_index(drop=True)
    best = _models.iloc[0]
    _base = table.iloc[0]
    _own = _models.set_index("model").loc[cfg.ranker]
    _place = int(np.flatnonzero(_models["model"].to_numpy() == cfg.ranker)[0]) + 1
    _long = table.melt(id_vars="model", value_vars=[_ndcg, f"recall@{k.value}", "auc"], var_name="metric",
                       value_name="value")  # fmt: skip
    if best["model"] == cfg.ranker:
        _runner = _models.iloc[1]["model"]
        _gap = paired(_per_user[_runner], _per_user[cfg.ranker])
        _verdict = (f"It is also the highest of the {len(rankers)} here; against the next, paired over the same "
                    f"{_gap.n:,} users, NDCG@{k.value}: {say(_gap, _runner, cfg.ranker)}.")  # fmt: skip
    else:
        _gap = paired(_per_user[cfg.ranker], _per_user[best["model"]])
        _verdict = (f"**{ranker_name(best['model'])}** scores highest ({best[_ndcg]:.4f}). Paired over the same "
                    f"{_gap.n:,} users, NDCG@{k.value}: {say(_gap, cfg.ranker, best['model'])}. ")  # fmt: skip
        _verdict += (f"To serve it, set `ranker = \"{best['model']}\"` in the pipeline's config (the model store "
                     "already holds that pipeline)." if _gap.detectable else
                     "The gap is inside the noise of this evaluation: no reason to switch on these numbers; "
                     "more test users, or a per-user metric with less spread, would be needed to tell them apart.")  # fmt: skip
    _lift = paired(_per_user[_base["model"]], _per_user[best["model"]])
    mo.vstack([
        charts.metric_bars(
            _long, group="model", title="The rankers against the fused candidate order (no ranker)",
            reading=f"best: {best['model']} (NDCG@{k.value} {best[_ndcg]:.4f}, "
                    f"{best[_ndcg] / _base[_ndcg] - 1:+.0%} over the fused order)",
            value_title="metric value (0–1)",
        ),
        kit.table(table),
        kit.show(f"The pipeline's config ranks with **{ranker_name(cfg.ranker)}** (`ranker = \"{cfg.ranker}\"`): "
                 f"NDCG@{k.value} {_own[_ndcg]:.4f}, #{_place} of {len(rankers)} on these candidates. {_verdict}"),
        kit.show(f"Ranking at all, NDCG@{k.value} over the same {_lift.n:,} users: "
                 f"{say(_lift, 'the fused order', best['model'])}."),
        mo.md("**AUC** is per user: the chance that a candidate the user went on to watch outscores one they did "
              "not, over all their candidates. **NDCG** and **recall** judge only the top k, which is what the "
              "user sees: a model can order the tail well (high AUC) and still miss at the top."),
    ])  # fmt: skip
    return (best,)


@app.cell
def _(cfg, run):
    textbook_cfg = textbook_config(cfg)
    textbook = trained(run, textbook_cfg)  # a cell's name, not a private one: the cache below keys on how it was made
    return textbook, textbook_cfg


@app.cell
def _(RANK_CODE, built, candidates, relevance, textbook, users):
    # what the cut-off k does not change, once: each stage 1's candidates, ranked, and its ceiling (kept on disk)
    @mo.persistent_cache(save_path=results.folder())
    def stage_ranked_at(artefacts: tuple, code: str, who: np.ndarray):
        theirs = textbook.pipeline.candidate_stage(who)
        return {name: (pipe.rank_stage(who, candidates=cands), candidate_recall_per_user(cands, relevance))
                for name, pipe, cands in (("the pipeline's stage 1", built.pipeline, candidates),
                                          ("the textbook split", textbook.pipeline, theirs))}  # fmt: skip

    stage_ranked = stage_ranked_at((built.key, textbook.key), RANK_CODE, users)
    return (stage_ranked,)


@app.cell
def _(cfg, k, relevance, stage_ranked, textbook_cfg):
    _textbook_cfg = textbook_cfg
    _rows, _each = [], {}
    for _name, (_ranked, _ceiling) in stage_ranked.items():
        _top = _ranked.top(k.value)
        _acc = accuracy_metrics(_top.items, relevance, (k.value,))
        _each[_name] = {"ceiling": _ceiling, "ndcg": _acc[("ndcg", k.value)], "recall": _acc[("recall", k.value)]}
        _rows.append({"stage 1": _name, f"recall@{cfg.n_candidates} of the candidates": np.nanmean(_each[_name]["ceiling"]),
                      f"recall@{k.value} after {cfg.ranker}": np.nanmean(_each[_name]["recall"]),
                      f"ndcg@{k.value} after {cfg.ranker}": np.nanmean(_each[_name]["ndcg"])})  # fmt: skip
    _stage = pd.DataFrame(_rows)
    _a, _b = _each["the pipeline's stage 1"], _each["the textbook split"]
    _ceil = paired(_a["ceiling"], _b["ceiling"])
    _top_ndcg = paired(_a["ndcg"], _b["ndcg"])
    _names = ("the pipeline's stage 1", "the textbook split")
    _reach_ci = [ratio(e["recall"], e["ceiling"]) for e in (_a, _b)]  # the share of found items brought to the top
    _reach_txt = [f"{r.diff:.1%} [{r.low:.1%}, {r.high:.1%}]" for r in _reach_ci]
    _reach_d = say(paired_ratio(_a["recall"], _a["ceiling"], _b["recall"], _b["ceiling"]), _names[0], _names[1],
                   decimals=1, percent=True)  # fmt: skip
    _top_recall = [np.nanmean(e["recall"]) for e in (_a, _b)]
    _ceilings = [np.nanmean(e["ceiling"]) for e in (_a, _b)]
    if _ceil.detectable and _top_ndcg.detectable and (_ceil.diff > 0) != (_top_ndcg.diff > 0):
        _hi = 1 if _ceil.diff > 0 else 0  # the split with the higher ceiling
        _why = (f"**The ceiling and the result disagree.** {_names[_hi].capitalize()} finds more of the held-out "
                f"items, yet the other's top {k.value} scores higher. A ceiling bounds what a ranker could reach, not "
                f"what it does reach: the top {k.value} holds {_top_recall[0]:.1%} and {_top_recall[1]:.1%} of the "
                f"held-out items (recall@{k.value}), far under both ceilings ({_ceilings[0]:.1%} and "
                f"{_ceilings[1]:.1%}), so the ceiling is not what binds here. What decides is how many of the found "
                f"items each ranker, trained on its own candidates, brings to the top: {_reach_txt[0]} of them for "
                f"{_names[0]} against {_reach_txt[1]} for {_names[1]} (recall@{k.value} ÷ candidate recall over the "
                f"same users, 95% intervals by the delta method); paired: {_reach_d}. "
                f"A narrower net whose finds its ranker brings to the top more often can beat a wider net there; "
                f"the wider net pays off only once the ranker brings up as large a share of what it found.")  # fmt: skip
    else:
        _why = (f"Here the ceiling and the ranked top {k.value} do not point in detectably opposite directions; "
                f"the ranked top {k.value} reaches {_reach_txt[0]} and {_reach_txt[1]} of the found items "
                f"(recall@{k.value} ÷ candidate recall, 95% intervals; paired: {_reach_d}), well under both ceilings.")  # fmt: skip
    mo.vstack([
        mo.md(f"## Stage 1 sets the ceiling\n\nThe ranker can only reorder what stage 1 found. "
              f"**The pipeline's stage 1:** {describe_stage_one(cfg)}. **The textbook split** "
              f"(`CandidateGenerator()`): {describe_stage_one(_textbook_cfg)}. Each with its own "
              f"{ranker_name(cfg.ranker)} trained on its own candidates:"),
        kit.table(_stage),
        kit.show(f"Stage 1 against the textbook split, with {cfg.ranker}: "
                 + "; ".join(f"{r['stage 1']}: candidate recall {r.iloc[1]:.1%}, NDCG@{k.value} {r.iloc[3]:.4f}"
                             for _, r in _stage.iterrows()) + "."),
        kit.show(f"Paired over the same {_ceil.n:,} users: candidate recall: {say(_ceil, *_names, decimals=1, percent=True)}; "
                 f"NDCG@{k.value} after the ranker: {say(_top_ndcg, *_names)}."),
        kit.show(_why),
    ])  # fmt: skip
    return


@app.cell
def _():
    _features = feature_table()
    mo.vstack([
        mo.md(f"## The features every ranker sees ({len(_features)} definitions; `<genre>` and `<source>` "
              "expand to one column each)"),
        kit.table(_features),
    ])  # fmt: skip
    return


@app.cell
def _(RANK_CODE, best, candidates, pipelines, rankers, relevance, run):
    @mo.persistent_cache(save_path=results.folder())
    def importance_of(artefact: str, code: str, model: str, n_users: int, top: int, cut: int):
        rng = np.random.default_rng(run.seed)
        rows = np.sort(rng.choice(candidates.n_users, size=min(n_users, candidates.n_users), replace=False))
        sample = candidates.select_users(rows).top(top)
        return permutation_importance(rankers[model], sample, relevance[rows], k=cut, seed=run.seed)

    _top_n, _cut, _users = 100, 10, 150 if run.small else 300
    _imp = importance_of(pipelines[best["model"]].key, RANK_CODE, best["model"], _users, _top_n, _cut)
    _top = _imp.iloc[0]
    mo.vstack([
        mo.md(f"## What {ranker_name(best['model'])} looks at"),
        charts.importance_chart(
            _imp, title=f"NDCG@{_cut} lost when one feature is shuffled ({best['model']}, top {_top_n} candidates "
                        f"of {min(_users, candidates.n_users)} users)",
            reading=f"scrambling {_top['feature']} costs {_top['importance']:.4f} of NDCG@{_cut} "
                    f"({_top['importance'] / _imp.attrs['ndcg']:.0%} of {_imp.attrs['ndcg']:.4f}); "
                    "near-zero bars are features it ignores",
            value_title=f"NDCG@{_cut} lost (absolute, 0–1 scale)",
        ),
    ])  # fmt: skip
    return


@app.cell
def _():
    auc_box = exercises.editor("auc")
    exercises.task("auc", auc_box)
    return (auc_box,)


@app.function
def my_auc(scores, labels):
    pos = [s for s, y in zip(scores, labels) if y == 1]
    neg = [s for s, y in zip(scores, labels) if y == 0]
    wins = sum(1 for p in pos for n in neg if p > n)  # and ties?
    return wins / (len(pos) * len(neg))


@app.cell
def _(auc_box):
    exercises.show("auc", my_auc, auc_box)
    return


@app.cell
def _(cfg, rankers, run):
    kit.footer(run, {"pipeline": cfg, "rankers": {n: r.report_ for n, r in rankers.items()}}, __file__)
    return


if __name__ == "__main__":
    app.run()
