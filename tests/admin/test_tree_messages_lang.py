"""The tree's own error messages reach the admin in the page language: the row errors of an import dry run
(with the line and the field as written in the file) and the rules only the tree service knows, shown on
the create/move forms.  The CLI keeps English (tests/org/test_org_import.py)."""

from __future__ import annotations

import re
from html import unescape

from sqlalchemy import select

from survey.org.models import Unit
from tests.admin.adminkit import as_admin, events, post_form, text
from tests.admin.test_tree_import import upload
from tests.factories import small_city

BAD = ("type,code,parent,level,name_vi,name_en\n"
       "unit,NK-AH,NOPE,commune,Phường An Hòa,An Hoa Ward\n"
       "unit,bad code,NK,commune,,X\n"
       "unit,NK-AH,NK,commune,Phường An Hòa,An Hoa Ward\n"
       "unit,NK-X,NK,province,X,X\n")
BAD_YAML = ("units:\n"
            "  - code: NK-AH\n"
            "    level: commune\n"
            "    colour: red\n")


def problems(html: str) -> dict[tuple[int, str], str]:
    """(line, field) → problem, from the dry run's error table."""
    rows = re.findall(r"<tr><td class=\"num\">(\d+)</td><td><code>([^<]+)</code></td><td>([^<]+)</td></tr>", html)
    return {(int(line), field): unescape(message) for line, field, message in rows}


def test_dry_run_row_errors_are_in_vietnamese_with_line_and_field(client, db_session):
    small_city(db_session)
    as_admin(client, lang="vi")
    resp = upload(client, BAD)
    html = text(resp)
    assert resp.status_code == 400
    assert "Số lỗi tìm thấy: 5. Không có gì được nhập." in html
    found = problems(html)
    assert found[(2, "parent")].startswith("mã đơn vị cấp trên 'NOPE' không tồn tại")
    assert found[(3, "code")].startswith("mã 'bad code' phải gồm 1–32 chữ cái")
    assert found[(3, "name_vi")] == "thiếu tên"
    assert found[(4, "code")] == "mã 'NK-AH' bị trùng (đã có ở dòng 2)"
    assert found[(5, "level")] == "cấp 'province' không tồn tại (các cấp hiện có: city, district, commune)"
    assert not re.search(r"unknown|missing|duplicate", " ".join(found.values()))
    assert "NK-AH" not in set(db_session.scalars(select(Unit.code)))


def test_dry_run_row_errors_are_in_english_for_an_english_page(client, db_session):
    small_city(db_session)
    as_admin(client, lang="en")
    html = text(upload(client, BAD))
    assert "Problems found: 5. Nothing was imported." in html
    found = problems(html)
    assert found[(2, "parent")] == "unknown parent unit 'NOPE' (not in this file or the database)"
    assert found[(3, "name_vi")] == "missing name"
    assert found[(4, "code")] == "duplicate code 'NK-AH' (first on line 2)"


def test_yaml_errors_are_translated_too(client, db_session):
    small_city(db_session)
    as_admin(client, lang="vi")
    found = problems(text(upload(client, BAD_YAML, "tree.yaml")))
    assert found[(4, "colour")].startswith("trường không hợp lệ cho đơn vị (dùng: code, level,")
    assert found[(2, "parent")] == ("thiếu đơn vị cấp trên: đơn vị ở cấp 'commune' phải có đơn vị cấp trên "
                                    "(chỉ cấp cao nhất không có)")
    assert found[(2, "name_vi")] == "thiếu tên"


def move_nk_under(client, city, target: str):
    nk = city.units["NK"].id
    return post_form(client, f"/admin/units/{nk}/edit", {
        "name_vi": "Quận Ninh Kiều", "name_en": "Ninh Kieu District", "parent": str(city.units[target].id)})


def test_moving_a_unit_under_its_own_descendant_is_refused_in_vietnamese(client, db_session):
    city = small_city(db_session)
    as_admin(client, lang="vi")
    resp = move_nk_under(client, city, "NK-TA")
    assert resp.status_code == 400
    assert ("Không thể đặt ở vị trí này trong cây: không thể chuyển đơn vị NK vào bên dưới chính nó hoặc một "
            "đơn vị cấp dưới của nó") in unescape(text(resp))
    wrong_level = unescape(text(move_nk_under(client, city, "BT-BT")))
    assert ("cấp 'district' (thứ bậc 1) không thấp hơn cấp của đơn vị cấp trên BT-BT (commune, thứ bậc 2)"
            in wrong_level)
    db_session.expire_all()
    assert db_session.get(Unit, city.units["NK"].id).parent.code == "CT"
    assert events(db_session) == []


def test_the_same_refusal_is_in_english_on_an_english_page(client, db_session):
    city = small_city(db_session)
    as_admin(client, lang="en")
    html = unescape(text(move_nk_under(client, city, "NK-TA")))
    assert ("This place in the tree is not allowed: unit NK cannot be moved under itself or its own descendant"
            in html)
    assert "không thể" not in html
