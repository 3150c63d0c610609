"""Receipt tokens (`/r/<token>`) carry the poster's limits (attacker pass, helper H, session 12).

The attack: an official holding a batch of unused receipts answers them one after another from one browser;
25 of 25 were stored and counted.  Now a phone, a network and a service point are limited as on the poster
(docs/security.md §2): over the phone's or the network's limit the citizen is asked to come back later and the
token stays usable; beyond the hourly ceiling the answer is stored held (not counted) until reviewed.
"""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from survey.extensions import db
from survey.respond import invitations as inv
from survey.respond import poster_guard
from survey.respond.models import Invitation, Response
from tests.factories import small_city
from tests.respond.linkkit import counted, form_page, fresh_clients, hidden, stored_with
from tests.results.factories import DEFAULT_NOW, fix_clock

SP = "UBND-NK-SP1"
OFFICE = "203.0.113.9"


@pytest.fixture
def city(app, db_session):
    fix_clock(app, DEFAULT_NOW)  # the network key is the UTC day's hash of the address
    return small_city(db_session)


def _tokens(city, n: int) -> list[str]:
    created = inv.create_batch(db.session, city.service_points[SP], n, 30)
    db.session.commit()
    return created.tokens


def _answer(client, token: str, address: str = OFFICE, *, drop_cookie: bool = False) -> int:
    """One receipt answered "very satisfied" from `client` (a browser) on network `address`."""
    if drop_cookie:
        client.delete_cookie("hl_device")
    page = client.get(f"/r/{token}", environ_base={"REMOTE_ADDR": address})
    if page.status_code != 200:
        return page.status_code
    html = page.get_data(as_text=True)
    fields = {"csrf_token": hidden(html, "csrf_token"), "client_id": hidden(html, "client_id")}
    data = {**fields, "client_id": str(uuid.uuid4()), "OVERALL.SAT": "5"}
    return client.post(f"/r/{token}", data=data, environ_base={"REMOTE_ADDR": address}).status_code


def _counted() -> int:
    return counted(db.session)


def _stored(status=...) -> int:
    return stored_with(db.session, status)


def _used() -> int:
    db.session.expire_all()
    return int(db.session.scalar(select(func.count()).select_from(Invitation).where(Invitation.used_at.is_not(None))))


def test_one_browser_answering_25_receipts_in_a_row_counts_one(app, city):
    tokens = _tokens(city, 25)
    browser = fresh_clients(app)
    statuses = [_answer(browser, t) for t in tokens]
    assert statuses[0] == 303 and statuses[1:] == [429] * 24
    assert _stored() == 1 and _counted() == 1
    assert _used() == 1, "a refused receipt stays usable"
    page = browser.get(f"/r/{tokens[1]}", environ_base={"REMOTE_ADDR": OFFICE})
    html = page.get_data(as_text=True)
    assert page.status_code == 429 and "vừa trả lời gần đây" in html and "<form" not in html.split("<main", 1)[1]
    # the citizen who holds that receipt answers it later from their own phone and network
    assert _answer(fresh_clients(app), tokens[1], "198.51.100.30") == 303
    assert _counted() == 2


def test_dropping_the_cookie_before_each_receipt_counts_at_most_the_network_limit(app, city):
    tokens = _tokens(city, 25)
    browser = fresh_clients(app)
    statuses = [_answer(browser, t, drop_cookie=True) for t in tokens]
    limit = poster_guard.check_limit(poster_guard.DEFAULT_NETWORK_LIMIT, "default").amount
    assert statuses.count(303) == limit < 25 and statuses.count(429) == 25 - limit
    assert _counted() == limit and _used() == limit


def test_beyond_the_hourly_ceiling_receipt_answers_are_held_not_counted(app, city):
    app.config.update(HAILONG_LINK_POINT_CEILING="5 per hour", HAILONG_LINK_NETWORK_LIMIT="50 per hour")
    tokens = _tokens(city, 12)
    statuses = [_answer(fresh_clients(app), t, f"10.0.{i}.1") for i, t in enumerate(tokens)]
    assert statuses == [303] * 12, "the citizen always sees the thanks page"
    assert _stored() == 12 and _used() == 12
    assert _counted() == 5 and _stored(None) == 5 and _stored("held") == 7
    held = db.session.scalars(select(Response).where(Response.review_status == "held")).all()
    assert {r.review_reason for r in held} == {poster_guard.RECEIPT_CEILING_REASON}
    assert all(r.invitation_id is not None and r.channel == "qr" for r in held)


def test_the_ceiling_is_shared_with_the_poster(app, city):
    """Posters and receipts of one service point fill one hourly ceiling: stuffing both does not double it."""
    app.config.update(HAILONG_LINK_POINT_CEILING="3 per hour", HAILONG_LINK_NETWORK_LIMIT="50 per hour")
    city.service_points[SP].link_instrument = "sipas-2017"
    db.session.commit()
    for i in range(3):
        phone = fresh_clients(app)
        _html, fields = form_page(phone, f"/s/{SP}")
        posted = phone.post(f"/s/{SP}", data={**fields, "OVERALL.SAT": "5"},
                            environ_base={"REMOTE_ADDR": f"10.1.{i}.1"})
        assert posted.status_code == 303
    assert _answer(fresh_clients(app), _tokens(city, 1)[0], "10.2.0.1") == 303
    assert _counted() == 3 and _stored("held") == 1


def test_a_citizen_with_one_receipt_is_unaffected(app, city):
    app.config["HAILONG_POSTER_COUNTS"] = 0  # a deployment that keeps POSTER answers out: receipts still count
    token = _tokens(city, 3)[0]
    assert _answer(fresh_clients(app), token) == 303
    assert _stored(None) == 1 and _counted() == 1


def test_many_citizens_on_the_office_wifi_meet_the_posters_network_limit(app, city):
    """Each with their own phone, all on one network: as on the poster, the network limit (5 per hour) asks the
    sixth to come back later (a polite page; the receipt stays usable), and nothing is held."""
    tokens = _tokens(city, 7)
    statuses = [_answer(fresh_clients(app), t) for t in tokens]
    assert statuses == [303] * 5 + [429] * 2
    assert _counted() == 5 and _stored("held") == 0 and _used() == 5
    page = fresh_clients(app).get(f"/r/{tokens[5]}", environ_base={"REMOTE_ADDR": OFFICE})
    assert page.status_code == 429 and "mạng" in page.get_data(as_text=True)
