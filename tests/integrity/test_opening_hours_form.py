"""Opening hours of a service point set on the admin edit form: validated in the user's language, audited,
and then used by the integrity scan's time-of-day signal."""

from __future__ import annotations

from sqlalchemy import select

from analysis.integrity import OpeningHours
from survey.org.models import ServicePoint
from tests.admin.adminkit import as_admin, events, post_form, text
from tests.factories import small_city
from tests.integrity.factories import TODAY


def _form(sp: ServicePoint, hours: str) -> dict[str, str]:
    return {"name_vi": sp.name_vi, "name_en": sp.name_en, "agency": str(sp.agency_id),
            "kiosk_instrument": "counter-quick", "link_instrument": "sipas-2017", "opening_hours": hours}


def test_opening_hours_are_saved_audited_and_used_by_the_scan(client, db_session) -> None:
    city = small_city(db_session)
    sp = city.service_points["STP-SP1"]
    as_admin(client)
    url = f"/admin/service-points/{sp.id}/edit"
    resp = post_form(client, url, _form(sp, " Mon-Sat 07:00-11:30,13:00-20:00 "))
    assert resp.status_code == 302
    db_session.expire_all()
    assert sp.opening_hours == "Mon-Sat 07:00-11:30,13:00-20:00"
    # Saturday evening is now within the hours (it was not with the office-hours default)
    saturday_evening = TODAY.replace(day=1)
    while saturday_evening.weekday() != 5:
        saturday_evening = saturday_evening.replace(day=saturday_evening.day + 1)
    from datetime import datetime, time

    evening = datetime.combine(saturday_evening, time(19, 0))
    assert OpeningHours.parse(sp.opening_hours).is_open(evening) and not OpeningHours().is_open(evening)
    [event] = events(db_session, "service_point.opening_hours")
    assert event.before == {"opening_hours": None}
    assert event.after == {"opening_hours": "Mon-Sat 07:00-11:30,13:00-20:00"}
    # the form shows the stored value; saving it unchanged records nothing
    assert "Mon-Sat 07:00-11:30,13:00-20:00" in text(client.get(url))
    assert post_form(client, url, _form(sp, "Mon-Sat 07:00-11:30,13:00-20:00")).status_code == 302
    assert len(events(db_session, "service_point.opening_hours")) == 1
    # other spaces (a no-break space pasted from a document) are stored as one ASCII space
    assert post_form(client, url, _form(sp, "Mon-Fri\u00a007:30-11:30,13:30-17:00\u2028")).status_code == 302
    db_session.expire_all()
    assert sp.opening_hours == "Mon-Fri 07:30-11:30,13:30-17:00"
    # emptied: back to office hours
    assert post_form(client, url, _form(sp, "")).status_code == 302
    db_session.expire_all()
    assert sp.opening_hours is None


def test_hostile_opening_hours_are_refused_with_a_message_in_the_users_language(client, db_session) -> None:
    city = small_city(db_session)
    sp = city.service_points["STP-SP1"]
    url = f"/admin/service-points/{sp.id}/edit"
    for lang, phrase in (("en", "Opening hours look like"), ("vi", "Giờ làm việc có dạng")):
        as_admin(client, lang=lang)
        for hostile in ("17:00-08:00", "Sun-Mon 08:00-11:00", "<script>alert(1)</script>", "25:00-26:00",
                        "Mon-Fri " + "07:00-08:00," * 20, "Mon-Fri 07:00-11:00 extra",
                        "０７:３０-１１:３０", "٠٧:٣٠-١١:٣٠"):
            resp = post_form(client, url, _form(sp, hostile))
            assert resp.status_code == 400, hostile
            assert phrase in text(resp), hostile
            assert "<script>alert" not in resp.get_data(as_text=True)
        assert post_form(client, url, _form(sp, "08:00-11:00\x00")).status_code == 400  # the request guard
    db_session.expire_all()
    assert db_session.scalar(select(ServicePoint.opening_hours).where(ServicePoint.id == sp.id)) is None
    assert events(db_session, "service_point.opening_hours") == []
