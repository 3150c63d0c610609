"""The phone form one section per page, without JavaScript and without storing a draft anywhere.

Every page is one POST form that carries the answers of the other pages as hidden fields, so "Next",
"Back", the language switch and the text-size switch are submit buttons of that form and never lose an
answer (they were plain links once, and a citizen who changed language mid-form lost everything).  Nothing
is kept on the server between pages: an abandoned form leaves no trace, and the answers only reach the
database through `store_response` when the citizen presses "Send" on the last page.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import request

from questionnaires.model import Section
from survey.respond.forms import AnswerForm

SEND, NEXT, BACK = "send", "next", "back"
LANG_PREFIX, TEXT_PREFIX = "lang:", "text:"


@dataclass(frozen=True)
class Step:
    """What the citizen pressed: an action (`send`, `next`, `back`, `lang:xx`, `text:large|normal`) on a page."""

    action: str
    page: int


def page_context(form: AnswerForm, page: int) -> dict[str, object]:
    """The template variables of respond/form.html for one page (also used by the admin preview)."""
    sections = form.questionnaire.sections
    return {"page": page, "section": sections[page], "n_pages": len(sections),
            "carried": hidden_values(form, page), "item_pages": page_of_items(form)}


def preview_page(form: AnswerForm) -> tuple[int, bool]:
    """(page to show, whether "Send" was pressed) for a preview, which never stores and ignores switches."""
    if request.method != "POST":
        return 0, False
    step = posted_step(form)
    if step.action == BACK:
        return max(0, step.page - 1), False
    if step.action == NEXT:
        if section_valid(form, form.questionnaire.sections[step.page]):
            return clamp_page(form, step.page + 1), False
        return step.page, False
    if step.action == SEND:
        return step.page, True
    return step.page, False


def posted_step(form: AnswerForm) -> Step:
    """The button pressed and the page it was pressed on (a POST without a button, e.g. an API-like client
    posting every answer at once, means "send")."""
    action = request.form.get("do", SEND)
    if action not in (SEND, NEXT, BACK) and not action.startswith((LANG_PREFIX, TEXT_PREFIX)):
        action = SEND
    return Step(action, clamp_page(form, request.form.get("page", "0")))


def clamp_page(form: AnswerForm, raw: object) -> int:
    """A page number from the request, kept within the questionnaire's sections."""
    try:
        page = int(str(raw))
    except ValueError:
        page = 0
    return max(0, min(page, len(form.questionnaire.sections) - 1))


def section_valid(form: AnswerForm, section: Section) -> bool:
    """Validate only the items of one section ("Next" checks the page the citizen is leaving)."""
    results = [form[item.code].validate(form) for item in section.items]
    return all(results)


def first_page_with_errors(form: AnswerForm) -> int:
    """The page a citizen is sent back to after a refused "Send": the first one holding an error."""
    for index, section in enumerate(form.questionnaire.sections):
        if any(form[item.code].errors for item in section.items):
            return index
    return len(form.questionnaire.sections) - 1


def page_of_items(form: AnswerForm) -> dict[str, int]:
    """Item code → page number (1-based, as shown), for the error summary to say where an error is."""
    return {item.code: index + 1 for index, section in enumerate(form.questionnaire.sections)
            for item in section.items}


def hidden_values(form: AnswerForm, page: int) -> list[tuple[str, str]]:
    """(name, value) of every answer given on the OTHER pages, to be carried as hidden fields."""
    out: list[tuple[str, str]] = []
    for index, section in enumerate(form.questionnaire.sections):
        if index == page:
            continue
        for item in section.items:
            data = form[item.code].data
            values = data if isinstance(data, list) else [data]
            out.extend((item.code, str(v)) for v in values if v is not None and str(v) != "")
    return out
