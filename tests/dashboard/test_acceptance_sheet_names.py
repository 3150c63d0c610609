"""XLSX workbooks name their sheets in the reader's language, within Excel's rules (≤ 31 characters, none of
[]:*?/\\, unique ignoring case): a Vietnamese user sees 'Ước lượng', not 'estimates'."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from survey.dashboard.sheets import sheet_name
from tests.dashboard.hakit import login, use_language
from tests.results.factories import city_with_responses

ENGLISH_IDS = {"estimates", "ranks", "change", "funnel", "trend", "summary", "indices", "items", "comparison",
               "distribution", "expectations", "agencies"}


@pytest.fixture
def city(app, db_session):
    app.config.update(HAILONG_BOOTSTRAP_B=20, HAILONG_N_MIN=5)
    return city_with_responses(db_session, per_point=12, comments=False).city


def _sheets(client, url: str) -> list[str]:
    resp = client.get(url)
    assert resp.status_code == 200, url
    return load_workbook(io.BytesIO(resp.data)).sheetnames


def _valid(names: list[str]) -> None:
    assert len({n.lower() for n in names}) == len(names)
    for n in names:
        assert 0 < len(n) <= 31 and not set(n) & set("[]:*?/\\"), n


URLS = ("/homeaffairs/export.xlsx?level=agency", "/homeaffairs/report/report.xlsx",
        "/dashboard/agency/UBND-BT?format=xlsx", "/dashboard/?format=xlsx")


def test_vietnamese_workbooks_have_vietnamese_sheet_names(client, city):
    login(client, "noivu")
    use_language(client, "vi")
    compare, report, agency, landing = (_sheets(client, u) for u in URLS)
    for names in (compare, report, agency, landing):
        _valid(names)
        assert not set(names) & ENGLISH_IDS, names
    assert {"Ước lượng", "Thứ hạng", "Biểu đồ phễu"} <= set(compare)
    assert {"Tóm tắt", "Quận-Huyện - Ước lượng", "Cơ quan - Thứ hạng", "Sở Tư pháp"} <= set(report)
    assert {"Chỉ số", "So sánh", "Xu hướng", "Câu trả lời"} <= set(agency)
    assert landing == ["Cơ quan"]


def test_english_workbooks_have_english_sheet_names(client, city):
    login(client, "noivu")
    use_language(client, "en")
    compare, report, agency, _landing = (_sheets(client, u) for u in URLS)
    for names in (compare, report, agency):
        _valid(names)
    assert {"Estimates", "Ranks", "Funnel plot"} <= set(compare)
    assert {"Summary", "District - Estimates", "Agencies - Ranks", "Department of Justice"} <= set(report)
    assert {"Indices", "Comparison", "Trend", "Answers"} <= set(agency)


def test_sheet_names_follow_excels_rules():
    used: set[str] = set()
    long = sheet_name("Xã/Phường/Thị trấn - Giới hạn biểu đồ phễu [95%]: *?", used)
    assert long == "Xã-Phường-Thị trấn - Giới hạn b"
    again = sheet_name("XÃ/PHƯỜNG/THỊ TRẤN - GIỚI HẠN B", used)  # Excel ignores case
    assert again == "XÃ-PHƯỜNG-THỊ TRẤN - GIỚI H (2)"
    assert len(long) == len(again) == 31
