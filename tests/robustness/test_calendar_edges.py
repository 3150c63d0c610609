"""Stated times at the edges of the calendar (attacker pass, helper H, session 12): a kiosk's `submitted_at` and a
paper file's date column.

`submitted_at` is the kiosk's own clock, so whoever holds a kiosk credential chooses it.  Times more than 31 days
back or 10 minutes ahead are refused ("Implausible submission time."); but from a kiosk's second response on (the
per-process hint, and on PostgreSQL the one-call way) the month was worked out from the stated time before that
check, and a moment in year 1 or 9999 at an offset that Vietnam time cannot hold ended in a server error (500,
OverflowError).  Such a time is now refused as any implausible time is, with the same answer as a kiosk's first
response gets, and the kiosk goes on sending.  A paper file dated 0001-01-01 (or 9999-12-31 at -12:00) stopped the
admin's upload with a 500 in the same way; it is now a row error ("Not a date") and nothing is imported."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from survey.respond.models import Response, ResponseTally
from tests.admin.adminkit import as_admin, post_form, text
from tests.admin.test_paper_import import GOOD, HEADER, IDS, csv_file, error_rows, n_responses, upload
from tests.factories import small_city
from tests.respond.kiosk_factories import auth, enrolled_kiosk, payload
from tests.results.factories import DEFAULT_NOW, fix_clock

EDGES = ("9999-12-31T23:59:59-12:00", "9999-12-31T23:59:59+00:00", "0001-01-01T00:00:00+14:00")


@pytest.fixture
def city(app, db_session):
    fix_clock(app, DEFAULT_NOW)
    app.config["HAILONG_KIOSK_MIN_INTERVAL_SECONDS"] = 0
    return small_city(db_session)


def _quick(city, **extra):
    qv = city.questionnaires["counter-quick"]
    return payload(qv.instrument, qv.version, {"C.ATT": 3, "C.HANDLING": 2}, **extra)


@pytest.mark.parametrize("moment", EDGES)
def test_a_time_at_the_edge_of_the_calendar_is_refused_not_a_server_error(client, db_session, city, moment):
    _kiosk, credential = enrolled_kiosk(db_session)
    first = client.post("/api/v1/responses", json=_quick(city, submitted_at=moment, language="en"),
                        headers=auth(credential))
    assert first.status_code == 400  # the first response of a kiosk: refused by store_response
    assert first.get_json()["errors"] == {"submitted_at": "Implausible submission time."}
    assert client.post("/api/v1/responses", json=_quick(city), headers=auth(credential)).status_code == 201
    again = client.post("/api/v1/responses", json=_quick(city, submitted_at=moment, language="en"),
                        headers=auth(credential))
    assert again.status_code == 400  # a known kiosk's: the same answer, not a 500
    assert again.get_json() == {**first.get_json(), "errors": {"submitted_at": "Implausible submission time."}}
    assert db_session.scalar(select(func.count()).select_from(Response)) == 1
    assert db_session.scalar(select(func.sum(ResponseTally.count))) == 1
    # the kiosk is not stuck: its next genuine response is stored
    assert client.post("/api/v1/responses", json=_quick(city), headers=auth(credential)).status_code == 201


def test_a_known_kiosk_s_implausible_time_is_worded_in_the_respondent_s_language(client, db_session, city):
    _kiosk, credential = enrolled_kiosk(db_session)
    assert client.post("/api/v1/responses", json=_quick(city), headers=auth(credential)).status_code == 201
    resp = client.post("/api/v1/responses", json=_quick(city, submitted_at=EDGES[0], language="vi"),
                       headers=auth(credential))
    assert resp.status_code == 400
    assert resp.get_json()["errors"] == {"submitted_at": "Thời điểm gửi không hợp lệ."}


@pytest.mark.parametrize("moment", ["0001-01-01", "0001-01-01T00:00:00", "9999-12-31T23:59:59-12:00"])
def test_a_paper_date_at_the_edge_of_the_calendar_is_a_row_error_not_a_server_error(client, db_session, moment):
    small_city(db_session)
    as_admin(client)
    row = f"{IDS[3]},{moment},counter-quick,1,paper,vi,CT,,,STP,STP-SP1,,3,2,1,,,,"
    resp = upload(client, csv_file([GOOD[0], row], HEADER))
    assert resp.status_code == 400
    assert ("3", "submitted_at") in {(line, col) for line, col, _p in error_rows(text(resp))}
    assert moment in text(resp)  # the message quotes the cell
    assert n_responses(db_session) == 0


def test_a_name_that_reads_as_a_moment_at_the_edge_of_the_calendar_leaves_the_audit_log_readable(client, db_session):
    """The audit page shows ISO moments in local time: a unit renamed "9999-12-31T23:59:59+00:00" (a valid name)
    made the page a 500 for every reader — a way to hide what an administrator did next."""
    city = small_city(db_session)
    as_admin(client)
    odd = "9999-12-31T23:59:59+00:00"
    renamed = post_form(client, f"/admin/units/{city.units['NK-TA'].id}/edit",
                        {"name_vi": odd, "name_en": "Tan An Ward", "parent": str(city.units["NK"].id)})
    assert renamed.status_code == 302
    page = client.get("/admin/audit")
    assert page.status_code == 200
    assert odd in text(page) and "org.unit.update" in text(page)


@pytest.mark.parametrize("moment", ["0022-07-12", "1999-12-31T23:59:00+07:00"])
def test_a_paper_date_with_a_mistyped_year_is_a_row_error(client, db_session, moment):
    """A paper row dated 0022-07-12 (for 2022) was imported into month "22-07", and the agency's page then
    failed with a 500 (ValueError reading the quarter label "22-Q3").  A date before 2000 is now refused on
    its row, saying to check the year; 2000 itself is still accepted."""
    small_city(db_session)
    as_admin(client)
    row = f"{IDS[3]},{moment},counter-quick,1,paper,vi,CT,,,STP,STP-SP1,,3,2,1,,,,"
    resp = upload(client, csv_file([GOOD[0], row], HEADER))
    assert resp.status_code == 400
    problems = {(line, col): p for line, col, p in error_rows(text(resp))}
    assert "check the year" in problems[("3", "submitted_at")]
    assert n_responses(db_session) == 0
    ok = f"{IDS[4]},2000-01-01,counter-quick,1,paper,vi,CT,,,STP,STP-SP1,,3,2,1,,,,"
    assert upload(client, csv_file([GOOD[0], ok], HEADER)).status_code == 200
