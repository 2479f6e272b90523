"""Which source wins the fused top slots, on lists small enough to check by hand."""

import numpy as np

from workbench.types import CandidateSet
from workbench.lessons.candidates import slot_winners

USERS = np.array([0])


def test_slot_winners_follow_each_fusion_rule():
    # one user, two fused items; item 0: a rank 0 score 0.9, b rank 5 score 40; item 1: only a, rank 1
    fused = CandidateSet(
        USERS, np.array([[0, 1]]), np.zeros((1, 2)), sources=np.array([[3, 1]]), source_names=("a", "b"),
        source_ranks=np.array([[[0, 5], [1, -1]]], dtype=np.int32),
        source_scores=np.array([[[0.9, 40.0], [0.8, np.nan]]], dtype=np.float32),
    )  # fmt: skip
    by_max = slot_winners(fused, {"a": 1, "b": 1}, "max_score", top=2).set_index("source")["share"]
    assert by_max.to_dict() == {"a": 0.5, "b": 0.5}  # b's raw 40 beats a's 0.9 on item 0
    by_rrf = slot_winners(fused, {"a": 1, "b": 1}, "rrf", top=2).set_index("source")["share"]
    assert by_rrf.to_dict() == {"a": 1.0, "b": 0.0}  # 1/61 > 1/66
    heavy_b = slot_winners(fused, {"a": 1, "b": 2}, "rrf", top=1).set_index("source")["share"]
    assert heavy_b.to_dict() == {"a": 0.0, "b": 1.0}  # 2/66 > 1/61


def test_textbook_split_and_stage_one_sentence_follow_the_config():
    import dataclasses

    from workbench.candidates.fusion import DEFAULT_WEIGHTS
    from workbench.lessons.candidates import describe_stage_one, textbook_config
    from workbench.pipeline import PipelineConfig

    cfg = PipelineConfig(weights={"ease": 1.0, "popular": 1.0}, source_params={"ease": {"lam": 100.0}}, per_source_k=150,
                         n_candidates=200, ranker="gbdt")  # fmt: skip
    text = describe_stage_one(cfg)
    assert text.startswith("2 sources (`ease`, `popular`; equal weights; own hyper-parameters for `ease`)")
    assert "each proposing its top 150" in text and "without quotas into 200 candidates per user" in text
    book = textbook_config(cfg)
    assert book.weights == DEFAULT_WEIGHTS and book.use_quotas and book.per_source_k is None and book.source_params == {}
    assert (book.ranker, book.n_candidates, book.seed) == (cfg.ranker, cfg.n_candidates, cfg.seed)  # only stage 1 differs
    book_text = describe_stage_one(book)
    assert book_text.startswith(f"{len(DEFAULT_WEIGHTS)} sources (") and "with quotas" in book_text
    assert "each proposing its top 200" in book_text  # per_source_k None: as many as the fused list holds
    assert "max of raw scores" in describe_stage_one(dataclasses.replace(cfg, fusion="max_score"))
