"""Paper survey import through the admin pages: a dry run lists every row error and writes nothing; the fixed
file is imported whole (channel paper, count tables incremented, one audit event); importing it again is a
no-op; XLSX works like CSV."""

from __future__ import annotations

import io
import re

from openpyxl import Workbook
from sqlalchemy import func, select
from werkzeug.test import EnvironBuilder

from survey.respond.models import Answer, Response, ResponseTally
from tests.admin.adminkit import as_admin, csrf_token, events, forget_user, get, text
from tests.factories import small_city

HEADER = ("response_id,submitted_at,questionnaire,questionnaire_version,channel,language,city,district,commune,"
          "agency,service_point,weight,C.ATT,C.HANDLING,C.E1,E1.1,E1.EXP#1,E1.EXP#2,OVERALL.SAT")
IDS = [f"00000000-0000-4000-8000-00000000000{i}" for i in range(1, 6)]

GOOD = [
    f"{IDS[0]},2024-03-05T09:00:00+07:00,counter-quick,1,paper,vi,CT,,,STP,STP-SP1,,3,2,1,,,,",
    f"{IDS[1]},2024-03-06,counter-quick,1,,en,CT,NK,,UBND-NK,UBND-NK-SP1,,2,3,,,,,",
    f"{IDS[2]},2024-03-07T02:00:00+00:00,sipas-2017,1,paper,vi,CT,,,STP,STP-SP1,,,,,4,1,0,4",
]
BAD = [
    f"{IDS[0]},2024-03-05T09:00:00+07:00,counter-quick,1,paper,vi,CT,,,STP,NOPE,,3,2,1,,,,",   # line 2
    f"{IDS[1]},05/03/2024,counter-quick,1,,vi,,,,,STP-SP1,,9,3,,,,,",                           # line 3
    f"{IDS[1]},2024-03-06,counter-quick,7,,vi,,,,,STP-SP1,,2,3,,,,,",                           # line 4
    f"{IDS[3]},2024-03-06,counter-quick,1,,vi,,,,,STP-SP1,,,3,,,,,",                            # line 5
    f"{IDS[4]},,sipas-2017,1,,vi,,,,,STP-SP1,,3,,,4,1,0,4",                                      # line 6
]


def csv_file(rows: list[str], header: str = HEADER) -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode("utf-8")


def upload(client, data: bytes, name: str = "paper.csv"):
    forget_user()
    token = csrf_token(text(client.get("/admin/paper")))
    forget_user()
    # built by hand so that the encoded body (a temporary file above 500 kB) is closed afterwards
    builder = EnvironBuilder(path="/admin/paper", method="POST", content_type="multipart/form-data",
                             data={"csrf_token": token, "file": (io.BytesIO(data), name)})
    environ = builder.get_environ()
    try:
        return client.open(environ)
    finally:
        environ["wsgi.input"].close()
        builder.close()


def commit(client, dry_run_page: str):
    hidden = dict(re.findall(r'name="(filename|upload|csrf_token)" type="hidden" value="([^"]*)"', dry_run_page)
                  or re.findall(r'id="(?:filename|upload|csrf_token)" name="(filename|upload|csrf_token)" '
                                r'type="hidden" value="([^"]*)"', dry_run_page))
    assert {"filename", "upload", "csrf_token"} <= set(hidden), hidden
    forget_user()
    return client.post("/admin/paper/commit", data=hidden)


def error_rows(page: str) -> list[tuple[str, str, str]]:
    body = page.split('class="row-errors"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr><td class=\"num\">([^<]*)</td><td><code>([^<]*)</code></td><td>([^<]*)</td></tr>", body)
    return [(a, b.replace("&#35;", "#"), c) for a, b, c in rows]


def n_responses(session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(Response))


def test_dry_run_lists_every_row_error_and_writes_nothing(client, db_session):
    small_city(db_session)
    as_admin(client)
    resp = upload(client, csv_file(BAD))
    assert resp.status_code == 400
    rows = error_rows(text(resp))
    found = {(line, col) for line, col, _p in rows}
    assert ("2", "service_point") in found                       # unknown service point
    assert ("3", "submitted_at") in found and ("3", "C.ATT") in found  # bad date, value outside the scale
    assert ("4", "questionnaire_version") in found                # unknown version
    assert ("4", "response_id") in found                          # duplicate of line 3
    assert ("5", "C.ATT") in found                                # required item missing
    assert ("6", "submitted_at") in found and ("6", "C.ATT") in found  # missing date; item of another questionnaire
    problems = {(line, col): p for line, col, p in rows}
    assert "NOPE" in problems[("2", "service_point")]
    assert "line 3" in problems[("4", "response_id")]
    assert "1, 2, 3" in problems[("3", "C.ATT")]
    assert n_responses(db_session) == 0
    assert events(db_session, "paper.import") == []
    assert "paper/commit" not in text(resp)


def test_unknown_column_and_missing_column_are_reported_on_the_header(client, db_session):
    small_city(db_session)
    as_admin(client)
    header = HEADER.replace("service_point,", "").replace("C.E1", "C.NOPE")
    resp = upload(client, csv_file([], header))
    rows = error_rows(text(resp))
    assert ("1", "service_point") in {(a, b) for a, b, _c in rows}
    assert ("1", "C.NOPE") in {(a, b) for a, b, _c in rows}


def test_fixed_file_imports_all_rows_as_paper_and_reimport_is_a_no_op(client, db_session):
    city = small_city(db_session)
    as_admin(client)
    dry = upload(client, csv_file(GOOD))
    page = text(dry)
    assert dry.status_code == 200 and "3 new responses" in page and "Import the new responses (3)" in page
    assert n_responses(db_session) == 0  # a dry run writes nothing
    done = commit(client, page)
    assert done.status_code == 200
    assert "3 new responses stored, 0 already imported" in text(done)
    db_session.expire_all()
    stored = db_session.scalars(select(Response).order_by(Response.client_id)).all()
    assert [r.client_id for r in stored] == IDS[:3]
    assert {r.channel for r in stored} == {"paper"}
    assert stored[1].service_point_id == city.service_points["UBND-NK-SP1"].id
    assert stored[1].language == "en"
    # a date without time zone is Vietnam time: 2024-03-06 00:00 +07:00 = 2024-03-05 17:00 UTC, period March
    assert stored[1].submitted_at.isoformat() == "2024-03-05T17:00:00+00:00"
    assert str(stored[1].period) == "2024-03-01"
    tallies = db_session.scalars(select(ResponseTally).where(ResponseTally.channel == "paper")).all()
    assert sum(t.count for t in tallies) == 3
    sipas = db_session.scalar(select(Response).where(Response.client_id == IDS[2]))
    values = sorted(a.value for a in db_session.scalars(select(Answer).where(Answer.response_id == sipas.id)))
    assert values == [1, 4, 4]  # E1.1 = 4, option 1 of E1.EXP, OVERALL.SAT = 4
    [event] = events(db_session, "paper.import")
    assert event.after["new"] == 3 and event.after["already_imported"] == 0 and event.actor == "admin"
    audit_page = text(get(client, "/admin/audit?action=paper.import"))
    assert "paper.csv" in audit_page and "already_imported" in audit_page

    again = upload(client, csv_file(GOOD))
    assert "0 new responses, 3 already imported" in text(again)
    assert "paper/commit" not in text(again)
    assert n_responses(db_session) == 3


def test_commit_rechecks_and_stores_nothing_when_the_database_changed(client, db_session):
    city = small_city(db_session)
    as_admin(client)
    page = text(upload(client, csv_file(GOOD)))
    city.service_points["UBND-NK-SP1"].active = False  # retired between the dry run and the commit
    db_session.commit()
    resp = commit(client, page)
    assert resp.status_code == 400
    assert ("3", "service_point") in {(a, b) for a, b, _c in error_rows(text(resp))}
    assert n_responses(db_session) == 0


def test_xlsx_with_date_cells_is_read_like_csv(client, db_session):
    from datetime import datetime

    small_city(db_session)
    as_admin(client)
    book = Workbook()
    sheet = book.active
    sheet.append(["response_id", "submitted_at", "questionnaire", "questionnaire_version", "service_point",
                  "C.ATT", "C.HANDLING"])
    sheet.append([IDS[0], datetime(2024, 5, 2, 10, 30), "counter-quick", 1, "STP-SP1", 3, 3])
    sheet.append([IDS[1], datetime(2024, 5, 2, 11, 0), "counter-quick", 1.0, "STP-SP1", 4, 3])
    buf = io.BytesIO()
    book.save(buf)
    resp = upload(client, buf.getvalue(), "batch.xlsx")
    assert resp.status_code == 400
    assert error_rows(text(resp)) and error_rows(text(resp))[0][:2] == ("3", "C.ATT")
    sheet.delete_rows(3)
    buf = io.BytesIO()
    book.save(buf)
    done = commit(client, text(upload(client, buf.getvalue(), "batch.xlsx")))
    assert "1 new responses stored" in text(done)
    db_session.expire_all()
    stored = db_session.scalar(select(Response))
    assert stored.submitted_at.isoformat() == "2024-05-02T03:30:00+00:00"


def test_wrong_file_type_and_missing_file_are_refused_with_a_message(client, db_session):
    small_city(db_session)
    as_admin(client)
    resp = upload(client, b"{}", "paper.json")
    assert resp.status_code == 400 and "Unknown file type" in text(resp)
    forget_user()
    token = csrf_token(text(client.get("/admin/paper")))
    forget_user()
    resp = client.post("/admin/paper", data={"csrf_token": token}, content_type="multipart/form-data")
    assert resp.status_code == 400 and "Choose a file." in text(resp)


def test_vietnamese_page_explains_errors_in_vietnamese(client, db_session):
    small_city(db_session)
    as_admin(client, "vi")
    resp = upload(client, csv_file(BAD))
    page = text(resp)
    assert "Không có điểm phục vụ" in page or "Điểm phục vụ" in page
    assert "Dòng" in page


def test_template_download_has_the_questionnaire_columns(client, db_session):
    city = small_city(db_session)
    as_admin(client)
    resp = get(client, f"/admin/paper/template/{city.questionnaires['sipas-2017'].id}.csv")
    header = resp.get_data(as_text=True).splitlines()[0].split(",")
    assert header[:4] == ["response_id", "submitted_at", "questionnaire", "questionnaire_version"]
    assert "E1.EXP#1" in header and "service_point" in header and "city" in header


def test_a_large_file_is_confirmed_from_the_server_side_copy(client, db_session):
    """A checked file bigger than Flask's 500 kB form-field limit still imports (it waits on the server)."""
    small_city(db_session)
    as_admin(client)
    padding = "x" * 15_000
    rows = [f"{i:08x}-0000-4000-8000-000000000000,2024-03-05,counter-quick,1,,vi,CT,,{padding},,STP-SP1,,3,2,,,,,"
            for i in range(40)]
    data = csv_file(rows)
    assert len(data) > 600_000
    dry = upload(client, data)
    assert dry.status_code == 200 and "40 new responses" in text(dry)
    done = commit(client, text(dry))
    assert done.status_code == 200 and "40 new responses stored" in text(done)
    # the server-side copy is gone once imported: the same confirmation cannot be replayed
    again = commit(client, text(dry))
    assert again.status_code == 400 and "Upload the file again" in text(again)
    assert n_responses(db_session) == 40


def test_a_malformed_csv_is_a_message_not_a_crash(client, db_session):
    small_city(db_session)
    as_admin(client)
    resp = upload(client, csv_file(['x,"' + "y" * 200_000]))
    assert resp.status_code == 400 and "cannot be read as CSV" in text(resp)
