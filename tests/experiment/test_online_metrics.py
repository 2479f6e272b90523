import numpy as np
import pytest

from workbench.experiment.ab import METRICS, ABConfig, run_ab
from workbench.experiment.retention import RetentionSimulator, make_catalogue
from workbench.experiment.simulator import SimulatorConfig, UserSimulator
from workbench.experiment.stats import holm


class ConstantWorld:
    def true_affinity(self, users, items):
        items = np.asarray(items)
        return np.where(np.broadcast_to(items >= 0, (len(users), items.shape[-1])), 0.3, 0.0)


def test_holm_by_hand():
    # sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1: 0.02, 0.03, 0.06, 0.04; running max 0.02, 0.03, 0.06, 0.06
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    with pytest.raises(ValueError, match="expected probabilities"):
        holm([0.1, 1.5])


def test_every_online_metric_with_its_interval_and_the_holm_note():
    cat = make_catalogue(40, clickbait_share=0.5, seed=2)
    sim = RetentionSimulator(ConstantWorld(), cat, config=SimulatorConfig(seed=1))
    bait, good = np.flatnonzero(cat.clickbait)[:5], np.flatnonzero(~cat.clickbait)[:5]
    rank_a = lambda u: np.tile(good, (len(u), 1))  # noqa: E731
    rank_b = lambda u: np.tile(bait, (len(u), 1))  # noqa: E731
    res = run_ab(sim, [rank_a, rank_b], np.arange(6000), ABConfig(days=10, seed=3), latency_ms=[0.0, 0.0])
    frame = res.analyse().set_index("metric")
    assert list(frame.index) == list(METRICS)
    assert (frame["ci_low"] <= frame["diff"]).all() and (frame["diff"] <= frame["ci_high"]).all()
    # clickbait: more clicks, fewer returns; the truth says the same
    assert frame.loc["ctr", "ci_low"] > 0 and frame.loc["return_rate", "ci_high"] < 0
    assert frame.loc["d7_retention", "ci_high"] < 0
    assert (frame["p_holm"] >= frame["p_value"]).all()
    text = res.report()
    assert "Multiple testing: 6 comparisons read at once" in text and "Holm" in text
    assert "revenue_per_user" in text and "Not measured" not in text
    assert text.endswith("\n".join(res.multiple_testing()))
    # D7 needs 8 days; the report says so rather than reading nothing
    short = run_ab(sim, [rank_a, rank_b], np.arange(500), ABConfig(days=5, seed=3))
    assert "Not measured: d7_retention (needs 8 days of data, the test has 5)" in short.report()
    assert "d7_retention" not in set(short.analyse()["metric"])


def test_plain_simulator_says_what_it_cannot_measure():
    sim = UserSimulator(ConstantWorld(), SimulatorConfig(seed=1))
    rank = lambda u: np.tile(np.arange(10), (len(u), 1))  # noqa: E731
    res = run_ab(sim, [rank, rank], np.arange(1000), ABConfig(days=3, seed=2))
    assert list(res.analyse()["metric"]) == ["ctr", "conversion", "session_time"]
    assert "Not measured: revenue_per_user (this simulator's users never leave" in res.report()
    with pytest.raises(ValueError, match="1 latencies but 2 arms"):
        run_ab(sim, [rank, rank], np.arange(100), ABConfig(days=1), latency_ms=[5.0])


def test_abtest_with_users_who_leave_reports_and_knows_every_online_metric(capsys, monkeypatch):
    from workbench.cli import main

    monkeypatch.delenv("WORKBENCH_SMALL", raising=False)
    assert main(["abtest", "--small", "--days", "9", "--seed", "1"]) == 0  # users leave by default
    out = capsys.readouterr().out
    table = out.split("difference [95% CI]")[1].split("Decisions")[0]
    assert [line.split()[1] for line in table.strip().splitlines()[1:]] == list(METRICS)
    assert "Multiple testing: 6 comparisons read at once" in out
    truth = out.split("True effect (known to the simulator")[1].splitlines()[1:]
    assert [line.split()[0] for line in truth[:4]] == ["ctr", "revenue_per_user", "d7_retention", "return_rate"]
    assert truth[4].startswith("  (no exact true value for conversion, session_time (s): visits here depend")
