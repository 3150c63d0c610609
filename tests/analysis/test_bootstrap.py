"""Rao–Wu bootstrap: multiplier algebra, one replicate recomputed from respondent rows, agreement with
Taylor on a design with many clusters, determinism, and the result-table contract."""

import numpy as np
import pandas as pd
import pytest

from analysis import bootstrap as bootmod
from analysis import cluster_variance, estimate, totals_from_responses
from analysis.bootstrap import (
    bootstrap_intervals,
    bootstrap_replicates,
    bootstrap_results,
    rao_wu_multipliers,
    replicate_summary,
)
from analysis.result import COLUMNS, result_table
from tests.analysis.core_fixtures import make_data, make_spec

DESIGN = {"weights": "weight", "strata": "district", "cluster": "service_point"}


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return make_data(6000, seed=7, n_strata=5, clusters_per_stratum=12)


@pytest.fixture(scope="module")
def totals(data):
    return totals_from_responses(data, make_spec(), ("agency", "channel"), **DESIGN)


def test_multipliers_resample_n_minus_one_clusters_per_stratum():
    strata = np.array([0, 0, 0, 1, 1, 2, 0, 1])  # stratum 2 has a single cluster
    m = rao_wu_multipliers(strata, 500, 3)
    assert m.shape == (500, 8) and (m >= 0).all()
    np.testing.assert_allclose(m[:, strata == 0].sum(axis=1), 4)  # Σ = n_h: 3 draws × 4/3
    np.testing.assert_allclose(m[:, strata == 1].sum(axis=1), 3)
    assert (m[:, strata == 2] == 1).all()
    # multiples of n_h/(n_h − 1): 4/3 in stratum 0, 3/2 in stratum 1
    np.testing.assert_allclose(np.mod(m[:, strata == 0] * 3 / 4, 1), 0, atol=1e-12)
    np.testing.assert_allclose(np.mod(m[:, strata == 1] * 2 / 3, 1), 0, atol=1e-12)


def test_bootstrap_variance_of_a_linear_score_equals_taylor_in_expectation():
    # Var*(Σ m_c z_c) = Σ_h n_h/(n_h−1) Σ_c (z_hc − z̄_h)² exactly in expectation (multinomial moments).
    rng = np.random.default_rng(11)
    strata = np.repeat(np.arange(4), [3, 5, 8, 2])
    z = rng.normal(size=strata.size)
    m = rao_wu_multipliers(strata, 20_000, 5)
    boot_var = (m @ z).var(ddof=1)
    taylor = cluster_variance(z[:, None], strata, 4)[0]
    assert boot_var == pytest.approx(taylor, rel=0.04)  # Monte Carlo error of a variance: ~1.5%


def test_one_replicate_recomputed_from_respondent_rows(data, totals):
    spec = make_spec()
    mult = rao_wu_multipliers(totals.cluster_stratum, 3, 42)
    reps = bootstrap_replicates(totals, spec.measures, ("agency",), replicates=3, seed=42)
    clusters = totals.clusters["cluster"].tolist()
    for b in range(3):
        w = data["weight"] * data["service_point"].map(dict(zip(clusters, mult[b], strict=True)))
        for d, agency in enumerate(totals.collapse(("agency",)).cells["agency"]):
            sel = data["agency"] == agency
            ans = sel & data["Q2"].notna()
            sat = ans & (data["Q2"] >= 4)
            q2 = w[sat].sum() / w[ans].sum()
            q1 = w[sel & (data["Q1"] >= 4)].sum() / w[sel & data["Q1"].notna()].sum()
            codes = [m.code for m in spec.measures]
            assert reps[b, d, codes.index("Q2")] == pytest.approx(q2, rel=1e-12)
            assert reps[b, d, codes.index("E1")] == pytest.approx((q1 + q2) / 2, rel=1e-12)


def test_agrees_with_taylor_on_many_clusters(totals):
    spec = make_spec()
    est = estimate(totals, spec.measures, ("agency",))
    boot = bootstrap_intervals(totals, spec.measures, by=("agency",), replicates=2000, seed=3)
    ratio = boot["se"] / est.se
    assert np.all(np.abs(ratio - 1) < 0.12), ratio
    taylor = result_table(est, "taylor")
    centre = (boot["ci_low"] + boot["ci_high"]).ravel() / 2
    assert np.all(np.abs(centre - taylor["estimate"]) < 0.5 * taylor["se"])


def test_seeded_and_shared_between_breakdowns(totals):
    spec = make_spec()
    a = bootstrap_replicates(totals, spec.measures, (), replicates=50, seed=9)
    b = bootstrap_replicates(totals, spec.measures, (), replicates=50, seed=9)
    c = bootstrap_replicates(totals, spec.measures, (), replicates=50, seed=10)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    # the same multipliers drive every breakdown: the overall replicate is a weighted mix of agencies
    by_agency = bootstrap_replicates(totals, spec.measures, ("agency",), replicates=50, seed=9)
    assert by_agency.shape[0] == 50 and by_agency.shape[1] == 3


def test_blocks_of_replicates_give_identical_results(totals, monkeypatch):
    spec = make_spec()
    whole = bootstrap_replicates(totals, spec.measures, ("agency",), replicates=40, seed=1)
    monkeypatch.setattr(bootmod, "_BLOCK_CELLS", 100)
    blocked = bootstrap_replicates(totals, spec.measures, ("agency",), replicates=40, seed=1)
    np.testing.assert_array_equal(whole, blocked)


def test_result_table_contract(totals):
    spec = make_spec()
    table = bootstrap_results(totals, spec, ("channel",), B=200, seed=1)
    taylor = result_table(estimate(totals, spec.measures, ("channel",)), "taylor")
    assert list(table.columns[: len(COLUMNS)]) == list(COLUMNS)
    assert (table["method"] == "bootstrap").all()
    for col in ("by", "domain", "measure", "estimate", "n", "n_eff", "df", "suppressed"):
        pd.testing.assert_series_equal(table[col], taylor[col])
    assert (table["ci_low"] <= table["estimate"]).all() and (table["estimate"] <= table["ci_high"]).all()


def test_undefined_replicates_are_left_out_and_counted():
    reps = np.array([[0.5, np.nan], [0.6, np.nan], [0.7, 0.2], [np.nan, np.nan]])
    s = replicate_summary(reps)
    assert s["defined"].tolist() == [0.75, 0.25]
    assert s["se"][0] == pytest.approx(0.1)
    assert np.isnan(s["se"][1]) and np.isnan(s["ci_low"][1])
    # too few replicates for the 2.5% / 97.5% order statistics: the extremes
    assert (s["ci_low"][0], s["ci_high"][0]) == (0.5, 0.7)


def test_percentile_interval_reads_order_statistic_b_plus_one_alpha():
    # B = 199: (B + 1)·0.025 = 5 and (B + 1)·0.975 = 195, exactly the 5th and 195th smallest replicates
    reps = np.random.default_rng(0).permutation(np.arange(1.0, 200.0))[:, None]
    s = replicate_summary(reps)
    assert s["ci_low"][0] == pytest.approx(5.0) and s["ci_high"][0] == pytest.approx(195.0)
    s90 = replicate_summary(reps, level=0.9)
    assert s90["ci_low"][0] == pytest.approx(10.0) and s90["ci_high"][0] == pytest.approx(190.0)


def test_too_few_replicates(totals):
    with pytest.raises(ValueError, match="at least 2"):
        bootstrap_replicates(totals, make_spec().measures, replicates=1)


def test_replicate_b_does_not_depend_on_how_many_are_drawn():
    strata = np.repeat(np.arange(3), [4, 6, 2])
    long = rao_wu_multipliers(strata, 30, 5)
    np.testing.assert_array_equal(rao_wu_multipliers(strata, 10, 5), long[:10])
    np.testing.assert_array_equal(rao_wu_multipliers(strata, 5, 5, start=20), long[20:25])
