"""A request that fails half-way through a write still gets the "something went wrong" page, and nothing of
it is kept: the error page rolls the failed transaction back before it reads anything (survey/web.py),
instead of failing a second time on the broken session (PendingRollbackError, a bare 500)."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException, InternalServerError

from survey.extensions import db
from survey.org.models import Unit
from tests.factories import small_city


def test_a_write_that_fails_mid_request_shows_the_error_page_and_keeps_nothing(app, db_session):
    city = small_city(db_session)
    nk = city.units["NK"]
    error_page = app.error_handler_spec[None][None][HTTPException]
    with app.test_request_context("/admin/tree"):
        db.session.add(Unit(code="HALF", level_code=nk.level_code, name_vi="Nửa", name_en="Half",
                            parent_id=nk.parent_id))
        db.session.add(Unit(code=nk.code, level_code=nk.level_code, name_vi="X", name_en="X", parent_id=nk.parent_id))
        with pytest.raises(IntegrityError):
            db.session.flush()  # the duplicate code: the session's transaction is broken
        body, status = error_page(InternalServerError())
        assert status == 500 and "Đã có lỗi xảy ra. Vui lòng thử lại." in body  # (Vietnamese, the default)
        assert db.session.scalar(select(Unit).where(Unit.code == "HALF")) is None
