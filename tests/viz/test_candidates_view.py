"""Stage-1 views: recall curves, overlap and slot shares, on lists small enough to check by hand."""

import numpy as np
import pytest
import scipy.sparse as sp

from workbench.types import CandidateSet
from workbench.viz.candidates import recall_curves, slot_winners, source_overlap

USERS = np.array([0, 1, 2])
A = CandidateSet(USERS, np.array([[0, 1, 2], [3, 4, -1], [5, 6, 7]]), np.zeros((3, 3)))
B = CandidateSet(USERS, np.array([[2, 9, 8], [3, 4, 5], [0, 1, 2]]), np.zeros((3, 3)))
# user 0 likes {1, 2}; user 1 likes {4}; user 2 has no test items
RELEVANCE = sp.csr_matrix(([1.0, 1.0, 1.0], ([0, 0, 1], [1, 2, 4])), shape=(3, 10))


def test_recall_curves_by_hand():
    df = recall_curves({"a": A, "b": B}, RELEVANCE, ns=(1, 3)).set_index(["source", "n"])
    # a: user 0 finds {} at 1, {1, 2} at 3 -> 0, 1; user 1 finds {} at 1, {4} at 3 -> 0, 1
    assert df.loc[("a", 1), "recall"] == pytest.approx(0.0)
    assert df.loc[("a", 3), "recall"] == pytest.approx(1.0)
    # b: user 0 finds {2} at 1 (1/2), {2} at 3 (1/2); user 1 finds {} at 1, {4} at 3
    assert df.loc[("b", 1), "recall"] == pytest.approx(0.25)
    assert df.loc[("b", 3), "recall"] == pytest.approx(0.75)
    assert (df["users"] == 2).all()


def test_overlap_is_mean_jaccard_and_symmetric():
    df = source_overlap({"a": A, "b": B}, n=3, n_items=10).set_index(["a", "b"])["overlap"]
    # user 0: {0,1,2} vs {2,9,8}: 1/5; user 1: {3,4} vs {3,4,5}: 2/3; user 2: {5,6,7} vs {0,1,2}: 0
    assert df[("a", "b")] == pytest.approx((1 / 5 + 2 / 3 + 0) / 3)
    assert df[("a", "b")] == df[("b", "a")]
    assert df[("a", "a")] == 1.0


def test_slot_winners_follow_each_fusion_rule():
    # one user, two fused items; item 0: a rank 0 score 0.9, b rank 5 score 40; item 1: only a, rank 1
    fused = CandidateSet(
        USERS[:1], np.array([[0, 1]]), np.zeros((1, 2)), sources=np.array([[3, 1]]), source_names=("a", "b"),
        source_ranks=np.array([[[0, 5], [1, -1]]], dtype=np.int32),
        source_scores=np.array([[[0.9, 40.0], [0.8, np.nan]]], dtype=np.float32),
    )  # fmt: skip
    by_max = slot_winners(fused, {"a": 1, "b": 1}, "max_score", top=2).set_index("source")["share"]
    assert by_max.to_dict() == {"a": 0.5, "b": 0.5}  # b's raw 40 beats a's 0.9 on item 0
    by_rrf = slot_winners(fused, {"a": 1, "b": 1}, "rrf", top=2).set_index("source")["share"]
    assert by_rrf.to_dict() == {"a": 1.0, "b": 0.0}  # 1/61 > 1/66
    heavy_b = slot_winners(fused, {"a": 1, "b": 2}, "rrf", top=1).set_index("source")["share"]
    assert heavy_b.to_dict() == {"a": 0.0, "b": 1.0}  # 2/66 > 1/61
