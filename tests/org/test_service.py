"""The tree service the importer and the admin pages share: its rules hold and every change is audited."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from survey.audit.models import AuditEvent
from survey.org import service as svc
from tests.factories import small_city


def actions(session) -> list[str]:
    return list(session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def test_create_unit_checks_level_rank_and_duplicates(db_session):
    city = small_city(db_session)
    with pytest.raises(svc.OrgError, match="is not below the level of parent NK"):
        svc.create_unit(db_session, code="X", name_vi="X", name_en="X", level_code="district",
                        parent=city.units["NK"])
    with pytest.raises(svc.OrgError, match="duplicate code"):
        svc.create_unit(db_session, code="NK", name_vi="X", name_en="X", level_code="commune",
                        parent=city.units["NK"])
    with pytest.raises(svc.OrgError, match="needs a parent"):
        svc.create_unit(db_session, code="Y", name_vi="Y", name_en="Y", level_code="commune")
    unit = svc.create_unit(db_session, code="NK-AH", name_vi="Phường An Hòa", name_en="An Hoa Ward",
                           level_code="commune", parent=city.units["NK"])
    assert unit.parent.code == "NK"
    assert actions(db_session)[-1] == "org.unit.create"


def test_move_rename_and_no_op_updates(db_session):
    city = small_city(db_session)
    ta = city.units["NK-TA"]
    assert svc.move_unit(db_session, ta, city.units["BT"]) is True
    assert ta.parent.code == "BT"
    assert svc.rename_unit(db_session, ta, name_vi=ta.name_vi, name_en=ta.name_en) is False  # nothing changed
    with pytest.raises(svc.OrgError, match="under itself"):
        svc.move_unit(db_session, city.units["CT"], ta)
    assert actions(db_session) == ["org.unit.update"]


def test_merge_units_moves_children_and_agencies_and_keeps_history(db_session):
    city = small_city(db_session)
    nk, bt = city.units["NK"], city.units["BT"]
    svc.merge_units(db_session, [bt], nk)
    db_session.expire_all()
    assert bt.retired_at is not None and bt.merged_into_id == nk.id
    assert {c.code for c in nk.children} == {"NK-TA", "BT-BT"}
    assert city.agencies["UBND-BT"].unit_id == nk.id
    assert "org.unit.merge" in actions(db_session)
    with pytest.raises(svc.OrgError, match="same level"):
        svc.merge_units(db_session, [city.units["NK-TA"]], nk)


def test_retiring_an_agency_stops_its_service_points(db_session):
    city = small_city(db_session)
    agency = city.agencies["STP"]
    assert svc.retire_agency(db_session, agency) is True
    assert all(not sp.active for sp in agency.service_points)
    assert svc.retire_agency(db_session, agency) is False
    assert actions(db_session)[-1] == "org.agency.retire"


def test_merge_service_points_moves_kiosks(db_session):
    city = small_city(db_session)
    a, b = city.service_points["STP-SP1"], city.service_points["UBND-NK-SP1"]
    kiosk = svc.create_kiosk(db_session, code="K1", name="Kiosk 1", service_point=a)
    svc.merge_service_points(db_session, [a], b)
    assert kiosk.service_point_id == b.id and not a.active
    with pytest.raises(svc.OrgError, match="not a questionnaire id"):
        svc.update_service_point(db_session, b, link_instrument="SIPAS 2017")
