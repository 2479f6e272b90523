import numpy as np
import pytest

from workbench.experiment.simulator import SimulatorConfig, UserSimulator, unique_inverse


class ConstantWorld:
    """Every (user, item) has the same click probability once examined."""

    def __init__(self, p: float) -> None:
        self.p = p

    def true_affinity(self, users, items):
        items = np.asarray(items)
        shape = (len(users), items.shape[-1])
        return np.where(np.broadcast_to(items >= 0, shape), self.p, 0.0)


class ItemWorld:
    """Click probability = item id / 100 (item ids 0..99)."""

    def true_affinity(self, users, items):
        items = np.asarray(items)
        prob = np.broadcast_to(items / 100.0, (len(users), items.shape[-1]))
        return np.where(prob >= 0, prob, 0.0)


N = 200_000


def _slates(n, k=10):
    return np.arange(n) % 500, np.tile(np.arange(k), (n, 1))


def test_position_model_clicks_follow_examination_times_attraction():
    cfg = SimulatorConfig(activity_sigma=0.0, position_scale=2.0, position_exponent=1.0)
    sim = UserSimulator(ConstantWorld(0.3), cfg)
    users, items = _slates(N)
    imp = sim.simulate(users, items, 0)
    e = 1.0 / (1.0 + np.arange(10) / 2.0)
    tol = 4 * np.sqrt(0.25 / N)
    assert np.abs(imp.examined.mean(0) - e).max() < tol
    assert np.abs(imp.clicks.mean(0) - 0.3 * e).max() < tol
    assert not (imp.clicks & ~imp.examined).any()


def test_cascade_clicks_at_most_once_with_geometric_positions():
    a, gamma = 0.2, 0.9
    sim = UserSimulator(ConstantWorld(a), SimulatorConfig(click_model="cascade", cascade_continue=gamma))
    users, items = _slates(N)
    imp = sim.simulate(users, items, 1)
    assert imp.clicks.sum(1).max() == 1
    expected = a * ((1 - a) * gamma) ** np.arange(10)  # first attractive at r, reading on past r unclicked items
    assert np.abs(imp.clicks.mean(0) - expected).max() < 4 * np.sqrt(0.25 / N)
    clicked_at = imp.clicks.argmax(1)[imp.clicks.any(1)]
    examined_after = imp.examined[imp.clicks.any(1)][:, 1:].sum(1) > clicked_at
    assert not examined_after.any()  # nothing is read after the click


def test_conversions_and_session_time():
    cfg = SimulatorConfig(activity_sigma=0.0, conversion_scale=0.5, browse_seconds=3.0, watch_seconds=50.0)
    sim = UserSimulator(ItemWorld(), cfg)
    users = np.arange(N) % 100
    items = np.tile(np.arange(60, 70), (N, 1))
    imp = sim.simulate(users, items, 2)
    assert not (imp.conversions & ~imp.clicks).any()
    conv_rate = imp.conversions.sum() / imp.clicks.sum()
    expected = (0.5 * items[0] / 100 * (items[0] / 100) * (1 / (1 + np.arange(10) / 2))).sum() / (
        (items[0] / 100) * (1 / (1 + np.arange(10) / 2))
    ).sum()  # click-weighted mean of 0.5 · a
    assert conv_rate == pytest.approx(expected, abs=0.005)
    mean_seconds = 3.0 * imp.examined.sum(1).mean() + 50.0 * imp.clicks.sum(1).mean()
    assert imp.seconds.mean() == pytest.approx(mean_seconds, rel=0.01)


def test_seeded_and_traits_stable_per_user():
    sim = UserSimulator(ConstantWorld(0.3))
    users, items = _slates(1000)
    one, two, other = sim.simulate(users, items, 5), sim.simulate(users, items, 5), sim.simulate(users, items, 6)
    assert np.array_equal(one.clicks, two.clicks) and np.array_equal(one.seconds, two.seconds)
    assert not np.array_equal(one.clicks, other.clicks)
    act = sim.activity(np.array([7, 3, 7, 900]))
    assert act[0] == act[2] == sim.activity(np.array([7]))[0]
    big = sim.activity(np.arange(100_000))
    assert big.mean() == pytest.approx(1.0, abs=0.01)  # log-normal with mean 1
    assert np.log(big).std() == pytest.approx(sim.config.activity_sigma, abs=0.01)


def test_expected_ctr_matches_simulation():
    sim = UserSimulator(ItemWorld(), SimulatorConfig(activity_sigma=0.8))
    users = np.arange(300)
    items = (np.arange(300)[:, None] + np.arange(10)[None, :]) % 100
    mean, var = sim.expected_ctr(users, items)
    reps = 400
    imp = sim.simulate(np.repeat(users, reps), np.repeat(items, reps, axis=0), 3)
    ctr = imp.clicks.sum(1).reshape(300, reps) / 10
    assert np.abs(ctr.mean(1) - mean).max() < 5 * np.sqrt(var.max() / reps)
    assert ctr.var(1).mean() == pytest.approx(var.mean(), rel=0.05)


def test_simulate_days_counts():
    sim = UserSimulator(ConstantWorld(0.2), SimulatorConfig(visit_rate=0.7, visit_sigma=0.0))
    users, items = _slates(5000)
    ud = sim.simulate_days(users, items, 4, 0)
    assert ud.sessions.shape == (5000, 4)
    assert ud.sessions.mean() == pytest.approx(0.7, abs=0.03)
    assert np.array_equal(ud.slots, ud.sessions * 10.0)
    cum = ud.cumulative()
    assert np.array_equal(cum.clicks[:, -1], ud.clicks.sum(1))
    with pytest.raises(ValueError, match="sessions must be"):
        sim.simulate_days(users, items, 4, 0, sessions=np.ones((5000, 3)))


def test_padding_is_never_examined_or_clicked():
    sim = UserSimulator(ConstantWorld(0.9), SimulatorConfig(activity_sigma=0.0))
    items = np.tile([0, 1, 2, -1, -1], (1000, 1))
    imp = sim.simulate(np.arange(1000), items, 0)
    assert not imp.examined[:, 3:].any() and not imp.clicks[:, 3:].any()
    assert (imp.slots == 3).all()


def test_unique_inverse_matches_numpy():
    ids = np.random.default_rng(0).integers(0, 50, 1000)
    uniq, inv = unique_inverse(ids)
    ref_u, ref_i = np.unique(ids, return_inverse=True)
    assert np.array_equal(uniq, ref_u) and np.array_equal(inv, ref_i)


def test_bad_config_and_world():
    with pytest.raises(ValueError, match="click_model='dbn'"):
        SimulatorConfig(click_model="dbn")
    with pytest.raises(ValueError, match="cascade_continue"):
        SimulatorConfig(cascade_continue=1.5)
    with pytest.raises(TypeError, match="true_affinity"):
        UserSimulator(object())
    with pytest.raises(ValueError, match="items must be"):
        UserSimulator(ConstantWorld(0.1)).simulate(np.arange(3), np.zeros((4, 2), dtype=int), 0)
