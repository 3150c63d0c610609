"""What a respondent is told about an answer that cannot be stored, in their language.

`questionnaires.answer_problems` decides (pure, codes only); the words live here as English msgids in the
one error registry (survey/errors.py), so the translation catalogue holds them and the stale-translation
test sees them.  Every channel (kiosk API, phone/link form, paper import) uses `validate_answers`.
"""

from __future__ import annotations

from collections.abc import Mapping

from questionnaires import Questionnaire, answer_problems
from questionnaires.answers import Problem
from questionnaires.model import Answer
from survey.errors import N_, register, translate
from survey.i18n import CITIZEN_LANGUAGES

register({
    "unknown_item": N_("This question is not part of this questionnaire."),
    "required_scale": N_("Please choose a rating."),
    "required_choice": N_("Please choose an option."),
    "required_text": N_("Please enter an answer."),
    "bad_level": N_("This rating is not valid; please choose one of the given levels."),
    "no_opinion": N_("This question has no “No opinion” answer; please choose a rating."),
    "bad_option": N_("This option is not valid; please choose from the given options."),
    "one_option": N_("Please choose only one option."),
    "duplicate_option": N_("Each option can be chosen only once."),
    "too_many_options": N_("Please choose at most %(n)s options."),
    "not_text": N_("The answer must be text."),
    "too_long": N_("The text is too long: at most %(n)s characters (now %(m)s)."),
    "form_out_of_date": N_("This form is out of date; please reload the page and answer again."),
})


def problem_message(problem: Problem, lang: str | None = None) -> str:
    """One problem in words: in `lang` when given (the respondent's), else the request's language.  A
    language without a catalogue reads them in Vietnamese (km has its own: the phone form in Khmer)."""
    if lang is not None and lang not in CITIZEN_LANGUAGES:
        lang = "vi"
    return translate(problem.code, problem.params, lang)


def validate_answers(q: Questionnaire, answers: Mapping[str, Answer], lang: str | None = None) -> dict[str, str]:
    """Item code → message in `lang`; empty when the answer set can be stored."""
    return {code: problem_message(p, lang) for code, p in answer_problems(q, answers).items()}
