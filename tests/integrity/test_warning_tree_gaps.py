"""Early warning across the tree when a child has no point in some months (attacker pass, 8 Dec 2026).

`analysis.control.pool_tree` pools a unit's points so that every difference of two charts is 0 or at least n_min
responses (tests/integrity/test_warning_tree_reader.py).  Not read there: a unit one of whose children has no
point in a month (a ward of 1–5 responses, n_min 6) — its responses then fall in the unit's residual, which must
itself be 0 or at least n_min.  The same independent reader (only the pages' data tables, the published formula,
the usual level and SD) subtracts the committee's page from the district's, over months where the ward charts
and months where it does not, and reads no group under n_min; the months without a ward point are counted so the
case is really exercised."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from survey.results import cache, integrity
from survey.results.integrity import agency_charts, daily_scores, unit_chart
from tests.dashboard.helpers import get, login
from tests.factories import small_city
from tests.integrity.factories import TODAY, finish, honest_days, workdays_before
from tests.integrity.test_warning_disclosure import _section
from tests.integrity.test_warning_tree_reader import N_MIN, differences


@pytest.fixture()
def city(app, db_session):
    """Ninh Kieu's committee: about 8 SIPAS responses a working day, 85% satisfied, 40% over the last 60 working
    days; Tan An ward: about 0.3 a working day (some months 6 or more, some 1–5)."""
    app.config["HAILONG_CLOCK"] = lambda: datetime(TODAY.year, TODAY.month, TODAY.day, 3, tzinfo=UTC)
    app.config["HAILONG_N_MIN"] = N_MIN
    cache.clear()
    city = small_city(db_session)
    rng = np.random.default_rng(47)
    sipas = city.questionnaires["sipas-2017"]
    days = workdays_before(TODAY, 330)
    honest_days(db_session, city.service_points["UBND-NK-SP1"], sipas, days[:270], 8, rng, p_sat=0.85)
    honest_days(db_session, city.service_points["UBND-NK-SP1"], sipas, days[270:], 8, rng, p_sat=0.4)
    honest_days(db_session, city.service_points["UBND-NK-TA-SP1"], sipas, days, 0.3, rng, p_sat=0.6)
    finish(db_session)
    yield city
    cache.clear()


class _Alone:
    """What `_tree_points` gives when each chart pools its own days (the rule before pool_tree): no tree points."""

    def get(self, _key, _default=None):
        return None


def _small_groups_read(app, client, db_session, city) -> tuple[int, list[float]]:
    """(differences of 1…n_min − 1 responses the reader forms, the errors of those it reads), after checking that
    the window has months where the ward has responses but no point, and months where it has points."""
    sipas = (city.questionnaires["sipas-2017"].id,)
    nk, committee, ward = city.units["NK"].id, city.agencies["UBND-NK"].id, city.agencies["UBND-NK-TA"].id
    u = unit_chart(db_session, TODAY, nk, n_min=N_MIN, version_ids=sipas)
    assert u is not None and u["limit"] is not None
    # the case: months of the window where the ward has responses but no point (fewer than n_min)
    window = {p["first"].replace(day=1) for p in u["points"]}
    per_month = daily_scores(db_session, min(window), TODAY, [ward]).assign(
        month=lambda f: [d.replace(day=1) for d in f["day"]]).groupby("month")["n"].sum()
    assert any(0 < n < N_MIN for n in per_month), per_month.to_dict()
    assert any(n >= N_MIN for n in per_month), per_month.to_dict()
    login(client, "noivu")
    unit_part = _section(get(client, f"/homeaffairs/unit/{nk}").get_data(as_text=True))
    agency_part = _section(get(client, "/dashboard/agency/UBND-NK").get_data(as_text=True))
    a = agency_charts(db_session, TODAY, [committee], n_min=N_MIN, version_ids=sipas)[committee]
    small, errors = 0, []
    for days, rest, mean in differences(unit_part, agency_part, u, a):
        truth = daily_scores(db_session, days[0], days[-1], [ward])
        assert int(truth["n"].sum()) == rest  # the reader has the rest's count right
        if 0 < rest < N_MIN:
            small += 1
            if mean is not None:
                errors.append(abs(mean - float(truth["total"].sum()) / rest))
    return small, errors


def test_a_unit_whose_ward_has_no_point_in_some_months_gives_no_group_below_n_min(app, client, db_session,
                                                                                   city) -> None:
    small, errors = _small_groups_read(app, client, db_session, city)
    assert small == 0, (small, errors)


def test_self_test_each_chart_pooled_alone_gives_the_ward_away(app, client, db_session, city, monkeypatch) -> None:
    """The reader works: with each chart pooled on its own (the rule before pool_tree) it reads ward days."""
    monkeypatch.setattr(integrity, "_tree_points", lambda *a, **k: _Alone())
    small, errors = _small_groups_read(app, client, db_session, city)
    assert small >= 3 and sum(e < 0.1 for e in errors) >= 3, (small, errors)
