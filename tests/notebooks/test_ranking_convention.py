"""One ranking convention on every page (`workbench.lessons.kit.RANKS`): positions and ranks count from 1,
and an item missing from a list has no rank (``<NA>`` in data, "–" on the page)."""

import numpy as np
import pandas as pd

from workbench.lessons.kit import ABSENT, displayed
from workbench.metrics import relevance_matrix
from workbench.viz.panel import RerankPanel


def test_explain_ranks_count_from_one_with_no_rank_for_the_absent(small_built):
    pipe = small_built.pipeline
    users = np.flatnonzero(np.diff(relevance_matrix(small_built.test).indptr) > 0)[:20]
    slate = pipe.recommend(users)
    ranked = slate.stages["ranked"]
    absent_seen = 0
    for user in users:
        why = pipe.explain(int(user), slate)
        row = int(np.flatnonzero(slate.users == user)[0])
        trace = np.asarray(slate.trace["ranked_position"])[row][: len(why)]
        assert str(why["ranked_position"].dtype) == "Int64"
        assert why["ranked_position"].tolist() == [p + 1 if p >= 0 else pd.NA for p in trace]
        rrow = int(np.flatnonzero(ranked.users == user)[0])
        for s, name in enumerate(ranked.source_names):
            col = why[f"rank in {name}"]
            assert str(col.dtype) == "Int64"
            for item, shown in zip(why["item"], col):
                where = np.flatnonzero(ranked.items[rrow] == item)
                rank = ranked.source_ranks[rrow, where[0], s] if len(where) else -1
                assert (shown is pd.NA) == (rank < 0) and (rank < 0 or shown == rank + 1)
            absent_seen += int(col.isna().sum())
            assert ABSENT in displayed(why[[f"rank in {name}"]]).iloc[:, 0].tolist() or not col.isna().any()
    assert absent_seen > 0  # some slate item is missing from some source's list: the convention is exercised


def test_widget_shows_ranked_positions_from_one(small_whatif):
    panel = RerankPanel(small_whatif)
    _, after = small_whatif.before_after(panel.result, panel.user)
    shown = [row["ranked_position"] for row in panel.slate]
    assert shown == [str(int(p)) if not pd.isna(p) else ABSENT for p in after["ranked_position"]]
    assert all(s == ABSENT or int(s) >= 1 for s in shown)
