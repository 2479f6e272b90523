# /// script
# [tool.marimo.opengraph]
# title = "02 · Candidate generation"
# description = "Stage 1: each candidate source's recall, how much the sources overlap, and what rank fusion (RRF) changes against comparing raw scores."
# ///
import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="02 · Candidate generation")

with app.setup:
    import dataclasses

    import marimo as mo
    import numpy as np
    import pandas as pd

    from workbench.candidates.diagnostics import overlap_table
    from workbench.candidates.fusion import fuse
    from workbench.lessons import exercises, guide, kit, results
    from workbench.lessons.candidates import (
        FUSION_NAMES,
        SOURCE_NOTES,
        describe_stage_one,
        recall_curves,
        slot_winners,
        textbook_config,
    )
    from workbench.lessons.rankers import candidate_recall_per_user
    from workbench.lessons.verdicts import paired, say
    from workbench.metrics import relevance_matrix
    from workbench.viz import charts

    settings = kit.settings()


@app.function
@mo.cache
def trained(s: kit.NotebookSettings, config=None):
    """The fitted pipeline for these settings: from the model store, or trained once and stored."""
    return kit.trained(s, config)


@app.cell
def _():
    mo.md(r"""
    # 02 · Candidate generation: recall first, cheaply

    Stage 1 narrows the whole catalogue to a few hundred candidates per user, and it must not
    lose the items the user will want: a later stage can only reorder what stage 1 found. So
    it is judged by **recall@N**: of the items each user went on to interact with (the test
    period), what share is among their N candidates?

    No single source finds everything, so stage 1 runs several and **fuses** their lists.
    This page studies the pipeline's own stage 1, source by source, and sets it beside the
    textbook's split of sources.
    """)
    return


@app.cell
def _():
    guide.panel(__file__, *kit.default_config(settings).weights)
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
    textbook_cfg = textbook_config(cfg)
    textbook = trained(run, textbook_cfg)
    mo.vstack([kit.started(built), kit.show(f"**Textbook split:** {textbook.describe()}")])
    return built, cfg, run, textbook, textbook_cfg


@app.cell
def _(built, cfg, textbook, textbook_cfg):
    gen = built.pipeline.generator_
    train, test = built.train, built.test
    users = np.flatnonzero(np.diff(relevance_matrix(test).indptr) > 0)
    per_source = cfg.per_source_k or cfg.n_candidates
    n_max = min(max(500, per_source), train.n_items)
    ns = [n for n in (10, 20, 50, 100, 200, 500) if n <= n_max]
    steps = [n for n in (20, 50, 100, 200, 500) if n <= n_max]
    # what this page draws from each source's own lists (the recall curves, the overlap at every position of
    # the N slider, the fusion section's charts and sentences), kept on disk and in this process
    # (workbench.lessons.results.kept) like page 01 keeps only what it draws: keyed by both artefacts, the
    # pipeline's config and the code, so a later visit, in any process, reads it back instead of retrieving and
    # fusing every user's lists again. (Not marimo's cache: its key for a function that closes over the fitted
    # pipelines differed between a run that trained the textbook pipeline and one that loaded it.)
    _code = results.code("candidates", "metrics", "pipeline.py", "types.py", "lessons/candidates.py",
                         "lessons/rankers.py", "lessons/verdicts.py")  # fmt: skip

    def _draw() -> dict:
        each = gen.retrieve_each(users, n_max)
        return {
            "recall": recall_curves(each, test, ns),
            "overlap": {n: overlap_table(each, n, train.n_items) for n in steps},
            "fusion": fusion_reading(each, cfg, gen, n_max, ns, per_source, test, textbook, train, users),
        }

    with mo.status.spinner(title=f"Each source's top {n_max} for the {len(users):,} users with test items, and their "
                                 "fusions: read from disk, or computed once and kept there (seconds)"):  # fmt: skip
        drawn = results.kept("02-drawn", (built.key, textbook.key, repr(cfg), _code, results.source_digest(__file__), n_max,
                                          tuple(ns), tuple(steps)), _draw)  # the page's source: fusion_reading is its own
    mo.vstack([
        kit.show(f"**{train.name.split(':')[0]}**: {train.n_items:,} items. **The pipeline's stage 1**: "
                 f"{describe_stage_one(cfg)}. **The textbook split** (`CandidateGenerator()`): "
                 f"{describe_stage_one(textbook_cfg)}."),
        mo.md("The pipeline's sources:\n\n" + "\n".join(f"* `{s}`: {SOURCE_NOTES.get(s, s)}" for s in cfg.weights)
              + f"\n\nEach source below retrieves its own top {n_max} for the {len(users):,} users who have test items."),
    ])  # fmt: skip
    return drawn, gen, ns, steps, train


@app.cell
def _(drawn, ns):
    _curves = drawn["recall"]
    _best = _curves[_curves["n"] == ns[-1]].sort_values("recall")
    _reading = (f"at N={ns[-1]}: best {_best['source'].iloc[-1]} ({_best['recall'].iloc[-1]:.1%}), "
                f"worst {_best['source'].iloc[0]} ({_best['recall'].iloc[0]:.1%}) of the test items found")  # fmt: skip
    mo.vstack([
        charts.recall_curve_chart(_curves, title="Recall of each of the pipeline's sources as it returns more items",
                                  reading=_reading),
        kit.show(f"Each source alone, {_reading}."),
    ])  # fmt: skip
    return


@app.cell
def _(steps):
    n_pick = mo.ui.slider(steps=steps, value=min(100, steps[-1]), label="candidates per source N", show_value=True,
                          debounce=True)  # fmt: skip
    n_pick
    return (n_pick,)


@app.cell
def _(drawn, n_pick):
    _table = drawn["overlap"][n_pick.value]  # computed for every position of the slider, with the rest
    _overlap = _table.rename_axis("a").reset_index().melt(id_vars="a", var_name="b", value_name="overlap")
    mo.vstack([
        charts.overlap_chart(
            _overlap, title=f"How much of source a's top {n_pick.value} source b also proposes",
            value_title="share of a's list also in b's list (0–1, mean over users)",
            x_title=f"source a (its top {n_pick.value})", y_title=f"source b (its top {n_pick.value})",
        ),
        mo.md("Low overlap is good news: each source brings items the others miss, so their union recalls more."),
    ])  # fmt: skip
    return


@app.cell
def _(cfg, gen):
    mo.md(rf"""
    ## Fusion: whose candidates fill the list?

    Sources score on different scales: a co-occurrence count, a cosine in [−1, 1], a
    popularity count. **Max of raw scores** keeps, for each item, its largest raw score and
    sorts by it, so the source with the biggest numbers wins nearly every slot.
    **Reciprocal-rank fusion** (Cormack et al. 2009) scores an item Σ w_s / (k + rank_s + 1)
    with k = {gen.rrf_k:g}: only ranks matter, and an item several sources agree on rises.
    The pipeline fuses with **{FUSION_NAMES.get(cfg.fusion, cfg.fusion)}**,
    {"reserving each source a quota of its own best items" if cfg.use_quotas else "without quotas"}.
    """)
    return


@app.function
def fusion_reading(each, cfg, gen, n_max, ns, per_source, test, textbook, train, users) -> dict:
    """The fusion section's charts and sentences, from each source's own lists (``each``): what the page draws,
    so that it can be kept on disk (`workbench.lessons.results.kept`)."""
    _lists = {s: cs.top(per_source) for s, cs in each.items()}
    fused = {
        method: fuse(_lists, cfg.n_candidates, gen.weights, method, gen.rrf_k, cfg.use_quotas, seen=gen.seen_,
                     available=gen.available_)
        for method in ("rrf", "max_score")
    }  # fmt: skip
    _sets = {f"pipeline, {FUSION_NAMES[m]}": cs for m, cs in fused.items()}
    _sets["textbook split"] = textbook.pipeline.candidate_stage(users)
    _curves = recall_curves(_sets, test, [n for n in ns if n <= cfg.n_candidates] + [cfg.n_candidates])
    _at = _curves[_curves["n"] == cfg.n_candidates].set_index("source")["recall"]
    _winners = pd.concat([slot_winners(cs, gen.weights, m, top=cfg.k, rrf_k=gen.rrf_k).assign(method=FUSION_NAMES[m])
                          for m, cs in fused.items()], ignore_index=True)  # fmt: skip
    _top = _winners.loc[_winners.groupby("method")["share"].idxmax()].set_index("method")
    _rrf, _max = FUSION_NAMES["rrf"], FUSION_NAMES["max_score"]
    # the recall comparison, paired over the same users, and what drives it
    _relevance = relevance_matrix(test)[users]
    _gap = paired(candidate_recall_per_user(fused["rrf"], _relevance), candidate_recall_per_user(fused["max_score"], _relevance))
    _verdict = (f"Recall@{cfg.n_candidates} of the fused list (in percentage points), paired over the same "
                f"{_gap.n:,} users: {say(_gap, _rrf, _max, decimals=1, percent=True)}.")  # fmt: skip
    _loud = _top.loc[_max, "source"]
    _whole = slot_winners(fused["max_score"], gen.weights, "max_score", top=cfg.n_candidates, rrf_k=gen.rrf_k)
    _whole_share = float(_whole.set_index("source").loc[_loud, "share"])
    _scale = {s: float(np.median(cs.scores[:, 0][np.isfinite(cs.scores[:, 0])])) for s, cs in each.items()}
    _quiet = max((s for s in _scale if s != _loud), key=_scale.get)
    _distinct = {m: len(np.unique(cs.items[:, :cfg.k][cs.mask[:, :cfg.k]])) for m, cs in fused.items()}
    if _gap.detectable and _gap.diff > 0:
        # why: RRF votes by the weights, whatever each source's quality; say how good each source is alone
        _solo = recall_curves(each, test, [min(cfg.n_candidates, n_max)]).set_index("source")["recall"].sort_values()
        _weak = [s for s in _solo.index if _solo[s] < _solo[_loud]]
        _rrf_whole = slot_winners(fused["rrf"], gen.weights, "rrf", top=cfg.n_candidates, rrf_k=gen.rrf_k).set_index("source")["share"]
        _top_src = _solo.index[-1]
        _solo_gap = paired(candidate_recall_per_user(fused["max_score"], _relevance),
                           candidate_recall_per_user(each[_top_src].top(min(cfg.n_candidates, n_max)), _relevance))
        _direction = (f"Here that gains recall, because {_loud} is a strong source in this world and the others "
                      f"are not all so: alone, with {min(cfg.n_candidates, n_max)} candidates each, the sources recall "
                      + ", ".join(f"{s} {_solo[s]:.1%}" for s in _solo.index[::-1]) + ". RRF votes by the source "
                      "weights, whatever each source's quality, so it gives the sources weaker than "
                      f"{_loud} ({', '.join(_weak) or 'none'}) {_rrf_whole.reindex(_weak).sum():.0%} of its "
                      f"{cfg.n_candidates} slots, where max of raw scores gives them "
                      f"{_whole.set_index('source')['share'].reindex(_weak).sum():.0%}: the recall gap is the vote RRF gives weak "
                      f"sources, not a virtue of raw scores. Against the best source alone ({_top_src}), "
                      f"paired over the same users: {say(_solo_gap, _max + ' (fused)', _top_src + ' alone', decimals=1, percent=True)}; "
                      "weights that follow each source's quality, not its scale, are the fix. ")  # fmt: skip
    elif _gap.detectable:
        _direction = (f"RRF's blend recalls more: the other sources' best items, which {_loud}'s larger numbers "
                      "push out of the max-score list, are ones users go on to watch. ")
    else:
        _direction = "Recall does not tell the two fusions apart here; the slots do. "
        if cfg.n_candidates >= train.n_items:
            _direction = (f"Recall cannot tell the two fusions apart here: {cfg.n_candidates} candidates hold the "
                          f"whole catalogue of {train.n_items:,} items, so both lists hold every unseen item and "
                          "differ only in order. The slots tell them apart. ")
    _cause = (f"**Why.** The sources' raw scores live on different scales: the median top raw score is "
              f"{_scale[_loud]:.4g} for {_loud} against at most {_scale[_quiet]:.4g} for any other source "
              f"({_quiet}). Under max of raw scores {_loud} therefore wins {_top.loc[_max, 'share']:.0%} of the top "
              f"{cfg.k} slots and {_whole_share:.0%} of all {cfg.n_candidates}: the fused list is mostly {_loud}'s "
              f"own list. {_direction}What recall@{cfg.n_candidates} does not show: across {len(users):,} users, "
              f"the top {cfg.k} of max-score holds {_distinct['max_score']:,} distinct items and RRF's "
              f"{_distinct['rrf']:,}, the room stages 2–3 have to personalise.")  # fmt: skip
    return {"winners": _winners, "curves": _curves, "at": _at, "top": _top, "verdict": _verdict, "cause": _cause,
            "textbook_weights": dict(textbook.pipeline.config.weights)}


@app.cell
def _(cfg, drawn, gen):
    _f = drawn["fusion"]
    _winners, _curves, _at, _top = _f["winners"], _f["curves"], _f["at"], _f["top"]
    _rrf, _max = FUSION_NAMES["rrf"], FUSION_NAMES["max_score"]
    mo.vstack([
        charts.metric_bars(
            _winners.rename(columns={"share": "value"}), group="method", category="source",
            category_title="candidate source", title=f"Who wins the top {cfg.k} slots of the fused list",
            reading=f"max of raw scores: {_top.loc[_max, 'source']} wins {_top.loc[_max, 'share']:.0%}; "
                    f"RRF: the most any source wins is {_top.loc[_rrf, 'share']:.0%} ({_top.loc[_rrf, 'source']})",
            value_title=f"share of the top-{cfg.k} slots won (0–1)",
        ),
        charts.recall_curve_chart(
            _curves, title=f"Recall of the fused list of {cfg.n_candidates}: the pipeline's fusions and the textbook split",
            reading=", ".join(f"{name} {value:.1%}" for name, value in _at.items()) + f" at N={cfg.n_candidates}",
        ),
        kit.show(f"Fused recall@{cfg.n_candidates}: " + ", ".join(f"{name} **{value:.1%}**" for name, value in _at.items())
                 + f"; in the top {cfg.k}, max of raw scores gives {_top.loc[_max, 'source']} "
                   f"{_top.loc[_max, 'share']:.0%} of the slots, RRF at most {_top.loc[_rrf, 'share']:.0%}."),
        kit.show(_f["verdict"]),
        kit.show(_f["cause"]),
        mo.md("A slot is *won* by the source with the largest term of the item's fused score: its raw score under "
              "max-score, its weighted reciprocal rank under RRF. "
              "Source weights of the pipeline: " + ", ".join(f"`{s}` {w:g}" for s, w in gen.weights.items())
              + "; of the textbook split: " + ", ".join(f"`{s}` {w:g}" for s, w in _f["textbook_weights"].items())
              + "."),
    ])  # fmt: skip
    return


@app.cell
def _():
    rrf_scores_box = exercises.editor("rrf_scores")
    exercises.task("rrf_scores", rrf_scores_box)
    return (rrf_scores_box,)


@app.function
def my_rrf_scores(lists, k=60.0):
    scores = {}
    for items in lists:
        for rank, item in enumerate(items):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)  # which rank does the top item have?
    return scores


@app.cell
def _(rrf_scores_box):
    exercises.show("rrf_scores", my_rrf_scores, rrf_scores_box)
    return


@app.cell
def _(cfg, run, textbook_cfg):
    kit.footer(run, {"pipeline": cfg, "textbook split": textbook_cfg}, __file__)
    return


if __name__ == "__main__":
    app.run()
