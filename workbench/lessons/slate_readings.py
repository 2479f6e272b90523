"""What did reranking at the chosen knobs do to every user's metrics, and to one user's slate?

The readings behind notebook 04's JupyterLab panel (`workbench.viz.panel.RerankPanel`, which only
displays them), from a `workbench.lessons.whatif.WhatIf` run: `metric_rows` (each headline metric at k
and its change against the ranking order at the same k) and `slate_rows` (one user's final slate:
where each item sat in the ranked list, and why it is there: explored, pinned, or watched later).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from workbench.lessons.kit import ABSENT
from workbench.lessons.whatif import HEADLINE


def metric_rows(now: Mapping[str, float], base: Mapping[str, float], k: int) -> list[dict[str, Any]]:
    """One row per headline metric (`HEADLINE`): ``metric`` ("NDCG@10"), ``value`` (rounded to 4 places) and
    ``change``, the signed difference from ``base`` (the ranking order's figure at the same ``k``)."""
    return [{"metric": f"{HEADLINE[m]}@{k}", "value": round(v, 4), "change": f"{v - base[m]:+.4f}"} for m, v in now.items()]


def slate_rows(after: pd.DataFrame) -> list[dict[str, Any]]:
    """The final slate of `WhatIf.before_after` as rows: ``position``, ``title``, ``ranked_position`` (its
    position in the ranked list, `ABSENT` when it was not there) and ``note``, the first that holds of
    "explored" (shown at random by exploration), "pinned" (a business rule put it there) and "watched later"
    (a held-out test item); ``in_test``."""
    notes = np.select([after["explored"].to_numpy(bool), after["pinned"].to_numpy(bool), after["in_test"].to_numpy(bool)],
                      ["explored", "pinned", "watched later"], "")  # fmt: skip
    ranked = after["ranked_position"].astype(object).where(after["ranked_position"].notna(), ABSENT)
    return [{"position": int(r.position), "title": str(r.title), "ranked_position": str(p), "note": str(n),
             "in_test": bool(r.in_test)} for r, p, n in zip(after.itertuples(), ranked, notes)]  # fmt: skip
