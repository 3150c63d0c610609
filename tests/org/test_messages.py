"""Tree rule messages follow the language of the request that broke the rule, and stay English without one
(the CLI and background code have no user)."""

from __future__ import annotations

import pytest

from survey.org import service as svc
from tests.factories import small_city


def duplicate_unit_message(session) -> str:
    with pytest.raises(svc.OrgError) as caught:
        svc.create_unit(session, code="NK", name_vi="Quận", name_en="District", level_code="district",
                        parent=svc.unit_by_code(session, "CT"))
    assert caught.value.field == "code"
    return caught.value.message


@pytest.mark.parametrize(("accept", "expected"), [
    ("vi", "trùng mã: đơn vị 'NK' đã tồn tại"),
    ("en", "duplicate code: unit 'NK' already exists"),
], ids=["vi", "en"])
def test_a_service_error_is_worded_in_the_request_language(app, db_session, accept, expected):
    small_city(db_session)
    with app.test_request_context("/", headers={"Accept-Language": accept}):
        assert duplicate_unit_message(db_session) == expected


def test_without_a_request_the_message_is_english(app, db_session):
    small_city(db_session)
    assert duplicate_unit_message(db_session) == "duplicate code: unit 'NK' already exists"
