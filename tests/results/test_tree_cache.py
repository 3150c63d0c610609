"""Tree placements are kept across requests, and an organisation edit shows at once (issue 14 §5).

A national tree's 10,011 service points are read once per tree revision, not once per request; moving an
agency to another district must move its respondents in the very next by-district figures.
"""

from __future__ import annotations

import pytest

from survey.org import service as org
from survey.org.tree import unit_subtree
from survey.results import Selection, cache, indices
from survey.results.tree import placements
from tests.results.factories import city_with_responses


@pytest.fixture
def data(request, db_session):
    cache.clear()  # the kept trees too
    request.addfinalizer(cache.clear)
    return city_with_responses(db_session, per_point=20, months=1, comments=False)


def _district_n(app, session, sel):
    with app.test_request_context():
        table = indices(session, sel, domain="district").table
    rows = table[table["measure"] == "OVERALL"].set_index("domain")
    return {code: int(rows.loc[code, "n"]) for code in ("NK", "BT")}


def _district_of(app, session, sp_id):
    with app.test_request_context():
        return placements(session)[sp_id].levels["district"]


def test_placements_are_kept_between_requests(app, db_session, data):
    with app.test_request_context():
        first = placements(db_session)
    with app.test_request_context():
        assert placements(db_session) is first  # not read again


def test_moving_an_agency_shows_in_the_next_request(app, db_session, data):
    sel = Selection.of(data.qv_id)
    before = _district_n(app, db_session, sel)
    sp = data.city.service_points["UBND-NK-TA-SP1"]
    assert _district_of(app, db_session, sp.id) == "NK"
    org.update_agency(db_session, data.city.agencies["UBND-NK-TA"], unit=data.city.units["BT-BT"])
    db_session.commit()
    assert _district_of(app, db_session, sp.id) == "BT"
    after = _district_n(app, db_session, sel)
    moved = before["NK"] - after["NK"]
    assert moved > 0 and after["BT"] == before["BT"] + moved


def test_an_edit_rolled_back_is_never_kept(app, db_session, data):
    sp = data.city.service_points["UBND-NK-TA-SP1"]
    assert _district_of(app, db_session, sp.id) == "NK"
    org.update_agency(db_session, data.city.agencies["UBND-NK-TA"], unit=data.city.units["BT-BT"])
    assert _district_of(app, db_session, sp.id) == "BT"  # the editing transaction sees its own edit
    db_session.rollback()
    assert _district_of(app, db_session, sp.id) == "NK"


def test_a_new_service_point_is_placed_at_once(app, db_session, data):
    _district_of(app, db_session, data.city.service_points["UBND-NK-SP1"].id)  # tree kept
    sp = org.create_service_point(db_session, code="UBND-BT-SP9", name_vi="Điểm mới", name_en="New point",
                                  agency=data.city.agencies["UBND-BT"])
    db_session.commit()
    assert _district_of(app, db_session, sp.id) == "BT"


def test_a_new_commune_is_in_its_district_at_once(app, db_session, data):
    district = data.city.units["NK"]
    before = unit_subtree(db_session, district.id)
    assert unit_subtree(db_session, district.id) == before  # kept
    commune = org.create_unit(db_session, code="NK-XH", name_vi="Phường Xuân Khánh", name_en="Xuan Khanh Ward",
                              level_code="commune", parent=district)
    db_session.commit()
    assert unit_subtree(db_session, district.id) == before | {commune.id}
