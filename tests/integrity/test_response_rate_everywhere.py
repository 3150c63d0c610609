"""Response rate beside the figures of the Home Affairs comparison and the period report (issue 16 §3): on the
page, in the CSV and XLSX exports, in the report page, XLSX and PDF, each agency's rate equals counted
responses ÷ citizens served recounted here from the `response` and `service_volume` rows; a rate above 100%
is itself flagged on every one of them.  (The agency page and its exports: tests/dashboard/
test_review_coverage.py.)"""

from __future__ import annotations

import io
import math

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select, update

from survey.i18n import fixed
from survey.org.models import ServicePoint, ServiceVolume
from survey.respond.models import Response
from survey.results import cache
from tests.dashboard.hakit import login, read_csv, use_language
from tests.integrity.readers import page_lines, pdf_lines, sheet_rows
from tests.results.factories import add_volumes, city_with_responses, fix_clock

QUARTER = "2025-Q2"
OVER = "above 100%: more responses than citizens served"
OVER_SENTENCE = "More responses than citizens served"


@pytest.fixture
def data(app, db_session):
    fix_clock(app)
    app.config.update(HAILONG_BOOTSTRAP_B=40, HAILONG_N_MIN=5)
    cache.clear()
    d = city_with_responses(db_session, per_point=12, comments=False, months=2)
    add_volumes(db_session, d)
    yield d
    cache.clear()


def _expected(session, data) -> dict[str, tuple[int, int, float]]:
    """Per agency name: (responses in service point-months with a volume, citizens served, rate) of the quarter,
    from the rows (counted responses of the questionnaire version; volumes of the quarter's months)."""
    months = {p for p in session.scalars(select(ServiceVolume.period).distinct())
              if f"{p.year}-Q{(p.month - 1) // 3 + 1}" == QUARTER}
    sp_agency = dict(session.execute(select(ServicePoint.id, ServicePoint.agency_id)).all())
    names = {a.id: a.name_en for a in data.city.agencies.values()}
    served: dict[str, int] = {}
    vol_cells = set()
    for sp, period, dossiers in session.execute(select(ServiceVolume.service_point_id, ServiceVolume.period,
                                                       ServiceVolume.dossiers)):
        if period in months:
            name = names[sp_agency[sp]]
            served[name] = served.get(name, 0) + dossiers
            vol_cells.add((sp, period))
    responses: dict[str, int] = {}
    for sp, period, n in session.execute(select(Response.service_point_id, Response.period, func.count())
                                         .where(Response.review_status.is_(None),
                                                Response.questionnaire_version_id == data.qv_id)
                                         .group_by(Response.service_point_id, Response.period)):
        if (sp, period) in vol_cells:
            name = names[sp_agency[sp]]
            responses[name] = responses.get(name, 0) + n
    return {name: (responses.get(name, 0), s, responses.get(name, 0) / s) for name, s in served.items()
            if responses.get(name)}


def _surfaces(client) -> dict[str, object]:
    ha, rep = f"level=agency&period={QUARTER}", f"period={QUARTER}"
    pdf = client.get(f"/homeaffairs/report/report.pdf?{rep}")
    assert pdf.status_code == 200
    return {
        "comparison page": page_lines(client.get(f"/homeaffairs/?{ha}").get_data(as_text=True)),
        "comparison csv": {next(iter(r.values())): r for r in read_csv(
            client.get(f"/homeaffairs/export.csv?{ha}&table=coverage"))},
        "comparison xlsx": sheet_rows([tuple(r) for r in load_workbook(io.BytesIO(client.get(
            f"/homeaffairs/export.xlsx?{ha}").data))["Response rate"].iter_rows(values_only=True)], "Agencies"),
        "report page": page_lines(client.get(f"/homeaffairs/report/?{rep}").get_data(as_text=True)),
        "report xlsx": sheet_rows([tuple(r) for r in load_workbook(io.BytesIO(client.get(
            f"/homeaffairs/report/report.xlsx?{rep}").data))["Response rate"].iter_rows(values_only=True)], "Agency"),
        "report pdf": pdf_lines(pdf.data),
    }


def _row_text(name: str, responses: int, served: int, rate: float) -> str:
    """The coverage table row as a person reads it: unit, responses, citizens served, rate."""
    return " ".join((name, f"{responses:,}", f"{served:,}", fixed(rate, 1, "en", as_percent=True)))


def _check(s: dict[str, object], expected: dict[str, tuple[int, int, float]], warnings: dict[str, str]) -> None:
    """Every agency's rate (and citizens served) on every surface equals the recount; the warning column says
    what `warnings` says (nothing elsewhere); the page sentence appears where any warning does."""
    assert expected
    for name, (responses, served, rate) in expected.items():
        for where in ("comparison csv", "comparison xlsx", "report xlsx"):
            row = s[where][name]  # type: ignore[index]
            assert math.isclose(float(row["Response rate"]), rate, rel_tol=1e-12), (where, name)
            assert int(row["Citizens served"]) == served, (where, name)
            assert (row["Warning"] or "") == warnings.get(name, ""), (where, name)
        for where in ("comparison page", "report page", "report pdf"):
            text = " ".join(str(s[where]).split())  # the PDF wraps long names and warnings in their cells
            row = _row_text(name, responses, served, rate)
            assert row in text, (where, name, row)
            after = text.split(row, 1)[1].split()  # excluded, held, late (the cut-off is empty), the warning
            assert after[:3] == ["0", "0", "0"], (where, name, after[:6])
            warning = warnings.get(name, "")
            if warning:
                assert " ".join(after[3:3 + len(warning.split())]) == warning, (where, name, after[:15])
            else:  # the next row's name follows
                assert not " ".join(after[3:5]).startswith(("above 100%", "more responses")), (where, name)
    for where in ("comparison page", "report page", "report pdf"):
        assert (OVER_SENTENCE in " ".join(str(s[where]).split())) is bool(warnings), where


def test_rates_on_the_comparison_and_the_report_equal_a_recount(client, db_session, data) -> None:
    login(client, "noivu")
    use_language(client, "en")
    _check(_surfaces(client), _expected(db_session, data), {})


def test_a_rate_above_100_percent_is_flagged_on_the_comparison_and_the_report(client, db_session, data) -> None:
    stp = data.city.agencies["STP"]
    db_session.execute(update(ServiceVolume).where(ServiceVolume.service_point_id.in_(
        select(ServicePoint.id).where(ServicePoint.agency_id == stp.id))).values(dossiers=2))
    db_session.commit()
    cache.clear()
    login(client, "noivu")
    use_language(client, "en")
    expected = _expected(db_session, data)
    assert expected[stp.name_en][2] > 1
    _check(_surfaces(client), expected, {stp.name_en: OVER})


def test_one_service_point_month_over_is_flagged_though_the_agency_rate_is_below_100(client, db_session, data):
    """Stuffing at one counter hides in an agency's total: the month with more responses than citizens served is
    flagged on the agency page, the comparison and the report all the same."""
    counts = db_session.execute(select(Response.agency_id, Response.service_point_id, Response.period, func.count())
                                .where(Response.questionnaire_version_id == data.qv_id)
                                .group_by(Response.agency_id, Response.service_point_id, Response.period)).all()
    points: dict[int, set[int]] = {}
    for agency_id, sp, _p, _n in counts:
        points.setdefault(agency_id, set()).add(sp)
    agency_id, sp, period, n = next(c for c in counts if len(points[c[0]]) > 1)  # an agency with several points
    db_session.execute(update(ServiceVolume).where(ServiceVolume.service_point_id == sp, ServiceVolume.period == period)
                       .values(dossiers=n - 1))
    db_session.commit()
    cache.clear()
    agency = next(a for a in data.city.agencies.values() if a.id == agency_id)
    expected = _expected(db_session, data)
    assert expected[agency.name_en][2] < 1
    warning = "more responses than citizens served in 1 service point-months"
    login(client, "noivu")
    use_language(client, "en")
    _check(_surfaces(client), expected, {agency.name_en: warning})
    page = f"/dashboard/agency/{agency.code}?from=2025-04&to=2025-06"
    assert OVER_SENTENCE + " (in 1 service point-months)" in page_lines(client.get(page).get_data(as_text=True))
    assert read_csv(client.get(f"{page}&format=csv&table=coverage"))[0]["Warning"] == warning
