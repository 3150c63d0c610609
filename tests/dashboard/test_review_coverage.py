"""Figures pages state what stands behind them (issue 16 §3): the response rate (responses ÷ citizens served)
where service volumes are entered, a flag above 100%, and "n responses excluded after review" — on the agency
page, the Home Affairs comparison, their exports and the period report.  Agency users never see why.
"""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select, update

from survey.org.models import ServicePoint, ServiceVolume
from survey.respond import quarantine
from survey.respond.export import export_frame
from survey.respond.models import Response
from survey.results import cache
from tests.dashboard.hakit import login, read_csv, use_language
from tests.results.factories import add_volumes, city_with_responses

REASON = "staff answered in bulk at the counter (case HX-417)"


@pytest.fixture
def data(app, db_session):
    app.config.update(HAILONG_BOOTSTRAP_B=40)
    cache.clear()
    d = city_with_responses(db_session, per_point=20, comments=False)
    add_volumes(db_session, d)
    yield d
    cache.clear()


def _agency_ids(session, data, code):
    agency = data.city.agencies[code]
    return session.scalars(select(Response.id).where(Response.agency_id == agency.id).order_by(Response.id)).all()


def _quarter(period) -> str:
    return f"{period.year}-Q{(period.month - 1) // 3 + 1}"


def _expected_rate(session, data, code):
    """Counted responses ÷ dossiers over the agency's service point-months with a volume, from the rows."""
    agency = data.city.agencies[code]
    sps = session.scalars(select(ServicePoint.id).where(ServicePoint.agency_id == agency.id)).all()
    vols = dict(((sp, p), n) for sp, p, n in session.execute(
        select(ServiceVolume.service_point_id, ServiceVolume.period, ServiceVolume.dossiers)
        .where(ServiceVolume.service_point_id.in_(sps))))
    counted = session.execute(select(Response.service_point_id, Response.period, func.count())
                              .where(Response.agency_id == agency.id, Response.review_status.is_(None))
                              .group_by(Response.service_point_id, Response.period)).all()
    responses = sum(n for sp, p, n in counted if (sp, p) in vols)
    return responses / sum(vols.values())


def test_agency_page_and_export_show_rate_and_excluded_count_without_the_reason(client, db_session, data):
    ids = _agency_ids(db_session, data, "STP")
    login(client, "tuphap")  # the agency's own viewer
    use_language(client, "en")
    before = client.get("/dashboard/agency/STP").get_data(as_text=True)
    assert "excluded after review" not in before and "Response rate" in before
    quarantine.confirm(db_session, ids[:3], REASON)
    html = client.get("/dashboard/agency/STP").get_data(as_text=True)
    assert "3 responses excluded after review." in html
    assert REASON not in html and "HX-417" not in html and "noivu" not in html
    rows = read_csv(client.get("/dashboard/agency/STP?format=csv&table=coverage"))
    assert len(rows) == 1
    row = rows[0]
    assert int(row["Excluded after review"]) == 3
    assert int(row["Responses counted"]) == len(ids) - 3
    assert float(row["Response rate"]) == pytest.approx(_expected_rate(db_session, data, "STP"), rel=1e-12)
    xlsx = load_workbook(io.BytesIO(client.get("/dashboard/agency/STP?format=xlsx").data))
    assert "Response rate" in xlsx.sheetnames


def test_a_rate_above_100_percent_is_flagged(client, db_session, data):
    sp = data.city.service_points["STP-SP1"]
    db_session.execute(update(ServiceVolume).where(ServiceVolume.service_point_id == sp.id).values(dossiers=1))
    db_session.commit()
    login(client, "noivu")
    use_language(client, "en")
    html = client.get("/dashboard/agency/STP?sp=STP-SP1").get_data(as_text=True)
    assert "More responses than citizens served" in html
    row = read_csv(client.get("/dashboard/agency/STP?sp=STP-SP1&format=csv&table=coverage"))[0]
    assert float(row["Response rate"]) > 1 and "above 100%" in row["Warning"]
    # a point with an honest volume is not flagged
    ok = client.get("/dashboard/agency/UBND-BT").get_data(as_text=True)
    assert "More responses than citizens served" not in ok


def test_home_affairs_comparison_and_its_exports_state_the_excluded_count(client, db_session, data):
    ids = _agency_ids(db_session, data, "STP")
    period = db_session.get(Response, ids[0]).period
    in_period = [i for i in ids if db_session.get(Response, i).period == period][:4]
    quarantine.confirm(db_session, in_period, REASON)
    login(client, "noivu")
    use_language(client, "en")
    url = f"/homeaffairs/?level=agency&period={_quarter(period)}"
    html = client.get(url).get_data(as_text=True)
    assert "4 responses excluded after review." in html and "Response rate" in html
    rows = {next(iter(r.values())): r for r in read_csv(client.get(
        f"/homeaffairs/export.csv?level=agency&period={_quarter(period)}&table=coverage"))}
    stp = rows[data.city.agencies["STP"].name_en]
    assert int(stp["Excluded after review"]) == 4
    assert all(int(r["Excluded after review"]) == 0 for name, r in rows.items()
               if name != data.city.agencies["STP"].name_en)
    wb = load_workbook(io.BytesIO(client.get(
        f"/homeaffairs/export.xlsx?level=agency&period={_quarter(period)}").data))
    assert "Response rate" in wb.sheetnames


def test_period_report_states_rate_and_excluded_count(client, db_session, data):
    ids = _agency_ids(db_session, data, "UBND-NK")
    period = db_session.get(Response, ids[0]).period
    in_period = [i for i in ids if db_session.get(Response, i).period == period][:2]
    quarantine.confirm(db_session, in_period, REASON)
    login(client, "noivu")
    use_language(client, "en")
    html = client.get(f"/homeaffairs/report/?period={_quarter(period)}").get_data(as_text=True)
    assert "2 responses excluded after review." in html and "Response rate" in html
    wb = load_workbook(io.BytesIO(client.get(f"/homeaffairs/report/report.xlsx?period={_quarter(period)}").data))
    sheet = wb["Response rate"]
    header = [c.value for c in sheet[1]]
    col = header.index("Excluded after review")
    values = {row[0]: row[col] for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert values[data.city.agencies["UBND-NK"].name_en] == 2


def test_quarantined_responses_leave_the_analysis_export(db_session, data):
    ids = _agency_ids(db_session, data, "STP")
    before = export_frame(db_session)
    quarantine.hold(db_session, ids[:5], "burst")
    after = export_frame(db_session)
    assert len(after) == len(before) - 5
    gone = set(db_session.scalars(select(Response.client_id).where(Response.id.in_(ids[:5]))))
    assert not gone & set(after["response_id"]) and gone <= set(before["response_id"])
