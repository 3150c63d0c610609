"""Every form's error messages appear in the page's language: WTForms' and Flask-WTF's own messages
("This field is required.", length, choice, number, date, CSRF) included."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator

import flask_wtf
import pytest
from flask_babel import force_locale
from werkzeug.datastructures import MultiDict

import survey
from survey.forms import FlaskForm
from tests.dashboard.helpers import csrf_token, forget_user, login
from tests.factories import small_city

ENGLISH_LIBRARY_WORDS = ("This field", "Field must", "Field cannot", "Not a valid", "Invalid", "CSRF", "must be")


def _all_forms() -> list[type]:
    for module in pkgutil.walk_packages(survey.__path__, "survey."):
        importlib.import_module(module.name)

    def walk(cls: type) -> Iterator[type]:
        for sub in cls.__subclasses__():
            yield sub
            yield from walk(sub)

    return sorted({c for c in walk(flask_wtf.FlaskForm) if c.__module__.startswith("survey.")},
                  key=lambda c: f"{c.__module__}.{c.__name__}")


def _is_vietnamese(message: str) -> bool:
    """Every Vietnamese message carries diacritics; the library's English ones are plain ASCII."""
    return not message.isascii() and not any(w in message for w in ENGLISH_LIBRARY_WORDS)


@pytest.fixture
def city(db_session):
    return small_city(db_session)


def test_every_form_uses_the_translating_base() -> None:
    forms = _all_forms()
    assert len(forms) >= 20
    strays = [f"{c.__module__}.{c.__name__}" for c in forms if not issubclass(c, FlaskForm)]
    assert strays == [], "import FlaskForm from survey.forms, not flask_wtf"


def test_every_staff_form_reports_its_errors_in_vietnamese(app, city) -> None:
    # Citizen answer forms (survey.respond.forms) are built per questionnaire and carry their own
    # messages in the respondent's language (survey/respond/validation); the base class is abstract.
    forms = [c for c in _all_forms() if c.__module__ != "survey.respond.forms" and c is not FlaskForm]
    seen: dict[str, list[str]] = {}
    for cls in forms:
        junk = MultiDict({name: "x" * 5000 for name in dir(cls) if not name.startswith("_")})
        for data in (MultiDict(), junk):  # nothing filled in; everything far too long / not a number
            with app.test_request_context("/", method="POST"), force_locale("vi"):
                form = cls(formdata=data)
                form.validate()
                for field, messages in form.errors.items():
                    seen.setdefault(f"{cls.__name__}.{field}", []).extend(str(m) for m in messages)
    english = {k: [m for m in v if not _is_vietnamese(m)] for k, v in seen.items()}
    assert {k: v for k, v in english.items() if v} == {}
    flat = [m for v in seen.values() for m in v]
    # the library's own messages were really produced (and translated), not only our custom ones
    assert "Mục này là bắt buộc." in flat
    assert any("không được dài quá" in m for m in flat)
    assert any("Lựa chọn không hợp lệ" in m for m in flat)
    assert any("Thiếu mã bảo vệ biểu mẫu" in m for m in flat)
    assert len(seen) >= 40


def _post_empty(client, url: str) -> str:
    forget_user()
    token = csrf_token(client.get(url).get_data(as_text=True))
    return client.post(url, data={"csrf_token": token}).get_data(as_text=True)


def test_login_and_password_pages_show_required_in_the_page_language(client, city) -> None:
    html = _post_empty(client, "/auth/login")
    assert html.count("Mục này là bắt buộc.") == 2 and "This field is required." not in html
    client.get("/lang/en")
    html = _post_empty(client, "/auth/login")
    assert "This field is required." in html and "Mục này là bắt buộc." not in html
    client.get("/lang/vi")
    login(client, "noivu")
    html = _post_empty(client, "/auth/password")
    assert "Mục này là bắt buộc." in html and "This field is required." not in html
