"""Channel filters name channels in the reader's language, not by their storage codes."""

from __future__ import annotations

import pytest

from tests.dashboard.helpers import get, login
from tests.results.factories import city_with_responses


@pytest.fixture
def data(db_session):
    return city_with_responses(db_session, per_point=5)


@pytest.mark.parametrize("url", ["/dashboard/", "/homeaffairs/"])
def test_channel_filter_is_translated(client, data, url):
    login(client, "noivu")
    html = get(client, url).get_data(as_text=True)
    assert '<option value="kiosk">Kiosk tại quầy</option>' in html
    assert '<option value="paper">Phiếu giấy</option>' in html
    html_en = get(client, url, headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "QR link (phone)" in html_en
