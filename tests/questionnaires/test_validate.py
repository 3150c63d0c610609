"""Schema and semantic checks: every broken variant is reported with its path, all problems at once."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from questionnaires import Issue, QuestionnaireError, load_dict, load_file, validate_dict, validate_file

Factory = Callable[[], dict[str, Any]]


def _break(d: dict[str, Any], how: str) -> None:
    """Apply one named breakage to definition `d` (in place)."""
    secA, secB = d["sections"]
    if how == "duplicate item code":
        secB["items"][0]["code"] = "A1"
    elif how == "duplicate section code":
        secB["code"] = "A"
    elif how == "duplicate element code":
        d["index"]["elements"][1]["code"] = "EA"
    elif how == "unknown scale":
        secA["items"][1]["scale"] = "s7"
    elif how == "satisfied not a level":
        d["scales"]["s3"]["satisfied"] = [2, 4]
    elif how == "levels not 1..K":
        d["scales"]["s3"]["levels"][2]["value"] = 4
    elif how == "every level satisfied":
        d["scales"]["s3"]["satisfied"] = [1, 2, 3]
    elif how == "element item unknown":
        d["index"]["elements"][0]["items"][1] = "A9"
    elif how == "element item not a scale item":
        d["index"]["elements"][1]["items"].append("B.KIND")
    elif how == "element item twice":
        d["index"]["elements"][0]["items"].append("A1")
    elif how == "weight for unknown element":
        d["index"]["overall"] = {"combine": "weighted", "weights": {"EA": 0.5, "EB": 0.25, "EC": 0.25}}
    elif how == "weight missing":
        d["index"]["overall"] = {"combine": "weighted", "weights": {"EA": 1.0}}
    elif how == "weights not summing to 1":
        d["index"]["overall"] = {"combine": "weighted", "weights": {"EA": 0.5, "EB": 0.4}}
    elif how == "papi indicator unknown":
        d["papi"]["dimensions"][0]["subdimensions"][1]["indicators"][0]["item"] = "B9"
    elif how == "papi indicator not scored":
        d["papi"]["dimensions"][0]["subdimensions"][0]["indicators"][1]["item"] = "COMMENT"
    elif how == "papi code twice":
        d["papi"]["dimensions"][0]["subdimensions"][1]["code"] = "D1.1"
    elif how == "kiosk item unknown":
        d["kiosk"]["items"].append("Z1")
    elif how == "kiosk lacks required item":
        d["kiosk"]["items"] = ["A1"]
    elif how == "blank en text":  # en is optional (shown in vi when missing, issue 15) but never blank
        secA["items"][0]["text"]["en"] = " "
    elif how == "blank vi text":
        d["index"]["elements"][1]["title"]["vi"] = "  "
    elif how == "missing vi label":
        del d["scales"]["s5"]["levels"][3]["label"]["vi"]
    elif how == "duplicate option value":
        secA["items"][2]["options"][2]["value"] = 1
    elif how == "max_choices over options":
        secA["items"][2]["max_choices"] = 5
    elif how == "max_choices on single choice":
        secB["items"][1]["max_choices"] = 1
    elif how == "element code equals item code":
        d["index"]["elements"][1]["code"] = "A2"
    elif how == "item code reserved":
        secB["items"][2]["code"] = "OVERALL"
    elif how == "options on a scale item":
        secA["items"][0]["options"] = [{"value": 1, "label": {"vi": "x", "en": "x"}}]
    elif how == "scale item without scale":
        del secB["items"][0]["scale"]
    elif how == "text without max_length":
        del secB["items"][2]["max_length"]
    elif how == "bad id":
        d["id"] = "Tiny Form"
    elif how == "code with '#'":
        secA["items"][1]["code"] = "A#2"
    else:  # pragma: no cover
        raise AssertionError(how)


CASES = [
    ("duplicate item code", "sections[1].items[0].code", "duplicate item code 'A1'"),
    ("duplicate section code", "sections[1].code", "duplicate section code 'A'"),
    ("duplicate element code", "index.elements[1].code", "duplicate element code 'EA'"),
    ("unknown scale", "sections[0].items[1].scale", "unknown scale 's7'"),
    ("satisfied not a level", "scales.s3.satisfied[1]", "4 is not a level of scale 's3'"),
    ("levels not 1..K", "scales.s3.levels", "must be 1, 2, …, 3"),
    ("every level satisfied", "scales.s3.satisfied", "every level counts as satisfied"),
    ("element item unknown", "index.elements[0].items[1]", "unknown item 'A9'"),
    ("element item not a scale item", "index.elements[1].items[1]", "'B.KIND' is not a scored scale item"),
    ("element item twice", "index.elements[0].items[2]", "listed twice"),
    ("weight for unknown element", "index.overall.weights.EC", "unknown element 'EC'"),
    ("weight missing", "index.overall.weights", "no weight for element 'EB'"),
    ("weights not summing to 1", "index.overall.weights", "sum to 0.9"),
    ("papi indicator unknown", "papi.dimensions[0].subdimensions[1].indicators[0].item", "unknown item 'B9'"),
    ("papi indicator not scored", "papi.dimensions[0].subdimensions[0].indicators[1].item",
     "'COMMENT' is not a scored scale item"),
    ("papi code twice", "papi.dimensions[0].subdimensions[1].code", "duplicate PAPI code 'D1.1'"),
    ("kiosk item unknown", "kiosk.items[2]", "unknown item 'Z1'"),
    ("kiosk lacks required item", "kiosk.items", "required item 'B1' is missing"),
    ("blank en text", "sections[0].items[0].text.en", "must not be blank"),
    ("blank vi text", "index.elements[1].title.vi", "must not be blank"),
    ("missing vi label", "scales.s5.levels[3].label", "'vi' is a required property"),
    ("duplicate option value", "sections[0].items[2].options[2].value", "duplicate option value 1"),
    ("max_choices over options", "sections[0].items[2].max_choices", "exceeds the 3 options"),
    ("max_choices on single choice", "sections[1].items[1].max_choices", "needs 'multiple': true"),
    ("element code equals item code", "index.elements[1].code", "also an item code"),
    ("item code reserved", "sections[1].items[2].code", "reserved for the overall index"),
    ("options on a scale item", "sections[0].items[0].options", "'options' is not allowed here"),
    ("scale item without scale", "sections[1].items[0]", "'scale' is a required property"),
    ("text without max_length", "sections[1].items[2]", "'max_length' is a required property"),
    ("bad id", "id", "does not match"),
    ("code with '#'", "sections[0].items[1].code", "does not match"),
]


def test_tiny_definition_is_valid(tiny: Factory) -> None:
    assert validate_dict(tiny()) == []


@pytest.mark.parametrize(("how", "path", "fragment"), CASES, ids=[c[0] for c in CASES])
def test_broken_variant_is_reported_with_its_path(tiny: Factory, how: str, path: str, fragment: str) -> None:
    d = tiny()
    _break(d, how)
    issues = validate_dict(d, "tiny.json")
    assert any(i.path == path and fragment in i.message for i in issues), issues
    with pytest.raises(QuestionnaireError) as exc:
        load_dict(d, "tiny.json")
    assert f"tiny.json: {path}: " in str(exc.value)


def test_all_problems_are_reported_at_once(tiny: Factory) -> None:
    d = tiny()
    for how in ("unknown scale", "weights not summing to 1", "kiosk item unknown", "blank en text"):
        _break(d, how)
    paths = {i.path for i in validate_dict(d)}
    assert {"sections[0].items[1].scale", "index.overall.weights", "kiosk.items[2]",
            "sections[0].items[0].text.en"} <= paths


def test_malformed_json_reports_line_and_column(tmp_path: Path) -> None:
    f = tmp_path / "broken.json"
    f.write_text('{\n  "id": "x",\n  "version": 1,\n  "title": {"vi": "a" "en": "b"}\n}\n', encoding="utf-8")
    issues = validate_file(f)
    assert len(issues) == 1
    assert issues[0].file == str(f)
    assert issues[0].path == "line 4, column 23"
    assert "malformed JSON" in issues[0].message


def test_duplicate_json_key_is_reported(tmp_path: Path, tiny: Factory) -> None:
    text = json.dumps(tiny(), ensure_ascii=False).replace('"basis": "test"', '"basis": "test", "basis": "x"')
    f = tmp_path / "tiny-v1.json"
    f.write_text(text, encoding="utf-8")
    assert any("duplicate key 'basis'" in i.message for i in validate_file(f))


def test_missing_file_is_one_issue(tmp_path: Path) -> None:
    with pytest.raises(QuestionnaireError) as exc:
        load_file(tmp_path / "nope.json")
    assert [i.message for i in exc.value.issues] == ["file not found"]


def test_file_name_must_match_id_and_version(tmp_path: Path, tiny: Factory) -> None:
    f = tmp_path / "tiny-v2.json"
    f.write_text(json.dumps(tiny()), encoding="utf-8")
    with pytest.raises(QuestionnaireError) as exc:
        load_file(f)
    assert [(i.path, "does not match the file name" in i.message) for i in exc.value.issues] == [("version", True)]


def test_issue_prints_file_path_message() -> None:
    assert str(Issue("a.json", "sections[0].code", "bad")) == "a.json: sections[0].code: bad"


def test_valid_weighted_overall_is_accepted(tiny: Factory) -> None:
    d = tiny()
    d["index"]["overall"] = {"combine": "weighted", "weights": {"EA": 0.7, "EB": 0.3}}
    assert validate_dict(d) == []


def test_schema_is_valid_draft_2020_12_and_documented() -> None:
    import jsonschema

    from questionnaires.validate import schema

    s = schema()
    jsonschema.Draft202012Validator.check_schema(s)
    assert s["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    def documented(sub: dict[str, Any]) -> bool:
        ref = sub.get("$ref", "")
        return "description" in sub or "description" in s["$defs"].get(ref.rpartition("/")[2], {})

    assert [name for name, sub in s["properties"].items() if not documented(sub)] == []


def _paths(x: Any, p: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [p] if p else []
    children = x.items() if isinstance(x, dict) else enumerate(x) if isinstance(x, list) else []
    for k, v in children:
        out += _paths(v, (*p, k))
    return out


def _replaced(d: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    target = d
    for k in path[:-1]:
        target = target[k]
    target[path[-1]] = json.loads(json.dumps(value))
    return d


@pytest.mark.parametrize("junk", [None, 1, "x", [], {}, [1, "a"], {"a": 1}, True, 0.5])
def test_semantic_checks_tolerate_junk_anywhere(tiny: Factory, junk: Any) -> None:
    """Semantic checks also run on structurally broken documents, so any JSON value anywhere must not crash."""
    from questionnaires.validate import _semantic

    for path in _paths(tiny()):
        _semantic(_replaced(tiny(), path, junk))


def test_what_validates_also_builds(tiny: Factory) -> None:
    """Replacing any string by another: either issues are reported, or the model and index build."""
    for path in _paths(tiny()):
        d = tiny()
        target = d
        for k in path[:-1]:
            target = target[k]
        if not isinstance(target[path[-1]], str) or path[-1] in ("vi", "en"):
            continue  # texts are free; codes and references are what matter
        d = _replaced(d, path, "x")
        if validate_dict(d) == []:
            load_dict(d).index_spec()
