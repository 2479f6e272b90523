import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from workbench.experiment.ab import ABConfig, ABResult, assign, run_ab, validate_split
from workbench.experiment.simulator import SimulatorConfig, UserDays, UserSimulator
from workbench.experiment.stats import srm_test

REPO = Path(__file__).resolve().parents[2]
SCRIPT = (
    "import numpy as np\n"
    "from workbench.experiment.ab import assign\n"
    "ids = list(range(200))\n"
    "print(''.join(map(str, assign(np.array(ids), 'exp-1'))))\n"
    "print(''.join(str(hash(str(u)) % 2) for u in ids))\n"
)


def _run(hashseed: str) -> list[str]:
    env = {**os.environ, "PYTHONHASHSEED": hashseed, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, cwd=REPO, capture_output=True, text=True, check=True)
    return out.stdout.split()


def test_assignment_is_stable_across_processes_but_builtin_hash_is_not():
    ours_1, builtin_1 = _run("1")
    ours_2, builtin_2 = _run("2")
    assert ours_1 == ours_2 == "".join(map(str, assign(np.arange(200), "exp-1")))
    assert builtin_1 != builtin_2  # the textbook's hash(str(user_id)) moves users between arms


def test_split_shares_are_respected():
    arms = assign(np.arange(100_000), "share", (0.9, 0.1))
    share = (arms == 1).mean()
    assert abs(share - 0.1) < 4 * np.sqrt(0.1 * 0.9 / 100_000)
    arms3 = assign(np.arange(60_000), "three", (0.2, 0.3, 0.5))
    counts = np.bincount(arms3, minlength=3)
    assert srm_test(counts, (0.2, 0.3, 0.5))[1] > 0.001


def test_experiments_and_salts_split_users_independently():
    ids = np.arange(20_000)
    a, b, c = assign(ids, "one"), assign(ids, "two"), assign(ids, "one", salt="s")
    for other in (b, c):
        agree = (a == other).mean()
        assert abs(agree - 0.5) < 4 * np.sqrt(0.25 / len(ids))


def test_string_ids_are_hashed_stably():
    ids = np.array([f"user-{i}" for i in range(1000)])
    assert np.array_equal(assign(ids, "x"), assign(ids.copy(), "x"))
    assert 0.4 < assign(ids, "x").mean() < 0.6


@pytest.mark.parametrize("split", [(0.5, 0.4), (0.7, 0.7), (1.0,), (1.2, -0.2)])
def test_bad_split_is_rejected(split):
    with pytest.raises(ValueError, match="split"):
        validate_split(split)


def test_bad_split_message_names_the_sum():
    with pytest.raises(ValueError, match="sums to 0.9"):
        assign(np.arange(5), "x", (0.5, 0.4))


def _constant_world(p):
    class W:
        def true_affinity(self, users, items):
            items = np.asarray(items)
            shape = (len(users), items.shape[-1])
            return np.where(np.broadcast_to(items >= 0, shape), p, 0.0)

    return W()


def test_arm_with_no_users_is_a_clear_error():
    users = np.arange(50)
    ud = UserDays(users, np.ones((50, 1)), np.full((50, 1), 10.0), np.ones((50, 1)), np.zeros((50, 1)), np.ones((50, 1)))
    res = ABResult(ABConfig(split=(1.0, 0.0), days=1), ("A", "B"), np.zeros(50, dtype=np.int64), ud)
    with pytest.raises(ValueError, match="arm 'B' has no users"):
        res.analyse()


def test_run_ab_report_and_frame():
    sim = UserSimulator(_constant_world(0.3), SimulatorConfig(seed=1))
    rank_a = lambda u: np.tile(np.arange(10), (len(u), 1))  # noqa: E731
    rank_b = lambda u: np.tile(np.arange(10, 20), (len(u), 1))  # noqa: E731
    res = run_ab(sim, [rank_a, rank_b], np.arange(2000), ABConfig(days=3, seed=2))
    frame = res.analyse()
    assert list(frame["metric"]) == ["ctr", "conversion", "session_time"]
    per_user = res.per_user()
    assert (per_user["sessions"] > 0).all()
    assert set(per_user["arm"]) == {"A", "B"}
    # identical worlds behind both arms: per-user CTR near e(r)-weighted 0.3 in both
    assert abs(frame.loc[0, "mean_a"] - frame.loc[0, "mean_b"]) < 0.02
    text = res.report()
    assert "Sample-ratio check" in text and "Unit of analysis: the user" in text
    traj = res.trajectory("ctr")
    assert list(traj["day"]) == [1, 2, 3]
    assert (np.diff(traj["n_a"]) >= 0).all()  # users only accumulate
    assert (traj["ci_high"] - traj["ci_low"]).iloc[-1] < (traj["ci_high"] - traj["ci_low"]).iloc[0]
