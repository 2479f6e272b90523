"""Drift figures on known distributions: identical samples, hand-computed bins, scipy's exact normal values."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from workbench.monitoring import drift_columns, drift_table, js_distance, ks_statistic, psi, source_shares
from workbench.monitoring.drift import binned_shares


def test_identical_samples_do_not_drift():
    x = np.random.default_rng(0).normal(size=5000)
    assert psi(x, x) == 0.0
    assert js_distance(x, x) == 0.0
    assert ks_statistic(x, x) == (0.0, 1.0)
    codes = np.repeat([0, 1, 2], [5, 3, 2])
    assert psi(codes, codes, categorical=True) == 0.0 and js_distance(codes, codes, categorical=True) == 0.0


def test_psi_by_hand_on_quantile_bins():
    ref = np.arange(1000.0)  # 4 quantile bins of 250 values each
    cur = np.repeat([10.0, 300.0, 600.0, 900.0], [100, 200, 300, 400])  # shares 0.1, 0.2, 0.3, 0.4
    p, q = binned_shares(ref, cur, bins=4)
    assert np.allclose(p, 0.25) and np.allclose(q, [0.1, 0.2, 0.3, 0.4])
    by_hand = (-0.15 * np.log(0.4)) + (-0.05 * np.log(0.8)) + (0.05 * np.log(1.2)) + (0.15 * np.log(1.6))
    assert psi(ref, cur, bins=4) == pytest.approx(by_hand, abs=1e-12)
    # a bin the current window never fills costs (floor − p)·ln(floor / p), not infinity
    empty = np.repeat([10.0, 300.0, 600.0], [200, 400, 400])
    expected = (-0.05 * np.log(0.8)) + 2 * (0.15 * np.log(1.6)) + (1e-4 - 0.25) * np.log(1e-4 / 0.25)
    assert psi(ref, empty, bins=4) == pytest.approx(expected, abs=1e-12)


def test_shifted_normal_against_scipy_exact_values():
    rng = np.random.default_rng(1)
    n, shift = 200_000, 0.5
    ref, cur = rng.normal(size=n), rng.normal(shift, 1.0, size=n)
    edges = stats.norm.ppf(np.arange(11) / 10)  # the population deciles of the reference
    q = np.diff(stats.norm.cdf(edges - shift))
    exact_psi = float(np.sum((q - 0.1) * np.log(q / 0.1)))
    assert psi(ref, cur) == pytest.approx(exact_psi, abs=0.01)
    m = (q + 0.1) / 2
    exact_js = np.sqrt(0.5 * np.sum(q * np.log2(q / m)) + 0.5 * np.sum(0.1 * np.log2(0.1 / m)))
    assert js_distance(ref, cur) == pytest.approx(exact_js, abs=0.01)
    d, p_value = ks_statistic(ref, cur)
    assert d == pytest.approx(2 * stats.norm.cdf(shift / 2) - 1, abs=0.01)  # sup |Φ(x) − Φ(x − δ)|
    assert p_value < 1e-12


def test_js_distance_by_hand():
    ref, cur = np.array([0, 1] * 50), np.zeros(100)
    h = lambda p: -sum(x * np.log2(x) for x in p if x > 0)  # noqa: E731
    by_hand = np.sqrt(h([0.75, 0.25]) - (h([0.5, 0.5]) + h([1.0])) / 2)
    assert js_distance(ref, cur, categorical=True) == pytest.approx(by_hand, abs=1e-12)


def test_drift_table_and_its_wide_row():
    rng = np.random.default_rng(2)
    ref = pd.DataFrame({"score": rng.normal(size=4000), "genre": rng.integers(0, 4, 4000)})
    cur = {"score": rng.normal(1.0, 1.0, size=3000), "genre": rng.integers(0, 4, 3000)}
    table = drift_table(ref, cur, categorical=["genre"]).set_index("feature")
    assert table.loc["score", "psi"] > 0.5 > table.loc["genre", "psi"]
    assert table.loc["genre", "psi"] == pytest.approx(psi(ref["genre"], cur["genre"], categorical=True))
    assert table.loc["score", "n_reference"] == 4000 and table.loc["score", "n_current"] == 3000
    row = drift_columns(table.reset_index())
    assert set(row) == {f"{f}:{c}" for f in ("psi", "ks", "js") for c in ("score", "genre")}
    with pytest.raises(ValueError, match=r"only in reference \['genre'\]"):
        drift_table(ref, {"score": cur["score"]})
    with pytest.raises(ValueError, match=r"current\['score'\] holds 1 NaN"):
        drift_table({"score": [1.0, 2.0]}, {"score": [1.0, np.nan]})
    with pytest.raises(ValueError, match="bins=1"):
        psi([1.0, 2.0], [1.0, 2.0], bins=1)


def test_source_shares_from_the_candidate_bitmask():
    sources = np.array([[1, 3, 2], [4, 1, 0]])  # bit 0 a, bit 1 b, bit 2 c; 0 is padding
    shares = source_shares(sources, ("a", "b", "c"))
    assert shares.to_dict() == {"a": 3 / 5, "b": 2 / 5, "c": 1 / 5}
    with pytest.raises(ValueError, match="mask has shape"):
        source_shares(sources, ("a", "b", "c"), mask=np.ones((1, 3), dtype=bool))
