"""Acceptance: citizen pages declare their icon, so a phone on slow 3G does not also fetch /favicon.ico and
get a full 404 page (about 2 KB, and one more round trip) on every page view."""

from __future__ import annotations

import pytest

from survey.extensions import db
from survey.respond import invitations as inv
from survey.respond.kiosk_auth import COOKIE
from tests.factories import small_city
from tests.respond.kiosk_factories import enrolled_kiosk
from tests.respond.linkkit import fresh_clients

ICON = '<link rel="icon" href="data:,">'


@pytest.fixture
def city(db_session):
    return small_city(db_session)


def test_phone_and_kiosk_pages_declare_an_inline_icon(app, db_session, city):
    client = fresh_clients(app)
    token = inv.create_batch(db.session, city.service_points["UBND-NK-SP1"], 1, 7).tokens[0]
    db.session.commit()
    pages = {url: client.get(url) for url in (f"/r/{token}", "/r/unknown-token-0123456789", "/s/UBND-NK-SP1",
                                              "/s/UBND-NK-SP1/poster", "/kiosk/enrol", "/kiosk")}
    _, credential = enrolled_kiosk(db_session)
    client.set_cookie(COOKIE, credential)
    pages["/kiosk (enrolled)"] = client.get("/kiosk")
    for url, page in pages.items():
        assert ICON in page.get_data(as_text=True), url


def test_invitations_cli_speaks_like_the_kiosk_cli(runner, city, tmp_path):
    """An official reads the expiry in local time (as `kiosks enrol` prints it), and one token is 'token'."""
    result = runner.invoke(args=["invitations", "create", "--service-point", "STP-SP1", "--count", "1",
                                 "--expires", "2", "--output-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    first = result.output.splitlines()[0]
    assert ": 1 token for STP-SP1," in first
    assert first.endswith("(Asia/Ho_Chi_Minh)") and "+00:00" not in first
