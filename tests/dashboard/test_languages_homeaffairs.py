"""Responses by language on the Home Affairs comparison (issue 15 §1): per compared unit, the counted
responses in Vietnamese, English and Khmer over the period compared and their shares (shown however few the
responses: count and total give them, tests/dashboard/test_disclosure_languages.py), in the CSV and XLSX exports
too; held responses are not counted."""

from __future__ import annotations

import io
import re

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select, update

from survey.respond import quarantine
from survey.respond.models import Response
from survey.results import cache
from tests.dashboard.hakit import login, read_csv, use_language
from tests.results.factories import city_with_responses


@pytest.fixture
def data(app, db_session):
    app.config.update(HAILONG_BOOTSTRAP_B=40)
    cache.clear()
    d = city_with_responses(db_session, per_point=20, comments=False)
    # every third response of the Sở Tư pháp in Khmer, every fifth of Ninh Kiều in English
    for code, lang, step in (("STP", "km", 3), ("UBND-NK", "en", 5)):
        ids = _ids(db_session, d, code)
        db_session.execute(update(Response).where(Response.id.in_(ids[::step])).values(language=lang))
    db_session.commit()
    yield d
    cache.clear()


def _ids(session, data, code):
    agency = data.city.agencies[code]
    return session.scalars(select(Response.id).where(Response.agency_id == agency.id).order_by(Response.id)).all()


def _quarter(period) -> str:
    return f"{period.year}-Q{(period.month - 1) // 3 + 1}"


def _recount(session, data, code, period) -> dict[str, int]:
    """Counted responses per language of an agency in the quarter of `period`, from the response rows."""
    q = _quarter(period)
    rows = session.execute(select(Response.period, Response.language, func.count())
                           .where(Response.agency_id == data.city.agencies[code].id, Response.review_status.is_(None))
                           .group_by(Response.period, Response.language)).all()
    out = {"vi": 0, "en": 0, "km": 0}
    for p, lang, n in rows:
        if _quarter(p) == q:
            out[lang] += n
    return out


def test_home_affairs_shows_responses_by_language_per_unit(app, client, db_session, data):
    ids = _ids(db_session, data, "STP")
    period = db_session.get(Response, ids[0]).period
    held = [i for i in ids[::3] if db_session.get(Response, i).period == period][:2]  # two Khmer responses
    assert len(held) == 2
    quarantine.hold(db_session, held, "checking a burst")
    app.config["HAILONG_N_MIN"] = 5
    login(client, "noivu")
    use_language(client, "en")
    url = f"/homeaffairs/export.csv?level=agency&period={_quarter(period)}&table=languages"
    rows = {r["Agencies"]: r for r in read_csv(client.get(url))}
    for code in ("STP", "UBND-NK"):
        want = _recount(db_session, data, code, period)
        row = rows[data.city.agencies[code].name_en]
        got = {lang: int(row[name]) for lang, name in (("vi", "Vietnamese"), ("en", "English"), ("km", "Khmer"))}
        assert got == want and int(row["Responses counted"]) == sum(want.values())
        assert abs(float(row["Khmer, share"]) - want["km"] / sum(want.values())) < 1e-9
    assert int(rows[data.city.agencies["STP"].name_en]["Khmer"]) > 0
    assert int(rows[data.city.agencies["UBND-NK"].name_en]["English"]) > 0
    html = client.get(f"/homeaffairs/?level=agency&period={_quarter(period)}").get_data(as_text=True)
    assert 'id="table-languages"' in html and "Responses by language" in html
    use_language(client, "vi")
    wb = load_workbook(io.BytesIO(client.get(f"/homeaffairs/export.xlsx?level=agency&period={_quarter(period)}").data))
    assert "Ngôn ngữ" in wb.sheetnames
    assert [c.value for c in wb["Ngôn ngữ"][1]][2:4] == ["Tiếng Việt", "Tiếng Việt, tỷ lệ"]


def test_shares_below_n_min_are_shown_beside_their_counts(app, client, db_session, data):
    period = db_session.get(Response, _ids(db_session, data, "STP")[0]).period
    app.config["HAILONG_N_MIN"] = 10_000
    login(client, "noivu")
    use_language(client, "en")
    html = client.get(f"/homeaffairs/?level=agency&period={_quarter(period)}").get_data(as_text=True)
    section = html.split('id="table-languages"')[1].split("</table>")[0]
    assert "%" in re.sub(r"<[^>]+>", " ", section) and "not enough responses" not in section
    rows = read_csv(client.get(f"/homeaffairs/export.csv?level=agency&period={_quarter(period)}&table=languages"))
    stp = next(r for r in rows if r["Agencies"] == data.city.agencies["STP"].name_en)
    want = _recount(db_session, data, "STP", period)
    assert int(stp["Khmer"]) == want["km"] > 0
    assert abs(float(stp["Khmer, share"]) - want["km"] / sum(want.values())) < 1e-9


def test_agency_page_export_carries_the_language_table_over_the_period_shown(app, client, db_session, data):
    period = db_session.get(Response, _ids(db_session, data, "STP")[0]).period
    app.config["HAILONG_N_MIN"] = 5
    login(client, "noivu")
    use_language(client, "en")
    month = f"{period.year}-{period.month:02d}"
    rows = read_csv(client.get(f"/dashboard/agency/STP?from={month}&to={month}&format=csv&table=languages"))
    got = {r["Language"]: int(r["Responses"]) for r in rows}
    in_month = db_session.execute(select(Response.language, func.count()).where(
        Response.agency_id == data.city.agencies["STP"].id, Response.period == period,
        Response.review_status.is_(None)).group_by(Response.language)).all()
    names = {"vi": "Vietnamese", "en": "English", "km": "Khmer"}
    assert got == {"Vietnamese": 0, "English": 0, "Khmer": 0} | {names[lang]: n for lang, n in in_month}
    assert got["Khmer"] > 0
    wb = load_workbook(io.BytesIO(client.get(f"/dashboard/agency/STP?from={month}&to={month}&format=xlsx").data))
    assert "Languages" in wb.sheetnames
