"""Logit intervals for every [0, 1]-bounded measure: with few clusters a Taylor t interval runs past 0% or
100% (seen on the demo's districts: −16% to 177%); the logit interval stays inside and is the delta-method
interval expit(logit p ± t·se / (p(1−p)))."""

from __future__ import annotations

import numpy as np
from scipy import stats

from analysis.design import Design
from tests.analysis.core_fixtures import make_data, make_spec

DESIGN = {"weights": "weight", "strata": "district", "cluster": "service_point"}


def _tables():
    # two clusters per stratum: df small, Taylor intervals wide
    data = make_data(n=600, seed=7, n_strata=3, clusters_per_stratum=2)
    design = Design.from_responses(data, make_spec(n_min=1), domains=("district",), **DESIGN)
    return design.indices(("district",), "taylor"), design.indices(("district",), "logit")


def test_logit_interval_is_the_delta_method_interval_for_elements_and_overall():
    taylor, logit = _tables()
    rows = logit[logit["measure"].isin(["E1", "E2", "overall"]) & logit["ci_low"].notna()]
    assert len(rows) > 0
    assert set(rows["method"]) == {"logit"}
    p, se, df = rows["estimate"].to_numpy(), rows["se"].to_numpy(), rows["df"].to_numpy(float)
    half = stats.t.ppf(0.975, df) * se / (p * (1 - p))
    logit_p = np.log(p / (1 - p))
    np.testing.assert_allclose(rows["ci_low"], 1 / (1 + np.exp(-(logit_p - half))), rtol=1e-12)
    np.testing.assert_allclose(rows["ci_high"], 1 / (1 + np.exp(-(logit_p + half))), rtol=1e-12)
    # same estimates and standard errors as Taylor: only the interval's shape differs
    merged = rows.merge(taylor, on=["domain", "measure"], suffixes=("", "_t"))
    np.testing.assert_allclose(merged["estimate"], merged["estimate_t"])
    np.testing.assert_allclose(merged["se"], merged["se_t"])


def test_logit_intervals_stay_within_zero_and_one_where_taylor_does_not():
    taylor, logit = _tables()
    bounded = ["Q1", "Q2", "Q3", "Q4", "Q5", "E1", "E2", "overall"]
    t_rows = taylor[taylor["measure"].isin(bounded) & taylor["ci_low"].notna()]
    l_rows = logit[logit["measure"].isin(bounded) & logit["ci_low"].notna()]
    assert ((t_rows["ci_low"] < 0) | (t_rows["ci_high"] > 1)).any(), "the fixture should provoke the problem"
    assert (l_rows["ci_low"] >= 0).all() and (l_rows["ci_high"] <= 1).all()
    assert (l_rows["ci_low"] <= l_rows["estimate"]).all() and (l_rows["estimate"] <= l_rows["ci_high"]).all()


def test_unbounded_measures_keep_the_taylor_interval():
    taylor, logit = _tables()
    for code in ("Q1:mean", "P1"):
        a = taylor[taylor["measure"] == code].reset_index(drop=True)
        b = logit[logit["measure"] == code].reset_index(drop=True)
        np.testing.assert_allclose(a["ci_low"], b["ci_low"])
        assert set(b["method"]) == {"taylor"}
