"""Service volume pages: the grid (validation per cell, overwrite confirmed), the import (dry run with every row
error, all-or-nothing, overwrite confirmed), the Decision 766 ratio per agency and month; all audited."""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime

from openpyxl import Workbook
from sqlalchemy import select

from survey.org.models import ServiceVolume
from survey.respond.export import export_frame
from survey.respond.store import Submission, store_response
from tests.admin.adminkit import as_admin, as_user, csrf_token, events, forget_user, get, text
from tests.factories import small_city


def volumes(session) -> dict[tuple[str, str], tuple[int, int | None]]:
    session.expire_all()
    from survey.org.models import ServicePoint

    codes = {sp.id: sp.code for sp in session.scalars(select(ServicePoint))}
    return {(codes[v.service_point_id], v.period.strftime("%Y-%m")): (v.dossiers, v.dissatisfied_or_complaints)
            for v in session.scalars(select(ServiceVolume))}


def grid_post(client, agency_id: int, year: int, cells: dict[str, str], **extra: str):
    url = f"/admin/volumes/grid?agency={agency_id}&year={year}"
    forget_user()
    page = text(client.get(url))
    data = dict(re.findall(r'name="([dx]-[^"]+)" id="[^"]+" value="([^"]*)"', page))
    data.update(cells)
    forget_user()
    return client.post(url, data={**data, "csrf_token": csrf_token(page), **extra})


def cell(city, sp_code: str, year: int, month: int, kind: str = "d") -> str:
    return f"{kind}-{city.service_points[sp_code].id}-{year}-{month:02d}"


def test_grid_saves_new_figures_and_confirms_overwrites(client, db_session):
    city = small_city(db_session)
    as_admin(client)
    stp = city.agencies["STP"].id
    resp = grid_post(client, stp, 2024, {cell(city, "STP-SP1", 2024, 1): "1.200",
                                         cell(city, "STP-SP1", 2024, 1, "x"): "30",
                                         cell(city, "STP-SP1", 2024, 2): "900"})
    assert resp.status_code == 302
    assert volumes(db_session) == {("STP-SP1", "2024-01"): (1200, 30), ("STP-SP1", "2024-02"): (900, None)}
    [event] = events(db_session, "volumes.save")
    assert event.after["new"] == 2 and event.after["STP-SP1 2024-01"] == [1200, 30]

    # changing a stored month asks first, and nothing changes until confirmed
    resp = grid_post(client, stp, 2024, {cell(city, "STP-SP1", 2024, 1): "1300"})
    assert resp.status_code == 200 and "Please confirm." in text(resp) and "1200 / 30 → 1300 / 30" in text(resp)
    assert volumes(db_session)[("STP-SP1", "2024-01")] == (1200, 30)
    resp = grid_post(client, stp, 2024, {cell(city, "STP-SP1", 2024, 1): "1300",
                                         cell(city, "STP-SP1", 2024, 2): ""}, confirm="y")
    assert resp.status_code == 302
    assert volumes(db_session) == {("STP-SP1", "2024-01"): (1300, 30)}
    last = events(db_session, "volumes.save")[-1]
    assert last.after["replaced"] == 1 and last.after["removed"] == 1
    assert last.before["STP-SP1 2024-02"] == [900, None]


def test_grid_reports_bad_cells_and_saves_nothing(client, db_session):
    city = small_city(db_session)
    as_admin(client)
    resp = grid_post(client, city.agencies["STP"].id, 2024, {
        cell(city, "STP-SP1", 2024, 3): "abc",
        cell(city, "STP-SP1", 2024, 4): "10", cell(city, "STP-SP1", 2024, 4, "x"): "11",
        cell(city, "STP-SP1", 2024, 5, "x"): "2",
        cell(city, "STP-SP1", 2024, 6): "100"})
    page = text(resp)
    assert resp.status_code == 400
    assert "Cells to correct: 3." in page
    assert "Enter a whole number, 0 or more." in page and "More than the number of dossiers (10)." in page
    assert "Enter the number of dossiers." in page
    assert volumes(db_session) == {}


def volume_file(rows: list[str], header: str = "service_point,month,dossiers,dissatisfied_or_complaints") -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode()


def upload(client, data: bytes, name: str = "volumes.csv"):
    forget_user()
    token = csrf_token(text(client.get("/admin/volumes/import")))
    forget_user()
    return client.post("/admin/volumes/import", data={"csrf_token": token, "file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def commit(client, page: str, **extra: str):
    hidden = dict(re.findall(r'id="(?:filename|upload|csrf_token)" name="(filename|upload|csrf_token)" '
                             r'type="hidden" value="([^"]*)"', page))
    forget_user()
    return client.post("/admin/volumes/import/commit", data={**hidden, **extra})


def test_import_dry_run_lists_row_errors_then_the_fixed_file_is_stored(client, db_session):
    small_city(db_session)
    as_admin(client)
    bad = volume_file(["STP-SP1,2024-01,1000,20", "NOPE,2024-01,10,", "STP-SP1,2024-13,10,",
                       "STP-SP1,2024-01,50,", "UBND-NK-SP1,2024-01,-4,", "UBND-NK-SP1,2024-02,10,12"])
    resp = upload(client, bad)
    page = text(resp)
    assert resp.status_code == 400
    found = set(re.findall(r'<td class="num">(\d+)</td><td><code>([^<]+)</code>', page))
    assert found == {("3", "service_point"), ("4", "month"), ("5", "month"), ("6", "dossiers"),
                     ("7", "dissatisfied_or_complaints")}
    assert "line 2 has the same service point" in page
    assert volumes(db_session) == {}

    good = volume_file(["STP-SP1,2024-01,1000,20", "UBND-NK-SP1,2024-01,400,", "UBND-NK-SP1,2024-02,380,12"])
    dry = upload(client, good)
    assert dry.status_code == 200 and "3 new months, 0 replaced, 0 unchanged." in text(dry)
    assert volumes(db_session) == {}
    resp = commit(client, text(dry))
    assert resp.status_code == 302
    assert volumes(db_session) == {("STP-SP1", "2024-01"): (1000, 20), ("UBND-NK-SP1", "2024-01"): (400, None),
                                   ("UBND-NK-SP1", "2024-02"): (380, 12)}
    assert events(db_session, "volumes.save")[-1].after["source"] == "import volumes.csv"

    # a second file replacing a figure must be confirmed; an empty complaints cell keeps the stored count
    dry = upload(client, volume_file(["STP-SP1,2024-01,1100,", "UBND-NK-SP1,2024-02,380,12"]))
    assert "0 new months, 1 replaced, 1 unchanged." in text(dry)
    resp = commit(client, text(dry))
    assert resp.status_code == 400 and "Tick the box to confirm." in text(resp)
    assert volumes(db_session)[("STP-SP1", "2024-01")] == (1000, 20)
    resp = commit(client, text(dry), confirm="y")
    assert resp.status_code == 302
    assert volumes(db_session)[("STP-SP1", "2024-01")] == (1100, 20)


def test_xlsx_import_with_date_months(client, db_session):
    small_city(db_session)
    as_admin(client)
    book = Workbook()
    sheet = book.active
    sheet.append(["service_point", "month", "dossiers"])
    sheet.append(["STP-SP1", datetime(2024, 3, 1), 250])
    sheet.append(["STP-SP1", "2024-04", 260.0])
    buf = io.BytesIO()
    book.save(buf)
    dry = upload(client, buf.getvalue(), "v.xlsx")
    commit(client, text(dry))
    assert volumes(db_session) == {("STP-SP1", "2024-03"): (250, None), ("STP-SP1", "2024-04"): (260, None)}


def test_unknown_column_is_reported(client, db_session):
    small_city(db_session)
    as_admin(client)
    resp = upload(client, volume_file(["STP-SP1,2024-01,1,1"], "service_point,month,dossiers,complaints"))
    assert resp.status_code == 400 and "<code>complaints</code>" in text(resp)


def test_decision_766_ratio_per_agency_and_month(client, db_session):
    city = small_city(db_session)
    sp = city.service_points
    for code, month, d, x in [("STP-SP1", 1, 1000, 20), ("UBND-NK-SP1", 1, 400, 0), ("UBND-NK-SP1", 2, 200, None)]:
        db_session.add(ServiceVolume(service_point_id=sp[code].id, period=date(2024, month, 1), dossiers=d,
                                     dissatisfied_or_complaints=x))
    db_session.commit()
    as_admin(client)
    page = text(get(client, "/admin/volumes?year=2024"))
    # (1000 − 20) / 1000 = 98%; (400 − 0) / 400 = 100%; no count in February → no ratio
    assert "98.00%" in page and "100.00%" in page
    assert "1,000 dossiers, 20 dissatisfied" in page and "200 dossiers, ? dissatisfied" in page
    assert "A dossier that nobody rated counts as satisfied" in page
    as_user(client, "noivu", "vi")
    page = text(get(client, "/admin/volumes?year=2024"))
    assert "98,00%" in page  # Home Affairs reads it, in Vietnamese formatting
    assert "/admin/volumes/import" not in page  # but gets no editing links
    assert get(client, "/admin/volumes/import").status_code == 403


def test_volumes_entered_on_the_grid_weight_the_export(client, db_session):
    """Post-stratification (methodology §5): w = N / n per service point × month, N from the grid."""
    city = small_city(db_session)
    sp, qv = city.service_points["STP-SP1"], city.questionnaires["counter-quick"]
    for day in (3, 20):
        store_response(db_session, Submission(service_point_id=sp.id, questionnaire_version_id=qv.id,
                                              answers={"C.ATT": 3, "C.HANDLING": 2}, channel="paper",
                                              submitted_at=datetime(2024, 3, day, 3, 0, tzinfo=UTC)))
    as_admin(client)
    assert grid_post(client, city.agencies["STP"].id, 2024, {cell(city, "STP-SP1", 2024, 3): "100"}).status_code == 302
    frame = export_frame(db_session, weights="volume")
    assert list(frame["weight"]) == [50.0, 50.0]
