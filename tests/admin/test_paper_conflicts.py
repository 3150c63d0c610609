"""A corrected paper batch: a row whose response_id is stored with different content is a conflict (line,
column, stored vs file) and changes nothing; identical rows stay "already imported"; a checked file waiting
for confirmation can be discarded (audited)."""

from __future__ import annotations

import re

from sqlalchemy import select

from survey.respond.models import Answer, Response
from tests.admin.adminkit import as_admin, csrf_token, events, forget_user, text
from tests.admin.test_paper_import import GOOD, IDS, commit, csv_file, error_rows, n_responses, upload
from tests.factories import small_city


def _imported(client, db_session):
    small_city(db_session)
    as_admin(client)
    assert commit(client, text(upload(client, csv_file(GOOD)))).status_code == 200
    assert n_responses(db_session) == 3


def _values(db_session, client_id: str) -> list[int]:
    db_session.expire_all()
    rid = db_session.scalar(select(Response.id).where(Response.client_id == client_id))
    return sorted(db_session.scalars(select(Answer.value).where(Answer.response_id == rid)))


def test_a_changed_answer_is_a_conflict_with_stored_and_file_values(client, db_session):
    _imported(client, db_session)
    before = _values(db_session, IDS[2])
    corrected = [GOOD[0], GOOD[1], GOOD[2].replace(",4,1,0,4", ",4,1,0,2")]  # OVERALL.SAT 4 -> 2
    resp = upload(client, csv_file(corrected), "corrected.csv")
    assert resp.status_code == 400
    page = text(resp)
    rows = error_rows(page)
    assert len(rows) == 1
    line, column, problem = rows[0]
    assert (line, column) == ("4", "OVERALL.SAT")
    assert "stored with 4" in problem and "the file says 2" in problem
    assert "same response_id: 1. Nothing was changed." in page
    assert "paper/commit" not in page
    assert n_responses(db_session) == 3 and _values(db_session, IDS[2]) == before


def test_every_differing_cell_is_listed_and_identical_rows_stay_already_imported(client, db_session):
    _imported(client, db_session)
    changed = GOOD[0].replace("STP-SP1,,3,2,1", "STP-SP1,,3,3,1").replace("2024-03-05T09", "2024-03-04T09")
    resp = upload(client, csv_file([changed, GOOD[1], GOOD[2]]))
    rows = error_rows(text(resp))
    assert {(line, column) for line, column, _p in rows} == {("2", "submitted_at"), ("2", "C.HANDLING")}
    same = upload(client, csv_file(GOOD))
    assert same.status_code == 200 and "0 new responses, 3 already imported" in text(same)


def test_vietnamese_conflict_message(client, db_session):
    _imported(client, db_session)
    client.get("/lang/vi")
    corrected = [GOOD[2].replace(",4,1,0,4", ",4,0,1,4")]  # E1.EXP option 1 -> option 2
    rows = error_rows(text(upload(client, csv_file(corrected))))
    assert [(c, "đã lưu" in p) for _l, c, p in rows] == [("E1.EXP#…", True)]


def test_a_checked_file_waiting_for_confirmation_can_be_discarded(client, db_session):
    small_city(db_session)
    as_admin(client)
    page = text(upload(client, csv_file(GOOD)))
    token = re.search(r'name="upload" type="hidden" value="([^"]*)"', page).group(1)
    forget_user()
    resp = client.post("/admin/paper/discard", data={"csrf_token": csrf_token(page), "upload": token,
                                                     "filename": "paper.csv"})
    assert resp.status_code == 200 and "paper.csv" in text(resp)
    [event] = events(db_session, "paper.discard")
    assert event.after["file"] == "paper.csv"
    # the discarded file can no longer be imported
    assert commit(client, page).status_code == 400
    assert n_responses(db_session) == 0
