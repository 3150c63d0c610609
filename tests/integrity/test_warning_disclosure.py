"""Agency page, early-warning chart: no point of fewer than n_min responses (a day of one or two responses would
show those citizens' answers to the officials they rated), and no chart at all for an agency whose figures the
page hides (too few responses, or hidden to protect a small group) — only a sentence saying why.  The warning
itself (does the chart flag the drop) still works."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import numpy as np
import pytest

from survey.results import cache
from survey.results.integrity import agency_charts, daily_scores
from tests.dashboard.helpers import get, login
from tests.factories import small_city
from tests.integrity.factories import TODAY, drops_at, finish, honest_days, workdays_before

ROW = re.compile(r'<tr><th scope="row">([^<]+)</th><td class="num">(\d+)</td><td class="num">([^<]*)</td></tr>')


@pytest.fixture()
def city(app, db_session):
    """The Department of Justice: about 2 responses a working day for 180 days, 85% satisfied, then 60% over the
    last 30 (a real drop the chart flags)."""
    app.config["HAILONG_CLOCK"] = lambda: datetime(TODAY.year, TODAY.month, TODAY.day, 3, tzinfo=UTC)
    cache.clear()
    city = small_city(db_session)
    rng = np.random.default_rng(11)
    days = workdays_before(TODAY, 180)
    sp, sipas = city.service_points["STP-SP1"], city.questionnaires["sipas-2017"]
    honest_days(db_session, sp, sipas, days[:150], 2, rng, p_sat=0.85)
    honest_days(db_session, sp, sipas, days[150:], 2, rng, p_sat=0.6)
    yield city
    cache.clear()


def _section(html: str) -> str:
    match = re.search(r'<section class="charts early-warning".*?</section>', html, re.S)
    return match.group(0) if match else ""


@pytest.mark.parametrize("n_min", [30, 3])
def test_every_point_holds_n_min_responses_and_a_months_points_are_the_month(app, client, db_session, city,
                                                                           n_min) -> None:
    """Before, the table had a row per working day (a day of one or two responses printed its n and warning
    measure, which gave its answers away: tests/integrity/test_warning_reader.py).  Now every row is a point of
    consecutive days of one month holding at least n_min responses, and a month's points hold exactly its
    responses (its figure minus its points is nothing).  The warning still flags the drop."""
    app.config["HAILONG_N_MIN"] = n_min
    finish(db_session)
    login(client, "tuphap")
    part = _section(get(client, "/dashboard/agency/STP").get_data(as_text=True))
    rows = ROW.findall(part)
    agency_id = city.agencies["STP"].id
    chart = agency_charts(db_session, TODAY, [agency_id], n_min=n_min)[agency_id]
    assert rows and [int(n) for _d, n, _w in rows] == chart["counts"]
    assert all(int(n) >= n_min for _d, n, _w in rows)
    assert (n_min == 3) is any(" – " not in label for label, _n, _w in rows)  # a day alone only when it is enough
    for label, _n, _w in rows:  # a point's days lie in one month
        months = {m for m in re.findall(r"\d\d/(\d\d/\d{4})", label)}
        assert len(months) == 1, label
    days = daily_scores(db_session, date(2024, 4, 1), date(2024, 5, 31), [agency_id])
    for month in (4, 5):  # whole months inside the chart's window
        inside = [p["n"] for p in chart["points"] if p["first"].month == month]
        assert sum(inside) == int(days[[d.month == month for d in days["day"]]]["n"].sum())
    assert "gộp các ngày liên tiếp" in part  # the note says why (vi, the page's language)
    printed = [float(w.replace(",", ".")) for _d, _n, w in rows]
    assert np.allclose(printed, chart["statistic"], atol=0.006)
    assert chart["signalling"] and 'class="early-warning-signal" role="status"' in part


def test_an_agency_hidden_to_protect_a_small_group_has_no_points_in_the_months_it_protects(
        app, client, db_session, city) -> None:
    """A few responses at the Binh Thuy committee in June (fewer than n_min 6): Binh Thuy's June is hidden, so the
    city's June minus the Department of Justice's would give it away — the Department's June is hidden to protect
    it (survey/results/protection.py, linked across periods since 08a1a6e: its page shows "so far" up to May and
    says the newest responses are not included yet).  Its chart's June points would be that June (points tile
    their months), so the page charts none; the chart itself has them."""
    app.config["HAILONG_N_MIN"] = 6
    rng = np.random.default_rng(5)
    honest_days(db_session, city.service_points["UBND-BT-SP1"], city.questionnaires["sipas-2017"],
                workdays_before(TODAY, 5), 1.0, rng)
    finish(db_session)
    bt = daily_scores(db_session, date(2024, 6, 1), TODAY, [city.agencies["UBND-BT"].id])
    assert 0 < bt["n"].sum() < 6
    login(client, "tuphap")
    html = get(client, "/dashboard/agency/STP").get_data(as_text=True)
    assert "05/2024" in html or "tháng 5" in html.lower()  # "figures up to May 2024" (the page's own sentence)
    rows = ROW.findall(_section(html))
    assert rows and not any("/06/2024" in label for label, _n, _w in rows)
    agency_id = city.agencies["STP"].id
    charted = agency_charts(db_session, TODAY, [agency_id], n_min=6)[agency_id]
    assert any(p["first"].month == 6 for p in charted["points"])  # what the page would have drawn


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_an_agency_with_too_few_responses_has_no_days(app, client, db_session, city, lang) -> None:
    app.config["HAILONG_N_MIN"] = 5000
    finish(db_session)
    login(client, "tuphap")
    if lang == "en":
        client.get("/lang/en")
    part = _section(get(client, "/dashboard/agency/STP").get_data(as_text=True))
    assert "<svg" not in part and "early-warning-data" not in part and not ROW.findall(part)
    sentence = {"vi": "Biểu đồ cảnh báo sớm bị ẩn", "en": "The early-warning chart is hidden"}[lang]
    assert sentence in part and ("5.000" if lang == "vi" else "5,000") in part


@pytest.mark.parametrize("n_min", [30, 5000])
def test_a_unit_with_too_few_responses_has_no_days(app, client, db_session, n_min) -> None:
    """Home Affairs unit page: Binh Thuy's chart (its agencies together) is drawn while the page shows Binh Thuy's
    figures; when they are hidden (fewer than n_min responses) only a sentence says why."""
    app.config["HAILONG_CLOCK"] = lambda: datetime(TODAY.year, TODAY.month, TODAY.day, 3, tzinfo=UTC)
    app.config["HAILONG_N_MIN"] = n_min
    cache.clear()
    city = small_city(db_session)
    drops_at(db_session, city, {"UBND-BT-SP1": True}, seed=13)
    login(client, "noivu")
    part = _section(get(client, f"/homeaffairs/unit/{city.units['BT'].id}").get_data(as_text=True))
    cache.clear()
    if n_min == 30:
        assert "<svg" in part and ROW.findall(part) and "early-warning-signal" in part
    else:
        assert part and "<svg" not in part and "early-warning-data" not in part and not ROW.findall(part)
        assert "Biểu đồ cảnh báo sớm bị ẩn: đơn vị này có quá ít phản hồi" in part


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_an_agency_without_a_month_of_n_min_says_why_it_has_no_chart(app, client, db_session, city, lang) -> None:
    """About 44 responses a month, n_min 60: the page shows the agency's figures (over every month, n ≈ 360), but
    no month holds n_min, so the chart has no point to draw; a sentence says so instead of an empty chart."""
    app.config["HAILONG_N_MIN"] = 60
    finish(db_session)
    login(client, "tuphap")
    if lang == "en":
        client.get("/lang/en")
    html = get(client, "/dashboard/agency/STP").get_data(as_text=True)
    part = _section(html)
    assert "<svg" not in part and "early-warning-data" not in part and not ROW.findall(part)
    sentence = {"vi": "Chưa có biểu đồ cảnh báo sớm", "en": "No early-warning chart: its points pool"}[lang]
    assert sentence in part and "60" in part
    assert "Ẩn để bảo vệ" not in html and "Hidden to protect" not in html  # the page's own figures are shown
