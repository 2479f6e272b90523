"""Per-user candidate AUC (checked by hand and against scipy's Mann-Whitney U) and the feature families
that permutation importance shuffles together."""

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.stats import mannwhitneyu

from workbench.metrics.ranking import candidate_auc
from workbench.ranking.importance import feature_family


def test_auc_by_hand_with_ties_and_padding():
    items = np.array([[0, 1, 2, 3, -1], [4, 5, -1, -1, -1], [0, 1, 2, -1, -1]])
    scores = np.array([[0.9, 0.5, 0.5, 0.1, -np.inf], [0.2, 0.8, -np.inf, -np.inf, -np.inf], [1, 2, 3, 0, 0]])
    # user 0: positives {1, 3}; user 1: positive {4}; user 2: none among its candidates
    rel = sp.csr_matrix(([1.0, 1.0, 1.0, 1.0], ([0, 0, 1, 2], [1, 3, 4, 9])), shape=(3, 10))
    auc = candidate_auc(scores, items, rel)
    # user 0: pairs (pos 0.5 vs neg 0.9: 0), (0.5 vs 0.5: ½), (0.1 vs 0.9: 0), (0.1 vs 0.5: 0) -> 0.5 / 4
    assert auc[0] == pytest.approx(0.125)
    assert auc[1] == pytest.approx(0.0)  # the positive 0.2 loses to the negative 0.8
    assert np.isnan(auc[2])


def test_auc_matches_mann_whitney_u():
    rng = np.random.default_rng(0)
    n_users, n = 20, 30
    items = np.argsort(rng.random((n_users, 100)), axis=1)[:, :n]
    scores = rng.integers(0, 8, size=(n_users, n)).astype(float)  # many ties
    pos_items = [set(rng.choice(items[u], size=rng.integers(1, 10), replace=False)) for u in range(n_users)]
    rows = [u for u in range(n_users) for _ in pos_items[u]]
    cols = [i for u in range(n_users) for i in pos_items[u]]
    rel = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n_users, 100))
    auc = candidate_auc(scores, items, rel)
    for u in range(n_users):
        is_pos = np.isin(items[u], list(pos_items[u]))
        u_stat = mannwhitneyu(scores[u][is_pos], scores[u][~is_pos]).statistic
        assert auc[u] == pytest.approx(u_stat / (is_pos.sum() * (~is_pos).sum()))


def test_feature_families_group_expanded_columns():
    assert feature_family("user_genre_Drama") == feature_family("user_genre_Action")
    assert feature_family("src_two_tower_rr") == feature_family("src_two_tower_z") == "src_two_tower_* (source two_tower)"
    assert feature_family("item_log_popularity") == "item_log_popularity"
