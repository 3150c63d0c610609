"""The period report: HTML, PDF (read back with pypdf) and XLSX (openpyxl) carry the analysis package's
figures, one page per agency and the method note."""

from __future__ import annotations

import io
import math

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from survey.dashboard.charts import pct
from survey.questionnaire_versions.models import QuestionnaireVersion
from survey.questionnaire_versions.service import questionnaire_for
from tests.dashboard.hakit import latest_quarter, login, reference, use_language
from tests.results.factories import city_with_responses, respondent_frame


@pytest.fixture
def data(app, db_session):
    app.config.update(HAILONG_BOOTSTRAP_B=40)
    return city_with_responses(db_session, per_point=45, comments=False)


@pytest.fixture
def expected(db_session, data):
    frame = respondent_frame(db_session, data.qv_id)
    q, _ = questionnaire_for(db_session, data.qv_id)
    spec = q.index_spec()
    quarter = latest_quarter(frame)
    _t, whole = reference(frame, spec, (), quarter)
    _t, by_agency = reference(frame, spec, ("agency",), quarter)
    return quarter, whole.set_index("measure"), by_agency


def test_pdf_report_has_summary_agencies_and_method(client, db_session, data, expected):
    quarter, whole, _by_agency = expected
    login(client, "noivu")
    use_language(client, "en")
    resp = client.get("/homeaffairs/report/report.pdf")
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    reader = PdfReader(io.BytesIO(resp.data))
    text = "\n".join(page.extract_text() for page in reader.pages)
    year, q = quarter.split("-Q")
    assert f"Citizen satisfaction report, Quarter {('I', 'II', 'III', 'IV')[int(q) - 1]}/{year}" in text
    assert pct(float(whole.loc["OVERALL", "estimate"]), "en") in text
    for agency in data.city.agencies.values():
        assert agency.name_en in text
    label = db_session.get(QuestionnaireVersion, data.qv_id).label  # the newest shipped counter-quick
    assert "Method note" in text and label in text
    assert "fewer than 30 responses" in text
    assert len(reader.pages) >= 2 + len(data.city.agencies)  # summary, comparisons, a page per agency, method


def test_xlsx_report_has_one_sheet_per_table_with_the_figures(client, data, expected):
    _quarter, whole, by_agency = expected
    login(client, "noivu")
    resp = client.get("/homeaffairs/report/report.xlsx")
    assert resp.status_code == 200
    wb = load_workbook(io.BytesIO(resp.data))
    assert "Tóm tắt" in wb.sheetnames  # sheet names in the reader's language
    assert {"Quận-Huyện - Ước lượng", "Cơ quan - Ước lượng", "Cơ quan - Thứ hạng"} <= set(wb.sheetnames)
    assert {a.name_vi for a in data.city.agencies.values()} <= set(wb.sheetnames)
    values = [row for row in wb["Tóm tắt"].iter_rows(min_row=2, values_only=True)]
    overall = values[-1]  # elements first, then the overall index (the questionnaire's measure order)
    assert overall[0] == "Chỉ số hài lòng chung"
    assert math.isclose(overall[1], float(whole.loc["OVERALL", "estimate"]), rel_tol=1e-9)
    sheet = wb[data.city.agencies["UBND-BT"].name_vi]
    rows = {r[0]: r for r in sheet.iter_rows(min_row=2, values_only=True)}
    ref = by_agency[(by_agency["domain"] == "UBND-BT") & (by_agency["measure"] == "OVERALL")].iloc[0]
    overall_row = rows[list(rows)[-1]]
    assert math.isclose(overall_row[1], float(ref["estimate"]), rel_tol=1e-9)
    assert overall_row[4] == int(ref["n"])


def test_html_report_is_printable_and_has_charts(client, data):
    login(client, "noivu")
    html = client.get("/homeaffairs/report/").get_data(as_text=True)
    assert "css/dashboard.css" in html
    assert 'id="r0-forest"' in html and 'id="r1-ranks"' in html
    assert html.count('class="report-page report-agency"') == len(data.city.agencies)
    assert 'id="method"' in html
    assert "/homeaffairs/report/report.pdf" in html and "/homeaffairs/report/report.xlsx" in html
