"""The result table: stable columns, suppression, and a defined answer for every edge case."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis import estimate, totals_from_responses
from analysis.intervals import clopper_pearson, wilson
from analysis.result import CI_METHODS, COLUMNS, blank_suppressed, result_table
from tests.analysis.core_fixtures import make_data, make_spec

DESIGN = {"weights": "weight", "strata": "district", "cluster": "service_point"}


@pytest.fixture(scope="module")
def edge_data() -> pd.DataFrame:
    d = make_data(n=2000, seed=11)
    # agency Z: 40 respondents all in one service point; everybody satisfied on Q1, nobody on Q2,
    # nobody answered Q5
    z = d.iloc[:40].copy()
    z["agency"], z["service_point"], z["district"] = "Z", "SP001", "D0"
    z["Q1"], z["Q2"], z["Q5"] = 5.0, 1.0, np.nan
    # agency Y: a single respondent
    y = d.iloc[40:41].copy()
    y["agency"] = "Y"
    return pd.concat([d.iloc[41:], z, y], ignore_index=True)


def _table(data, ci="taylor", design=True, n_min=30) -> pd.DataFrame:
    spec = make_spec()
    t = totals_from_responses(data, spec, ("agency",), **(DESIGN if design else {}))
    return result_table(estimate(t, spec.measures, ("agency",)), ci, n_min=n_min).set_index(["domain", "measure"])


def test_columns_are_exactly_the_contract():
    spec = make_spec()
    table = result_table(estimate(totals_from_responses(make_data(n=300), spec), spec.measures))
    assert list(table.columns) == [*COLUMNS, "reason", "wide_ci"]


@pytest.mark.parametrize("ci", [c for c in CI_METHODS if c != "bootstrap"])
@pytest.mark.parametrize("design", [True, False])
def test_no_silent_nan_every_missing_number_has_a_reason(edge_data, ci, design):
    table = _table(edge_data, ci, design)
    blank = table[["estimate", "se", "ci_low", "ci_high"]].isna().any(axis=1)
    assert blank.any()  # the edge cases do produce empty cells …
    assert (table.loc[blank, "reason"] != "").all()  # … each explained


def test_item_nobody_answered_in_a_domain_is_suppressed_with_reason(edge_data):
    row = _table(edge_data).loc[("Z", "Q5")]
    assert row.suppressed and row.reason == "no_answers" and row.n == 0 and np.isnan(row.estimate)
    # the element using Q5 is not estimable either; the one without it is
    assert _table(edge_data).loc[("Z", "E2"), "reason"] == "no_answers"
    assert not np.isnan(_table(edge_data).loc[("Z", "E1"), "estimate"])


def test_domain_in_one_cluster_has_df_zero_and_no_interval(edge_data):
    row = _table(edge_data).loc[("Z", "Q3")]
    assert row.df == 0 and row.reason == "df_zero"
    assert np.isnan(row.se) and np.isnan(row.ci_low) and not row.suppressed and 0 <= row.estimate <= 1


def test_p_one_and_p_zero_under_srs_get_exact_intervals(edge_data):
    table = _table(edge_data, "clopper-pearson", design=False)
    one, zero = table.loc[("Z", "Q1")], table.loc[("Z", "Q2")]
    assert one.estimate == 1.0 and zero.estimate == 0.0
    assert (one.ci_low, one.ci_high) == pytest.approx(tuple(np.ravel(clopper_pearson(40, 40))))
    assert (zero.ci_low, zero.ci_high) == pytest.approx(tuple(np.ravel(clopper_pearson(0, 40))))
    w = _table(edge_data, "wilson", design=False).loc[("Z", "Q1")]
    assert w.method == "wilson" and (w.ci_low, w.ci_high) == pytest.approx(tuple(np.ravel(wilson(40, 40))))


def test_logit_at_p_one_falls_back_to_korn_graubard_and_says_so(edge_data):
    d = edge_data.copy()
    d.loc[d.agency == "Z", "service_point"] = ["SP001", "SP002"] * 20  # two clusters in stratum D0
    row = _table(d, "logit").loc[("Z", "Q1")]
    assert row.method == "korn-graubard" and row.ci_high == 1.0 and 0 < row.ci_low < 1


def test_single_respondent_domain_is_suppressed_but_defined(edge_data):
    for design in (True, False):
        row = _table(edge_data, "wilson", design).loc[("Y", "Q1")]
        assert row.n == 1 and row.suppressed and "n_below_min" in row.reason
        assert row.estimate in (0.0, 1.0)


def test_small_domains_suppressed_and_blanked_for_publication(edge_data):
    table = _table(edge_data, n_min=45).reset_index()
    small = table[(table.domain == "Z") & (table.measure == "Q1")].iloc[0]
    assert small.suppressed and small.reason.endswith("n_below_min") and small.estimate == 1.0
    published = blank_suppressed(table)
    assert published.loc[table.suppressed, "estimate"].isna().all()
    assert (published.loc[table.suppressed, "n"] == table.loc[table.suppressed, "n"]).all()
    assert not published.loc[~table.suppressed, "estimate"].isna().any()


def test_wide_interval_flag(edge_data):
    table = _table(make_data(n=600, seed=2), "wilson")
    half = (table.ci_high - table.ci_low) / 2
    units = table.index.get_level_values("measure").isin(["Q1", "Q2", "Q3", "Q4", "Q5", "E1", "E2", "overall"])
    assert (table.wide_ci[units] == (half[units] > 0.10)).all()
    assert table.wide_ci[units].any() and not table.wide_ci[~units].any()


@pytest.mark.parametrize("seed", range(15))
def test_random_small_designs_never_crash_and_intervals_are_sane(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 80))
    d = make_data(n=n, seed=seed, n_strata=int(rng.integers(1, 4)), clusters_per_stratum=int(rng.integers(1, 4)))
    for c in ("Q1", "Q2", "Q3", "Q4", "Q5"):
        d.loc[rng.random(n) < rng.uniform(0, 0.9), c] = np.nan
    spec = make_spec(n_min=int(rng.integers(0, 10)))
    design = {} if rng.random() < 0.3 else DESIGN
    t = totals_from_responses(d, spec, ("agency", "channel"), **design)
    for ci in [c for c in CI_METHODS if c != "bootstrap"]:
        for by in ((), ("agency",), ("agency", "channel")):
            table = result_table(estimate(t, spec.measures, by), ci, n_min=spec.n_min)
            blank = table[["estimate", "se", "ci_low", "ci_high"]].isna().any(axis=1)
            assert (table.reason[blank] != "").all()
            ok = ~blank
            assert (table.ci_low[ok] <= table.estimate[ok] + 1e-12).all()
            assert (table.estimate[ok] <= table.ci_high[ok] + 1e-12).all()
            if ci != "taylor":  # proportion intervals stay inside [0, 1] (Taylor's need not)
                items = ok & table.measure.isin(["Q1", "Q2", "Q3", "Q4", "Q5"])
                assert (table.ci_low[items] >= -1e-12).all() and (table.ci_high[items] <= 1 + 1e-12).all()
