"""Issue 12 §4: one formula per figure.  The agency page's "compared with the whole city" is exactly
analysis.compare (same difference, SE, df, interval, p-value), and funnel limits use the design's effective
sample size p(1−p)/V, which under the `clusters` design counts that answers at one counter move together
(Kish's n_eff only counts unequal weights)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from analysis.compare import compare_to_whole
from analysis.funnel import design_n_eff, funnel_limits
from survey.questionnaire_versions.service import questionnaire_for
from survey.results import Selection, cluster_totals, compare_with_whole, indices
from tests.results.factories import city_with_responses


@pytest.fixture
def data(app, db_session):
    app.config.update(HAILONG_BOOTSTRAP_B=20)
    return city_with_responses(db_session, per_point=40)


@pytest.mark.parametrize("design", ["counters", "clusters"])
def test_compare_with_whole_is_analysis_compare(app, db_session, data, design):
    app.config["HAILONG_DESIGN"] = design
    sel = Selection.of(data.qv_id)
    q, _ = questionnaire_for(db_session, data.qv_id)
    spec = q.index_spec()
    totals = cluster_totals(db_session, sel, domain="agency", design=design)
    ref = compare_to_whole(totals, spec.measures, ("agency",), n_min=30)
    checked = 0
    for code in sorted(set(ref["domain"])):
        page = compare_with_whole(db_session, sel, unit_column="agency", unit_value=code, n_min=30).table
        want = ref[ref["domain"] == code].set_index("measure")
        for rec in page.to_dict("records"):
            w = want.loc[rec["measure"]]
            for col, ref_col in (("estimate", "estimate"), ("reference", "overall"), ("difference", "difference"),
                                 ("se", "se"), ("ci_low", "ci_low"), ("ci_high", "ci_high"), ("df", "df"),
                                 ("p_value", "p_value")):
                a, b = float(rec[col]), float(w[ref_col])
                # equal up to the last bits of a sum taken in another order (one contrast vs all of them)
                assert (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-15), \
                    (code, rec["measure"], col, a, b)
            checked += 1
    assert checked > 10


def test_design_n_eff_falls_back_where_the_variance_says_nothing():
    n = design_n_eff([0.8, 1.0, 0.5, np.nan], [0.04, 0.0, 0.0, 0.1], [50.0, 40.0, 30.0, 20.0])
    assert n[0] == pytest.approx(0.8 * 0.2 / 0.04**2)
    assert list(n[1:]) == [40.0, 30.0, 20.0]


def test_clustered_answers_give_a_smaller_effective_size_and_wider_funnel(app, db_session, data):
    app.config["HAILONG_DESIGN"] = "clusters"
    sel = Selection.of(data.qv_id)
    res = indices(db_session, sel, domain="district", n_min=30)
    rows = res.table[(res.table["measure"] == "OVERALL") & ~res.table["suppressed"].astype(bool)]
    assert len(rows)
    smaller = 0
    for rec in rows.to_dict("records"):
        p, se = float(rec["estimate"]), float(rec["se"])
        if not (se > 0):
            continue
        assert rec["n_eff_design"] == pytest.approx(p * (1 - p) / se**2)
        if rec["n_eff_design"] < rec["n_eff"]:
            smaller += 1
            wide = funnel_limits(0.7, rec["n_eff_design"])
            kish = funnel_limits(0.7, rec["n_eff"])
            assert wide["upper_95"][0] > kish["upper_95"][0]
    assert smaller > 0  # agencies differ in satisfaction: counters are clusters with a design effect > 1
