"""The reference line "all units shown" of a Home Affairs comparison is computed over exactly the units listed,
also when it is not computed again (every agency or service point with answers listed: the selection itself)."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from survey.results import Selection, indices
from survey.results.comparison import Period, compare_units
from survey.results.tree import placements
from tests.results.factories import city_with_responses


@pytest.fixture
def data(db_session):
    return city_with_responses(db_session, per_point=40)


@pytest.mark.parametrize("group", ["agency", "service_point"])
@pytest.mark.parametrize("scope", [None, ("STP", "UBND-BT")])
def test_reference_line_equals_the_listed_units_figures(db_session, data, group, scope):
    month = data.months[0]
    period = Period.parse(f"{month.year}-{month.month:02d}")
    vis = None if scope is None else {data.city.agencies[code].id for code in scope}
    comp = compare_units(db_session, Selection.of(data.qv_id, visible_agency_ids=vis), group=group,
                         measure_code="OVERALL", period=period, lang="vi", n_min=5, bootstrap_b=50, seed=1)
    assert comp is not None and len(comp.rows) >= 2
    listed = {"agency_ids": [r.id for r in comp.rows]} if group == "agency" else \
        {"service_point_ids": [r.id for r in comp.rows]}
    ref = indices(db_session, Selection.of(data.qv_id, period_from=period.start, period_to=period.end,
                                           visible_agency_ids=vis, **listed), n_min=5).table
    rec = ref[ref["measure"] == "OVERALL"].iloc[0]
    line = comp.overall
    assert not line.suppressed and line.n == int(rec["n"]) > 0
    for name in ("estimate", "se", "ci_low", "ci_high"):
        assert getattr(line, name) == float(rec[name]) and math.isfinite(getattr(line, name)), name


@pytest.mark.parametrize(("group", "itself"), [("city", True), ("district", False)])
def test_a_level_that_holds_every_agency_shows_the_selection_itself(db_session, data, group, itself):
    """Every agency lies in the city, so listing every city lists every answer: the reference line is the
    selection itself (a national tree's provinces: no 3,400-agency list in every trend query) and equals the
    listed units' figures; city departments lie above the districts, so a district comparison narrows."""
    month = data.months[0]
    period = Period.parse(f"{month.year}-{month.month:02d}")
    sel = Selection.of(data.qv_id)
    comp = compare_units(db_session, sel, group=group, measure_code="OVERALL", period=period, lang="vi", n_min=5,
                         bootstrap_b=50, seed=1)
    assert comp is not None and comp.rows
    narrowed = replace(sel, period_from=period.start, period_to=period.end)
    assert (comp.shown_selection == narrowed) is itself
    places = placements(db_session).values()
    listed = {p.agency_id for p in places if p.levels.get(group, "") in {r.code for r in comp.rows}}
    ref = indices(db_session, replace(narrowed, agency_ids=tuple(sorted(listed))), n_min=5).table
    rec = ref[ref["measure"] == "OVERALL"].iloc[0]
    assert comp.overall.n == int(rec["n"]) > 0
    for name in ("estimate", "se", "ci_low", "ci_high"):
        assert getattr(comp.overall, name) == pytest.approx(float(rec[name]), rel=1e-12, abs=1e-15), name
