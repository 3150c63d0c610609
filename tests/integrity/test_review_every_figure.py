"""Confirming an integrity flag removes its responses from EVERY figure (issue 16 §3, "Done when"): the agency
page, the Home Affairs comparison, their CSV/XLSX exports and the period report (page and XLSX) — each then
says "n responses excluded after review"; dismissing a flag leaves every figure as it was.  The comparison's
figures are checked against analysis on respondent rows read back from the database without the confirmed
responses (the respondent-level path), not against the page itself."""

from __future__ import annotations

import io
import math
from datetime import UTC, datetime

import numpy as np
import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from survey.questionnaire_versions.service import questionnaire_for
from survey.respond.models import Response
from survey.results import cache
from survey.results.integrity import run_scan
from survey.results.integrity_models import IntegrityFlag
from tests.dashboard.hakit import login, read_csv, reference, use_language
from tests.dashboard.helpers import page_token
from tests.dashboard.publication_checks import tallies_equal_recount
from tests.factories import small_city
from tests.integrity.factories import TODAY, burst, finish, honest_days, workdays_before
from tests.results.factories import respondent_frame

URL = "/homeaffairs/integrity/"
QUARTER = "2024-Q2"
AGENCY = "STP"
AGENCY_ARGS = "from=2024-04&to=2024-06"


@pytest.fixture()
def flagged(app, db_session):
    app.config["HAILONG_CLOCK"] = lambda: datetime(TODAY.year, TODAY.month, TODAY.day, 3, tzinfo=UTC)
    app.config.update(HAILONG_BOOTSTRAP_B=40, HAILONG_N_MIN=10)
    cache.clear()
    city = small_city(db_session)
    sipas = city.questionnaires["sipas-2017"]
    rng = np.random.default_rng(11)
    days = workdays_before(TODAY, 25)
    for code in ("STP-SP1", "UBND-BT-SP1"):  # two agencies: the comparison has a city to compare with
        honest_days(db_session, city.service_points[code], sipas, days, 2, rng, p_sat=0.7)
    stuffed = burst(db_session, city.service_points["STP-SP1"], sipas, days[-1], 20, rng)
    finish(db_session)
    assert run_scan(db_session, days[-3:]) >= 1
    db_session.commit()
    flag = next(f for f in db_session.scalars(select(IntegrityFlag)) if set(stuffed) <= set(f.response_ids))
    yield city, sipas.id, flag
    cache.clear()


def _decide(client, flag_id: int, action: str, reason: str, listing: str = URL) -> None:
    token = page_token(client, listing)
    resp = client.post(f"{URL}{flag_id}/decide", data={"csrf_token": token, "action": action, "reason": reason})
    assert resp.status_code == 302


def _sheets(data: bytes) -> dict[str, list[tuple]]:
    wb = load_workbook(io.BytesIO(data))
    return {ws.title: [tuple(r) for r in ws.iter_rows(values_only=True)] for ws in wb.worksheets}


def _everything(client) -> dict[str, object]:
    """Every figure a user sees for the quarter, page text and exports."""
    ha = f"level=agency&period={QUARTER}"
    return {
        "agency_page": client.get(f"/dashboard/agency/{AGENCY}?{AGENCY_ARGS}").get_data(as_text=True),
        "agency_csv": read_csv(client.get(f"/dashboard/agency/{AGENCY}?{AGENCY_ARGS}&format=csv&table=indices")),
        "agency_coverage": read_csv(client.get(f"/dashboard/agency/{AGENCY}?{AGENCY_ARGS}&format=csv&table=coverage")),
        "agency_xlsx": _sheets(client.get(f"/dashboard/agency/{AGENCY}?{AGENCY_ARGS}&format=xlsx").data),
        "ha_page": client.get(f"/homeaffairs/?{ha}").get_data(as_text=True),
        "ha_csv": {next(iter(r.values())): r
                   for r in read_csv(client.get(f"/homeaffairs/export.csv?{ha}&table=estimates"))},
        "ha_coverage": read_csv(client.get(f"/homeaffairs/export.csv?{ha}&table=coverage")),
        "ha_xlsx": _sheets(client.get(f"/homeaffairs/export.xlsx?{ha}").data),
        "report_page": client.get(f"/homeaffairs/report/?period={QUARTER}").get_data(as_text=True),
        "report_xlsx": _sheets(client.get(f"/homeaffairs/report/report.xlsx?period={QUARTER}").data),
    }


FIGURES = ("agency_csv", "agency_xlsx", "ha_csv", "ha_xlsx", "report_xlsx")


def _reference_overall(db_session, qv_id: int, counted: set[int]):
    frame = respondent_frame(db_session, qv_id)
    frame = frame[frame["rid"].isin(counted)].reset_index(drop=True)
    spec = questionnaire_for(db_session, qv_id)[0].index_spec()
    _t, ref = reference(frame, spec, ("agency",), QUARTER, n_min=10)
    overall = ref[ref["measure"] == "OVERALL"].set_index("domain")
    assert set(overall.index) == {AGENCY, "UBND-BT"}
    return overall


def _counted_ids(db_session, qv_id: int) -> set[int]:
    return set(db_session.scalars(select(Response.id).where(Response.questionnaire_version_id == qv_id,
                                                            Response.review_status.is_(None))))


def _matches_reference(ha_csv, ref, names) -> None:
    for code, rec in ref.iterrows():
        row = ha_csv[names[code]]
        assert int(row["n"]) == int(rec["n"]), code
        assert math.isclose(float(row["Estimate"]), float(rec["estimate"]), rel_tol=1e-9), code


def _excluded_column(rows: list[dict[str, str]], unit: str | None = None) -> str:
    row = rows[0] if unit is None else next(r for r in rows if unit in next(iter(r.values())))
    return row["Excluded after review"]


def test_confirming_a_flag_removes_its_responses_from_every_figure(client, db_session, flagged):
    city, qv_id, flag = flagged
    names = {a.code: a.name_en for a in city.agencies.values()}
    login(client, "noivu")
    use_language(client, "en")
    before = _everything(client)
    _matches_reference(before["ha_csv"], _reference_overall(db_session, qv_id, _counted_ids(db_session, qv_id)),
                       names)
    assert "excluded after review" not in before["agency_page"]

    _decide(client, flag.id, "confirm", "20 top answers in ten minutes")
    db_session.expire_all()
    n = len(flag.response_ids)
    assert n >= 20
    tallies_equal_recount(db_session)
    after = _everything(client)
    for key in FIGURES:
        assert after[key] != before[key], f"{key} still holds the confirmed responses"
    counted = _counted_ids(db_session, qv_id)
    assert not counted & set(flag.response_ids)
    _matches_reference(after["ha_csv"], _reference_overall(db_session, qv_id, counted), names)
    assert int(after["ha_csv"][names[AGENCY]]["n"]) == int(before["ha_csv"][names[AGENCY]]["n"]) - n
    assert after["ha_csv"][names["UBND-BT"]] == before["ha_csv"][names["UBND-BT"]]  # the other agency's own row
    sentence = f"{n} responses excluded after review"
    for page in ("agency_page", "ha_page", "report_page"):
        assert sentence in after[page], page
    assert _excluded_column(after["agency_coverage"]) == str(n)
    assert _excluded_column(after["ha_coverage"], names[AGENCY]) == str(n)
    coverage_sheet = next(rows for title, rows in after["report_xlsx"].items()
                          if any(row and "Excluded after review" in row for row in rows))
    header = next(row for row in coverage_sheet if row and "Excluded after review" in row)
    at = header.index("Excluded after review")
    assert any(row[at] == n for row in coverage_sheet if row and row[0] == names[AGENCY])


def test_dismissing_a_flag_leaves_every_figure_unchanged(client, db_session, flagged):
    _city, _qv_id, flag = flagged
    login(client, "noivu")
    use_language(client, "en")
    before = _everything(client)
    _decide(client, flag.id, "dismiss", "a school visit, checked with the office")
    db_session.expire_all()
    assert db_session.get(IntegrityFlag, flag.id).status == "dismissed"
    tallies_equal_recount(db_session)
    cache.clear()
    after = _everything(client)
    for key in (*FIGURES, "agency_coverage", "ha_coverage"):
        assert after[key] == before[key], key
    for page in ("agency_page", "ha_page", "report_page"):
        assert "excluded after review" not in after[page]
