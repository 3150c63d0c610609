"""Dashboard wording: channels named in the reader's language, missing intervals explained."""

from __future__ import annotations

import pytest

from tests.dashboard.helpers import get, login
from tests.results.factories import city_with_responses


@pytest.fixture
def data(db_session):
    return city_with_responses(db_session, per_point=36)


@pytest.mark.parametrize("url", ["/dashboard/", "/homeaffairs/"])
def test_channel_filter_is_translated(client, data, url):
    login(client, "noivu")
    html = get(client, url).get_data(as_text=True)
    assert '<option value="kiosk">Máy đánh giá tại quầy</option>' in html  # one word per concept (issue 12)
    assert '<option value="paper">Phiếu giấy</option>' in html
    html_en = get(client, url, headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "QR link (phone)" in html_en


def test_an_agency_with_one_service_point_says_why_it_has_no_interval(app, client, data):
    # design "clusters": UBND-NK-TA answers only at its one counter, design df = 0, no variance estimate
    app.config["HAILONG_DESIGN"] = "clusters"
    login(client, "noivu")
    html = get(client, "/dashboard/agency/UBND-NK-TA").get_data(as_text=True)
    assert "không có khoảng: chỉ một điểm phục vụ" in html
    assert "— – —" not in html
    assert "các điểm phục vụ được coi là một mẫu ngẫu nhiên các quầy" in html  # the method note says so


def test_one_counter_has_an_interval_when_counters_are_strata(app, client, data):
    # design "counters" (default): the citizens answering at the one counter are the sample
    app.config["HAILONG_DESIGN"] = "counters"
    login(client, "noivu")
    html = get(client, "/dashboard/agency/UBND-NK-TA").get_data(as_text=True)
    assert "không có khoảng" not in html
    overall = html[html.index('id="overall"'):]
    overall = overall[:overall.index("</p>")]
    assert "KTC 95%" in overall and "n = " in overall
    assert "mỗi điểm phục vụ là một tầng" in html
