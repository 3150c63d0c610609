"""The early-warning chart (agency page and Home Affairs unit page) says in words what its measure and its
limit are, and a day of fewer than n_min responses shows its n but never its share — in the data table, the
chart, the page's accessible text (SVG title/desc, caption, notes) and the page's CSV/XLSX alike.

Before: the dashed line was labelled "warning limit" with no value, the y axis had no name and no zero, and no
text said what 0 means or what the limit is, so a reader of the data table (or of a screen reader) could not
tell which days crossed it."""

from __future__ import annotations

import html
import io
import re
from datetime import UTC, datetime

import pytest
from openpyxl import load_workbook

from survey.dashboard.charts import num
from survey.results import cache
from survey.results.integrity import agency_charts, unit_chart
from tests.dashboard.helpers import get, login
from tests.factories import small_city
from tests.integrity.factories import TODAY, drops_at, finish
from tests.integrity.test_warning_disclosure import city  # noqa: F401  (the fixture)

ROW = re.compile(r'<tr><th scope="row">([^<]+)</th><td class="num">(\d+)</td><td class="num">([^<]*)</td></tr>')
WORDS = {
    "vi": ("Thước đo cảnh báo", "0 = mức thường lệ", "ngưỡng cảnh báo {limit}",
           "Cách đọc: thước đo cảnh báo bằng 0 khi mức hài lòng ở mức thường lệ",
           "Vượt ngưỡng cảnh báo ({limit}, đường gạch nối)", "ít nhất 30 phản hồi"),
    "en": ("Warning measure", "0 = usual level", "warning limit {limit}",
           "How to read it: the warning measure is 0 while satisfaction is at its usual level",
           "Above the warning limit ({limit}, the dashed line)", "at least 30 responses"),
}


@pytest.fixture()
def ready(app, db_session, city):  # noqa: F811
    """tests/integrity/test_warning_disclosure.py's Department of Justice (about 2 responses a working day for 180
    days, then a drop), n_min 30: no single day has enough responses for its share."""
    app.config["HAILONG_N_MIN"] = 30
    finish(db_session)
    return city


def _section(html: str) -> str:
    match = re.search(r'<section class="charts early-warning".*?</section>', html, re.S)
    assert match, "no early-warning chart"
    return match.group(0)


def _accessible_text(part: str) -> str:
    """What a screen reader reads besides the table: the SVG's title and desc, the caption and the notes."""
    keep = re.findall(r"<title[^>]*>(.*?)</title>|<desc[^>]*>(.*?)</desc>|<figcaption[^>]*>(.*?)</figcaption>|"
                      r'<p class="chart-note">(.*?)</p>', part, re.S)
    return " ".join(" ".join(group) for group in keep)


def _check(part: str, chart: dict, lang: str) -> None:
    limit = num(chart["limit"], lang, 2)
    for words in WORDS[lang]:
        assert words.format(limit=limit) in part, (lang, words)
    rows = ROW.findall(part)
    assert [int(n) for _d, n, _w in rows] == chart["counts"]  # every point keeps its n…
    assert rows and all(int(n) >= 30 for _d, n, _w in rows)  # …and has at least n_min responses
    svg = re.search(r"<svg.*?</svg>", part, re.S)
    assert svg and "%" not in svg.group(0)  # the chart draws no share
    assert "%" not in _accessible_text(part)  # nor says one


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_agency_chart_says_what_its_measure_and_limit_are(client, db_session, ready, lang) -> None:
    login(client, "tuphap")
    client.get(f"/lang/{lang}")
    part = _section(get(client, "/dashboard/agency/STP").get_data(as_text=True))
    _check(part, agency_charts(db_session, TODAY, [ready.agencies["STP"].id], n_min=30)[ready.agencies["STP"].id], lang)
    assert {"en": "until they hold at least", "vi": "gộp các ngày liên tiếp"}[lang] in " ".join(part.split())


@pytest.fixture()
def units(app, db_session):
    """tests/integrity/test_unit_warning.py's city: a year of about 2 responses a working day at Binh Thuy's and
    Ninh Kieu's committees, Binh Thuy dropping over the last 30 working days."""
    app.config["HAILONG_CLOCK"] = lambda: datetime(TODAY.year, TODAY.month, TODAY.day, 3, tzinfo=UTC)
    app.config["HAILONG_N_MIN"] = 30
    cache.clear()
    tree = small_city(db_session)
    drops_at(db_session, tree, {"UBND-BT-SP1": True, "UBND-NK-SP1": False}, seed=13)
    yield tree
    cache.clear()


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_unit_chart_says_what_its_measure_and_limit_are(client, db_session, units, lang) -> None:
    login(client, "noivu")
    client.get(f"/lang/{lang}")
    part = _section(get(client, f"/homeaffairs/unit/{units.units['BT'].id}").get_data(as_text=True))
    _check(part, unit_chart(db_session, TODAY, units.units["BT"].id, n_min=30), lang)
    # the note says how a unit's points are cut (across the tree, analysis.control.pool_tree), not an agency's
    tree_note = {"en": "ends where the points of the agencies and units below it end",
                 "vi": "kết thúc đúng nơi các điểm của những cơ quan và đơn vị cấp dưới kết thúc"}[lang]
    agency_note = {"en": "until they hold at least", "vi": "gộp các ngày liên tiếp"}[lang]
    text = " ".join(html.unescape(part).split())
    assert tree_note in text and agency_note not in text


def test_no_export_of_the_agency_page_has_a_days_share(client, db_session, ready) -> None:
    """The page's CSV and XLSX carry its tables; none lists the warning chart's days (so none a day's share)."""
    login(client, "tuphap")
    chart = agency_charts(db_session, TODAY, [ready.agencies["STP"].id], n_min=30)[ready.agencies["STP"].id]
    days = {f"{d.day:02d}/{d.month:02d}/{d.year}" for d in chart["days"]}
    book = load_workbook(io.BytesIO(get(client, "/dashboard/agency/STP?format=xlsx").data), read_only=True)
    cells = {str(v) for ws in book.worksheets for row in ws.iter_rows(values_only=True) for v in row if v}
    assert len(cells) > 20 and not days & cells
    text = get(client, "/dashboard/agency/STP?format=csv").get_data(as_text=True)
    assert text.strip() and not any(d in text for d in days)
