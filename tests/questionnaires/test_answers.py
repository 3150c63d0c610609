"""answer_problems: which answers cannot be stored and why, as codes (the web app words them: tests/respond)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from questionnaires import Questionnaire, answer_problems, load_dict, load_shipped

Factory = Callable[[], dict[str, Any]]


@pytest.fixture
def q(tiny: Factory) -> Questionnaire:
    return load_dict(tiny())


def test_complete_valid_answers_pass(q: Questionnaire) -> None:
    answers = {"A1": 5, "A2": 0, "A.EXP": [1, 3], "B1": 2, "B.KIND": 1, "COMMENT": "Tốt lắm"}
    assert answer_problems(q, answers) == {}


def test_only_required_items_are_needed(q: Questionnaire) -> None:
    assert answer_problems(q, {"B1": 1}) == {}
    assert answer_problems(q, {"B1": 1, "A1": None, "A.EXP": [], "COMMENT": ""}) == {}


CASES: list[tuple[str, dict[str, Any], str, str]] = [
    ("required missing", {}, "B1", "required_scale"),
    ("unknown item", {"B1": 1, "Z9": 3}, "Z9", "unknown_item"),
    ("value not a level", {"B1": 4}, "B1", "bad_level"),
    ("bool is not a level", {"B1": 1, "A1": True}, "A1", "bad_level"),
    ("no opinion not offered", {"B1": 0}, "B1", "no_opinion"),
    ("option not offered", {"B1": 1, "B.KIND": 3}, "B.KIND", "bad_option"),
    ("two options on single choice", {"B1": 1, "B.KIND": [1, 2]}, "B.KIND", "one_option"),
    ("too many choices", {"B1": 1, "A.EXP": [1, 2, 3]}, "A.EXP", "too_many_options"),
    ("duplicate choice", {"B1": 1, "A.EXP": [2, 2]}, "A.EXP", "duplicate_option"),
    ("0 in multiple choice", {"B1": 1, "A.EXP": [0]}, "A.EXP", "bad_option"),
    ("text too long", {"B1": 1, "COMMENT": "x" * 21}, "COMMENT", "too_long"),
    ("text of wrong type", {"B1": 1, "COMMENT": 5}, "COMMENT", "not_text"),
]


@pytest.mark.parametrize(("case", "answers", "item", "code"), CASES, ids=[c[0] for c in CASES])
def test_each_problem_has_its_code(q: Questionnaire, case: str, answers: dict[str, Any], item: str, code: str) -> None:
    problems = answer_problems(q, answers)
    assert set(problems) == {item}
    assert problems[item].code == code


def test_limits_travel_as_parameters(q: Questionnaire) -> None:
    problems = answer_problems(q, {"B1": 1, "A.EXP": [1, 2, 3], "COMMENT": "x" * 21})
    assert dict(problems["A.EXP"].params) == {"n": 2}
    assert dict(problems["COMMENT"].params) == {"n": 20, "m": 21}


def test_required_choice_and_text_problems(tiny: Factory) -> None:
    d = tiny()
    d["sections"][1]["items"][1]["required"] = True
    d["sections"][1]["items"][2]["required"] = True
    d["kiosk"]["items"] += ["B.KIND", "COMMENT"]
    problems = answer_problems(load_dict(d), {"B1": 2, "COMMENT": "   "})
    assert {k: p.code for k, p in problems.items()} == {"B.KIND": "required_choice", "COMMENT": "required_text"}


def test_digit_strings_from_html_forms_are_accepted(q: Questionnaire) -> None:
    assert answer_problems(q, {"B1": "2", "A1": "0", "A.EXP": ["1", "2"]}) == {}


def test_no_opinion_follows_the_scale() -> None:
    sipas = load_shipped("sipas-2017")
    assert answer_problems(sipas, {"OVERALL.SAT": 4, "E1.1": 0}) == {}
    counter = load_shipped("counter-quick")
    assert set(answer_problems(counter, {"C.ATT": 0, "C.HANDLING": 3})) == {"C.ATT"}


def test_all_errors_reported_together(q: Questionnaire) -> None:
    errors = answer_problems(q, {"A1": 9, "A.EXP": [1, 2, 3], "COMMENT": "x" * 30})
    assert set(errors) == {"A1", "A.EXP", "COMMENT", "B1"}
