"""Acceptance: the Vietnamese a citizen reads on the phone pages and the kiosk.

Public-service surveys address the citizen as "Ông/Bà" (as every question does); the informal "bạn" on the
thank-you and explanation pages read as if written by someone else. The kiosk's status line must say
"connected" when online, not "connecting".
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask_babel import force_locale

from survey.database import utcnow
from survey.extensions import db
from survey.respond import invitations as inv
from survey.respond.kiosk import ui_strings
from survey.respond.models import InvitationBatch
from tests.factories import small_city
from tests.respond.linkkit import answer_everything, form_page, fresh_clients

INFORMAL = re.compile(r"\bbạn\b", re.IGNORECASE)


@pytest.fixture
def city(db_session):
    return small_city(db_session)


@pytest.fixture
def client(app):
    return fresh_clients(app)


def _visible_text(html: str) -> str:
    return re.sub(r"<[^>]+>", " ", html)


def test_phone_pages_address_the_citizen_as_ong_ba(client, city):
    created = inv.create_batch(db.session, city.service_points["UBND-NK-SP1"], 2, 30)
    db.session.commit()
    token, other = created.tokens
    q_html, fields = form_page(client, f"/r/{token}")
    from survey.questionnaire_versions.service import questionnaire_for

    q, _ids = questionnaire_for(db.session, city.questionnaires["sipas-2017"].id)
    data, _expected = answer_everything(q)
    thanks = client.post(f"/r/{token}", data={**fields, **data}, follow_redirects=True)
    used = client.get(f"/r/{token}")
    unknown = client.get("/r/not-a-token-at-all-0123456789")
    db.session.get(InvitationBatch, created.batch.id).expires_at = utcnow() - timedelta(days=1)
    db.session.commit()
    expired = client.get(f"/r/{other}")
    pages = {"form": q_html, "thanks": thanks.get_data(as_text=True), "used": used.get_data(as_text=True),
             "unknown": unknown.get_data(as_text=True), "expired": expired.get_data(as_text=True)}
    assert "Ông/Bà" in _visible_text(pages["thanks"])
    for name, html in pages.items():
        text = _visible_text(html)
        assert 'lang="vi"' in html, name
        assert not INFORMAL.search(text), f"{name}: {INFORMAL.search(text).group(0)!r} in the Vietnamese page"


def test_kiosk_status_says_connected_when_online(app):
    with force_locale("vi"):
        words = ui_strings()
    assert words["online"] == "Đã kết nối"
    assert words["offline"] == "Mất kết nối"
    assert not INFORMAL.search(" ".join(words.values()))
