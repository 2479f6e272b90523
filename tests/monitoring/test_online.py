"""Per-day online metrics on hand-built impressions and on the simulator."""

import numpy as np
import pytest

from workbench.experiment.simulator import SimulatorConfig, UserSimulator
from workbench.metrics import catalogue_coverage, exposure_gini
from workbench.monitoring import daily_metrics


def test_two_days_by_hand():
    day = np.array([0, 0, 1])
    users = np.array([7, 8, 7])
    items = np.array([[0, 1], [0, 2], [3, -1]])
    clicks = np.array([[1, 0], [0, 0], [1, 0]])
    conv = np.array([[1, 0], [0, 0], [0, 0]])
    seconds = np.array([10.0, 20.0, 5.0])
    table = daily_metrics(day, users, items, clicks, conv, seconds, n_items=4).set_index("day")
    assert table.loc[0, "impressions"] == 2 and table.loc[0, "users"] == 2
    assert table.loc[0, "ctr"] == pytest.approx(1 / 4)
    assert table.loc[1, "ctr"] == pytest.approx(1 / 1)  # the padding slot is not shown
    assert table.loc[0, "conversion"] == pytest.approx(1 / 2) and table.loc[1, "conversion"] == 0.0
    assert table.loc[0, "session_time"] == pytest.approx(15.0)
    assert table.loc[0, "coverage"] == pytest.approx(3 / 4)
    # exposure on day 0: [2, 1, 1, 0] → sorted [0, 1, 1, 2]: (−3·0 − 1·1 + 1·1 + 3·2) / (4 · 4)
    assert table.loc[0, "exposure_gini"] == pytest.approx(6 / 16)
    # one item shown once out of four: (n − 1) / n
    assert table.loc[1, "exposure_gini"] == pytest.approx(3 / 4)


def test_on_the_simulator_each_day_matches_its_impressions():
    class World:
        def true_affinity(self, users, items):
            items = np.asarray(items)
            return np.broadcast_to(0.3 * (items >= 0), (len(users), items.shape[-1]))

    sim = UserSimulator(World(), SimulatorConfig(seed=1))
    rng = np.random.default_rng(0)
    n, k, n_items = 6000, 5, 50
    users = rng.integers(0, 300, n)
    items = np.argsort(rng.random((n, n_items)), axis=1)[:, :k]
    imp = sim.simulate(users, items, rng)
    day = np.repeat([0, 1, 2], n // 3)
    table = daily_metrics(day, imp.users, imp.items, imp.clicks, imp.conversions, imp.seconds, n_items)
    for d in range(3):
        rows = day == d
        assert table.loc[d, "ctr"] == pytest.approx(imp.clicks[rows].sum() / imp.slots[rows].sum())
        assert table.loc[d, "users"] == len(np.unique(users[rows]))
        assert table.loc[d, "coverage"] == catalogue_coverage(items[rows], n_items)
        assert table.loc[d, "exposure_gini"] == exposure_gini(items[rows], n_items)


def test_bad_input():
    ok = dict(day=[0], users=[1], items=[[0, 1]], clicks=[[0, 1]], conversions=[[0, 0]], seconds=[3.0], n_items=2)
    daily_metrics(**ok)
    with pytest.raises(ValueError, match=r"clicks has shape \(1, 3\), expected \(1, 2\)"):
        daily_metrics(**{**ok, "clicks": [[0, 1, 0]]})
    with pytest.raises(ValueError, match="users has shape"):
        daily_metrics(**{**ok, "users": [1, 2]})
    with pytest.raises(ValueError, match="n_items=2"):
        daily_metrics(**{**ok, "items": [[0, 5]]})
