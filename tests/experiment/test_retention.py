import numpy as np
import pytest

from workbench.experiment.retention import (
    Catalogue,
    RetentionConfig,
    RetentionSimulator,
    abandonment,
    make_catalogue,
)
from workbench.experiment.simulator import SimulatorConfig


class ConstantWorld:
    def __init__(self, p):
        self.p = p

    def true_affinity(self, users, items):
        items = np.asarray(items)
        return np.where(np.broadcast_to(items >= 0, (len(users), items.shape[-1])), self.p, 0.0)


def one_slot_sim(a=0.5, value=60.0, **retention):
    """One item (value 60 s, price 10), every user examines slot 1 (activity spread 0), P(click) = a."""
    cat = Catalogue(np.array([value]), np.array([10.0]), np.array([False]))
    return RetentionSimulator(ConstantWorld(a), cat, RetentionConfig(**retention),
                              SimulatorConfig(activity_sigma=0.0, conversion_scale=0.2, seed=3))


def test_abandonment_curve_by_hand():
    # each 100 ms keeps 99% of the waiting requests: 300 ms keeps 0.99^3 = 0.970299
    assert abandonment(0.0) == 0.0
    assert abandonment(100.0) == pytest.approx(0.01)
    assert abandonment(300.0) == pytest.approx(0.029701)
    assert abandonment(50.0, 0.07) == pytest.approx(1 - 0.93**0.5)
    with pytest.raises(ValueError, match="latency_ms=-1"):
        abandonment(-1.0)
    with pytest.raises(ValueError, match="loss_per_100ms=1.0"):
        abandonment(10.0, 1.0)


def test_return_probability_by_hand():
    cfg = RetentionConfig(return_floor=0.5, return_ceiling=0.95, value_scale=120.0)
    assert cfg.return_prob(0.0) == pytest.approx(0.5)
    assert cfg.return_prob(120.0) == pytest.approx(0.95 - 0.45 * np.exp(-1))  # 0.784454
    assert cfg.return_prob(120.0) == pytest.approx(0.784454, abs=1e-6)


def test_truth_worked_by_hand():
    # P(click) = 0.5, value 60 s: E[exp(-V/120)] = 1 - 0.5 (1 - e^-0.5) = 0.803265
    # rho = 0.95 - 0.45 * 0.803265 = 0.588531; q = 0.6, daily survival 1 - q + q rho = 0.753118
    # D7 = rho q 0.753118^6 = 0.064432; return within 8 days = rho (1 - 0.4^7) = 0.587566
    sim = one_slot_sim()
    t = sim.truth(np.arange(3), np.zeros((3, 1), dtype=np.int64), days=8).iloc[0]
    assert t["p_return"] == pytest.approx(0.588531, abs=1e-6)
    assert t["d7_retention"] == pytest.approx(0.064432, abs=1e-6)
    assert t["return_rate"] == pytest.approx(0.587566, abs=1e-6)
    assert t["revenue"] == pytest.approx(0.5 * 0.1 * 10.0)  # P(click) x min(1, 0.2 a) x price
    # 300 ms: 2.9701% abandon and get the floor 0.5: rho = 0.029701 * 0.5 + 0.970299 * 0.588531 = 0.585901
    t = sim.truth(np.arange(3), np.zeros((3, 1), dtype=np.int64), days=8, latency_ms=300.0).iloc[0]
    assert t["p_abandon"] == pytest.approx(0.029701)
    assert t["p_return"] == pytest.approx(0.585901, abs=1e-6)


def test_simulation_agrees_with_the_truth():
    sim = one_slot_sim()
    n, days = 40_000, 8
    users, items = np.arange(n), np.zeros((n, 1), dtype=np.int64)
    out = sim.simulate_days(users, items, days, np.random.default_rng(0), latency_ms=300.0)
    t = sim.truth(users, items, days=days, latency_ms=300.0).iloc[0]
    assert out.users_leave and (out.sessions[:, 0] == 1).all()
    checks = {
        "d7_retention": (out.sessions[:, 7] > 0).mean(),
        "return_rate": (out.sessions[:, 1:].sum(axis=1) > 0).mean(),
        "p_abandon": out.abandoned.sum() / out.sessions.sum(),
    }
    for name, got in checks.items():
        se = np.sqrt(t[name] * (1 - t[name]) / n)
        assert abs(got - t[name]) < 4 * se, name
    served = out.sessions.sum() - out.abandoned.sum()
    rev = out.revenue.sum() / served
    assert abs(rev - t["revenue"]) < 4 * np.sqrt(0.5 * 0.1 * 100.0 / served)  # Var <= E[price^2 · conversion]


def test_clickbait_raises_clicks_and_lowers_return():
    cat = make_catalogue(200, clickbait_share=0.5, boost=0.5, clickbait_value=0.1, seed=1)
    assert 60 < cat.clickbait.sum() < 140
    assert np.all(cat.value[cat.clickbait] == pytest.approx(6.0)) and np.all(cat.value[~cat.clickbait] == 60.0)
    assert cat.price.mean() == pytest.approx(10.0, rel=0.15)
    sim = RetentionSimulator(ConstantWorld(0.2), cat, config=SimulatorConfig(seed=0))
    bait, good = np.flatnonzero(cat.clickbait)[:10], np.flatnonzero(~cat.clickbait)[:10]
    users = np.arange(50)
    tb = sim.truth(users, np.tile(bait, (50, 1))).mean(numeric_only=True)
    tg = sim.truth(users, np.tile(good, (50, 1))).mean(numeric_only=True)
    assert tb["ctr"] > tg["ctr"]  # a' = 0.2 + 0.5 * 0.8 = 0.6 against 0.2
    assert tb["p_return"] < tg["p_return"]
    assert tb["d7_retention"] < tg["d7_retention"]


def test_share_nests_and_is_seeded():
    small, large = make_catalogue(500, 0.1, seed=4), make_catalogue(500, 0.3, seed=4)
    assert (large.clickbait | ~small.clickbait).all()  # every item bait at 10% is bait at 30%
    sim = one_slot_sim()
    items = np.zeros((100, 1), dtype=np.int64)
    a = sim.simulate_days(np.arange(100), items, 5, 7)
    b = sim.simulate_days(np.arange(100), items, 5, 7)
    assert np.array_equal(a.sessions, b.sessions) and np.array_equal(a.revenue, b.revenue)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"visit_prob": 0.0}, "visit_prob=0.0"), ({"return_floor": 1.2}, "return_floor=1.2"),
    ({"return_floor": 0.9, "return_ceiling": 0.8}, "exceeds return_ceiling"), ({"value_scale": 0.0}, "value_scale"),
])  # fmt: skip
def test_bad_settings_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        RetentionConfig(**kwargs)
    with pytest.raises(ValueError, match="clickbait_share=2"):
        make_catalogue(10, clickbait_share=2)
