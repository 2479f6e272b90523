"""Stage 1 as notebook 02 studies it: the pipeline's own candidate generation against the textbook split.

- `textbook_config`: the textbook's split of stage 1 (``CandidateGenerator()``'s default sources
  and weights, with quotas) as a variant of a pipeline config, so the model store keeps it too.
- `describe_stage_one`: one sentence naming what a config's stage 1 is, computed from the config.
- `recall_curves`: recall@N per source as one row per (source, N).
- `slot_winners`: which source wins the top slots of a fused list.

Recall and overlap tables themselves are in `workbench.candidates.diagnostics`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from workbench.candidates.diagnostics import recall_table
from workbench.candidates.fusion import DEFAULT_WEIGHTS
from workbench.data.dataset import Dataset
from workbench.pipeline import PipelineConfig
from workbench.types import CandidateSet

# What each candidate source does, for a page that lists a config's sources (keyed by source name).
SOURCE_NOTES = {
    "popular": "most-interacted items (the same list for everyone)",
    "trending": "items gaining interactions lately",
    "new": "the newest releases",
    "itemknn": "items co-watched with the user's recent ones (item-kNN)",
    "ease": "a linear item-to-item model of co-behaviour (EASE)",
    "als": "matrix factorisation of the interaction matrix (ALS)",
    "content": "look-alikes, by genre and description, of what the user watched",
    "two_tower": "a learned user tower against an item tower, searched with FAISS",
}
FUSION_NAMES = {"rrf": "reciprocal-rank fusion (RRF)", "max_score": "max of raw scores"}


def textbook_config(config: PipelineConfig) -> PipelineConfig:
    """``config`` with the textbook's stage 1: ``CandidateGenerator()``'s default sources at their default
    hyper-parameters, ``DEFAULT_WEIGHTS``, quotas on, each source proposing as many as the fused list holds."""
    return dataclasses.replace(config, weights=dict(DEFAULT_WEIGHTS), use_quotas=True, per_source_k=None,
                               source_params={})  # fmt: skip


def describe_stage_one(config: PipelineConfig) -> str:
    """What a config's stage 1 is, in one Markdown sentence computed from its fields."""
    weights = config.weights
    equal = len(set(weights.values())) == 1
    listed = ", ".join(f"`{s}`" if equal else f"`{s}` ({w:g})" for s, w in weights.items())
    each = config.per_source_k if config.per_source_k is not None else config.n_candidates
    tuned = [s for s in weights if config.source_params.get(s)]
    return (f"{len(weights)} sources ({listed}{'; equal weights' if equal else ''}"
            f"{'; own hyper-parameters for ' + ', '.join(f'`{s}`' for s in tuned) if tuned else ''}), each proposing its top {each}, "
            f"fused by {FUSION_NAMES.get(config.fusion, config.fusion)} {'with' if config.use_quotas else 'without'} "
            f"quotas into {config.n_candidates} candidates per user")  # fmt: skip


def recall_curves(sets: Mapping[str, CandidateSet], test: Dataset, ns: Sequence[int]) -> pd.DataFrame:
    """`recall_table` as one row per (``source``, ``n``) with its ``recall``, for a chart."""
    wide = recall_table(sets, test, ns)
    long = wide.rename_axis("source").reset_index().melt(id_vars="source", var_name="n", value_name="recall")
    return long.assign(n=long["n"].str.removeprefix("recall@").astype(int)).dropna().reset_index(drop=True)


def slot_winners(fused: CandidateSet, weights: Mapping[str, float], method: str, top: int,
                 rrf_k: float = 60.0) -> pd.DataFrame:  # fmt: skip
    """Which source put each of the fused top-``top`` items there: the source with the largest term of
    the fused score (``max_score``: the largest raw score; ``rrf``: the largest w_s / (rrf_k + rank_s + 1)).

    Returns columns ``source``, ``share`` (0–1 of the real top-``top`` slots it won).
    """
    if fused.source_scores is None or fused.source_ranks is None:
        raise ValueError("fused has no per-source scores and ranks: pass the output of workbench.candidates.fusion.fuse")
    cells = slice(0, top)
    ranks = fused.source_ranks[:, cells].astype(np.float64)
    if method == "max_score":
        term = np.where(ranks >= 0, np.nan_to_num(fused.source_scores[:, cells], nan=-np.inf), -np.inf)
    elif method == "rrf":
        w = np.array([weights[s] for s in fused.source_names], dtype=np.float64)
        term = np.where(ranks >= 0, w / (rrf_k + ranks + 1.0), -np.inf)
    else:
        raise ValueError(f"method={method!r}: expected 'rrf' or 'max_score'")
    real = fused.mask[:, cells]
    won = np.argmax(term, axis=2)[real]
    counts = np.bincount(won, minlength=len(fused.source_names))
    return pd.DataFrame({"source": fused.source_names, "share": counts / max(int(real.sum()), 1)})
