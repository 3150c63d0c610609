"""The sufficient-statistics path (a database GROUP BY) gives the respondent-level results exactly."""

from __future__ import annotations

import sqlite3

import numpy as np
import pandas as pd
import pytest

from analysis import (
    cluster_variance,
    domain_cluster_scores,
    estimate,
    replicate_estimates,
    totals_from_frame,
    totals_from_responses,
)
from tests.analysis.core_fixtures import ITEMS, make_data, make_spec

DESIGN = {"weights": "weight", "strata": "district", "cluster": "service_point"}


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    d = make_data(n=2500, seed=7)
    d["weight"] = np.round(d["weight"] * 4) / 4  # dyadic weights: every sum is exact in any order
    return d


def _sql_group_by(d: pd.DataFrame) -> pd.DataFrame:
    """What the web app does: one row per answer in SQL, GROUP BY cluster, domain and item."""
    spec = make_spec()
    long = d.melt(
        id_vars=["district", "service_point", "agency", "channel", "weight"], value_vars=list(ITEMS),
        var_name="item", value_name="value",
    ).dropna(subset=["value"])  # fmt: skip
    long["sat"] = [v in spec.items[i].satisfied for i, v in zip(long["item"], long["value"], strict=True)]
    con = sqlite3.connect(":memory:")
    long.to_sql("answers", con, index=False)
    q = """SELECT district AS stratum, service_point AS cluster, agency, channel, item,
                  COUNT(*) AS n, SUM(weight) AS sw, SUM(weight * weight) AS sw2,
                  SUM(CASE WHEN sat THEN weight ELSE 0 END) AS sw_sat, SUM(weight * value) AS sw_value
           FROM answers GROUP BY district, service_point, agency, channel, item"""
    return pd.read_sql_query(q, con)


def _assert_identical(a, b) -> None:
    for name in ("estimate", "variance", "n", "n_eff", "df"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


@pytest.mark.parametrize("by", [(), ("agency",), ("agency", "channel")])
def test_sql_group_by_totals_equal_respondent_level_exactly(data, by):
    spec = make_spec()
    resp = totals_from_responses(data, spec, ("agency", "channel"), **DESIGN)
    sql = totals_from_frame(_sql_group_by(data), spec, ("agency", "channel"))
    assert sql.weighted and sql.clustered and not sql.is_srs
    _assert_identical(estimate(resp, spec.measures, by), estimate(sql, spec.measures, by))


def test_long_table_round_trip_is_bitwise_identical_with_any_weights():
    spec = make_spec()
    d = make_data(n=1500, seed=3)  # arbitrary float weights
    resp = totals_from_responses(d, spec, ("agency",), **DESIGN)
    frame = resp.to_frame()
    assert list(frame.columns) == ["stratum", "cluster", "agency", "item", "n", "sw", "sw2", "sw_sat", "sw_value"]
    back = totals_from_frame(frame.sample(frac=1.0, random_state=1), spec, ("agency",))  # any row order
    _assert_identical(estimate(resp, spec.measures, ("agency",)), estimate(back, spec.measures, ("agency",)))


def test_cluster_without_answers_still_counts_when_the_design_lists_it(data):
    spec = make_spec()
    d = data.copy()
    d.loc[d.service_point == "SP000", list(ITEMS)] = np.nan  # a sampled service point, nobody answered
    resp = totals_from_responses(d, spec, ("agency", "channel"), **DESIGN)
    frame = _sql_group_by(d)
    design = d[["district", "service_point"]].drop_duplicates().rename(
        columns={"district": "stratum", "service_point": "cluster"}
    )
    with_design = totals_from_frame(frame, spec, ("agency", "channel"), design=design)
    without = totals_from_frame(frame, spec, ("agency", "channel"))
    assert with_design.n_clusters == resp.n_clusters == without.n_clusters + 1
    _assert_identical(estimate(resp, spec.measures, ("agency",)), estimate(with_design, spec.measures, ("agency",)))


def test_coarser_domains_from_finer_totals(data):
    spec = make_spec()
    fine = totals_from_responses(data, spec, ("agency", "channel"), **DESIGN)
    coarse = totals_from_responses(data, spec, ("agency",), **DESIGN)
    a, b = estimate(fine, spec.measures, ("agency",)), estimate(coarse, spec.measures, ("agency",))
    np.testing.assert_allclose(a.estimate, b.estimate, rtol=1e-13)
    np.testing.assert_allclose(a.variance, b.variance, rtol=1e-11)


def test_unweighted_unclustered_data_is_recognised_as_srs():
    spec = make_spec()
    d = make_data(n=400, seed=5)
    t = totals_from_responses(d, spec, ("agency",))
    assert t.is_srs and t.n_clusters == 400
    t2 = totals_from_frame(t.to_frame(), spec, ("agency",))
    assert t2.is_srs


def test_replicate_estimates_equal_reweighted_point_estimates(data):
    spec = make_spec()
    t = totals_from_responses(data, spec, ("agency",), **DESIGN)
    rng = np.random.default_rng(0)
    mult = rng.integers(0, 3, size=(5, t.n_clusters)).astype(float)
    reps = replicate_estimates(t, spec.measures, mult, ("agency",))
    assert reps.shape == (5, 3, len(spec.measures))
    cl_index = {(s, c): i for i, (s, c) in enumerate(t.clusters.itertuples(index=False))}
    row_cl = np.array([cl_index[k] for k in zip(data.district, data.service_point, strict=True)])
    for b in range(5):
        d = data.assign(weight=data.weight * mult[b, row_cl])
        d = d[d.weight > 0]
        direct = estimate(totals_from_responses(d, spec, ("agency",), **DESIGN), spec.measures, ("agency",))
        np.testing.assert_allclose(reps[b], direct.estimate, rtol=1e-12)
    ones = replicate_estimates(t, spec.measures, np.ones((1, t.n_clusters)), ("agency",))
    np.testing.assert_allclose(ones[0], estimate(t, spec.measures, ("agency",)).estimate, rtol=1e-13)


def test_cluster_scores_give_the_variance_and_contrasts(data):
    spec = make_spec()
    t = totals_from_responses(data, spec, ("agency",), **DESIGN)
    est = estimate(t, spec.measures, ("agency",))
    scores = domain_cluster_scores(t.collapse(("agency",)), spec.measures)
    for d in range(3):
        v = cluster_variance(scores[:, d, :], t.cluster_stratum, t.n_strata)
        np.testing.assert_allclose(v, est.variance[d], rtol=1e-12)
    # A − B: the variance of a difference is not the sum of variances (shared clusters)
    diff = cluster_variance(scores[:, 0, :] - scores[:, 1, :], t.cluster_stratum, t.n_strata)
    assert np.all(diff > 0)
    assert not np.allclose(diff, est.variance[0] + est.variance[1], rtol=1e-6)


def test_empty_group_by_gives_defined_rows_not_a_crash():
    from analysis.result import result_table

    spec = make_spec()
    empty = pd.DataFrame(columns=["stratum", "cluster", "agency", "item", "n", "sw", "sw2", "sw_sat", "sw_value"])
    t = totals_from_frame(empty, spec, ("agency",))
    whole = result_table(estimate(t, spec.measures))
    assert len(whole) == len(spec.measures) and (whole.reason == "no_answers").all() and whole.suppressed.all()
    assert result_table(estimate(t, spec.measures, ("agency",))).empty


def test_a_domain_nobody_answered_in_is_absent_from_both_paths(data):
    spec = make_spec()
    d = data.copy()
    d.loc[d.index[:7], "agency"] = "SILENT"
    d.loc[d.agency == "SILENT", list(ITEMS)] = np.nan
    resp = totals_from_responses(d, spec, ("agency", "channel"), **DESIGN)
    sql = totals_from_frame(_sql_group_by(d), spec, ("agency", "channel"))
    assert "SILENT" not in set(resp.cells.agency)
    _assert_identical(estimate(resp, spec.measures, ("agency",)), estimate(sql, spec.measures, ("agency",)))


@pytest.mark.parametrize("design", [{}, {"weights": "weight"}, {"weights": "weight", "strata": "district"}])
def test_unclustered_moments_equal_one_row_per_respondent(tmp_path, data, design):
    """Without a cluster column the CLI keeps respondent-level moments (memory flat in n): same answers."""
    from analysis.data import DesignColumns, read_totals

    spec = make_spec()
    d = data.copy()
    d.loc[d.index[:1], "district"] = "LONE"  # a stratum of one respondent: the lonely rule too
    f = tmp_path / "d.csv"
    d.to_csv(f, index=False)
    cols = DesignColumns(by=("agency", "channel"), **design)
    rows = read_totals(f, spec, cols, batch_rows=400)
    moments = read_totals(f, spec, cols, batch_rows=400, unit_level=True)
    assert moments.unit is not None and rows.unit is None
    assert moments.n_clusters == rows.n_clusters == len(d) and moments.is_srs == rows.is_srs
    items = [i for i, m in enumerate(spec.measures) if m.kind in ("item", "item_mean")]
    for by in ((), ("agency",), ("agency", "channel")):
        a, b = estimate(rows, spec.measures, by), estimate(moments, spec.measures, by)
        np.testing.assert_allclose(b.estimate, a.estimate, rtol=1e-12)
        np.testing.assert_allclose(b.variance, a.variance, rtol=1e-10)
        # df: R's degf of the domain, respondents in it (answered or not) − strata among them, for every
        # measure (the per-respondent cluster rows count only the respondents answering each item)
        strata = d[design["strata"]] if "strata" in design else pd.Series(0, index=d.index)
        cells = moments.collapse(by).cells
        for j, cell in enumerate(cells.itertuples(index=False)):
            inside = np.ones(len(d), dtype=bool)
            for col, value in zip(by, cell, strict=True):
                inside &= (d[col] == value).to_numpy()
            assert (b.df[j] == inside.sum() - strata[inside].nunique()).all()
        assert (b.df[:, items] >= a.df[:, items]).all()
    with pytest.raises(ValueError, match="cluster totals"):
        replicate_estimates(moments, spec.measures, np.ones((1, moments.n_clusters)))
