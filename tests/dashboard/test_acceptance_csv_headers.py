"""Acceptance finding: CSV downloads announced `text/csv; charset=utf-8; charset=utf-8` (Flask appends a
charset to a text `mimetype` that already has one). A duplicated parameter is a malformed header that
strict clients (proxies, spreadsheet importers) may reject; every CSV must carry exactly one charset."""

from __future__ import annotations

import pytest

from tests.dashboard.hakit import login
from tests.results.factories import city_with_responses


@pytest.fixture
def data(db_session):
    return city_with_responses(db_session, per_point=6, months=1)


@pytest.mark.parametrize("url", [
    "/dashboard/agency/STP?format=csv",
    "/dashboard/agency/STP/comments?format=csv",
    "/homeaffairs/export.csv?level=agency&table=estimates",
])
def test_csv_downloads_name_their_charset_once(client, data, url):
    login(client, "noivu")
    resp = client.get(url)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert resp.get_data(as_text=True).lstrip("\ufeff").strip()  # and it still has content
