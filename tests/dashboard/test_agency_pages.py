"""Agency pages show the analysis package's numbers for the same filters, formatted, and export the same tables."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime

import numpy as np
import pytest
from openpyxl import load_workbook

from analysis.estimate import estimate
from analysis.result import result_table
from survey.i18n import percent
from survey.questionnaire_versions.service import questionnaire_for
from tests.dashboard.helpers import get, login
from tests.factories import small_city
from tests.results.factories import city_with_responses, reference_totals, respondent_frame

#: the fixture's responses are dated back from the app's clock, and which quarter is in progress decides what the
#: linked protection may show (survey/results/protection.py current_quarter): a fixed clock, never today's date
CLOCK = datetime(2026, 12, 7, 3, tzinfo=UTC)


@pytest.fixture
def data(app, db_session):
    app.config["HAILONG_CLOCK"] = lambda: CLOCK
    return city_with_responses(db_session, per_point=36)


def _reference(db_session, data, frame=None, by=("agency",), ci="logit"):
    q, _ = questionnaire_for(db_session, data.qv_id)
    spec = q.index_spec()
    frame = respondent_frame(db_session, data.qv_id) if frame is None else frame
    t = reference_totals(frame, spec, by)
    return result_table(estimate(t, spec.measures, by), ci, n_min=30)


def _csv(resp) -> list[list[str]]:
    text = resp.get_data(as_text=True).lstrip("\ufeff")
    return list(csv.reader(io.StringIO(text)))


def test_agency_page_shows_the_analysis_figures(client, db_session, data):
    login(client, "noivu")
    ref = _reference(db_session, data).set_index(["domain", "measure"])
    with client.application.test_request_context(headers={"Accept-Language": "vi"}):
        row = ref.loc[("UBND-BT", "OVERALL")] if ("UBND-BT", "OVERALL") in ref.index else None
        assert row is not None
        # one decimal, as the indices table below it rounds the same figure
        expected = [percent(row["estimate"], 1), percent(row["ci_low"], 1), percent(row["ci_high"], 1)]
    html = get(client, "/dashboard/agency/UBND-BT", headers={"Accept-Language": "vi"}).get_data(as_text=True)
    overall = re.search(r'<p class="overall" id="overall">(.*?)</p>', html, re.S).group(1)
    for text in expected:
        assert text in overall
    assert "," in expected[0]  # Vietnamese decimal comma: 84,97%
    # the CSV export carries the raw numbers of the same table
    rows = _csv(client.get("/dashboard/agency/UBND-BT?format=csv&table=indices"))
    body = {r[0]: r for r in rows[1:]}
    assert float(body["OVERALL"][2]) == pytest.approx(row["estimate"], abs=1e-12)
    assert float(body["OVERALL"][3]) == pytest.approx(row["ci_low"], abs=1e-12)
    assert float(body["OVERALL"][4]) == pytest.approx(row["ci_high"], abs=1e-12)
    items = {r[0]: r for r in _csv(client.get("/dashboard/agency/UBND-BT?format=csv&table=items"))[1:]}
    att = ref.loc[("UBND-BT", "C.ATT")]
    # the last two columns: the note, then the sampling design (every file with intervals names it)
    assert att["method"] == "logit" and items["C.ATT"][-3] == "logit"
    assert items["C.ATT"][-1].startswith("Thiết kế mẫu") or items["C.ATT"][-1].startswith("Sampling design")
    assert float(items["C.ATT"][3]) == pytest.approx(att["ci_low"], abs=1e-12)
    assert float(items["C.ATT"][4]) == pytest.approx(att["ci_high"], abs=1e-12)


def test_filters_change_the_figures_like_analysis_domains(client, db_session, data):
    """Service point + period filter: the page equals analysis on the same responses (domain of the design)."""
    login(client, "noivu")
    frame = respondent_frame(db_session, data.qv_id)
    month = sorted(frame["month"].unique())[-1]
    cell = np.where((frame["service_point"] == "UBND-BT-SP2") & (frame["month"] == month), "in", "out")
    month_frame = frame[frame["month"] == month]
    cell = np.where(month_frame["service_point"] == "UBND-BT-SP2", "in", "out")
    ref = _reference(db_session, data, month_frame.assign(cell=cell), by=("cell",)).set_index(["domain", "measure"])
    rows = _csv(client.get(f"/dashboard/agency/UBND-BT?sp=UBND-BT-SP2&from={month}&to={month}"
                           "&format=csv&table=items"))
    body = {r[0]: r for r in rows[1:]}
    for code in ("C.ATT", "C.HANDLING"):
        r = ref.loc[("in", code)]
        assert int(body[code][6]) == int(r["n"])
        assert r["suppressed"]  # 4 service-point-months: fewer than 30 answers → not published
        assert body[code][2] == "" and body[code][3] == ""  # estimate and CI left empty in exports
        assert "n = " in body[code][-2]  # the note; the last column names the sampling design


def test_suppressed_unit_shows_not_enough_responses(client, db_session):
    data = city_with_responses(db_session, per_point=10, months=1)
    login(client, "noivu")
    html = get(client, "/dashboard/agency/STP", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "not enough responses (n = 20)" in html
    html_vi = get(client, "/dashboard/agency/STP", headers={"Accept-Language": "vi"}).get_data(as_text=True)
    assert "Chưa đủ phản hồi (n = 20)" in html_vi
    assert data.qv_id


def test_comparison_trend_distribution_and_xlsx(client, db_session, data):
    login(client, "noivu")
    # months chosen: this fixture's months are hidden to protect small groups (the month pages hide them), so the
    # page alone would fall back to quarters (survey/results/protection.py links periods)
    resp = client.get("/dashboard/agency/UBND-BT?format=xlsx&trend=month")
    assert resp.status_code == 200
    wb = load_workbook(io.BytesIO(resp.data))
    assert {"Chỉ số", "Chỉ số từng câu hỏi", "So sánh", "Xu hướng", "Câu trả lời"} <= set(wb.sheetnames)
    trend = list(wb["Xu hướng"].values)
    frame = respondent_frame(db_session, data.qv_id)
    months = sorted(frame.loc[frame["agency"] == "UBND-BT", "month"].unique())
    assert [r[0] for r in trend[1:]] == [f"Tháng {int(m[5:])}/{m[:4]}" for m in months]  # period names
    dist = list(wb["Câu trả lời"].values)
    att3 = next(r for r in dist[1:] if r[0] == "C.ATT" and r[2] == "Rất hài lòng")
    assert att3[3] == int(((frame["agency"] == "UBND-BT") & (frame["C.ATT"] == 3)).sum())
    cmp_rows = list(wb["So sánh"].values)
    overall = next(r for r in cmp_rows[1:] if r[0] == "Chỉ số hài lòng chung")
    city = _reference(db_session, data, by=()).set_index("measure").loc["OVERALL"]
    assert overall[2] == pytest.approx(city["estimate"], abs=1e-12)
    html = client.get("/dashboard/agency/UBND-BT").get_data(as_text=True)
    # the trend falls back to the one quarter (its months are hidden to protect small groups): a point, no band
    assert "<svg" in html and "Quý IV/2026" in html[html.index('id="table-trend"'):]


def test_landing_lists_only_visible_agencies(client, db_session, data):
    login(client, "ninhkieu")  # unit manager of district NK
    rows = _csv(client.get("/dashboard/?format=csv"))
    names = {r[0] for r in rows[1:]}
    assert names == {"UBND quận Ninh Kiều", "UBND phường Tân An"}


def test_exports_of_an_agency_without_responses_are_not_found(client, db_session):
    """Nothing to export yet: 404 for both formats (the XLSX was a 500: openpyxl cannot write a workbook
    without sheets), and the page itself still answers."""
    small_city(db_session)
    login(client, "noivu")
    assert get(client, "/dashboard/agency/STP").status_code == 200
    for fmt in ("xlsx", "csv"):
        assert get(client, f"/dashboard/agency/STP?format={fmt}").status_code == 404
