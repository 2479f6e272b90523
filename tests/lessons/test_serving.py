"""Notebook 08's back-end: Server-Timing as a waterfall, the budget in the chart's columns."""

import numpy as np
import pandas as pd

from workbench.lessons.serving import budget_for_chart, waterfall
from workbench.serving.loadtest import SERVING_BUDGET_MS, LoadResult


def test_waterfall_puts_each_stage_after_the_previous_one():
    w = waterfall("cache;dur=0.5, features;dur=1.25, candidates;dur=3, response;dur=0.25, total;dur=5.1")
    assert w["stage"].tolist() == ["cache", "features", "candidates", "response"]
    assert w["start_ms"].tolist() == [0.0, 0.5, 1.75, 4.75]
    assert w["end_ms"].tolist() == [0.5, 1.75, 4.75, 5.0]
    assert waterfall(None).empty


def test_budget_for_chart_uses_the_textbook_p99_as_budget():
    frame = pd.DataFrame({"due_s": [0.0, 0.5], "latency_ms": [4.0, 8.0], "status": [200, 200], "cache": ["miss", "hit"],
                          "degraded": [None, None], "error": [None, None], "ms_cache": [0.5, 1.5],
                          "ms_features": [1.0, np.nan], "ms_queue": [0.2, np.nan], "ms_candidates": [1.0, np.nan],
                          "ms_ranking": [1.0, np.nan], "ms_rerank": [0.5, np.nan]})  # fmt: skip
    chart = budget_for_chart(LoadResult(2.0, 1.0, frame, 1.0)).set_index("stage")
    assert list(chart.index) == list(SERVING_BUDGET_MS)
    assert chart.loc["cache lookup", "p50_ms"] == 1.0 and chart.loc["model inference", "p99_ms"] == 2.2
    assert chart.loc["total", "p50_ms"] == 6.0 and chart.loc["total", "budget_ms"] == SERVING_BUDGET_MS["total"][1]
