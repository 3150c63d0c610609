"""The staff pages' URL parameters, read in one place: a value the page cannot use is refused, never ignored.

Until 7 December 2026 every filter fell back to its default on a value it did not know, so
`/dashboard/agency/SCT?from=2022-13&to=zz` answered 200 with the figures of every month and no word about it,
and `?period=0001-01` on the Home Affairs pages was a 500.  Now each reader below answers an absent or empty
parameter with the page's default (unchanged) and anything else it cannot use with `BadParameter`: a 400 page
(404 for a code or id naming nothing the viewer may see — the existing convention for agency codes) in the
normal layout, saying in the user's language which parameter, what it holds and what it accepts, with a link
to the same page without it.  Parameters are read before anything is written (the administration pages'
presets and filters use the same readers), so nothing has changed when the refusal is shown.

Values that are well formed but do not apply here keep the documented fallback, because the pages' own forms
and links send them: a questionnaire that exists but has no responses in this scope, a measure of another
questionnaire or a period of another kind left in the form when the questionnaire or period kind select
changed, a tree level above a unit manager's own (a colleague's link).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from typing import Any
from urllib.parse import urlencode

from flask import render_template, request

from survey.errors import N_, DomainError, register
from survey.extensions import db
from survey.inputs import DB_INT_MAX, whole_number
from survey.results.comparison import Period

#: years a month or period may name (`Period.previous()` of year 1 fails; nobody surveyed before 1900)
MIN_YEAR, MAX_YEAR = 1900, 2999
_MONTH = re.compile(r"(\d{4})-(\d{1,2})", re.ASCII)
#: longest value repeated in a message (the whole of a 5,000-character value helps no one)
SHOWN = 40

MESSAGES = register({
    "param_month": N_("The address asks for %(name)s=“%(value)s”, which is not a month. Write a month as 2022-07 "
                      "(year, then month), or choose one in the filters."),
    "param_months_reversed": N_("The address asks for the months from %(start)s to %(end)s, but “from” comes after "
                                "“to”. Swap them, or choose again in the filters."),
    "param_period": N_("The address asks for %(name)s=“%(value)s”, which is not a period. Write a year (2022), a "
                       "quarter (2022-Q3) or a month (2022-07), or choose one in the filters."),
    "param_choice": N_("The address asks for %(name)s=“%(value)s”, which this page does not offer. Use one of: "
                       "%(choices)s."),
    "param_number": N_("The address asks for %(name)s=“%(value)s”, which is not a whole number from %(low)s to "
                       "%(high)s."),
    "param_missing": N_("The address needs %(name)s, a whole number, for this download."),
    "param_too_long": N_("The address asks for a %(name)s of %(length)s characters; at most %(limit)s are "
                         "allowed."),
    "param_unknown": N_("The address asks for %(name)s=“%(value)s”, which does not exist or is not yours to see."),
})


class BadParameter(DomainError):
    """A URL parameter a page cannot use.  `status` is 400, or 404 for a code or id naming nothing the viewer
    may see; `field` is the parameter's name (the page offers a link without it)."""

    def __init__(self, code: str, name: str, /, *, status: int = 400, **params: Any):
        value = params.get("value")
        if isinstance(value, str) and len(value) > SHOWN:
            params["value"] = value[:SHOWN] + "…"
        super().__init__(code, name, name=name, **params)
        self.status = status


def raw(name: str) -> str | None:
    """The parameter's text, or None when it is absent or blank (the page's default)."""
    value = request.args.get(name)
    if value is None or not value.strip():
        return None
    return value.strip()


def month(name: str) -> date | None:
    """`2022-07` (or `2022-7`) → 1 July 2022; absent → None; anything else is refused."""
    text = raw(name)
    if text is None:
        return None
    m = _MONTH.fullmatch(text)
    if m is None or not MIN_YEAR <= int(m.group(1)) <= MAX_YEAR or not 1 <= int(m.group(2)) <= 12:
        raise BadParameter("param_month", name, value=text)
    return date(int(m.group(1)), int(m.group(2)), 1)


def month_range(first: str = "from", last: str = "to") -> tuple[date | None, date | None]:
    """The From/To months; From after To is refused (it used to show no figure without saying why)."""
    start, end = month(first), month(last)
    if start is not None and end is not None and start > end:
        raise BadParameter("param_months_reversed", first, start=f"{start:%Y-%m}", end=f"{end:%Y-%m}")
    return start, end


def period(name: str = "period") -> Period | None:
    """A year, quarter or month label (`2022`, `2022-Q3`, `2022-07`); absent → None; anything else refused."""
    text = raw(name)
    if text is None:
        return None
    try:
        found = Period.parse(text)
    except ValueError:
        found = None
    if found is None or not MIN_YEAR <= found.start.year <= MAX_YEAR:
        raise BadParameter("param_period", name, value=text)
    return found


def choice(name: str, allowed: Iterable[str], default: str = "", *, status: int = 400) -> str:
    """One of `allowed` (compared exactly); absent → `default`; anything else is refused, listing the choices
    (`status` 404 for a thing the page does not have, such as a table of another view)."""
    options = list(allowed)
    text = raw(name)
    if text is None:
        return default
    if text not in options:
        raise BadParameter("param_choice", name, status=status, value=text, choices=", ".join(options))
    return text


def whole(name: str, low: int = 1, high: int = DB_INT_MAX) -> int | None:
    """A whole number in [low, high] (ASCII digits, survey.inputs' rule); absent → None; anything else refused."""
    text = raw(name)
    if text is None:
        return None
    value = whole_number(text, low, high)
    if value is None:
        raise BadParameter("param_number", name, value=text, low=low, high=high)
    return value


def required_whole(name: str, low: int = 1, high: int = DB_INT_MAX) -> int:
    """`whole` for a parameter the request cannot do without."""
    value = whole(name, low, high)
    if value is None:
        raise BadParameter("param_missing", name)
    return value


def search_text(name: str, limit: int) -> str:
    """A typed search text: at most `limit` characters (it used to be cut silently); absent → ""."""
    text = raw(name) or ""
    if len(text) > limit:
        raise BadParameter("param_too_long", name, length=len(text), limit=limit)
    return text


def unknown(name: str, value: str) -> BadParameter:
    """The 404 refusal of a code or id naming nothing the viewer may see (whether or not it exists)."""
    return BadParameter("param_unknown", name, status=404, value=value)


def questionnaire_id(versions: Iterable[Any]) -> int | None:
    """The `questionnaire` id asked for: refused when it is not a number or names no questionnaire at all;
    one without responses in the viewer's scope (not in `versions`) still falls back to the default."""
    wanted = whole("questionnaire")
    if wanted is None or any(v.id == wanted for v in versions):
        return wanted
    from survey.questionnaire_versions.models import QuestionnaireVersion

    if db.session.get(QuestionnaireVersion, wanted) is None:
        raise unknown("questionnaire", str(wanted))
    return wanted


def prefill(field: Any, name: str) -> None:
    """Preset a form's select from the address (`/admin/units/new?parent=3`): one of its choices, else refused
    as naming nothing (it used to leave the select unset without a word); absent → the form's own default."""
    text = raw(name)
    if text is None:
        return
    if text not in {str(value) for value, _label in field.choices}:
        raise unknown(name, text)
    field.data = text


def refusal_page(exc: BadParameter) -> tuple[str, int]:
    """The refusal in the normal layout, with the same address less the parameter concerned."""
    db.session.rollback()
    args = [(k, v) for k, v in request.args.items(multi=True) if k != exc.field]
    without = request.path + ("?" + urlencode(args) if args else "")
    return render_template("dashboard/bad_parameter.html", code=exc.status, message=exc.message,
                           without=without, parameter=exc.field), exc.status
