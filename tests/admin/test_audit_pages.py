"""The audit log page: readable before/after, filters, pagination, who may see it, and that it is
read-only (no route of the application edits or deletes audit events)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from survey.audit import record
from survey.audit.models import AuditEvent
from tests.admin.adminkit import as_admin, as_user, csrf_token, forget_user, get, login, post_form, text
from tests.factories import small_city


def add(session, n: int, action: str, actor: str, at: datetime, target: str = "X") -> None:
    for i in range(n):
        event = record(session, action, "unit", target, before={"name": f"old {i}"}, after={"name": f"new {i}"})
        event.actor, event.at = actor, at + timedelta(seconds=i)
    session.commit()


def test_an_admin_action_appears_with_a_readable_diff(client, db_session):
    city = small_city(db_session)
    as_admin(client)
    post_form(client, f"/admin/units/{city.units['NK-TA'].id}/edit",
              {"name_vi": "Phường Tân An 2", "name_en": "Tan An Ward", "parent": str(city.units["NK"].id)})
    html = text(get(client, "/admin/audit"))
    row = re.search(r'<tr class="audit-event" data-action="org.unit.update">(.*?)</table>\s*</td>', html, re.S).group(1)
    assert "admin" in row and "NK-TA" in row
    changed = re.search(r'<tr class="changed"><th scope="row">name_vi.*?</tr>', row, re.S).group(0)
    assert "(changed)" in changed and "Phường Tân An" in changed and "Phường Tân An 2" in changed
    assert '<tr><th scope="row">name_en</th>' in row  # unchanged fields are listed without the mark


def test_filters_and_pages(client, db_session):
    small_city(db_session)
    day = datetime(2026, 3, 10, 3, 0, tzinfo=UTC)  # 10:00 in Vietnam
    add(db_session, 60, "org.unit.update", "lan", day, target="NK")
    add(db_session, 5, "user.create", "minh", day + timedelta(days=2), target="tuan")
    as_admin(client)
    everything = text(get(client, "/admin/audit"))
    assert "Events: 65" in everything and "page 1 of 2" in everything
    second = text(get(client, "/admin/audit?page=2"))
    assert second.count('class="audit-event"') == 15
    assert "Events: 5" in text(get(client, "/admin/audit?action=user.create"))
    assert "Events: 60" in text(get(client, "/admin/audit?actor=lan"))
    assert "Events: 5" in text(get(client, "/admin/audit?target=tuan"))
    assert "Events: 60" in text(get(client, "/admin/audit?date_from=2026-03-10&date_to=2026-03-10"))
    assert "Events: 5" in text(get(client, "/admin/audit?date_from=2026-03-11"))
    assert "Events: 0" in text(get(client, "/admin/audit?actor=lan&action=user.create"))
    bad_date = get(client, "/admin/audit?date_from=not-a-date")
    assert bad_date.status_code == 400 and "Not a valid date value." in text(bad_date)  # said, and refused


def test_home_affairs_may_read_the_log_others_may_not(app, client, db_session):
    small_city(db_session)
    add(db_session, 1, "org.unit.update", "admin", datetime(2026, 1, 1, tzinfo=UTC))
    as_user(client, "noivu")
    assert "Events: 1" in text(get(client, "/admin/audit"))
    for name in ("ninhkieu", "tuphap"):
        other = app.test_client()
        login(other, name)
        assert get(other, "/admin/audit").status_code == 403


def test_the_log_cannot_be_changed_from_the_application(app, client, db_session):
    writes = {"POST", "PUT", "PATCH", "DELETE"}
    for rule in app.url_map.iter_rules():
        if "audit" in rule.rule or "audit" in rule.endpoint:
            assert not (rule.methods or set()) & writes, rule.rule
    small_city(db_session)
    add(db_session, 1, "org.unit.update", "admin", datetime(2026, 1, 1, tzinfo=UTC))
    as_admin(client)
    forget_user()
    token = csrf_token(text(client.get("/admin/audit")))
    forget_user()
    assert client.post("/admin/audit", data={"csrf_token": token}).status_code == 405
    assert db_session.query(AuditEvent).count() == 1


def test_diff_lists_every_field_and_shows_timestamps_in_local_time():
    from survey.admin.audit_views import diff

    changes = diff({"name": "a", "retired_at": None}, {"name": "a", "retired_at": "2026-03-10T03:00:00+00:00",
                                                       "merged_into": "NK"})
    assert [(c.key, c.before, c.after, c.changed) for c in changes] == [
        ("name", "a", "a", False), ("retired_at", None, "10/03/2026 10:00:00", True),
        ("merged_into", None, "NK", True)]
