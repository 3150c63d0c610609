"""What the respondent reads when an answer cannot be stored: each problem in Vietnamese and English, worded
once in the translation catalogue (survey/respond/answer_messages.py), never in the pure questionnaires/."""

from __future__ import annotations

import pytest

from questionnaires.loader import load_shipped
from survey import create_app
from survey.respond.answer_messages import validate_answers

COUNTER = load_shipped("counter-quick")


@pytest.fixture(scope="module")
def app():
    return create_app({"TESTING": True, "DATABASE_URL": "sqlite://", "SECRET_KEY": "t"})


CASES = [
    ({"C.ATT": 9, "C.HANDLING": 2}, "C.ATT", "Mức đánh giá không hợp lệ", "This rating is not valid"),
    ({"C.ATT": 0, "C.HANDLING": 2}, "C.ATT", "không có lựa chọn “Không ý kiến”", "no “No opinion” answer"),
    ({"C.ATT": 3}, "C.HANDLING", "Vui lòng chọn một mức đánh giá.", "Please choose a rating."),
    ({"C.ATT": 3, "C.HANDLING": 2, "NOPE": 1}, "NOPE", "không có trong phiếu", "not part of this questionnaire"),
]


@pytest.mark.parametrize(("answers", "item", "vi", "en"), CASES)
def test_each_problem_in_both_languages(app, answers, item, vi, en):
    with app.app_context():
        in_vi = validate_answers(COUNTER, answers, "vi")
        in_en = validate_answers(COUNTER, answers, "en")
    assert set(in_vi) == set(in_en) == {item}
    assert vi in in_vi[item] and en in in_en[item]


def test_limits_are_filled_in_the_message(app):
    text_item = next(it for it in COUNTER.items() if it.type == "text" and it.max_length)
    long = "x" * (text_item.max_length + 1)
    with app.app_context():
        message = validate_answers(COUNTER, {"C.ATT": 3, "C.HANDLING": 2, text_item.code: long}, "vi")[text_item.code]
    assert f"tối đa {text_item.max_length} ký tự" in message and f"hiện có {len(long)}" in message


def test_a_language_without_a_catalogue_reads_vietnamese(app):
    """km has its own words now (tests/respond/test_khmer_pages.py); a language the site does not offer
    falls back to Vietnamese, the default, rather than to the English msgid."""
    with app.app_context():
        assert validate_answers(COUNTER, {"C.ATT": 9, "C.HANDLING": 2}, "fr") == \
            validate_answers(COUNTER, {"C.ATT": 9, "C.HANDLING": 2}, "vi")


def test_every_problem_the_rules_can_report_has_words_in_both_languages(app):
    """A code added to questionnaires/answers.py without a message here would reach a citizen as a code."""
    from questionnaires.answers import CODES, Problem
    from survey.respond.answer_messages import problem_message

    with app.app_context():
        for code in CODES:
            vi, en = problem_message(Problem(code, {"n": 2, "m": 3}), "vi"), problem_message(Problem(code), "en")
            assert code not in (vi, en) and vi != en, code
