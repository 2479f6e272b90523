"""``explore = "slates"``: whole random slates in ε of the sessions, every slot with its exact marginal propensity,
and a loop log that `workbench ope --log` finds supported where the default slot exploration's is not."""

from __future__ import annotations

import re
import sqlite3

import numpy as np
import pandas as pd
import pytest

from workbench.experiment import real_logs as rl
from workbench.loop.logging_policy import random_slates
from workbench.rerank import n_explore_slots


def test_logged_propensities_are_the_empirical_marginals():
    # one session, 6 items of which item 4 is not eligible (seen), the ranker's slate [0, 1, 2]; ε = 0.3:
    # P(a at p) = 0.7·[a = ranker's item at p] + 0.3/5 for each eligible a; item 4 is never shown
    eligible = np.array([[True, True, True, True, False, True]])
    ranker = np.array([[0, 1, 2]])
    eps, draws = 0.3, 40_000
    rng = np.random.default_rng(5)
    counts = np.zeros((6, 3))
    for _ in range(draws // 1000):
        items, props = random_slates(np.repeat(ranker, 1000, axis=0), np.repeat(eligible, 1000, axis=0), eps, rng)
        for p in range(3):
            counts[:, p] += np.bincount(items[:, p], minlength=6)
        expected = np.where(items == ranker, 0.7 + 0.3 / 5, 0.3 / 5)
        np.testing.assert_allclose(props, expected)
        assert (items != 4).all() and all(len(set(row)) == 3 for row in items.tolist())
    truth = 0.3 / 5 * eligible[0][:, None] + 0.7 * (np.arange(6)[:, None] == ranker[0][None, :])
    se = np.sqrt(truth * (1 - truth) / draws)
    assert np.all(np.abs(counts / draws - truth) <= 5 * se + 1e-12)


def test_a_short_session_pool_pads_and_eps_zero_is_the_ranker():
    eligible = np.array([[True, False, True, False]])  # two items for a slate of three
    items, props = random_slates(np.array([[0, 2, -1]]), eligible, 1.0, np.random.default_rng(0))
    assert sorted(items[0, :2].tolist()) == [0, 2] and items[0, 2] == -1
    np.testing.assert_allclose(props, [[0.5, 0.5, 0.0]])
    items, props = random_slates(np.array([[0, 2, -1]]), eligible, 0.0, np.random.default_rng(0))
    assert items.tolist() == [[0, 2, -1]] and props.tolist() == [[1.0, 1.0, 0.0]]


@pytest.mark.slow
def test_ope_finds_the_slates_log_supported_and_the_slots_log_not(tmp_path, tiny_pipeline_toml, capsys):
    from workbench.cli import main
    from workbench.data import load
    from workbench.pipeline import PipelineConfig

    eps, k = 0.5, PipelineConfig().k
    common = ["loop", "--small", "--pipeline-config", str(tiny_pipeline_toml), "--retrain-every", "0", "--days", "2",
              "--features", "memory", "--repeat-consumption", "--visit-rate", "3", "--epsilon", str(eps)]  # fmt: skip
    logs = {}
    for mode in ("slots", "slates"):
        assert main([*common, "--explore", mode, "--state", str(tmp_path / mode)]) == 0
        logs[mode] = rl.read_event_log(tmp_path / mode / "events.sqlite")
    capsys.readouterr()
    n = int(load("synthetic", small=True).item_available.sum())  # with repeat consumption every session's pool

    # slots: ⌊εk + ½⌋ of each slate's k slots explored, the rest shown with propensity 1, and such a round supports
    # only its own item: under the uniform target 1 - 1/A of its mass is unsupported
    slots = logs["slots"]
    fixed = (k - n_explore_slots(k, eps)) / k
    assert np.mean(slots.pscore == 1.0) == pytest.approx(fixed)
    floor = fixed * (1 - 1 / slots.n_actions)
    assert rl.unsupported_share(slots, rl.target_policy("uniform", slots)) >= floor

    # slates: every propensity is ε/n or 1 - ε + ε/n (the definition), none is 1; a cell (item, slot) stays unseen
    # in R random slates with probability (1 - 1/n)^R, so about that share of the uniform target is unsupported
    slates = logs["slates"]
    assert np.all(np.isclose(slates.pscore, eps / n) | np.isclose(slates.pscore, 1 - eps + eps / n))
    with sqlite3.connect(tmp_path / "slates" / "events.sqlite") as conn:
        ev = pd.read_sql_query("SELECT request_id, propensity FROM events WHERE event_type = 'impression'", conn)
    random_sessions = int(ev.groupby("request_id")["propensity"].min().pipe(np.isclose, eps / n).sum())
    expected = (1 - 1 / n) ** random_sessions
    share = rl.unsupported_share(slates, rl.target_policy("uniform", slates))
    assert expected < 0.05 and share <= 3 * expected + 0.005 and share < floor / 10
    assert main(["ope", "--log", str(tmp_path / "slates" / "events.sqlite"), "--target", "uniform"]) == 0
    said = re.search(r"does not support ([\d.]+)% of the target", capsys.readouterr().out)
    assert said is None or float(said.group(1)) == pytest.approx(100 * share, abs=0.05)


def test_explore_is_a_checked_setting(capsys, tmp_path):
    from workbench.cli import main
    from workbench.loop.config import LoopConfig

    with pytest.raises(ValueError, match=r"explore='everything': expected one of \('slots', 'slates'\)"):
        LoopConfig(explore="everything")
    assert main(["loop", "--explore", "all", "--state", str(tmp_path / "s")]) == 2
    assert "argument --explore: invalid choice: 'all'" in capsys.readouterr().err
    assert main(["loop", "--serve", "--explore", "slates", "--state", str(tmp_path / "s")]) == 2
    assert "explore='slates'" in capsys.readouterr().err and not (tmp_path / "s").exists()
