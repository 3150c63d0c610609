"""One way to refuse (survey/errors.py): a refusal no view catches is a 400 in the user's language — the
error page, or under /api/ the documented JSON body — and a code means one message everywhere."""

from __future__ import annotations

import pytest

from survey import create_app
from survey.auth.user_service import UserError
from survey.errors import N_, register, translate
from survey.org.service import OrgError


@pytest.fixture(scope="module")
def app():
    app = create_app({"TESTING": True, "DATABASE_URL": "sqlite://", "SECRET_KEY": "t"})

    @app.get("/refused")
    def refused():
        raise UserError("username_taken", "username")

    @app.get("/api/v1/refused")
    def api_refused():
        raise OrgError("unit_code_taken", "code", code="NK")

    return app


@pytest.mark.parametrize(("lang", "words"), [("vi", "Tên đăng nhập"), ("en", "This user name is already taken.")])
def test_an_uncaught_refusal_is_a_400_page_in_the_users_language(app, lang, words):
    resp = app.test_client().get("/refused", headers={"Accept-Language": lang})
    assert resp.status_code == 400
    assert words in resp.get_data(as_text=True)


def test_an_uncaught_refusal_under_the_api_is_the_documented_json(app):
    resp = app.test_client().get("/api/v1/refused", headers={"Accept-Language": "en"})
    assert resp.status_code == 400
    assert resp.get_json() == {"error": "invalid", "message": "duplicate code: unit 'NK' already exists",
                               "errors": {"code": "duplicate code: unit 'NK' already exists"}}


def test_a_code_cannot_mean_two_things():
    register({"h8_test_code": N_("one text")})
    with pytest.raises(ValueError, match="h8_test_code"):
        register({"h8_test_code": N_("another text")})


def test_outside_a_request_the_message_is_english_and_parameters_are_filled():
    assert translate("unit_retired", {"code": "Q1"}) == "unit Q1 is retired"
