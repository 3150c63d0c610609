"""Differences of two shares are shown in percentage points with a sign ('+5,3 điểm %', '-2.1 pp'), not as
'5,3%'; their intervals too.  Files keep raw proportions, and their headers say so."""

from __future__ import annotations

import csv
import io
import re

import pytest
from markupsafe import escape

from tests.dashboard.hakit import login, read_csv, use_language
from tests.results.factories import city_with_responses, fix_clock, respondent_frame

UNITS = {"en": "pp", "vi": "điểm %"}


@pytest.fixture
def data(app, db_session):
    app.config.update(HAILONG_BOOTSTRAP_B=20, HAILONG_N_MIN=20)
    fix_clock(app)
    return city_with_responses(db_session, per_point=45, comments=False)


def _expected(value: str, lang: str) -> str:
    """A raw proportion from the CSV as the page should show it: signed points, one decimal."""
    scaled = round(float(value) * 100, 1)
    body = f"{abs(scaled):.1f}".replace(".", "," if lang == "vi" else ".")
    return body if scaled == 0 else ("+" if scaled > 0 else "-") + body


def _table(html: str, table_id: str) -> str:
    part = html[html.index(f'id="table-{table_id}"'):]
    return part[:part.index("</table>")]


def _rows(table: str) -> dict[str, list[str]]:
    out = {}
    for tr in re.findall(r"<tr>(.*?)</tr>", table, re.S):
        head = re.search(r'<th scope="row">(?:<a[^>]*>)?([^<]+)', tr)
        if head:
            out[head.group(1)] = re.findall(r"<td[^>]*>([^<]*)</td>", tr)
    return out


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_home_affairs_change_is_in_percentage_points(client, db_session, data, lang):
    frame = respondent_frame(db_session, data.qv_id)
    quarters = sorted(set(frame["quarter"]), key=lambda q: (int(q[:4]), int(q[-1])))
    assert len(quarters) == 2  # the injected clock puts the factory's months in two quarters
    login(client, "noivu")
    use_language(client, "en")
    url = f"/homeaffairs/export.csv?level=agency&table=change&period={quarters[-1]}"
    header = list(read_csv(client.get(url))[0])
    assert header[3:6] == ["Change (difference in proportion)", "95% CI low (difference in proportion)",
                           "95% CI high (difference in proportion)"]
    use_language(client, lang)
    lines = list(csv.reader(io.StringIO(client.get(url).get_data(as_text=True).lstrip("\ufeff"))))[1:]
    html = client.get(f"/homeaffairs/?level=agency&period={quarters[-1]}").get_data(as_text=True)
    shown = _rows(_table(html, "change"))
    unit = UNITS[lang]
    checked = 0
    for line in lines:
        if not line[3]:
            continue
        assert -1 <= float(line[3]) <= 1  # a raw proportion in the file
        cells = shown[str(escape(line[0]))]
        assert cells[2:5] == [f"{_expected(v, lang)}\u00a0{unit}" if v else "—" for v in line[3:6]]
        checked += 1
    assert checked >= 1
    report = client.get(f"/homeaffairs/report/?period={quarters[-1]}").get_data(as_text=True)
    assert f"\u00a0{unit}</td>" in report


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_agency_comparison_with_the_city_is_in_percentage_points(client, data, lang):
    login(client, "noivu")
    use_language(client, "en")
    csv_rows = read_csv(client.get("/dashboard/agency/UBND-BT?format=csv&table=comparison"))
    assert "Difference (proportion)" in csv_rows[0]
    assert "95% CI of the difference (low; proportion)" in csv_rows[0]
    use_language(client, lang)
    html = client.get("/dashboard/agency/UBND-BT").get_data(as_text=True)
    rows = list(_rows(_table(html, "comparison")).values())
    # a measure hidden to protect a small group (survey/results/protection.py) has no difference in either
    csv_rows = [r for r in csv_rows if r["Difference (proportion)"]]
    assert len(rows) == len(csv_rows)
    unit = UNITS[lang]
    for raw, cells in zip(csv_rows, rows, strict=True):
        assert cells[2] == f"{_expected(raw['Difference (proportion)'], lang)}\u00a0{unit}"
        lo = _expected(raw["95% CI of the difference (low; proportion)"], lang)
        hi = _expected(raw["95% CI of the difference (high; proportion)"], lang)
        assert cells[3] == f"{lo} – {hi}\u00a0{unit}"
        assert "%" not in cells[2].replace("điểm %", "")
