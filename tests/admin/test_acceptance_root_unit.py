"""The root unit (the whole city) offers neither Merge nor Retire on the tree page, and the server refuses
both — a typed URL or a forged POST — with a reason in the user's language; nothing changes."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from survey.org import service as svc
from survey.org.models import Unit
from tests.admin.adminkit import as_admin, csrf_token, events, forget_user, get
from tests.factories import small_city

REASON = {"en": "CT is the root of the tree (the whole province or city): it cannot be merged or retired",
          "vi": "CT là gốc của cây (toàn tỉnh/thành phố): không thể sáp nhập hay cho ngừng hoạt động"}


def _actions(html: str, code: str) -> str:
    line = re.search(rf'id="unit-{code}">\s*<div class="node-line">(.*?)</div>', html, re.S)
    return line.group(1)


def test_tree_page_offers_no_merge_or_retire_for_the_root(client, db_session):
    city = small_city(db_session)
    as_admin(client, "vi")
    html = get(client, "/admin/tree").get_data(as_text=True)
    root, district = _actions(html, "CT"), _actions(html, "NK")
    assert f"/units/{city.units['CT'].id}/merge" not in root and f"/units/{city.units['CT'].id}/retire" not in root
    assert "Sáp nhập" not in root and "Ngừng hoạt động" not in root
    assert "Thêm đơn vị cấp dưới" in root or "/admin/units/new" in root  # other actions stay
    assert f"/units/{city.units['NK'].id}/merge" in district and "Sáp nhập" in district


@pytest.mark.parametrize("lang", ["vi", "en"])
@pytest.mark.parametrize("action", ["merge", "retire"])
def test_server_refuses_to_merge_or_retire_the_root(client, db_session, lang, action):
    city = small_city(db_session)
    as_admin(client, lang)
    root = city.units["CT"]
    page = get(client, f"/admin/units/{root.id}/{action}")
    assert page.status_code == 302 and page.headers["Location"].endswith("/admin/tree")
    assert REASON[lang] in get(client, "/admin/tree").get_data(as_text=True)
    # a forged POST (token from a legitimate form) changes nothing either
    token = csrf_token(get(client, f"/admin/units/{city.units['NK'].id}/{action}").get_data(as_text=True))
    forget_user()
    resp = client.post(f"/admin/units/{root.id}/{action}",
                       data={"csrf_token": token, "confirm": "y", "target": str(city.units["BT"].id)})
    assert resp.status_code == 302
    db_session.expire_all()
    stored = db_session.scalar(select(Unit).where(Unit.code == "CT"))
    assert stored.retired_at is None and stored.merged_into_id is None
    assert events(db_session) == []


def test_service_refuses_the_root_outside_the_web(db_session):
    city = small_city(db_session)
    root = city.units["CT"]
    with pytest.raises(svc.OrgError, match="root of the tree"):
        svc.retire_unit(db_session, root)
    with pytest.raises(svc.OrgError, match="root of the tree"):
        svc.merge_units(db_session, [root], city.units["NK"])
    assert root.retired_at is None
