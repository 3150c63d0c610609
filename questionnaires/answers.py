"""Validating one submission's answers against a questionnaire: the rule book every channel shares."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

from .model import Answer, Item, Questionnaire

_NONE: Mapping[str, int] = MappingProxyType({})


class Problem(NamedTuple):
    """Why one answer cannot be stored: a stable code and its parameters.  The words are the web app's
    (survey/respond/answer_messages.py, translated with gettext): this package stays free of Flask."""

    code: str
    params: Mapping[str, int] = _NONE


CODES = ("unknown_item", "required_scale", "required_choice", "required_text", "bad_level", "no_opinion",
         "bad_option", "one_option", "duplicate_option", "too_many_options", "not_text", "too_long")


def _as_int(v: Any) -> int | None:
    """An integer answer: int (not bool) or a string of digits (as posted by an HTML form)."""
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    text = v.strip() if isinstance(v, str) else ""
    # ASCII digits only ("²".isdigit() is True but int() refuses it) and short enough for int()
    if text.isascii() and text.isdigit() and len(text) <= 18:
        return int(text)
    return None


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, str) and not v.strip()) or (isinstance(v, list | tuple) and not v)


def answer_problems(q: Questionnaire, answers: Mapping[str, Answer]) -> dict[str, Problem]:
    """Item code → the problem with its answer; empty when the answer set can be stored.

    Stored values: level/option value ≥ 1, 0 = "no opinion" (only where the scale offers it); None, "" or []
    means unanswered, which is an error only for required items.  Integer answers may be digit strings.
    """
    errors: dict[str, Problem] = {}
    by_code = {it.code: it for it in q.items()}
    for code in answers:
        if code not in by_code:
            errors[code] = Problem("unknown_item")
    for code, it in by_code.items():
        v = answers.get(code)
        if _blank(v):
            if it.required:
                errors[code] = Problem(f"required_{it.type}")
            continue
        err = _check_answer(it, v)
        if err:
            errors[code] = err
    return errors


def _check_answer(it: Item, v: Any) -> Problem | None:
    if it.type == "text":
        if not isinstance(v, str):
            return Problem("not_text")
        if it.max_length is not None and len(v) > it.max_length:
            return Problem("too_long", {"n": it.max_length, "m": len(v)})
        return None
    if it.type == "scale":
        n = _as_int(v)
        if n == 0:
            return None if it.offers_no_opinion else Problem("no_opinion")
        return None if n is not None and n in it.values else Problem("bad_level")
    # choice
    if not it.multiple:
        if isinstance(v, list | tuple):
            if len(v) != 1:
                return Problem("one_option")
            v = v[0]
        n = _as_int(v)
        return None if n is not None and n in it.values else Problem("bad_option")
    chosen = list(v) if isinstance(v, list | tuple) else [v]
    nums = [_as_int(x) for x in chosen]
    if any(n is None or n not in it.values for n in nums):
        return Problem("bad_option")
    if len(set(nums)) != len(nums):
        return Problem("duplicate_option")
    if it.max_choices is not None and len(nums) > it.max_choices:
        return Problem("too_many_options", {"n": it.max_choices})
    return None
