"""The From/To month filters are selects of the months with data, named "Tháng 8/2022" — never the browser's
month input that shows "--------- ----" when empty; choosing one keeps it selected and filters."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from tests.dashboard.displaykit import add_responses
from tests.dashboard.helpers import forget_user, login
from tests.factories import small_city


@pytest.fixture
def city(db_session):
    city = small_city(db_session)
    qv = city.questionnaires["counter-quick"]
    for month in (8, 11):
        add_responses(db_session, qv.id, city.service_points["UBND-NK-SP1"].id, 12, datetime(2022, month, 10,
                                                                                            tzinfo=UTC))
    db_session.commit()
    return city


def _select(html: str, name: str) -> list[tuple[str, str, bool]]:
    block = re.search(rf'<select id="[^"]*" name="{name}">(.*?)</select>', html, re.S).group(1)
    return [(v, text.strip(), bool(sel)) for v, sel, text in
            re.findall(r'<option value="([^"]*)"( selected)?>([^<]*)</option>', block)]


@pytest.mark.parametrize("url", ["/dashboard/agency/UBND-NK", "/dashboard/agency/UBND-NK/comments"])
def test_month_filters_offer_the_months_with_data_by_name(client, city, url):
    assert login(client, "noivu").status_code == 302
    forget_user()
    client.get("/lang/vi")
    html = client.get(url).get_data(as_text=True)
    assert 'type="month"' not in html
    options = _select(html, "from")
    assert options == [("", "Tháng đầu tiên có dữ liệu", False), ("2022-08", "Tháng 8/2022", False),
                       ("2022-11", "Tháng 11/2022", False)]
    assert _select(html, "to")[0] == ("", "Tháng gần nhất có dữ liệu", False)
    chosen = client.get(f"{url}?from=2022-11").get_data(as_text=True)
    assert ("2022-11", "Tháng 11/2022", True) in _select(chosen, "from")


def test_english_month_names(client, city):
    assert login(client, "noivu").status_code == 302
    forget_user()
    client.get("/lang/en")
    html = client.get("/dashboard/agency/UBND-NK").get_data(as_text=True)
    assert ("2022-08", "Month 8/2022", False) in _select(html, "from")
