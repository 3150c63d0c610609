"""A questionnaire draft that was never published (and has no responses) can be deleted, audited; a published
or retired version cannot."""

from __future__ import annotations

import json

from survey.questionnaire_versions.models import Item
from tests.admin.adminkit import as_admin, events, get, post_form, text
from tests.admin.test_questionnaires_pages import NEXT, sipas_v2, upload, version
from tests.factories import small_city


def test_a_draft_is_deleted_with_its_items_and_audited(client, db_session):
    small_city(db_session)
    as_admin(client)
    upload(client, json.dumps(sipas_v2()).encode())
    draft = version(db_session, "sipas-2017", NEXT)
    assert draft is not None and draft.status == "draft"
    draft_id = draft.id
    page = text(get(client, f"/admin/questionnaires/{draft_id}"))
    assert "Delete this draft" in page
    resp = post_form(client, f"/admin/questionnaires/{draft_id}", {},
                     to=f"/admin/questionnaires/{draft_id}/delete", follow=True)
    assert resp.status_code == 200 and f"Draft sipas-2017 v{NEXT} deleted." in text(resp)
    assert version(db_session, "sipas-2017", NEXT) is None
    assert db_session.query(Item).filter(Item.questionnaire_version_id == draft_id).count() == 0
    [event] = events(db_session, "questionnaire.delete")
    assert event.before["version"] == NEXT and event.actor == "admin"
    # the same version number can be uploaded again afterwards
    upload(client, json.dumps(sipas_v2()).encode())
    assert version(db_session, "sipas-2017", NEXT).status == "draft"


def test_a_published_version_is_not_deleted(client, db_session):
    city = small_city(db_session)
    as_admin(client)
    qv = city.questionnaires["sipas-2017"]
    assert "Delete this draft" not in text(get(client, f"/admin/questionnaires/{qv.id}"))
    resp = post_form(client, f"/admin/questionnaires/{qv.id}", {}, to=f"/admin/questionnaires/{qv.id}/delete")
    assert resp.status_code == 409 and "Only a draft that was never published" in text(resp)
    assert version(db_session, "sipas-2017", qv.version) is not None
    assert events(db_session, "questionnaire.delete") == []
