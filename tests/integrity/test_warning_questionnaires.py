"""The early-warning chart and the questionnaire of the page that draws it.

Before, the agency page's chart pooled the responses of every questionnaire, while the page (and the linked
protection that cuts the chart, survey/dashboard/linked_figures.py) is about one questionnaire.  A reader of the
questionnaire-3 page could then take the chart's points of a month (they tile the month: its n and, inverted
from the printed warning measure, its mean score) minus that page's own month (its answers per item) and get
the month of the agency's OTHER questionnaire — hidden on that questionnaire's page, a group below n_min.  Now
the chart pools the page's questionnaire only, so the difference is nothing."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import numpy as np
import pytest

from survey.results import cache
from survey.results.integrity import agency_charts, daily_scores
from tests.dashboard.helpers import get, login
from tests.factories import small_city
from tests.integrity.factories import TODAY, add_response, finish, honest_days, workdays_before
from tests.integrity.test_warning_disclosure import _section
from tests.integrity.test_warning_reader import read

N_MIN = 6
MAY = date(2024, 5, 1)


@pytest.fixture()
def city(app, db_session):
    """The Department of Justice: about 2 SIPAS responses a working day for 180 days, 85% satisfied, 40% from
    April (so the warning measure is above 0 in May and every May point can be inverted); and 4 quick-rating
    responses in May (fewer than n_min 6: that questionnaire's May is hidden), every answer at the best level."""
    app.config["HAILONG_CLOCK"] = lambda: datetime(TODAY.year, TODAY.month, TODAY.day, 3, tzinfo=UTC)
    app.config["HAILONG_N_MIN"] = N_MIN
    cache.clear()
    city = small_city(db_session)
    rng = np.random.default_rng(31)
    days = workdays_before(TODAY, 180)
    sp, sipas = city.service_points["STP-SP1"], city.questionnaires["sipas-2017"]
    honest_days(db_session, sp, sipas, [d for d in days if d < date(2024, 4, 1)], 2, rng, p_sat=0.85)
    honest_days(db_session, sp, sipas, [d for d in days if d >= date(2024, 4, 1)], 2, rng, p_sat=0.4)
    for day in (date(2024, 5, 7), date(2024, 5, 14), date(2024, 5, 21), date(2024, 5, 28)):
        add_response(db_session, sp, city.questionnaires["counter-quick"], datetime(day.year, day.month, day.day, 9),
                     True, rng)
    finish(db_session)
    yield city
    cache.clear()


def _distribution(client, version_id: int) -> list[list[str]]:
    """The agency page's answers per item for May on one questionnaire, as its CSV export gives them."""
    url = (f"/dashboard/agency/STP?questionnaire={version_id}&from=2024-05&to=2024-05&format=csv"
           "&table=distribution")
    return list(csv.reader(io.StringIO(get(client, url).get_data(as_text=True).lstrip("\ufeff"))))


def _month_from_distribution(client, version_id: int, satisfied: set[str], no_opinion: set[str]) -> tuple[int, float]:
    """(responses, Σ score) of the agency's May on one questionnaire's page, from its answers per item (every
    response answers every rated item here, so a response's score is satisfied answers over answers)."""
    rows = _distribution(client, version_id)
    item, label, count = 0, 2, 3  # code, item, answer, count, share (agency_data.distribution_tables)
    per_item: dict[str, int] = {}
    sat = answered = 0
    for r in rows[1:]:  # below the header: one row per item and answer
        if len(r) <= count or not r[count].strip().isdigit() or r[label] in no_opinion:
            continue
        c = int(r[count])
        per_item[r[item]] = per_item.get(r[item], 0) + c
        answered += c
        sat += c if r[label] in satisfied else 0
    n = max(per_item.values())
    return n, n * sat / answered


def test_a_month_hidden_on_another_questionnaire_cannot_be_read_off_the_chart(app, client, db_session, city) -> None:
    sipas, quick = city.questionnaires["sipas-2017"], city.questionnaires["counter-quick"]
    agency_id = city.agencies["STP"].id
    login(client, "tuphap")
    # the premise: the quick rating's May at the Department is a group the pages hide
    hidden = _distribution(client, quick.id)
    assert len(hidden) > 1 and not any(r[3].strip() for r in hidden[1:] if len(r) > 3)  # every count hidden

    page = get(client, f"/dashboard/agency/STP?questionnaire={sipas.id}").get_data(as_text=True)
    part = _section(page)
    chart = agency_charts(db_session, TODAY, [agency_id], n_min=N_MIN)[agency_id]  # μ0, σ0, λ (a reader's worst case)
    points = [(days, n, mean) for days, n, mean in read(part, chart["lam"], chart["baseline"], chart["sd"])
              if days[0].month == 5]
    assert points and sum(len(d) for d, _n, _m in points) == 31  # May's points tile May, all read
    n_chart = sum(n for _d, n, _m in points)
    s_chart = sum(n * m for _d, n, m in points)
    n_page, s_page = _month_from_distribution(client, sipas.id, {"Hài lòng", "Rất hài lòng"}, {"Không ý kiến"})
    truth = daily_scores(db_session, MAY, date(2024, 5, 31), [agency_id])
    assert n_page == int(truth["n"].sum()) - 4  # the reader reads the SIPAS page right

    n_rest = n_chart - n_page
    if n_rest:  # before: the 4 quick ratings, all satisfied (score 1), read back to within 0.1
        mean_rest = (s_chart - s_page) / n_rest
        assert not (0 < n_rest < N_MIN and abs(mean_rest - 1.0) < 0.1), (n_rest, mean_rest)
    assert n_rest == 0  # the chart of the SIPAS page pools SIPAS responses only


def test_each_questionnaires_page_charts_its_own_responses(app, client, db_session, city) -> None:
    """The SIPAS page's chart counts exactly its SIPAS responses per point; the quick rating's page, whose
    figures are hidden (4 responses), draws none."""
    sipas = city.questionnaires["sipas-2017"]
    login(client, "tuphap")
    part = _section(get(client, f"/dashboard/agency/STP?questionnaire={sipas.id}").get_data(as_text=True))
    rows = [(days, n) for days, n, _m in read(part, 0.1, 0.85, 0.3)]
    agency_id = city.agencies["STP"].id
    for days, n in rows:
        counted = daily_scores(db_session, days[0], days[-1], [agency_id], version_ids=[sipas.id])
        assert int(counted["n"].sum()) == n
