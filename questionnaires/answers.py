"""Validating one submission's answers against a questionnaire: the rule book every channel shares."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .model import Answer, Item, Questionnaire

_MESSAGES: dict[str, dict[str, str]] = {
    "unknown": {
        "vi": "Câu hỏi này không có trong phiếu khảo sát.",
        "en": "This question is not part of this questionnaire.",
    },
    "required_scale": {"vi": "Vui lòng chọn một mức đánh giá.", "en": "Please choose a rating."},
    "required_choice": {"vi": "Vui lòng chọn một phương án.", "en": "Please choose an option."},
    "required_text": {"vi": "Vui lòng nhập câu trả lời.", "en": "Please enter an answer."},
    "bad_level": {
        "vi": "Mức đánh giá không hợp lệ; vui lòng chọn một trong các mức đã cho.",
        "en": "This rating is not valid; please choose one of the given levels.",
    },
    "no_opinion": {
        "vi": "Câu hỏi này không có lựa chọn “Không ý kiến”; vui lòng chọn một mức đánh giá.",
        "en": "This question has no “No opinion” answer; please choose a rating.",
    },
    "bad_option": {
        "vi": "Phương án không hợp lệ; vui lòng chọn trong các phương án đã cho.",
        "en": "This option is not valid; please choose from the given options.",
    },
    "one_option": {"vi": "Vui lòng chỉ chọn một phương án.", "en": "Please choose only one option."},
    "duplicate": {"vi": "Mỗi phương án chỉ được chọn một lần.", "en": "Each option can be chosen only once."},
    "too_many": {
        "vi": "Vui lòng chọn tối đa {n} phương án.",
        "en": "Please choose at most {n} options.",
    },
    "not_text": {"vi": "Câu trả lời phải là văn bản.", "en": "The answer must be text."},
    "too_long": {
        "vi": "Nội dung quá dài: tối đa {n} ký tự (hiện có {m}).",
        "en": "The text is too long: at most {n} characters (now {m}).",
    },
}


def _msg(key: str, lang: str, **kw: Any) -> str:
    m = _MESSAGES[key]
    return m.get(lang, m["vi"]).format(**kw)


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


def validate_answers(q: Questionnaire, answers: Mapping[str, Answer], lang: str = "vi") -> dict[str, str]:
    """Item code → human error message in `lang` (vi/en); empty when the answer set can be stored.

    Stored values: level/option value ≥ 1, 0 = "no opinion" (only where the scale offers it); None, "" or []
    means unanswered, which is an error only for required items.  Integer answers may be digit strings.
    """
    errors: dict[str, str] = {}
    by_code = {it.code: it for it in q.items()}
    for code in answers:
        if code not in by_code:
            errors[code] = _msg("unknown", lang)
    for code, it in by_code.items():
        v = answers.get(code)
        if _blank(v):
            if it.required:
                errors[code] = _msg(f"required_{it.type}", lang)
            continue
        err = _check_answer(it, v, lang)
        if err:
            errors[code] = err
    return errors


def _check_answer(it: Item, v: Any, lang: str) -> str | None:
    if it.type == "text":
        if not isinstance(v, str):
            return _msg("not_text", lang)
        if it.max_length is not None and len(v) > it.max_length:
            return _msg("too_long", lang, n=it.max_length, m=len(v))
        return None
    if it.type == "scale":
        n = _as_int(v)
        if n == 0:
            return None if it.offers_no_opinion else _msg("no_opinion", lang)
        return None if n is not None and n in it.values else _msg("bad_level", lang)
    # choice
    if not it.multiple:
        if isinstance(v, list | tuple):
            if len(v) != 1:
                return _msg("one_option", lang)
            v = v[0]
        n = _as_int(v)
        return None if n is not None and n in it.values else _msg("bad_option", lang)
    chosen = list(v) if isinstance(v, list | tuple) else [v]
    nums = [_as_int(x) for x in chosen]
    if any(n is None or n not in it.values for n in nums):
        return _msg("bad_option", lang)
    if len(set(nums)) != len(nums):
        return _msg("duplicate", lang)
    if it.max_choices is not None and len(nums) > it.max_choices:
        return _msg("too_many", lang, n=it.max_choices)
    return None
