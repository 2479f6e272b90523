"""Watch-time-weighted logistic regression and the multi-task ranker, on cases with known answers."""

import numpy as np
import pytest

from workbench.casestudies.multitask import MultiTaskConfig, MultiTaskRanker, auc, compare_multitask, fit_together
from workbench.casestudies.watchtime import (
    ImpressionLog, LogisticModel, WatchConfig, WatchSimulator, compare_objectives, item_watch_means, watch_setup,
    watch_weights,
)  # fmt: skip
from workbench.experiment.simulator import SimulatorConfig


class TableWorld:
    def __init__(self, table):
        self.table = np.asarray(table, dtype=float)

    def true_affinity(self, users, items):
        items, users = np.asarray(items), np.asarray(users)
        if items.ndim == 1:
            return self.table[users][:, items]
        return np.where(items >= 0, self.table[users[:, None], np.maximum(items, 0)], 0.0)


def test_expected_watch_and_clicks_by_hand():
    sim = WatchSimulator(TableWorld([[0.5, 0.2, 0.1]]), np.array([10.0, 100.0, 30.0]),
                         SimulatorConfig(activity_sigma=0.0, position_scale=1.0, position_exponent=1.0))  # fmt: skip
    slate = np.array([[1, 0, -1]])
    # examination (1, 1/2, 1/3): clicks 0.2 + 0.25 = 0.45; watch 0.2·100 + 0.25·10 = 22.5
    np.testing.assert_allclose(sim.expected_clicks(np.array([0]), slate), [0.45])
    np.testing.assert_allclose(sim.expected_watch(np.array([0]), slate), [22.5])


def test_simulated_watch_times_average_to_the_item_means():
    sim = WatchSimulator(TableWorld([[0.9, 0.9]]), np.array([20.0, 80.0]), SimulatorConfig(activity_sigma=0.0))
    users = np.zeros(20000, dtype=np.int64)
    imp, watch = sim.simulate_watch(users, np.tile([[0, 1]], (20000, 1)), np.random.default_rng(0))
    assert not watch[~imp.clicks].any()
    np.testing.assert_allclose([watch[:, j][imp.clicks[:, j]].mean() for j in (0, 1)], [20.0, 80.0], rtol=0.03)
    np.testing.assert_allclose(imp.seconds, 4.0 * imp.examined.sum(axis=1) + watch.sum(axis=1))


def test_item_watch_means_follow_the_clickbait_setting():
    rng = np.random.default_rng(0)
    world = TableWorld(rng.random((50, 300)))
    appeal = world.table.mean(axis=0)
    for clickbait in (0.0, 0.9):
        m = item_watch_means(world, 50, 300, 60.0, WatchConfig(sigma=0.8, clickbait=clickbait))
        r = np.corrcoef(appeal, np.log(m))[0, 1]
        assert (abs(r) < 0.2) if clickbait == 0.0 else (r < -0.8)
    with pytest.raises(ValueError, match="clickbait=1.0"):
        WatchConfig(clickbait=1.0)


def per_item_log(rng, clicks_p=(0.2, 0.5), watch=(30.0, 90.0), n=4000):
    items = np.repeat([0, 1], n)
    clicks = rng.random(2 * n) < np.repeat(clicks_p, n)
    w = np.where(clicks, rng.exponential(np.repeat(watch, n)), 0.0)
    return ImpressionLog(np.zeros(2 * n, np.int64), items, np.zeros(2 * n, np.int64), clicks, w)


def test_weighted_logistic_regression_odds_are_watch_per_unclicked_impression():
    """With one free logit per item the weighted MLE is closed form:
    odds_i = Σ_clicked watch / #unclicked (clicked rows weigh their watch, the others 1)."""
    log = per_item_log(np.random.default_rng(0))
    dense = np.zeros((len(log), 1))
    weighted = LogisticModel(l2=0.0, max_iter=500).fit(dense, log.items, log.clicks, watch_weights(log), 2)
    plain = LogisticModel(l2=0.0, max_iter=500).fit(dense, log.items, log.clicks, None, 2)
    for i in (0, 1):
        mine = log.items == i
        want_w = np.log(log.watch[mine].sum() / (~log.clicks[mine]).sum())
        want_c = np.log(log.clicks[mine].sum() / (~log.clicks[mine]).sum())
        np.testing.assert_allclose(weighted.logit(dense[:1], [i]), [want_w], atol=1e-4)
        np.testing.assert_allclose(plain.logit(dense[:1], [i]), [want_c], atol=1e-4)


def test_multitask_heads_learn_click_rate_and_watch_per_item():
    """Two items, nothing else to learn from: the click head's MLE is each item's click rate, the
    watch head's least-squares answer each item's mean watch time given a click."""
    log = per_item_log(np.random.default_rng(1))
    dense = np.zeros((len(log), 1), np.float32)
    m = MultiTaskRanker(MultiTaskConfig(weight=0.5, epochs=500, lr=0.02, batch_size=len(log))).fit(  # full batch
        dense, log.items, log.clicks, log.watch, 2, scale=60.0)
    p, w = m.predict(dense[[0, -1]], np.array([0, 1]))
    rate = [log.clicks[log.items == i].mean() for i in (0, 1)]
    mean_watch = [log.watch[(log.items == i) & log.clicks].mean() for i in (0, 1)]
    np.testing.assert_allclose(p, rate, atol=0.02)
    np.testing.assert_allclose(w, mean_watch, rtol=0.05)


def test_click_only_weight_leaves_the_watch_head_untouched():
    log = per_item_log(np.random.default_rng(2), n=500)
    dense = np.zeros((len(log), 1), np.float32)
    cfg = MultiTaskConfig(weight=1.0, epochs=3, seed=5)
    trained = MultiTaskRanker(cfg).fit(dense, log.items, log.clicks, log.watch, 2)
    untrained = MultiTaskRanker(MultiTaskConfig(weight=1.0, epochs=3, seed=5))
    import torch

    from workbench.casestudies.multitask import MultiTaskNet

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(5)
        init = MultiTaskNet(2, 1, cfg.item_dim, cfg.hidden)
    for name in ("watch.weight", "watch.bias"):
        torch.testing.assert_close(trained.net_.state_dict()[name], init.state_dict()[name])
    assert not torch.allclose(trained.net_.state_dict()["click.weight"], init.state_dict()["click.weight"])
    del untrained


def test_networks_trained_together_match_each_trained_alone():
    """`fit_together` sums the networks' losses over stacked parameters: Adam updates element by element, so
    each network follows its own `fit` (same initialisation, same batches), click-only and watch-only included."""
    rng = np.random.default_rng(3)
    log = per_item_log(rng, n=600)
    dense = rng.normal(size=(len(log), 3)).astype(np.float32)
    cfg = MultiTaskConfig(epochs=4, batch_size=256, seed=2)
    weights = (0.3, 1.0, 0.0)
    together = fit_together(weights, cfg, dense, log.items, log.clicks, log.watch, 2, scale=60.0)
    assert [m.config.weight for m in together] == list(weights)
    for w, joint in zip(weights, together):
        alone = MultiTaskRanker(MultiTaskConfig(**{**cfg.__dict__, "weight": w})).fit(
            dense, log.items, log.clicks, log.watch, 2, scale=60.0)
        for name, value in alone.net_.state_dict().items():
            np.testing.assert_allclose(joint.net_.state_dict()[name].numpy(), value.numpy(), atol=1e-4, err_msg=name)
        np.testing.assert_allclose(joint.predict(dense[:50], log.items[:50])[0], alone.predict(dense[:50], log.items[:50])[0],
                                   atol=1e-4)
    with pytest.raises(ValueError, match="weight"):
        fit_together((0.5, 1.5), cfg, dense, log.items, log.clicks, log.watch, 2)


def test_auc_by_hand():
    # positives score 0.9 and 0.4; negatives 0.5 and 0.1: pairs won 1 + 1 + 0 + 1 of 4
    assert auc(np.array([1, 1, 0, 0]), np.array([0.9, 0.4, 0.5, 0.1])) == 0.75
    assert auc(np.array([1, 0]), np.array([0.5, 0.5])) == 0.5


@pytest.fixture(scope="module")
def setup():
    from workbench.candidates import EASE
    from workbench.data import load, temporal_split

    ds = load("synthetic", small=True)
    train, _ = temporal_split(ds)
    scores = EASE().fit(train)._score(np.arange(train.n_users))
    return watch_setup(train, ds.truth, scores, pool=30, impressions_per_user=3)


def test_weighted_training_earns_more_watch_time_and_click_training_more_clicks(setup):
    table = compare_objectives(setup)
    click, weighted = table.loc["click-trained LR"], table.loc["watch-time-weighted LR"]
    assert weighted["watch_seconds"] > click["watch_seconds"]
    assert click["clicks"] > weighted["clicks"]
    top = table.loc["truth: by a·m (upper bound)", "watch_seconds"]
    assert table["watch_seconds"].max() == top


def test_multitask_comparison_reports_both_setups(setup):
    table = compare_multitask(setup, weight=0.5, config=MultiTaskConfig(epochs=8))
    assert list(table.index) == ["multi-task (click weight 0.5)", "two single-task models"]
    assert table.loc["two single-task models", "parameters"] == 2 * table.loc["multi-task (click weight 0.5)", "parameters"]
    single = table.loc["two single-task models"]
    assert single["click_vs_true_attraction"] > 0.2  # the click-only network learned the truth's order
    spread = setup.sim.item_watch[setup.valid_log.items].std()
    assert (table["watch_rmse_vs_truth_s"] < spread).all()  # both beat predicting one constant watch time
