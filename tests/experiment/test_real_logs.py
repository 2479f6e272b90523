"""Off-policy evaluation on real logs: the Open Bandit sample, an event log, a user's file."""

from __future__ import annotations

import sqlite3

import numpy as np
import pandas as pd
import pytest

from workbench.data import DataFileError
from workbench.experiment import real_logs as rl

obp = pytest.importorskip("obp")  # the OBD sample ships in obp's wheel (the ope-test extra)


@pytest.fixture(scope="module")
def obd_random():
    return rl.read_obd("random", "all")


def test_obd_sample_as_the_paper_describes_it(obd_random):
    bts = rl.read_obd("bts", "all")
    assert (obd_random.n, obd_random.n_actions, obd_random.len_list) == (10_000, 80, 3)
    assert np.allclose(obd_random.pscore, 1 / 80)  # uniform random over 80 items per position
    assert int(obd_random.reward.sum()) == 38 and int(bts.reward.sum()) == 42  # click rates 0.0038 and 0.0042


def test_thompson_distribution_matches_obps_bernoulli_ts():
    from obp.policy import BernoulliTS

    alpha, beta = rl.bts_prior("men")
    ours = rl.thompson_dist(alpha, beta, 3, n_sim=40_000, seed=1)
    theirs = BernoulliTS(n_actions=len(alpha), len_list=3, campaign="men", is_zozotown_prior=True,
                         random_state=2).compute_batch_action_dist(n_rounds=1, n_sim=4_000)[0]  # fmt: skip
    assert np.allclose(ours.sum(axis=0), 1.0)
    assert np.abs(ours - theirs).max() < 0.04  # two Monte-Carlo estimates of the same distribution


def test_random_to_bts_protocol(obd_random):
    dist = rl.target_policy("bts", obd_random, seed=0)
    table = rl.estimate(obd_random, dist).set_index("estimator")
    # IPS by hand: Σ over clicked rounds of π(a, p) / (1/80), over the 10,000 rounds
    clicked = obd_random.reward > 0
    by_hand = (dist[obd_random.action[clicked], obd_random.position[clicked]] * 80).sum() / 10_000
    assert table.loc["IPS", "value"] == pytest.approx(by_hand)
    mean, lo, hi = rl.read_obd("bts", "all").on_policy()
    assert mean == pytest.approx(0.0042)
    for name in ("DR", "SNIPS"):  # the target: within their intervals of BTS's on-policy mean
        assert table.loc[name, "ci_low"] <= mean <= table.loc[name, "ci_high"]
    assert table.loc["IPS", "ci_high"] - table.loc["IPS", "ci_low"] > 2 * (hi - lo)  # reweighting widens it
    assert rl.unsupported_share(obd_random, dist) == 0.0


def test_cli_on_obd(capsys):
    from workbench.cli import main

    assert main(["ope", "--log", "obd"]) == 0
    out = capsys.readouterr().out
    assert "on-policy: the bts policy's own log has mean reward 0.00420" in out
    assert "DR covers" in out and "SNIPS covers" in out


def event_log(path, rows):
    from workbench.serving.eventlog import SCHEMA

    conn = sqlite3.connect(path)
    conn.executescript(SCHEMA)
    conn.executemany("INSERT INTO events (request_id, position, event_type, user_id, item_id, propensity, event_ts, "
                     "received_at, batch_index) VALUES (?, ?, ?, ?, ?, ?, 0, 0, 0)", rows)  # fmt: skip
    conn.commit()
    conn.close()


def test_event_log_rewards_and_the_unsupported_share(tmp_path):
    # request r1: items 5, 6 at positions 1, 2, shown deterministically (propensity 1), a click on position 2;
    # request r2: item 7 explored at position 1 (propensity 0.5), item 5 at position 2 (propensity 1)
    rows = [("r1", 1, "impression", 1, 5, 1.0), ("r1", 2, "impression", 1, 6, 1.0), ("r1", 2, "click", 1, 6, None),
            ("r2", 1, "impression", 2, 7, 0.5), ("r2", 2, "impression", 2, 5, 1.0)]  # fmt: skip
    path = tmp_path / "events.sqlite"
    event_log(path, rows)
    log = rl.read_event_log(path)
    assert sorted(zip(log.actions[log.action].tolist(), log.position.tolist(), log.reward.tolist(), strict=True)) == [
        (5, 0, 0.0), (5, 1, 0.0), (6, 1, 1.0), (7, 0, 0.0)]  # fmt: skip
    uniform = rl.target_policy("uniform", log)  # 1/3 on each of the 3 items at each position
    # rounds with propensity 1 support only their item: 2/3 unsupported each (3 rounds); the explored round:
    # position 1 never shows item 6, so 1/3 of the target's mass there is unsupported -> (3·2/3 + 1/3) / 4
    assert rl.unsupported_share(log, uniform) == pytest.approx((3 * 2 / 3 + 1 / 3) / 4)


def test_cli_on_an_event_log_says_what_is_unsupported(tmp_path, capsys):
    from workbench.cli import main

    path = tmp_path / "events.sqlite"
    event_log(path, [("r1", 1, "impression", 1, 5, 1.0), ("r1", 1, "click", 1, 5, None), ("r2", 1, "impression", 2, 6, 1.0)])
    assert main(["ope", "--log", str(path), "--target", "uniform"]) == 0
    assert "SUPPORT: the log does not support 50.0% of the target's probability mass" in capsys.readouterr().out


LOG = pd.DataFrame({"session": ["s1", "s2", "s3", "s4"], "item": [1, 2, 1, 2], "slot": [1, 1, 1, 1],
                    "click": [1, 0, 0, 1], "pscore": [0.5, 0.5, 0.5, 0.5]})  # fmt: skip


def test_user_log_file_uniform_target_has_weight_one(tmp_path):
    path = tmp_path / "log.csv"
    LOG.to_csv(path, index=False)
    log = rl.read_log_file(path, {"context": "session", "position": "slot"})
    table = rl.estimate(log, rl.target_policy("uniform", log)).set_index("estimator")
    assert table.loc["IPS", "value"] == pytest.approx(0.5)  # weights π/μ = 0.5/0.5: IPS is the mean click


def test_user_log_file_damage_is_named(tmp_path):
    path = tmp_path / "log.csv"
    LOG.assign(pscore=[0.5, 0.0, 0.5, 0.5]).to_csv(path, index=False)
    with pytest.raises(DataFileError, match=r"row 2 \(line 3\), column 'pscore': propensity 0.0 .*expected .* \(0, 1\]"):
        rl.read_log_file(path)
    LOG.rename(columns={"click": "clik"}).to_csv(path, index=False)
    with pytest.raises(DataFileError, match=r"column for reward.*Did you mean 'clik'"):
        rl.read_log_file(path)


def test_cli_on_a_user_log_file_with_a_mapping(tmp_path, capsys):
    from workbench.cli import main

    path = tmp_path / "log.parquet"
    LOG.to_parquet(path)
    assert main(["ope", "--log", str(path), "--log-columns", "context=session,position=slot", "--target", "uniform"]) == 0
    out = capsys.readouterr().out
    assert "4 rounds, 2 actions in 1 position(s)" in out and "support: the log gives every" in out
    assert main(["ope", "--log", str(path), "--log-columns", "contxt=session"]) == 2
    assert "unknown role(s) ['contxt']" in capsys.readouterr().err
