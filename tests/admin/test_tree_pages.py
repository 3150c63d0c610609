"""Tree pages through the test client: browse, create/rename/move/merge/retire units, agencies and service
points, with the failure paths (bad code, duplicate, impossible placement, missing confirmation)."""

from __future__ import annotations

from sqlalchemy import select

from survey.org.models import Agency, ServicePoint, Unit
from tests.admin.adminkit import as_admin, events, get, post_form, text
from tests.factories import small_city


def unit(session, code: str) -> Unit:
    session.expire_all()
    return session.scalar(select(Unit).where(Unit.code == code))


def test_tree_page_shows_units_agencies_and_service_points(client, db_session):
    small_city(db_session)
    as_admin(client)
    html = text(get(client, "/admin/tree"))
    for code in ("CT", "NK", "NK-TA", "UBND-NK-TA", "STP-SP1"):
        assert f"<code>{code}</code>" in html
    assert "Add unit below" in html and "Download as YAML" in html


def test_create_a_commune_is_stored_and_audited(client, db_session):
    city = small_city(db_session)
    as_admin(client)
    nk = city.units["NK"].id
    form = text(get(client, f"/admin/units/new?parent={nk}"))
    assert 'selected value="commune"' in form  # the level below the parent is proposed
    resp = post_form(client, f"/admin/units/new?parent={nk}", {
        "code": "NK-AH", "level": "commune", "name_vi": "Phường An Hòa", "name_en": "An Hoa Ward",
        "parent": str(nk), "valid_from": "2025-07-01"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/admin/tree")
    created = unit(db_session, "NK-AH")
    assert created.parent.code == "NK" and created.level_code == "commune" and str(created.valid_from) == "2025-07-01"
    (event,) = events(db_session, "org.unit.create")
    assert event.actor == "admin" and event.after["name_vi"] == "Phường An Hòa"
    assert "Unit NK-AH created." in text(get(client, "/admin/tree"))


def test_create_unit_failures_are_explained_and_store_nothing(client, db_session):
    city = small_city(db_session)
    as_admin(client)
    nk = str(city.units["NK"].id)
    base = {"level": "commune", "name_vi": "X", "name_en": "X", "parent": nk}
    bad_code = post_form(client, "/admin/units/new", {**base, "code": "bad code!"})
    assert bad_code.status_code == 400 and "A code has 1 to 32 letters" in text(bad_code)
    duplicate = post_form(client, "/admin/units/new", {**base, "code": "NK-TA"})
    assert duplicate.status_code == 400 and "Another unit already has this code." in text(duplicate)
    no_name = post_form(client, "/admin/units/new", {**base, "code": "NK-Z", "name_vi": ""})
    assert no_name.status_code == 400 and "Enter a name." in text(no_name)
    wrong_level = post_form(client, "/admin/units/new", {**base, "code": "NK-Y", "level": "district"})
    assert wrong_level.status_code == 400 and "This place in the tree is not allowed" in text(wrong_level)
    no_parent = post_form(client, "/admin/units/new", {**base, "code": "NK-W", "parent": ""})
    assert no_parent.status_code == 400 and "This place in the tree is not allowed" in text(no_parent)
    assert {u.code for u in db_session.scalars(select(Unit))} == {"CT", "NK", "BT", "NK-TA", "BT-BT"}
    assert events(db_session) == []


def test_failure_messages_are_in_vietnamese_by_default(client, db_session):
    city = small_city(db_session)
    as_admin(client, lang="vi")
    resp = post_form(client, "/admin/units/new", {"code": "NK-TA", "level": "commune", "name_vi": "X",
                                                  "name_en": "", "parent": str(city.units["NK"].id)})
    html = text(resp)
    assert resp.status_code == 400
    assert "Đơn vị khác đã có mã này." in html and "Hãy nhập tên." in html


def test_rename_and_move_a_unit(client, db_session):
    city = small_city(db_session)
    as_admin(client)
    ta = city.units["NK-TA"].id
    resp = post_form(client, f"/admin/units/{ta}/edit", {
        "name_vi": "Phường Tân An mới", "name_en": "New Tan An Ward", "parent": str(city.units["BT"].id)})
    assert resp.status_code == 302
    moved = unit(db_session, "NK-TA")
    assert moved.parent.code == "BT" and moved.name_vi == "Phường Tân An mới"
    (event,) = events(db_session, "org.unit.update")
    assert event.before["name_vi"] == "Phường Tân An" and event.after["name_vi"] == "Phường Tân An mới"
    # moving a unit under its own descendant is refused
    bad = post_form(client, f"/admin/units/{city.units['CT'].id}/edit", {
        "name_vi": "TP", "name_en": "City", "parent": str(city.units["BT"].id)})
    assert bad.status_code == 400 and "cannot be moved under itself" in text(bad)
    assert unit(db_session, "CT").parent_id is None


def test_retire_needs_the_confirmation_box(client, db_session):
    city = small_city(db_session)
    as_admin(client)
    url = f"/admin/units/{city.units['BT-BT'].id}/retire"
    assert "Please confirm." in text(get(client, url))
    refused = post_form(client, url, {})
    assert refused.status_code == 400 and "Tick the box to confirm." in text(refused)
    assert unit(db_session, "BT-BT").retired_at is None
    assert post_form(client, url, {"confirm": "y"}).status_code == 302
    assert unit(db_session, "BT-BT").retired_at is not None
    assert [e.action for e in events(db_session)] == ["org.unit.retire"]
    html = text(get(client, "/admin/tree"))
    assert "retired" in html and f'href="{url}"' not in html  # no retire link on a retired unit


def test_merge_keeps_history_and_moves_agencies(client, db_session):
    from datetime import date

    from survey.database import utcnow
    from survey.respond.models import Response

    city = small_city(db_session)
    old = Response(client_id="old-1", questionnaire_version_id=city.questionnaires["counter-quick"].id,
                   agency_id=city.agencies["UBND-BT"].id, service_point_id=city.service_points["UBND-BT-SP1"].id,
                   channel="kiosk", language="vi", submitted_at=utcnow(), received_at=utcnow(),
                   period=date(2025, 6, 1))
    db_session.add(old)
    db_session.commit()
    as_admin(client)
    bt, nk = city.units["BT"].id, city.units["NK"].id
    page = text(get(client, f"/admin/units/{bt}/merge"))
    assert f'value="{nk}"' in page and f'value="{city.units["NK-TA"].id}"' not in page  # same level only
    refused = post_form(client, f"/admin/units/{bt}/merge", {"target": str(nk), "move_agencies": "y"})
    assert refused.status_code == 400 and unit(db_session, "BT").retired_at is None
    resp = post_form(client, f"/admin/units/{bt}/merge", {"target": str(nk), "move_agencies": "y", "confirm": "y"})
    assert resp.status_code == 302
    merged = unit(db_session, "BT")
    assert merged.retired_at is not None and merged.merged_into_id == nk
    assert {c.code for c in unit(db_session, "NK").children} == {"NK-TA", "BT-BT"}
    agency = db_session.scalar(select(Agency).where(Agency.code == "UBND-BT"))
    assert agency.unit_id == nk and agency.retired_at is None
    db_session.expire_all()
    assert db_session.get(Response, old.id).agency_id == agency.id  # old responses keep their agency
    assert "org.unit.merge" in [e.action for e in events(db_session)]
    assert "merged into NK" in text(get(client, "/admin/tree"))


def test_agency_create_edit_retire(client, db_session):
    city = small_city(db_session)
    as_admin(client)
    nk = str(city.units["NK"].id)
    resp = post_form(client, f"/admin/agencies/new?unit={nk}", {
        "code": "TTHC-NK", "name_vi": "Trung tâm HCC Ninh Kiều", "name_en": "Ninh Kieu Service Centre",
        "kind": "service_centre", "unit": nk})
    assert resp.status_code == 302
    agency = db_session.scalar(select(Agency).where(Agency.code == "TTHC-NK"))
    dup = post_form(client, "/admin/agencies/new", {"code": "STP", "name_vi": "a", "name_en": "a",
                                                    "kind": "other", "unit": nk})
    assert dup.status_code == 400 and "Another agency already has this code." in text(dup)
    resp = post_form(client, f"/admin/agencies/{agency.id}/edit", {
        "name_vi": "Trung tâm mới", "name_en": "New centre", "kind": "service_centre",
        "unit": str(city.units["BT"].id)})
    assert resp.status_code == 302
    db_session.expire_all()
    assert agency.unit.code == "BT" and agency.name_vi == "Trung tâm mới"
    stp = city.agencies["STP"]
    assert post_form(client, f"/admin/agencies/{stp.id}/retire", {}).status_code == 400
    assert post_form(client, f"/admin/agencies/{stp.id}/retire", {"confirm": "y"}).status_code == 302
    db_session.expire_all()
    assert stp.retired_at is not None and not city.service_points["STP-SP1"].active
    assert [e.action for e in events(db_session)] == [
        "org.agency.create", "org.agency.update", "org.service_point.update", "org.agency.retire"]


def test_service_point_create_edit_retire(client, db_session):
    city = small_city(db_session)
    as_admin(client)
    stp = str(city.agencies["STP"].id)
    bad = post_form(client, "/admin/service-points/new", {
        "code": "STP-SP2", "name_vi": "Quầy 2", "name_en": "Desk 2", "agency": stp,
        "kiosk_instrument": "Counter Quick", "link_instrument": "sipas-2017"})
    assert bad.status_code == 400 and "A questionnaire id has lower-case letters" in text(bad)
    resp = post_form(client, f"/admin/service-points/new?agency={stp}", {
        "code": "STP-SP2", "name_vi": "Quầy 2", "name_en": "Desk 2", "agency": stp,
        "kiosk_instrument": "counter-quick", "link_instrument": "sipas-2017", "official_on_duty": "Nguyễn Văn A"})
    assert resp.status_code == 302
    sp = db_session.scalar(select(ServicePoint).where(ServicePoint.code == "STP-SP2"))
    assert sp.agency.code == "STP" and sp.official_on_duty == "Nguyễn Văn A" and sp.active
    resp = post_form(client, f"/admin/service-points/{sp.id}/edit", {
        "name_vi": "Quầy số 2", "name_en": "Desk no. 2", "agency": str(city.agencies["UBND-NK"].id),
        "kiosk_instrument": "counter-quick", "link_instrument": "sipas-2017", "official_on_duty": ""})
    assert resp.status_code == 302
    db_session.expire_all()
    assert sp.agency.code == "UBND-NK" and sp.name_vi == "Quầy số 2" and sp.official_on_duty is None
    assert post_form(client, f"/admin/service-points/{sp.id}/retire", {"confirm": "y"}).status_code == 302
    db_session.expire_all()
    assert not sp.active
    update = events(db_session, "org.service_point.update")[0]
    assert update.before["agency_id"] == city.agencies["STP"].id
    assert update.after["agency_id"] == city.agencies["UBND-NK"].id


def test_unknown_ids_are_404(client, db_session):
    small_city(db_session)
    as_admin(client)
    for url in ("/admin/units/9999/edit", "/admin/agencies/9999/retire", "/admin/service-points/9999/edit"):
        assert get(client, url).status_code == 404
