"""Differences inside one design against R `survey` (reference/compare_reference.R), plus the
multiple-testing and suppression rules."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis import totals_from_responses
from analysis.compare import compare_domains, compare_to_whole, screen_changes
from analysis.multiple import benjamini_hochberg, holm
from questionnaires.index_spec import IndexSpec, ItemSpec, Measure, RatioKey

REF = Path(__file__).parent / "reference"
ITEMS = [f"Q{i}" for i in range(1, 7)]
DESIGN = {"weights": "weight", "strata": "district", "cluster": "service_point"}
RTOL = 1e-9


def _spec() -> IndexSpec:
    items = {q: ItemSpec(q, (1, 2, 3, 4, 5), frozenset({4, 5})) for q in ITEMS}
    ms = [Measure(q, "item", ((RatioKey(q), 1.0),)) for q in ITEMS]
    ms.append(Measure("Q1:mean", "item_mean", ((RatioKey("Q1", "mean"), 1.0),)))
    ms.append(Measure("E1", "element", tuple((RatioKey(q), 1 / 3) for q in ITEMS[:3])))
    ms.append(Measure("E2", "element", tuple((RatioKey(q), 1 / 3) for q in ITEMS[3:])))
    ms.append(Measure("overall", "overall", tuple((RatioKey(q), 1 / 6) for q in ITEMS)))
    return IndexSpec("reference", 1, items, tuple(ms))


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return pd.read_csv(REF / "core_data.csv")


@pytest.fixture(scope="module")
def totals(data):
    return totals_from_responses(data, _spec(), ("agency", "channel"), **DESIGN)


@pytest.fixture(scope="module")
def ref() -> pd.DataFrame:
    return pd.read_csv(REF / "compare_reference.csv", keep_default_na=False)


def _row(table: pd.DataFrame, **match) -> pd.Series:
    sel = np.logical_and.reduce([table[k] == v for k, v in match.items()])
    assert sel.sum() == 1, match
    return table[sel].iloc[0]


def test_pairs_match_r_svycontrast(totals, ref):
    spec = _spec()
    for r in ref[ref["kind"] == "pair"].itertuples():
        t = compare_domains(totals, spec.measures, (r.by,), r.a, r.b, n_min=0)
        got = _row(t, measure=r.measure)
        assert got["difference"] == pytest.approx(r.estimate, rel=RTOL)
        assert got["se"] == pytest.approx(r.se, rel=RTOL)


def test_unit_against_whole_matches_r(totals, ref):
    t = compare_to_whole(totals, _spec().measures, ("agency",), n_min=0)
    for r in ref[ref["kind"] == "whole"].itertuples():
        got = _row(t, domain=r.a, measure=r.measure)
        assert got["difference"] == pytest.approx(r.estimate, rel=RTOL, abs=1e-15)
        assert got["se"] == pytest.approx(r.se, rel=RTOL)


def test_changes_between_periods_match_r(totals, ref):
    # channel stands in for the period column: kiosk ("after") − qr ("before") for each agency.
    t = screen_changes(totals, _spec().measures, "agency", "channel", "qr", "kiosk", n_min=0)
    for r in ref[ref["kind"] == "change"].itertuples():
        got = _row(t, domain=r.a, measure=r.measure)
        assert got["change"] == pytest.approx(r.estimate, rel=RTOL)
        assert got["se"] == pytest.approx(r.se, rel=RTOL)


def test_shared_clusters_make_the_difference_se_differ_from_independent(totals):
    # Agencies cross service points, so their estimates are correlated: the naive √(SE_A²+SE_B²) is wrong.
    from analysis import estimate

    spec = _spec()
    est = estimate(totals, spec.measures, ("agency",))
    t = compare_domains(totals, spec.measures, ("agency",), "A1", "A2", n_min=0)
    naive = np.sqrt(est.variance[0] + est.variance[1])
    assert np.all(np.abs(t["se"].to_numpy() / naive - 1) > 1e-4)


def test_t_test_with_design_df(totals, data):
    t = compare_domains(totals, _spec().measures, ("agency",), "A1", "A2", n_min=0)
    r = _row(t, measure="Q1")
    # every answering cluster of A1 or A2: clusters − strata among them (D9's lonely cluster included)
    sub = data[data["agency"].isin(["A1", "A2"]) & data["Q1"].notna()]
    df = sub["service_point"].nunique() - sub["district"].nunique()
    assert r["df"] == df
    q = stats.t.ppf(0.975, df)
    assert r["ci_low"] == pytest.approx(r["difference"] - q * r["se"])
    assert r["p_value"] == pytest.approx(2 * stats.t.sf(abs(r["difference"] / r["se"]), df))


def test_holm_and_bh_families_are_per_measure_and_skip_suppressed(totals):
    spec = _spec()
    t = compare_to_whole(totals, spec.measures, ("agency",), n_min=0)
    q1 = t[t["measure"] == "Q1"]
    np.testing.assert_allclose(q1["p_holm"], holm(q1["p_value"].to_numpy()))
    assert (t["differs"] == (t["p_holm"] < 0.05)).all()
    # n_min above some agencies' counts: those are suppressed and not part of the family
    n_min = int(q1["n"].median())
    s = compare_to_whole(totals, spec.measures, ("agency",), n_min=n_min)
    s1 = s[s["measure"] == "Q1"]
    assert s1["suppressed"].any() and s1.loc[s1["suppressed"], "p_holm"].isna().all()
    kept = s1[~s1["suppressed"]]
    np.testing.assert_allclose(kept["p_holm"], holm(kept["p_value"].to_numpy()))
    c = screen_changes(totals, spec.measures, "agency", "channel", "qr", "kiosk", n_min=0)
    c1 = c[c["measure"] == "E1"]
    np.testing.assert_allclose(c1["p_bh"], benjamini_hochberg(c1["p_value"].to_numpy()))


def test_domains_within_a_single_cluster_have_no_test_but_against_the_whole_they_do():
    spec = _spec()
    rows = []
    rng = np.random.default_rng(1)
    for sp, dist, agencies in [("S1", "D1", "XZ"), ("S2", "D1", "Y"), ("S3", "D2", "Y"), ("S4", "D2", "Y")]:
        for i in range(60):
            rows.append({"service_point": sp, "district": dist, "agency": agencies[i % len(agencies)],
                         "weight": 1.0, **{q: float(rng.integers(1, 6)) for q in ITEMS}})
    tot = totals_from_responses(pd.DataFrame(rows), spec, ("agency",), **DESIGN)
    # X and Z share their only cluster S1: df = 1 cluster − 1 stratum = 0, no variance estimable
    r = _row(compare_domains(tot, spec.measures, ("agency",), "X", "Z", n_min=0), measure="Q1")
    assert np.isfinite(r["difference"]) and np.isnan(r["se"]) and np.isnan(r["p_value"]) and r["reason"] == "df_zero"
    assert np.isnan(r["ci_low"]) and r["df"] == 0
    # X against the whole: every cluster answers the whole, df = 4 − 2 = 2
    w = _row(compare_to_whole(tot, spec.measures, ("agency",), n_min=0), domain="X", measure="Q1")
    assert w["df"] == 2 and 0 <= w["p_value"] <= 1 and w["reason"] == ""


def test_unknown_domain_and_period_name_the_values(totals):
    with pytest.raises(KeyError, match="'A9' is not a domain of agency"):
        compare_domains(totals, _spec().measures, ("agency",), "A1", "A9")
    with pytest.raises(KeyError, match="period 'paper'"):
        screen_changes(totals, _spec().measures, "agency", "channel", "paper", "kiosk")
