"""The agency trend does not default to a chart of gaps: when no month has n_min responses and the viewer
did not choose, it is shown by quarter (then year), and the form says which granularity is shown."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from tests.dashboard.displaykit import add_responses
from tests.dashboard.hakit import login, use_language
from tests.factories import small_city

N_MIN = 30


@pytest.fixture
def city(app, db_session):
    app.config.update(HAILONG_N_MIN=N_MIN)
    city = small_city(db_session)
    qv = city.questionnaires["counter-quick"]
    sp = city.service_points["STP-SP1"].id
    # 12 a month (< n_min): 12 in 2025-Q1, 36 in Q2, 24 in Q3, 72 in 2025.  Two small quarters, 36 responses
    # together: the headline minus Q2 gives neither away (docs/methodology-design.md, "Totals beside
    # suppressed rows"), so Q2 may be shown beside it
    for month in (2, 4, 5, 6, 8, 9):
        add_responses(db_session, qv.id, sp, 12, datetime(2025, month, 15, 3, tzinfo=UTC), seed=month)
    return city


def _trend_option(html: str) -> str:
    form = html[html.index('id="f-trend"'):]
    return re.search(r'<option value="([^"]+)" selected>', form[:form.index("</select>")]).group(1)


def _trend_rows(html: str) -> list[tuple[str, str]]:
    table = html[html.index('id="table-trend"'):]
    table = table[:table.index("</table>")]
    return re.findall(r'<th scope="row">([^<]+)</th><td class="(note suppressed-note|num)">', table)


def test_trend_falls_back_to_quarters_when_every_month_is_too_small(client, city):
    login(client, "tuphap")
    use_language(client, "en")
    html = client.get("/dashboard/agency/STP").get_data(as_text=True)
    assert _trend_option(html) == "quarter"
    # an estimate for Q2, "not enough responses" for Q1 and Q3
    assert _trend_rows(html) == [("Quarter I/2025", "note suppressed-note"), ("Quarter II/2025", "num"),
                                 ("Quarter III/2025", "note suppressed-note")]
    assert "<th scope=\"col\">Quarter</th>" in html
    rows = client.get("/dashboard/agency/STP?format=csv&table=trend").get_data(as_text=True).lstrip("\ufeff")
    assert rows.splitlines()[2].startswith("Quarter II/2025,0.")


def test_a_chosen_month_trend_is_kept_even_if_every_month_is_too_small(client, city):
    login(client, "tuphap")
    html = client.get("/dashboard/agency/STP?trend=month").get_data(as_text=True)
    assert _trend_option(html) == "month"
    assert [kind for _p, kind in _trend_rows(html)] == ["note suppressed-note"] * 6


def test_year_is_used_when_quarters_are_too_small(app, client, city):
    app.config["HAILONG_N_MIN"] = 37  # the largest quarter has 36, the year 72
    login(client, "tuphap")
    html = client.get("/dashboard/agency/STP").get_data(as_text=True)
    assert _trend_option(html) == "year"
    assert _trend_rows(html) == [("Năm 2025", "num")]


def test_month_stays_when_nothing_coarser_has_enough_responses(app, client, city):
    app.config["HAILONG_N_MIN"] = 73  # the year has 72
    login(client, "tuphap")
    html = client.get("/dashboard/agency/STP").get_data(as_text=True)
    assert _trend_option(html) == "month"


def test_a_small_last_quarter_is_left_out_of_the_headline_not_the_shown_quarter(app, client, db_session):
    """36 responses in 2025-Q2, 12 in Q3 (n_min 30).  The headline over both minus Q2 — shown on every page of
    Q2 (the Home Affairs comparisons) — would be Q3 alone.  With the periods linked (survey/results/protection.py)
    Q2 stays shown everywhere, and "so far" stops at June: the page says the newest 12 responses are not included
    yet, and its trend is Q2 — not a chart of gaps.  (Before the linking the page hid Q2 beside its own headline
    and showed the year, which with the Q2 comparison gave Q3 away.)"""
    app.config.update(HAILONG_N_MIN=N_MIN)
    city = small_city(db_session)
    qv, sp = city.questionnaires["counter-quick"], city.service_points["STP-SP1"].id
    for month in (4, 5, 6, 8):  # 36 in Q2, 12 in Q3, 48 in 2025
        add_responses(db_session, qv.id, sp, 12, datetime(2025, month, 15, 3, tzinfo=UTC), seed=month)
    login(client, "tuphap")
    use_language(client, "en")
    html = client.get("/dashboard/agency/STP").get_data(as_text=True)
    assert _trend_option(html) == "quarter"
    assert _trend_rows(html) == [("Quarter II/2025", "num")]
    assert "the newest 12 responses are not included yet" in html
    use_language(client, "vi")
    html = client.get("/dashboard/agency/STP").get_data(as_text=True)
    assert "12 câu trả lời mới nhất chưa được tính" in html
