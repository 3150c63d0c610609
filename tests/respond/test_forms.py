"""The answer-form registry: one field per item type, accepting exactly what the questionnaire rules accept."""

from __future__ import annotations

import pytest
from wtforms import RadioField, SelectMultipleField, TextAreaField

from questionnaires.loader import load_file, shipped
from survey import create_app
from survey.respond.answer_messages import validate_answers
from survey.respond.forms import QUESTION_TYPES, answer_form_class, item_options

QUESTIONNAIRES = [load_file(p) for p in shipped()]


@pytest.fixture(scope="module")
def app():
    return create_app({"TESTING": True, "DATABASE_URL": "sqlite://", "SECRET_KEY": "t"})


def _form(app, q, lang, data):
    with app.test_request_context(method="POST", data=data):
        form = answer_form_class(q, lang)(meta={"csrf": False})
        form.validate()
        return form


def _candidates(item):
    """Posted values a phone (or someone hand-crafting a request) might send for one item."""
    if item.type == "text":
        n = item.max_length or 50
        return ["", "  ", "ổn", "x" * n, "x" * (n + 1)]
    if item.type == "choice" and item.multiple:
        opts = [str(v) for v in item.values]
        return [[], [opts[0]], opts[:2], opts, [opts[0], opts[0]], [opts[0], "99"], ["abc"]]
    top = max(item.values)
    return ["", "0", "1", str(top), str(top + 1), "-1", "abc", " 2 ", "1.5"]


def test_registry_covers_every_item_type_of_the_shipped_questionnaires():
    used = {it.type for q in QUESTIONNAIRES for it in q.items()}
    assert used <= set(QUESTION_TYPES)
    q = next(q for q in QUESTIONNAIRES if q.id == "sipas-2017")
    form_class = answer_form_class(q, "vi")
    fields = {name: f.field_class for name, f in vars(form_class).items() if hasattr(f, "field_class")}
    assert fields["E1.1"] is RadioField
    assert fields["E1.EXP"] is SelectMultipleField
    assert issubclass(fields["COMMENT"], TextAreaField)
    assert answer_form_class(q, "vi") is form_class and answer_form_class(q, "en") is not form_class


@pytest.mark.parametrize("q", QUESTIONNAIRES, ids=lambda q: q.id)
@pytest.mark.parametrize("lang", ["vi", "en"])
def test_form_accepts_exactly_what_validate_answers_accepts(app, q, lang):
    """Each posted value, alone: the field's verdict equals the questionnaire rules' verdict on the raw value."""
    checked = 0
    for item in q.items():
        for raw in _candidates(item):
            form = _form(app, q, lang, {item.code: raw})
            with app.app_context():  # the messages are translated with the app's catalogues
                rule = validate_answers(q, {item.code: raw if raw != [] else None}, lang).get(item.code)
            assert form[item.code].errors == ([rule] if rule else []), (item.code, raw)
            checked += 1
    assert checked > 20


def test_hand_checked_verdicts(app):
    counter = next(q for q in QUESTIONNAIRES if q.id == "counter-quick")
    sipas = next(q for q in QUESTIONNAIRES if q.id == "sipas-2017")
    # a 3-level scale without "no opinion": 3 is the top, 4 and 0 are not levels
    assert not _form(app, counter, "en", {"C.E1": "3"})["C.E1"].errors
    assert _form(app, counter, "en", {"C.E1": "4"})["C.E1"].errors
    assert "No opinion" in _form(app, counter, "en", {"C.E1": "0"})["C.E1"].errors[0]
    # sipas offers "no opinion" (0) on its 5-level scale
    assert not _form(app, sipas, "vi", {"E1.1": "0"})["E1.1"].errors
    assert _form(app, sipas, "vi", {"E1.EXP": ["1", "2", "3", "4"]})["E1.EXP"].errors == [
        "Vui lòng chọn tối đa 3 phương án."]
    # required item missing; optional items may stay blank
    form = _form(app, counter, "vi", {"C.HANDLING": "2"})
    assert form["C.ATT"].errors == ["Vui lòng chọn một mức đánh giá."]
    assert not form["C.E1"].errors and not form["C.HANDLING"].errors


def test_answers_are_converted_for_the_store(app):
    sipas = next(q for q in QUESTIONNAIRES if q.id == "sipas-2017")
    data = {"E1.1": "4", "E1.2": "0", "E1.EXP": ["3", "1"], "OVERALL.SAT": "5", "COMMENT": "dòng 1\r\ndòng 2",
            "E2.1": ""}
    form = _form(app, sipas, "vi", data)
    assert form.answers() == {"E1.1": 4, "E1.2": 0, "E1.EXP": [3, 1], "OVERALL.SAT": 5, "COMMENT": "dòng 1\ndòng 2"}


def test_line_breaks_count_once_like_the_browser_counts_them(app):
    counter = next(q for q in QUESTIONNAIRES if q.id == "counter-quick")
    limit = counter.item("COMMENT").max_length
    text = ("y" * 9 + "\r\n") * (limit // 10)  # exactly `limit` characters with LF line breaks
    assert not _form(app, counter, "vi", {"COMMENT": text})["COMMENT"].errors
    assert _form(app, counter, "vi", {"COMMENT": text + "z"})["COMMENT"].errors


def test_client_id_must_be_a_uuid(app):
    q = QUESTIONNAIRES[0]
    with app.test_request_context(method="POST", data={"client_id": "not-a-uuid"}):
        form = answer_form_class(q, "en")(meta={"csrf": False})
        form.validate()
    assert "out of date" in form.client_id.errors[0]


def test_options_in_the_users_language_with_no_opinion_last():
    sipas = next(q for q in QUESTIONNAIRES if q.id == "sipas-2017")
    item = sipas.item("E1.1")
    vi, en = item_options(item, "vi"), item_options(item, "en")
    assert [v for v, _ in vi] == ["1", "2", "3", "4", "5", "0"]
    assert vi[-1][1] == item.scale.no_opinion.vi and en[-1][1] == item.scale.no_opinion.en
