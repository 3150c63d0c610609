"""Unit-level moments (service points as strata, respondents as the sampled units: R
`svydesign(ids=~1, strata=~service_point)`): contrasts and ranks give what the same design gives
with one totals row per respondent (every respondent its own cluster), which the R references
(test_unit_reference.py) pin independently."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.stats as sps

from analysis import contrast_estimates, estimate, totals_from_responses
from analysis.compare import compare_domains, compare_to_whole, screen_changes
from analysis.ranks import rank_replicates, rank_table
from tests.analysis.core_fixtures import make_data, make_spec

DESIGN = {"weights": "weight", "strata": "service_point"}
BY = ("agency", "channel")
ITEM_MEASURES = ["Q1", "Q2", "Q3", "Q4", "Q5", "Q1:mean", "Q5:mean"]


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return make_data(n=2500, seed=5)


@pytest.fixture(scope="module")
def both(data):
    spec = make_spec()
    unit = totals_from_responses(data, spec, BY, unit_level=True, **DESIGN)
    rows = totals_from_responses(data, spec, BY, **DESIGN)
    assert unit.unit is not None and rows.unit is None
    return spec, unit, rows


def _same(unit: pd.DataFrame, rows: pd.DataFrame, value_cols: list[str]) -> None:
    """Estimates and SEs equal.  df: unit mode uses R's degf of the domains involved (every respondent in
    them − their strata, whoever answered), the same for every measure of a domain; respondent rows count
    only the respondents answering the measure, so never more."""
    assert list(unit.columns) == list(rows.columns)
    for c in value_cols:
        if c in ("difference", "change", "se"):
            np.testing.assert_allclose(unit[c].to_numpy(float), rows[c].to_numpy(float), rtol=1e-11,
                                       atol=1e-14, err_msg=c)
    assert (unit["df"] >= rows["df"]).all() and (unit["df"] > rows["df"]).any()
    key = "domain" if "domain" in unit.columns else None
    if key:
        assert (unit.groupby(key)["df"].nunique() == 1).all()
    else:
        assert unit["df"].nunique() == 1
    if "ci_low" in value_cols:  # the interval uses that df
        diff = unit["difference"].to_numpy(float)
        half = sps.t.ppf(0.975, unit["df"].to_numpy(float)) * unit["se"].to_numpy(float)
        np.testing.assert_allclose(unit["ci_low"].to_numpy(float), diff - half, rtol=1e-9)


def test_difference_of_two_domains_in_unit_mode(both):
    spec, unit, rows = both
    args = (spec.measures, ("agency",), "A", "C")
    u, r = compare_domains(unit, *args, n_min=0), compare_domains(rows, *args, n_min=0)
    _same(u, r, ["difference", "se", "ci_low", "ci_high"])
    assert (u["se"] > 0).all() and u["reason"].eq("").all()


def test_every_domain_against_the_whole_with_holm_in_unit_mode(both):
    spec, unit, rows = both
    u = compare_to_whole(unit, spec.measures, BY, n_min=0)
    r = compare_to_whole(rows, spec.measures, BY, n_min=0)
    _same(u, r, ["difference", "se", "p_value"])
    # p-values use the larger df of unit mode: close to the respondent rows'
    np.testing.assert_allclose(u["p_value"], r["p_value"], rtol=1e-3)
    assert (u["p_holm"] >= u["p_value"] - 1e-15).all()
    assert u["differs"].equals(u["p_holm"] < 0.05)


def test_period_changes_with_bh_in_unit_mode(both):
    spec, unit, rows = both
    args = (spec.measures, "agency", "channel", "qr", "kiosk")
    u, r = screen_changes(unit, *args, n_min=0), screen_changes(rows, *args, n_min=0)
    _same(u, r, ["change", "se", "p_value"])


def test_contrast_of_one_domain_is_its_estimate(both):
    # a contrast with coefficient 1 on one domain reproduces estimate(): same variance and df
    spec, unit, _ = both
    est = estimate(unit, spec.measures, ("agency",))
    con = contrast_estimates(unit, spec.measures, ("agency",), np.eye(3, dtype=bool), np.eye(3))
    np.testing.assert_allclose(con.estimate, est.estimate, rtol=1e-12)
    np.testing.assert_allclose(con.variance, est.variance, rtol=1e-10)
    assert (con.df == est.df).all()


def test_contrast_shapes_are_checked(both):
    spec, unit, _ = both
    with pytest.raises(ValueError, match="domains must be Q × 3"):
        contrast_estimates(unit, spec.measures, ("agency",), np.ones((1, 2), dtype=bool), np.ones((1, 1)))


# --------------------------------------------------------------------------- ranks
def _own_points(seed: int = 3) -> pd.DataFrame:
    """Service points (strata) each belonging to one of six agencies; respondents iid within a point."""
    rng = np.random.default_rng(seed)
    rows = []
    for sp in range(36):
        agency = "ABCDEF"[sp % 6]
        p = 0.55 + 0.06 * (sp % 6) + rng.normal(0, 0.03)
        for _ in range(int(rng.integers(15, 40))):
            rows.append({"service_point": f"S{sp:02d}", "agency": agency, "weight": rng.uniform(0.5, 2),
                         **{q: (5.0 if rng.random() < p else 2.0) if rng.random() > 0.05 else np.nan
                            for q in ("Q1", "Q2", "Q3", "Q4", "Q5")}})
    return pd.DataFrame(rows)


def _measure(spec, code):
    return next(m for m in spec.measures if m.code == code)


def test_rank_table_in_unit_mode_draws_independent_logit_normals():
    spec = make_spec()
    data = _own_points()
    unit = totals_from_responses(data, spec, ("agency",), unit_level=True, **DESIGN)
    overall = _measure(spec, "overall")
    t = rank_table(unit, overall, ("agency",), replicates=400, seed=4, n_min=0)
    assert (t["rank_method"] == "normal (logit), independent units").all()
    assert t["domain"].tolist() == list("FEDCBA")  # agencies 6 points apart in satisfaction
    assert (t["rank_low"] <= t["rank"]).all() and (t["rank"] <= t["rank_high"]).all()
    rows = totals_from_responses(data, spec, ("agency",), **DESIGN)
    assert (rank_table(rows, overall, ("agency",), replicates=20, n_min=0)["rank_method"]
            == "bootstrap (Rao–Wu)").all()


def test_normal_replicates_have_the_delta_method_spread_and_stable_seeds():
    spec = make_spec()
    unit = totals_from_responses(_own_points(), spec, ("agency",), unit_level=True, **DESIGN)
    overall = _measure(spec, "overall")
    reps, method = rank_replicates(unit, overall, ("agency",), replicates=4000, seed=9)
    assert method == "normal (logit), independent units"
    est = estimate(unit, (overall,), ("agency",))
    p, se = est.estimate[:, 0], est.se[:, 0]
    logit = np.log(reps / (1 - reps))
    np.testing.assert_allclose(logit.std(axis=0, ddof=1), se / (p * (1 - p)), rtol=0.05)
    np.testing.assert_allclose(np.median(reps, axis=0), p, atol=0.2 * se.max())
    # replicate b depends on the seed and b only, not on how many are drawn
    few, _ = rank_replicates(unit, overall, ("agency",), replicates=50, seed=9)
    np.testing.assert_array_equal(few, reps[:50])
    other, _ = rank_replicates(unit, overall, ("agency",), replicates=50, seed=10)
    assert not np.allclose(other, few)


def test_normal_replicates_carry_the_covariance_of_shared_strata(both):
    # agencies cross service points here: draws are correlated, and the spread of a difference of
    # two agencies' replicates is the Taylor SE of that difference (compare_domains)
    spec, unit, _ = both
    mean = _measure(spec, "Q1:mean")
    reps, method = rank_replicates(unit, mean, ("agency",), replicates=6000, seed=2)
    assert method == "normal, correlated units"
    diff = compare_domains(unit, (mean,), ("agency",), "A", "B", n_min=0)["se"].iloc[0]
    assert np.std(reps[:, 0] - reps[:, 1], ddof=1) == pytest.approx(diff, rel=0.05)
    est = estimate(unit, (mean,), ("agency",))
    naive = np.sqrt(est.variance[0, 0] + est.variance[1, 0])
    assert abs(naive / diff - 1) > 0.02  # the covariance matters at this sample size


@pytest.mark.parametrize("unit_level", [True, False])
def test_changes_when_no_unit_has_both_periods(data, unit_level):
    d = data.assign(period=np.where(data["agency"] == "A", "p1", "p2"))
    t = totals_from_responses(d, make_spec(), ("agency", "period"), unit_level=unit_level, **DESIGN)
    r = screen_changes(t, make_spec().measures, "agency", "period", "p1", "p2", n_min=0)
    assert (r["reason"] == "period_missing").all() and r["suppressed"].all() and r["p_bh"].isna().all()
