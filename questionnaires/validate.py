"""Checking questionnaire files: JSON Schema for structure, then the cross-references a schema cannot express.

Every problem becomes an `Issue(file, path, message)` and all of them are reported at once, so an author
fixes a file in one pass.  The semantic checks tolerate a structurally broken document (they skip what is
not the expected type) so that schema and semantic problems can be listed together.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, cast

import jsonschema

SCHEMA_PATH = Path(__file__).parent / "schema" / "questionnaire.schema.json"

#: Measure codes the index compiler uses itself; items/elements must not take them.
OVERALL_CODE = "OVERALL"
DEFAULT_PAPI_TOTAL = "PAPI"


@dataclass(frozen=True)
class Issue:
    """One problem in one file: `path` is like `sections[2].items[0].scale` (or `line 3, column 5`)."""

    file: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.path}: {self.message}"


class QuestionnaireError(ValueError):
    """A questionnaire could not be loaded; `issues` lists every problem found."""

    def __init__(self, issues: list[Issue]):
        self.issues = list(issues)
        super().__init__("\n".join(str(i) for i in self.issues) or "invalid questionnaire")


@cache
def schema() -> dict[str, Any]:
    """The questionnaire JSON Schema (draft 2020-12)."""
    with SCHEMA_PATH.open(encoding="utf-8") as f:
        return cast(dict[str, Any], json.load(f))


@cache
def _validator() -> jsonschema.Draft202012Validator:
    jsonschema.Draft202012Validator.check_schema(schema())
    return jsonschema.Draft202012Validator(schema())


def format_path(parts: Any) -> str:
    """`['sections', 2, 'items', 0, 'scale']` → `sections[2].items[0].scale`; empty → `(top level)`."""
    out = ""
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            out += f".{p}" if out else str(p)
    return out or "(top level)"


# ---------------------------------------------------------------- reading


def parse_json(text: str, file: str) -> tuple[Any, list[Issue]]:
    """Parse JSON text; malformed JSON gives one issue with line/column, duplicate keys one issue each."""
    duplicates: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        for k, v in items:
            if k in seen:
                duplicates.append(k)
            seen[k] = v
        return seen

    try:
        data = json.loads(text, object_pairs_hook=pairs)
    except json.JSONDecodeError as e:
        return None, [Issue(file, f"line {e.lineno}, column {e.colno}", f"malformed JSON: {e.msg}")]
    except ValueError as e:  # e.g. an integer of more than 4,300 digits
        return None, [Issue(file, "(document)", f"malformed JSON: {e}")]
    except RecursionError:
        return None, [_too_deep(file)]
    if _deeper_than(data, MAX_DEPTH):
        return None, [_too_deep(file)]
    issues = [
        Issue(file, "(document)", f"duplicate key '{k}' in an object: the later value would silently win")
        for k in duplicates
    ]
    return data, issues


MAX_DEPTH = 64  # a questionnaire nests 7 deep; far deeper JSON is an attack on the parsers' recursion


def _deeper_than(data: Any, limit: int) -> bool:
    """Whether `data` nests more than `limit` lists/objects deep (walked without recursion)."""
    stack = [(data, 0)]
    while stack:
        v, depth = stack.pop()
        if isinstance(v, dict | list):
            if depth >= limit:
                return True
            stack.extend((x, depth + 1) for x in (v.values() if isinstance(v, dict) else v))
    return False


def _too_deep(file: str) -> Issue:
    return Issue(file, "(document)", f"nested too deeply: a questionnaire nests at most {MAX_DEPTH} levels")


def read_file(path: str | Path) -> tuple[Any, list[Issue]]:
    """Read and parse a questionnaire file (UTF-8)."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, [Issue(file, "(file)", "file not found")]
    except UnicodeDecodeError as e:
        return None, [Issue(file, "(file)", f"not UTF-8 text: {e.reason} at byte {e.start}")]
    except OSError as e:
        return None, [Issue(file, "(file)", f"cannot read: {e.strerror}")]
    return parse_json(text, file)


def validate_file(path: str | Path) -> list[Issue]:
    """All problems of a questionnaire file (empty list: the file is valid)."""
    data, issues = read_file(path)
    if data is None:
        return issues
    return issues + validate_dict(data, str(path))


def validate_dict(data: Any, file: str = "<questionnaire>") -> list[Issue]:
    """All problems of a parsed questionnaire: schema errors first, then semantic ones."""
    issues = [Issue(file, format_path(e.absolute_path), _schema_message(e)) for e in _schema_errors(data)]
    if isinstance(data, dict):
        issues += [Issue(file, p, m) for p, m in _semantic(data)]
    return issues


# ---------------------------------------------------------------- schema


def _schema_errors(data: Any) -> list[jsonschema.ValidationError]:
    errors = sorted(_validator().iter_errors(data), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    return errors


def _schema_message(e: jsonschema.ValidationError) -> str:
    path = list(e.absolute_path)
    if e.validator == "not" and e.validator_value == {}:  # {"not": {}}: a field not allowed for this type
        return f"'{path[-1]}' is not allowed here" if path else "not allowed here"
    if e.validator == "pattern" and path and path[-1] in ("vi", "en"):
        return f"the '{path[-1]}' text must not be blank"
    if e.validator == "required" and path and path[-1] in ("title", "text", "label", "description"):
        return f"{e.message} (every text needs 'vi' and 'en')"
    return e.message


# ---------------------------------------------------------------- semantic checks


def _list(x: Any) -> list[Any]:
    return x if isinstance(x, list) else []


def _dict(x: Any) -> dict[str, Any]:
    return x if isinstance(x, dict) else {}


def _items(data: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(path, item) for every item dict, in display order."""
    for si, sec in enumerate(_list(data.get("sections"))):
        for ii, item in enumerate(_list(_dict(sec).get("items"))):
            if isinstance(item, dict):
                yield f"sections[{si}].items[{ii}]", item


def _semantic(data: dict[str, Any]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    scales = _dict(data.get("scales"))
    out += _check_scales(scales)
    items, where = _check_sections(data, scales, out)
    scale_items = {
        c for c, it in items.items() if it.get("type") == "scale" and isinstance(it.get("scale"), str)
        and isinstance(scales.get(it["scale"]), dict)
    }
    element_codes = _check_index(_dict(data.get("index")), items, scale_items, out)
    papi_codes = _check_papi(data.get("papi"), items, scale_items, out)
    _check_kiosk(data.get("kiosk"), items, out)
    _check_measure_codes(where, element_codes, papi_codes, _dict(data.get("papi")), out)
    return out


def _check_scales(scales: dict[str, Any]) -> list[tuple[str, str]]:
    out = []
    for code, sc in scales.items():
        if not isinstance(sc, dict):
            continue
        levels = [lv for lv in _list(sc.get("levels")) if isinstance(lv, dict)]
        values = [lv.get("value") for lv in levels]
        if all(isinstance(v, int) for v in values) and values != list(range(1, len(values) + 1)):
            out.append((f"scales.{code}.levels",
                        f"level values must be 1, 2, …, {len(values)} in order (worst → best), got {values}"))
        if not all(isinstance(v, int) for v in values):
            continue  # the schema reports the bad values
        sat = [v for v in _list(sc.get("satisfied")) if isinstance(v, int)]
        for i, v in enumerate(sat):
            if v not in values:
                out.append((f"scales.{code}.satisfied[{i}]", f"{v!r} is not a level of scale '{code}'"))
        if values and sat and set(sat) >= set(values):
            out.append((f"scales.{code}.satisfied", "every level counts as satisfied: the index would always be 100%"))
    return out


def _check_sections(
    data: dict[str, Any], scales: dict[str, Any], out: list[tuple[str, str]]
) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """Checks sections and items; returns items by code (first occurrence) and their paths."""
    seen_sections: dict[str, str] = {}
    for si, sec in enumerate(_list(data.get("sections"))):
        code = _dict(sec).get("code")
        if isinstance(code, str):
            if code in seen_sections:
                out.append((f"sections[{si}].code", f"duplicate section code '{code}' (also {seen_sections[code]})"))
            else:
                seen_sections[code] = f"sections[{si}]"
    items: dict[str, dict[str, Any]] = {}
    where: dict[str, str] = {}
    for path, item in _items(data):
        code = item.get("code")
        if isinstance(code, str):
            if code in items:
                out.append((f"{path}.code", f"duplicate item code '{code}' (also {where[code]})"))
            else:
                items[code], where[code] = item, path
        typ = item.get("type")
        if typ == "scale":
            ref = item.get("scale")
            if isinstance(ref, str) and ref not in scales:
                known = ", ".join(sorted(scales)) or "none"
                out.append((f"{path}.scale", f"unknown scale '{ref}' (defined: {known})"))
        elif typ == "choice":
            opts = [o for o in _list(item.get("options")) if isinstance(o, dict)]
            counts = Counter(o.get("value") for o in opts if isinstance(o.get("value"), int))
            for oi, o in enumerate(opts):
                if isinstance(o.get("value"), int) and counts[o["value"]] > 1:
                    out.append((f"{path}.options[{oi}].value", f"duplicate option value {o.get('value')!r}"))
            mc = item.get("max_choices")
            if mc is not None and item.get("multiple") is not True:
                out.append((f"{path}.max_choices", "'max_choices' needs 'multiple': true"))
            elif isinstance(mc, int) and opts and mc > len(opts):
                out.append((f"{path}.max_choices", f"max_choices {mc} exceeds the {len(opts)} options"))
    return items, where


def _check_index(
    index: dict[str, Any], items: dict[str, Any], scale_items: set[str], out: list[tuple[str, str]]
) -> dict[str, str]:
    codes: dict[str, str] = {}
    for ei, el in enumerate(_list(index.get("elements"))):
        el = _dict(el)
        code = el.get("code")
        if isinstance(code, str):
            if code in codes:
                out.append((f"index.elements[{ei}].code", f"duplicate element code '{code}' (also {codes[code]})"))
            else:
                codes[code] = f"index.elements[{ei}]"
        member_seen: set[str] = set()
        for ii, ref in enumerate(_list(el.get("items"))):
            path = f"index.elements[{ei}].items[{ii}]"
            if not isinstance(ref, str):
                continue
            if ref in member_seen:
                out.append((path, f"item '{ref}' is listed twice in this element"))
            member_seen.add(ref)
            if ref not in items:
                out.append((path, f"unknown item '{ref}'"))
            elif ref not in scale_items:
                out.append((path, f"item '{ref}' is not a scored scale item (type {items[ref].get('type')!r})"))
    overall = _dict(index.get("overall"))
    weights = overall.get("weights")
    if overall.get("combine") == "weighted" and isinstance(weights, dict):
        for code in weights:
            if code not in codes:
                out.append((f"index.overall.weights.{code}", f"unknown element '{code}'"))
        for code in codes:
            if code not in weights:
                out.append(("index.overall.weights", f"no weight for element '{code}' (give 0 to leave it out)"))
        nums = [w for w in weights.values() if isinstance(w, int | float) and not isinstance(w, bool)]
        if len(nums) == len(weights) and not math.isclose(sum(nums), 1.0, abs_tol=1e-9):
            out.append(("index.overall.weights", f"weights must sum to 1, they sum to {sum(nums):g}"))
    return codes


def _check_papi(
    papi: Any, items: dict[str, Any], scale_items: set[str], out: list[tuple[str, str]]
) -> dict[str, str]:
    codes: dict[str, str] = {}
    if not isinstance(papi, dict):
        return codes

    def claim(code: Any, path: str) -> None:
        if isinstance(code, str):
            if code in codes:
                out.append((f"{path}.code", f"duplicate PAPI code '{code}' (also {codes[code]})"))
            else:
                codes[code] = path

    for di, dim in enumerate(_list(papi.get("dimensions"))):
        dim = _dict(dim)
        claim(dim.get("code"), f"papi.dimensions[{di}]")
        for si, sub in enumerate(_list(dim.get("subdimensions"))):
            sub = _dict(sub)
            spath = f"papi.dimensions[{di}].subdimensions[{si}]"
            claim(sub.get("code"), spath)
            for ii, ind in enumerate(_list(sub.get("indicators"))):
                ref = _dict(ind).get("item")
                path = f"{spath}.indicators[{ii}].item"
                if not isinstance(ref, str):
                    continue
                if ref not in items:
                    out.append((path, f"unknown item '{ref}'"))
                elif ref not in scale_items:
                    out.append((path, f"item '{ref}' is not a scored scale item (type {items[ref].get('type')!r})"))
    return codes


def _check_kiosk(kiosk: Any, items: dict[str, Any], out: list[tuple[str, str]]) -> None:
    listed = _list(_dict(kiosk).get("items"))
    if not listed:
        return
    seen: set[str] = set()
    for i, ref in enumerate(listed):
        if not isinstance(ref, str):
            continue
        if ref in seen:
            out.append((f"kiosk.items[{i}]", f"item '{ref}' is listed twice"))
        seen.add(ref)
        if ref not in items:
            out.append((f"kiosk.items[{i}]", f"unknown item '{ref}'"))
    for code, it in items.items():
        if it.get("required") is True and code not in seen:
            out.append(("kiosk.items", f"required item '{code}' is missing: kiosk submissions could never pass"))


def _check_measure_codes(
    items: dict[str, str],
    elements: dict[str, str],
    papi: dict[str, str],
    papi_def: dict[str, Any],
    out: list[tuple[str, str]],
) -> None:
    """Item, element and PAPI codes all become measure codes in results, so they must not collide."""
    total = papi_def.get("total_code", DEFAULT_PAPI_TOTAL) if papi_def else None
    reserved = {OVERALL_CODE: "the overall index"}
    if isinstance(total, str):
        reserved[total] = "the PAPI total"
    for code, path in items.items():
        if code in reserved:
            out.append((f"{path}.code", f"item code '{code}' is reserved for {reserved[code]}"))
    for code, path in elements.items():
        if code in items:
            out.append((f"{path}.code", f"element code '{code}' is also an item code; measure codes must differ"))
        if code in reserved:
            out.append((f"{path}.code", f"element code '{code}' is reserved for {reserved[code]}"))
    for code, path in papi.items():
        if code in items or code in elements:
            out.append((f"{path}.code", f"PAPI code '{code}' is also an item or element code"))
        if code in reserved:
            out.append((f"{path}.code", f"PAPI code '{code}' is reserved for {reserved[code]}"))


_LANG = re.compile(r"^[a-z]{2}(-[A-Za-z]{2,4})?$")


def _texts(data: Any) -> Iterator[dict[str, Any]]:
    """Every user-visible text object of a definition: a mapping of language codes with a "vi" string."""
    if isinstance(data, dict):
        if isinstance(data.get("vi"), str) and all(isinstance(k, str) and _LANG.match(k) for k in data):
            yield data
            return
        for v in data.values():
            yield from _texts(v)
    elif isinstance(data, list):
        for v in data:
            yield from _texts(v)


def language_coverage(data: Any) -> dict[str, tuple[int, int]]:
    """{language: (texts in it, all texts)}: which languages a version covers.  Vietnamese is required in
    every text; a text missing in another language is shown in Vietnamese (never blank)."""
    texts = list(_texts(data))
    langs = sorted({k for t in texts for k, v in t.items() if isinstance(v, str) and v.strip()},
                   key=lambda k: (k != "vi", k != "en", k))
    return {lang: (sum(1 for t in texts if str(t.get(lang) or "").strip()), len(texts)) for lang in langs}


def coverage_line(data: Any) -> str:
    """One line for `questionnaire validate`, e.g. "languages: vi, en, km (12/41 texts; others in vi)"."""
    parts = []
    for lang, (n, total) in language_coverage(data).items():
        parts.append(lang if n == total else f"{lang} ({n}/{total} texts; others shown in vi)")
    return "languages: " + ", ".join(parts)

