"""Which candidate source wins the top slots of a fused list (notebook 02; recall and overlap
tables are in `workbench.candidates.diagnostics`)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from workbench.types import CandidateSet


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
