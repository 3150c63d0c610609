"""The questionnaire-file example of docs/contracts.md §1 is abbreviated (`…`), so it cannot be loaded as
is; every field it names and every fixed value it shows must still be one the JSON schema accepts (a
renamed field or value would otherwise leave the page describing a file the loader rejects)."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = re.search(r"```jsonc\n(.*?)```", (ROOT / "docs" / "contracts.md").read_text(encoding="utf-8"), re.S)
SCHEMA = json.loads((ROOT / "questionnaires" / "schema" / "questionnaire.schema.json").read_text(encoding="utf-8"))
FIXED = ("type", "method", "combine", "rescaling", "score", "face")  # fields whose values come from a list


def _walk(node: object, keys: set[str], enums: set[str]) -> None:
    if isinstance(node, dict):
        keys.update(node.get("properties", {}))
        for v in node.get("enum", []) + ([node["const"]] if "const" in node else []):
            enums.add(str(v))
        for v in node.values():
            _walk(v, keys, enums)
    elif isinstance(node, list):
        for v in node:
            _walk(v, keys, enums)


def test_the_example_names_only_schema_fields_and_values():
    assert EXAMPLE is not None
    text = EXAMPLE.group(1)
    keys: set[str] = set()
    enums: set[str] = set()
    _walk(SCHEMA, keys, enums)
    named = set(re.findall(r'"([a-z_]+)"\s*:', text)) - {"vi", "en", "E1", "sat5"}  # map keys chosen by the author
    assert len(named) > 30
    assert sorted(named - keys) == []
    shown = {(k, v) for k, v in re.findall(r'"(' + "|".join(FIXED) + r')"\s*:\s*"([^"…]+)"', text)}
    assert len(shown) >= 8
    assert sorted(v for _k, v in shown if v not in enums) == []
