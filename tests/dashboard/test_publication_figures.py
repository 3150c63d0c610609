"""Published periods do not change silently on ANY figure (issue 16 §3): once Home Affairs publishes a period,
the agency page, the Home Affairs comparison and their CSV/XLSX exports keep the published figures — those of
the responses up to the data cut-off — state the cut-off, and count responses received later apart; a
revision brings them in.  Figures are checked against analysis run on respondent rows read back from the
database (the respondent-level path), not against the page itself."""

from __future__ import annotations

import io
import math
import uuid
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from survey.respond.models import Response
from survey.respond.store import Submission, store_response
from survey.results import cache
from tests.dashboard.hakit import login, read_csv, reference, use_language
from tests.dashboard.helpers import page_token
from tests.dashboard.publication_checks import tallies_equal_recount
from tests.results.factories import city_with_responses, fix_clock, respondent_frame

QUARTER = "2025-Q2"  # the factory's May and April responses (TWO_QUARTERS_NOW)
AGENCY = "STP"
LATE = 6


def publication_city(app, db_session):
    """The city, clock and settings of the publication tests (here and tests/integrity/test_publication_pages.py)."""
    fix_clock(app)
    app.config.update(HAILONG_BOOTSTRAP_B=40, HAILONG_N_MIN=5)
    cache.clear()
    yield city_with_responses(db_session, per_point=12, comments=False, months=2)
    cache.clear()


@pytest.fixture
def data(app, db_session):
    yield from publication_city(app, db_session)


def _publish(client, reason: str = ""):
    args = f"period={QUARTER}"
    token = page_token(client, f"/homeaffairs/report/?{args}")
    resp = client.post(f"/homeaffairs/report/publish?{args}", data={"csrf_token": token, "reason": reason})
    assert resp.status_code in (302, 303)


def _late_responses(db_session, data) -> list[int]:
    """LATE kiosk-style responses for the published quarter at STP, all at the lowest level (they would move
    every figure)."""
    sp = data.city.service_points[f"{AGENCY}-SP1"]
    ids = []
    for i in range(LATE):
        r, created = store_response(db_session, Submission(
            service_point_id=sp.id, questionnaire_version_id=data.qv_id, answers={"C.ATT": 1, "C.HANDLING": 1},
            channel="paper", client_id=str(uuid.uuid4()), submitted_at=data.months[0] - timedelta(hours=i + 1)))
        assert created
        ids.append(r.id)
    return ids


def _reference(db_session, data, counted_ids: set[int]):
    """OVERALL per agency in QUARTER from the respondent rows of `counted_ids` (analysis, respondent level)."""
    from survey.questionnaire_versions.service import questionnaire_for

    frame = respondent_frame(db_session, data.qv_id)
    frame = frame[frame["rid"].isin(counted_ids)].reset_index(drop=True)
    spec = questionnaire_for(db_session, data.qv_id)[0].index_spec()
    _t, ref = reference(frame, spec, ("agency",), QUARTER, n_min=5)
    overall = ref[ref["measure"] == "OVERALL"].set_index("domain")
    assert AGENCY in overall.index and len(overall) >= 3
    return overall


def _ids(db_session, data) -> set[int]:
    return set(db_session.scalars(select(Response.id).where(Response.questionnaire_version_id == data.qv_id)))


def _figures(client, data) -> dict[str, object]:
    """What a user reads off every figure of the quarter: HA comparison (page, CSV, XLSX), agency page (CSV,
    XLSX) — each reduced to comparable values."""
    estimates = read_csv(client.get(f"/homeaffairs/export.csv?level=agency&period={QUARTER}&table=estimates"))
    ha_csv = {next(iter(r.values())): r for r in estimates}
    ha_xlsx = load_workbook(io.BytesIO(client.get(f"/homeaffairs/export.xlsx?level=agency&period={QUARTER}").data))
    agency_args = "from=2025-04&to=2025-06"
    agency_csv = read_csv(client.get(f"/dashboard/agency/{AGENCY}?{agency_args}&format=csv&table=indices"))
    agency_xlsx = load_workbook(io.BytesIO(client.get(f"/dashboard/agency/{AGENCY}?{agency_args}&format=xlsx").data))

    def sheets(wb, skip: str) -> dict[str, list[tuple]]:
        return {ws.title: [tuple(row) for row in ws.iter_rows(values_only=True)] for ws in wb.worksheets
                if skip not in ws.title.lower()}

    return {"ha_csv": ha_csv, "ha_xlsx": sheets(ha_xlsx, "respon"), "agency_csv": agency_csv,
            "agency_xlsx": sheets(agency_xlsx, "respon"),
            "ha_page": client.get(f"/homeaffairs/?level=agency&period={QUARTER}").get_data(as_text=True),
            "agency_page": client.get(f"/dashboard/agency/{AGENCY}?{agency_args}").get_data(as_text=True)}


def _estimates_match(ha_csv: dict[str, dict[str, str]], ref, names: dict[str, str]) -> None:
    for code, rec in ref.iterrows():
        row = ha_csv[names[code]]
        assert int(row["n"]) == int(rec["n"]), (code, row["n"], rec["n"])
        assert math.isclose(float(row["Estimate"]), float(rec["estimate"]), rel_tol=1e-9), code


def _coverage_row(client, url: str, unit: str) -> dict[str, str]:
    rows = read_csv(client.get(url))
    return next(r for r in rows if unit in next(iter(r.values())))


def test_published_figures_hold_on_every_page_and_export_until_a_revision(client, db_session, data):
    names = {a.code: a.name_en for a in data.city.agencies.values()}
    login(client, "noivu")
    use_language(client, "en")
    before_ids = _ids(db_session, data)
    before = _figures(client, data)
    _estimates_match(before["ha_csv"], _reference(db_session, data, before_ids), names)

    _publish(client)
    late = _late_responses(db_session, data)
    assert all(db_session.get(Response, i).review_status == "late" for i in late)
    tallies_equal_recount(db_session)
    cache.clear()  # nothing may depend on a cache: the count tables themselves hold the published figures

    held = _figures(client, data)
    for key in ("ha_csv", "ha_xlsx", "agency_csv", "agency_xlsx"):
        assert held[key] == before[key], f"{key} moved after publication"
    _estimates_match(held["ha_csv"], _reference(db_session, data, before_ids), names)
    for page in ("ha_page", "agency_page"):
        text = held[page]
        assert "was published (revision 1)" in text
        assert "its figures are as published, from responses received up to" in text
        assert f"{LATE} responses received after publication are kept but not in these figures" in text
    # the exports state the cut-off and the late count beside the figures
    ha_cov = _coverage_row(client, f"/homeaffairs/export.csv?level=agency&period={QUARTER}&table=coverage",
                           names[AGENCY])
    assert ha_cov["Received after publication (not counted)"] == str(LATE)
    assert "revision 1, responses received up to" in ha_cov["Published: data cut-off"]
    ag_cov = read_csv(client.get(f"/dashboard/agency/{AGENCY}?from=2025-04&to=2025-06&format=csv&table=coverage"))[0]
    assert ag_cov["Received after publication (not counted)"] == str(LATE)
    assert "revision 1, responses received up to" in ag_cov["Published: data cut-off"]
    other = _coverage_row(client, f"/homeaffairs/export.csv?level=agency&period={QUARTER}&table=coverage",
                          names["UBND-BT"])
    assert other["Received after publication (not counted)"] == "0"

    _publish(client, reason="six paper forms arrived after the quarter was reported")
    assert all(db_session.get(Response, i).review_status is None for i in late)
    tallies_equal_recount(db_session)
    revised = _figures(client, data)
    assert revised["ha_csv"] != before["ha_csv"] and revised["agency_csv"] != before["agency_csv"]
    assert revised["agency_xlsx"] != before["agency_xlsx"] and revised["ha_xlsx"] != before["ha_xlsx"]
    _estimates_match(revised["ha_csv"], _reference(db_session, data, before_ids | set(late)), names)
    assert int(revised["ha_csv"][names[AGENCY]]["n"]) == int(before["ha_csv"][names[AGENCY]]["n"]) + LATE
    for page in ("ha_page", "agency_page"):
        assert "was published (revision 2)" in revised[page]
        assert "received after publication are kept" not in revised[page]
    ha_cov = _coverage_row(client, f"/homeaffairs/export.csv?level=agency&period={QUARTER}&table=coverage",
                           names[AGENCY])
    assert ha_cov["Received after publication (not counted)"] == "0"
    assert "revision 2" in ha_cov["Published: data cut-off"]


def test_an_unpublished_period_counts_new_responses_at_once(client, db_session, data):
    """The control: without a publication the same responses enter every figure immediately."""
    login(client, "noivu")
    use_language(client, "en")
    before = _figures(client, data)
    late = _late_responses(db_session, data)
    assert all(db_session.get(Response, i).review_status is None for i in late)
    after = _figures(client, data)
    assert after["ha_csv"] != before["ha_csv"] and after["agency_csv"] != before["agency_csv"]
    assert "was published" not in after["ha_page"] and "received after publication" not in after["agency_page"]
