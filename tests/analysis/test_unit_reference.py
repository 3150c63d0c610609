"""Unit-level design against R `survey` 4.1.1: every service point a stratum, respondents the units
(`svydesign(ids=~1, strata=~service_point, weights=~weight)`), built as unit-level moments
(`UnitMoments`, no respondent rows) from respondent rows and from a streamed file, with Gram matrices per
(stratum, cell) row or pre-summed per cell (`UnitMoments.cell_gram`, what the web app passes).

Reference values: tests/analysis/reference/unit_reference.csv, produced by unit_reference.R (command in
its header) from unit_data.csv (make_unit_dataset.py).  R is not needed to run these tests.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis import estimate, totals_from_responses
from analysis.compare import compare_domains, compare_to_whole, screen_changes
from analysis.data import DesignColumns, read_totals
from analysis.result import result_table
from questionnaires.index_spec import IndexSpec, ItemSpec, Measure, RatioKey

REF = Path(__file__).parent / "reference"
ITEMS = [f"Q{i}" for i in range(1, 7)]
BY = ("agency", "month", "channel")
RTOL = 1e-9


def _spec() -> IndexSpec:
    items = {q: ItemSpec(q, (1, 2, 3, 4, 5), frozenset({4, 5})) for q in ITEMS}
    ms = [Measure(q, "item", ((RatioKey(q), 1.0),)) for q in ITEMS]
    ms += [Measure(f"{q}:mean", "item_mean", ((RatioKey(q, "mean"), 1.0),)) for q in ITEMS]
    ms.append(Measure("E1", "element", tuple((RatioKey(q), 1 / 3) for q in ITEMS[:3])))
    ms.append(Measure("overall", "overall", tuple((RatioKey(q), 1 / 6) for q in ITEMS)))
    return IndexSpec("unit-reference", 1, items, tuple(ms))


@pytest.fixture(scope="module")
def ref() -> pd.DataFrame:
    return pd.read_csv(REF / "unit_reference.csv", keep_default_na=False, na_values=["NA"])


@pytest.fixture(scope="module", params=["responses", "stream", "cell sums"])
def totals(request):
    spec = _spec()
    if request.param != "stream":
        t = totals_from_responses(pd.read_csv(REF / "unit_data.csv"), spec, BY, weights="weight",
                                  strata="service_point", unit_level=True)
        if request.param == "cell sums":  # the Gram matrices pre-summed per cell, as the web app passes them
            t = t.with_cell_moments()
            assert t.unit is not None and t.unit.gram is None
    else:
        cols = DesignColumns(by=BY, weights="weight", strata="service_point")
        t = read_totals(REF / "unit_data.csv", spec, cols, batch_rows=300, unit_level=True)
    assert t.unit is not None and t.n_clusters == 826 and t.n_strata == 24
    return t


def _table(totals, by: str) -> pd.DataFrame:
    est = estimate(totals, _spec().measures, () if by == "all" else (by,))
    return result_table(est, "taylor", n_min=1).set_index(["domain", "measure"])


def _check(got: float, want: float) -> None:
    assert got == pytest.approx(want, rel=RTOL, abs=1e-15)


@pytest.mark.parametrize(("kind", "count"), [("item", 60), ("composite", 10)])
def test_items_means_element_and_overall_by_domain_match_r(ref, totals, kind, count):
    # items: svymean/svyby; element and overall: svycontrast of the domain's svyby totals
    rows = ref[ref["kind"] == kind]
    assert len(rows) == count
    for r in rows.itertuples():
        got = _table(totals, r.by).loc[(r.a, r.measure)]
        _check(got.estimate, r.estimate)
        _check(got.se, r.se)


def test_differences_between_domains_match_r(ref, totals):
    measures = _spec().measures
    rows = ref[ref["kind"] == "pair"]
    assert len(rows) == 6
    for r in rows.itertuples():
        t = compare_domains(totals, measures, (r.by,), r.a, r.b, n_min=0).set_index("measure")
        _check(t.loc[r.measure, "difference"], r.estimate)
        _check(t.loc[r.measure, "se"], r.se)


def test_each_domain_against_the_whole_matches_r(ref, totals):
    t = compare_to_whole(totals, _spec().measures, ("agency",), n_min=0).set_index(["domain", "measure"])
    rows = ref[ref["kind"] == "whole"]
    assert len(rows) == 16
    for r in rows.itertuples():
        _check(t.loc[(r.a, r.measure), "difference"], r.estimate)
        _check(t.loc[(r.a, r.measure), "se"], r.se)


def test_period_change_matches_r(ref, totals):
    t = screen_changes(totals, _spec().measures, "agency", "month", "2026-01", "2026-02", n_min=0)
    t = t.set_index(["domain", "measure"])
    rows = ref[ref["kind"] == "change"]
    assert len(rows) == 8
    for r in rows.itertuples():
        _check(t.loc[(r.a, r.measure), "change"], r.estimate)
        _check(t.loc[(r.a, r.measure), "se"], r.se)


def test_degrees_of_freedom_are_r_degf_of_the_domain(ref, totals):
    # R's convention (svyciprop's default df = degf(design) on the domain's design, as svyby passes it):
    # every respondent of the domain − the strata among them, for items and composites alike, whether or
    # not a respondent answered the item.  (The design restricted to an item's answers, kind "degf", has
    # fewer; svyby's own confint uses degf of the whole design, n − H = 802.)
    rows = ref[ref["kind"] == "degf_domain"]
    assert len(rows) == 4
    t = _table(totals, "agency")
    for r in rows.itertuples():
        for measure in ("Q1", "Q2:mean", "E1", "overall"):
            assert t.loc[(r.a, measure), "df"] == r.df
    whole = _table(totals, "all")
    assert (whole["df"] == totals.n_clusters - totals.n_strata).all()
    assert (ref.loc[ref["kind"] == "degf_design", "df"] == totals.n_clusters - totals.n_strata).all()
    restricted = ref[(ref["kind"] == "degf") & (ref["by"] == "agency")]
    assert (restricted["df"].to_numpy() < rows.set_index("a").loc[restricted["a"], "df"].to_numpy()).any()


def test_contrast_df_is_r_degf_of_the_domains_together(ref, totals):
    # a difference A1 − A2 involves the respondents of both domains: degf of their union, which is the sum
    # of the two degf because agencies partition the service points (strata)
    degf = ref[ref["kind"] == "degf_domain"].set_index("a")["df"]
    t = compare_domains(totals, _spec().measures, ("agency",), "A1", "A2", n_min=0).set_index("measure")
    assert (t["df"] == degf["A1"] + degf["A2"]).all()


def test_logit_intervals_match_r_svyciprop_xlogit(ref, totals):
    rows = ref[ref["kind"] == "ciprop_xlogit_domain"]
    assert len(rows) == 10
    for r in rows.itertuples():
        est = estimate(totals, _spec().measures, () if r.by == "all" else (r.by,))
        got = result_table(est, "logit", n_min=1).set_index(["domain", "measure"]).loc[(r.a, r.measure)]
        assert got.df == r.df
        _check(got.ci_low, r.ci_low)
        _check(got.ci_high, r.ci_high)
        assert np.isfinite(got.ci_low)
