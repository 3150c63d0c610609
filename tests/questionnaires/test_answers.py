"""validate_answers: what the citizen sees when a submission cannot be stored, in Vietnamese and English."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from questionnaires import Questionnaire, load_dict, load_shipped, validate_answers

Factory = Callable[[], dict[str, Any]]


@pytest.fixture
def q(tiny: Factory) -> Questionnaire:
    return load_dict(tiny())


def test_complete_valid_answers_pass(q: Questionnaire) -> None:
    answers = {"A1": 5, "A2": 0, "A.EXP": [1, 3], "B1": 2, "B.KIND": 1, "COMMENT": "Tốt lắm"}
    assert validate_answers(q, answers, "vi") == {}


def test_only_required_items_are_needed(q: Questionnaire) -> None:
    assert validate_answers(q, {"B1": 1}, "en") == {}
    assert validate_answers(q, {"B1": 1, "A1": None, "A.EXP": [], "COMMENT": ""}, "en") == {}


CASES: list[tuple[str, dict[str, Any], str, str, str]] = [
    ("required missing", {}, "B1", "Vui lòng chọn một mức đánh giá.", "Please choose a rating."),
    ("unknown item", {"B1": 1, "Z9": 3}, "Z9", "không có trong phiếu", "not part of this questionnaire"),
    ("value not a level", {"B1": 4}, "B1", "Mức đánh giá không hợp lệ", "rating is not valid"),
    ("bool is not a level", {"B1": 1, "A1": True}, "A1", "Mức đánh giá không hợp lệ", "rating is not valid"),
    ("no opinion not offered", {"B1": 0}, "B1", "không có lựa chọn “Không ý kiến”", "no “No opinion” answer"),
    ("option not offered", {"B1": 1, "B.KIND": 3}, "B.KIND", "Phương án không hợp lệ", "option is not valid"),
    ("two options on single choice", {"B1": 1, "B.KIND": [1, 2]}, "B.KIND", "chỉ chọn một", "only one"),
    ("too many choices", {"B1": 1, "A.EXP": [1, 2, 3]}, "A.EXP", "tối đa 2 phương án", "at most 2 options"),
    ("duplicate choice", {"B1": 1, "A.EXP": [2, 2]}, "A.EXP", "chỉ được chọn một lần", "only once"),
    ("0 in multiple choice", {"B1": 1, "A.EXP": [0]}, "A.EXP", "Phương án không hợp lệ", "option is not valid"),
    ("text too long", {"B1": 1, "COMMENT": "x" * 21}, "COMMENT", "tối đa 20 ký tự", "at most 20 characters"),
    ("text of wrong type", {"B1": 1, "COMMENT": 5}, "COMMENT", "phải là văn bản", "must be text"),
]


@pytest.mark.parametrize(("case", "answers", "code", "vi", "en"), CASES, ids=[c[0] for c in CASES])
def test_each_error_in_both_languages(
    q: Questionnaire, case: str, answers: dict[str, Any], code: str, vi: str, en: str
) -> None:
    errors_vi = validate_answers(q, answers, "vi")
    errors_en = validate_answers(q, answers, "en")
    assert set(errors_vi) == set(errors_en) == {code}
    assert vi in errors_vi[code]
    assert en in errors_en[code]


def test_required_choice_and_text_messages(tiny: Factory) -> None:
    d = tiny()
    d["sections"][1]["items"][1]["required"] = True
    d["sections"][1]["items"][2]["required"] = True
    d["kiosk"]["items"] += ["B.KIND", "COMMENT"]
    errors = validate_answers(load_dict(d), {"B1": 2, "COMMENT": "   "}, "vi")
    assert errors == {"B.KIND": "Vui lòng chọn một phương án.", "COMMENT": "Vui lòng nhập câu trả lời."}


def test_digit_strings_from_html_forms_are_accepted(q: Questionnaire) -> None:
    assert validate_answers(q, {"B1": "2", "A1": "0", "A.EXP": ["1", "2"]}, "vi") == {}


def test_no_opinion_follows_the_scale() -> None:
    sipas = load_shipped("sipas-2017")
    assert validate_answers(sipas, {"OVERALL.SAT": 4, "E1.1": 0}, "vi") == {}
    counter = load_shipped("counter-quick")
    assert set(validate_answers(counter, {"C.ATT": 0, "C.HANDLING": 3}, "vi")) == {"C.ATT"}


def test_all_errors_reported_together(q: Questionnaire) -> None:
    errors = validate_answers(q, {"A1": 9, "A.EXP": [1, 2, 3], "COMMENT": "x" * 30}, "en")
    assert set(errors) == {"A1", "A.EXP", "COMMENT", "B1"}
