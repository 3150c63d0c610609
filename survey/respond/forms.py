"""Citizen answer forms built at run time from a questionnaire version.

A small registry maps each question type (`scale`, `choice`, `text`) to a WTForms field, a conversion from
the field's data to the stored answer, and the template macro that draws it.  Each field is checked by the
questionnaire's own `validate_answers` (the same function `store_response` calls), so the form's per-field
messages and the final store can never disagree about what is valid.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from threading import Lock
from typing import Any

from wtforms import Field, HiddenField, RadioField, SelectMultipleField, TextAreaField
from wtforms.validators import ValidationError

from survey.forms import FlaskForm
from survey.respond.answer_messages import problem_message, validate_answers

try:  # WTForms ≥ 3.3 deprecates (value, label) tuples
    from wtforms.fields.choices import SelectChoice
except ImportError:  # pragma: no cover - older WTForms
    SelectChoice = None

from questionnaires.answers import Problem
from questionnaires.model import Item, Questionnaire, Section

AnswerValue = int | list[int] | str | None


def _as_answer(raw: Any) -> int | str | None:
    """A posted single value as the stored answer: int for digits, the raw text otherwise (reported later)."""
    if raw is None:
        return None
    text = str(raw).strip()
    if not text:
        return None
    # ASCII digits only ("²" is a digit to isdigit() but int() refuses it) and no more than a column holds
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 9 else text


class CommentField(TextAreaField):
    """Free text whose line breaks count once, as the browser's `maxlength` counts them (CRLF → LF)."""

    data: object  # wtforms is untyped: a str after a submission, the field's default before

    def process_formdata(self, valuelist: list[Any]) -> None:
        super().process_formdata(valuelist)
        if isinstance(self.data, str):
            self.data = self.data.replace("\r\n", "\n").replace("\r", "\n")


@dataclass(frozen=True)
class QuestionType:
    """How one item type becomes a form field and how the field's data becomes a stored answer."""

    name: str
    make_field: Callable[[Questionnaire, Item, str], Field]
    answer: Callable[[Any], AnswerValue]
    macro: str


def _label(item: Item, lang: str) -> str:
    return item.text.get(lang)


def item_options(item: Item, lang: str) -> list[tuple[str, str]]:
    """(posted value, label) of every answer an item offers, "no opinion" (0) last where the scale has it."""
    if item.scale is not None:
        options = [(str(lv.value), lv.label.get(lang)) for lv in item.scale.levels]
        if item.scale.no_opinion is not None:
            options.append(("0", item.scale.no_opinion.get(lang)))
        return options
    return [(str(o.value), o.label.get(lang)) for o in item.options]


def _choices(item: Item, lang: str) -> list[Any]:
    pairs = item_options(item, lang)
    return [SelectChoice(v, label) for v, label in pairs] if SelectChoice is not None else pairs


def _scale_field(q: Questionnaire, item: Item, lang: str) -> Field:
    return RadioField(_label(item, lang), choices=_choices(item, lang), validate_choice=False,
                      validators=[ItemCheck(q, item, lang)])


def _choice_field(q: Questionnaire, item: Item, lang: str) -> Field:
    cls = SelectMultipleField if item.multiple else RadioField
    return cls(_label(item, lang), choices=_choices(item, lang), validate_choice=False,
               validators=[ItemCheck(q, item, lang)])


def _text_field(q: Questionnaire, item: Item, lang: str) -> Field:
    return CommentField(_label(item, lang), validators=[ItemCheck(q, item, lang)])


def _single_answer(data: Any) -> AnswerValue:
    return _as_answer(data)


def _multiple_answer(data: Any) -> AnswerValue:
    values = [v for v in (_as_answer(x) for x in (data or [])) if v is not None]
    return values or None  # type: ignore[return-value]  # non-digit strings stay, validate_answers reports them


def _text_answer(data: Any) -> AnswerValue:
    return data if isinstance(data, str) and data.strip() else None


QUESTION_TYPES: dict[str, QuestionType] = {
    "scale": QuestionType("scale", _scale_field, _single_answer, "scale"),
    "choice": QuestionType("choice", _choice_field, _single_answer, "choice"),
    "text": QuestionType("text", _text_field, _text_answer, "text"),
}


def question_type(item: Item) -> QuestionType:
    """The registry entry for an item (a multiple choice converts its data as a list)."""
    qt = QUESTION_TYPES[item.type]
    if item.type == "choice" and item.multiple:
        return QuestionType("choice", qt.make_field, _multiple_answer, "multiple")
    return qt


class ItemCheck:
    """WTForms validator delegating to `validate_answers` for one item: one rule book for form and store."""

    def __init__(self, q: Questionnaire, item: Item, lang: str):
        self.q, self.item, self.lang = q, item, lang

    def __call__(self, form: FlaskForm, field: Field) -> None:
        value = question_type(self.item).answer(field.data)
        error = validate_answers(self.q, {self.item.code: value}, self.lang).get(self.item.code)
        if error:
            raise ValidationError(error)


class AnswerForm(FlaskForm):
    """Base of the generated forms: a hidden client id makes a double submit store once."""

    questionnaire: Questionnaire
    lang: str

    client_id = HiddenField(default=lambda: str(uuid.uuid4()))

    def validate_client_id(self, field: Field) -> None:
        try:
            uuid.UUID(str(field.data))
        except ValueError as exc:
            raise ValidationError(problem_message(Problem("form_out_of_date"), self.lang)) from exc

    def answers(self) -> dict[str, AnswerValue]:
        """Item code → answer as `store_response` takes it; unanswered items are left out."""
        out: dict[str, AnswerValue] = {}
        for item in self.questionnaire.items():
            value = question_type(item).answer(self[item.code].data)
            if value is not None:
                out[item.code] = value
        return out

    def sections(self) -> Iterator[tuple[Section, list[tuple[Item, Field, str]]]]:
        """(section, [(item, bound field, macro name)]) in display order, for the template."""
        for section in self.questionnaire.sections:
            yield section, [(it, self[it.code], question_type(it).macro) for it in section.items]

    def options(self, item: Item) -> list[tuple[str, str]]:
        return item_options(item, self.lang)

    def item_errors(self) -> dict[str, list[str]]:
        return {it.code: list(self[it.code].errors) for it in self.questionnaire.items() if self[it.code].errors}


_classes: dict[tuple[str, str], type[AnswerForm]] = {}
_lock = Lock()


def answer_form_class(q: Questionnaire, lang: str) -> type[AnswerForm]:
    """The form class for a questionnaire version in a language (cached by content checksum and language)."""
    key = (q.checksum(), lang)
    cls = _classes.get(key)
    if cls is None:
        attrs: dict[str, Any] = {"questionnaire": q, "lang": lang}
        for item in q.items():
            attrs[item.code] = question_type(item).make_field(q, item, lang)
        cls = type(f"AnswerForm_{q.id}_v{q.version}_{lang}", (AnswerForm,), attrs)
        with _lock:
            _classes[key] = cls
    return cls
