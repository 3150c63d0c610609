"""Periods estimated together with strata = service point × period, against R `survey`
(reference/period_strata_reference.R; docs/methodology-design.md, "One period, one interval").

The web app labels the strata of a design by period as service point + "\\x1f" + period
(survey/results/design.py:period_strata) and hands them to `analysis`.  In that design:
- each (agency, month) estimate and standard error equal the agency's in the design of that month alone;
- the change between the two months is R's svycontrast in the split design, and its variance is the sum of the
  two months' own variances: the months' strata are independent samples, so their covariance is zero;
- its degrees of freedom are R's degf of the agency in the split design (respondents − service point × months).
"""

from pathlib import Path

import pandas as pd
import pytest

from analysis import estimate, totals_from_responses
from analysis.compare import screen_changes
from analysis.result import result_table
from questionnaires.index_spec import IndexSpec, ItemSpec, Measure, RatioKey

REF = Path(__file__).parent / "reference"
ITEMS = [f"Q{i}" for i in range(1, 7)]
RTOL = 1e-9
BEFORE, AFTER = "2026-01", "2026-02"


def _spec() -> IndexSpec:
    items = {q: ItemSpec(q, (1, 2, 3, 4, 5), frozenset({4, 5})) for q in ITEMS}
    ms = [Measure("Q1", "item", ((RatioKey("Q1"), 1.0),)), Measure("Q1:mean", "item_mean",
                                                                    ((RatioKey("Q1", "mean"), 1.0),))]
    ms.append(Measure("overall", "overall", tuple((RatioKey(q), 1 / 6) for q in ITEMS)))
    return IndexSpec("period-strata-reference", 1, items, tuple(ms))


@pytest.fixture(scope="module")
def ref() -> pd.DataFrame:
    return pd.read_csv(REF / "period_strata_reference.csv", keep_default_na=False, na_values=["NA"])


@pytest.fixture(scope="module", params=["per stratum", "cell sums"])
def split(request):
    """The two months' respondents, strata = service point × month as the web app labels them."""
    d = pd.read_csv(REF / "unit_data.csv")
    d["sp_month"] = d["service_point"] + "\x1f" + d["month"]
    t = totals_from_responses(d, _spec(), ("agency", "month"), weights="weight", strata="sp_month", unit_level=True)
    return t.with_cell_moments() if request.param == "cell sums" else t


def _check(got: float, want: float) -> None:
    assert got == pytest.approx(want, rel=RTOL, abs=1e-15)


def test_each_period_in_the_split_design_is_the_period_alone(ref, split):
    table = result_table(estimate(split, _spec().measures, ("agency", "month")), "taylor", n_min=1)
    table = table.set_index(["domain", "measure"])
    alone = ref[ref["kind"] == "alone"]
    assert len(alone) == 24
    for r in alone.itertuples():
        got = table.loc[(f"{r.agency}:{r.month}", r.measure)]
        _check(got.estimate, r.estimate)
        _check(got.se, r.se)
        within = ref[(ref["kind"] == "split") & (ref["agency"] == r.agency) & (ref["month"] == r.month)
                     & (ref["measure"] == r.measure)].iloc[0]
        _check(within.se, r.se)  # R itself: the period in the split design = the period alone


def test_change_matches_r_with_zero_covariance_between_periods(ref, split):
    t = screen_changes(split, _spec().measures, "agency", "month", BEFORE, AFTER, n_min=0)
    t = t.set_index(["domain", "measure"])
    rows = ref[ref["kind"] == "change"]
    assert len(rows) == 12
    alone = ref[ref["kind"] == "alone"].set_index(["agency", "month", "measure"])
    for r in rows.itertuples():
        got = t.loc[(r.agency, r.measure)]
        _check(got.change, r.estimate)
        _check(got.se, r.se)
        assert got.df == r.df
        own = [alone.loc[(r.agency, m, r.measure), "se"] for m in (BEFORE, AFTER)]
        _check(r.se ** 2, own[0] ** 2 + own[1] ** 2)  # Var(after − before) = V_after + V_before
