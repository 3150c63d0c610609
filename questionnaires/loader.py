"""Loading questionnaire files: validate first, then build the model; and finding the shipped instruments."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from .model import Questionnaire, build
from .validate import Issue, QuestionnaireError, read_file, validate_dict

__all__ = ["QuestionnaireError", "load_dict", "load_file", "load_shipped", "shipped"]

INSTRUMENTS_DIR = Path(__file__).parent / "instruments"
_NAME = re.compile(r"^(?P<id>[a-z0-9]+(?:-[a-z0-9]+)*)-v(?P<version>[1-9][0-9]*)\.json$")


def load_dict(data: Any, source: str = "<questionnaire>") -> Questionnaire:
    """Questionnaire from a parsed definition; raises QuestionnaireError listing every problem.

    `source` names the origin in issues (a file name, or e.g. `db:sipas-2017 v1`).
    """
    issues = validate_dict(data, source)
    if issues:
        raise QuestionnaireError(issues)
    return build(data)


def load_file(path: str | Path) -> Questionnaire:
    """Questionnaire from a JSON file; raises QuestionnaireError (file, path, message for each problem).

    A file named `<id>-v<version>.json` must contain that id and version, so a copied file whose
    version was not bumped is caught.
    """
    data, issues = read_file(path)
    if data is None:
        raise QuestionnaireError(issues)
    issues += validate_dict(data, str(path))
    issues += _name_issues(Path(path), data)
    if issues:
        raise QuestionnaireError(issues)
    return build(data)


def _name_issues(path: Path, data: Any) -> list[Issue]:
    m = _NAME.match(path.name)
    if not m or not isinstance(data, dict):
        return []
    out = []
    if data.get("id") != m["id"]:
        out.append(Issue(str(path), "id", f"id {data.get('id')!r} does not match the file name {path.name!r}"))
    if data.get("version") != int(m["version"]):
        out.append(Issue(str(path), "version",
                         f"version {data.get('version')!r} does not match the file name {path.name!r}"))
    return out


def shipped() -> list[Path]:
    """Paths of the instruments shipped with HaiLong, sorted by id then version."""
    paths = [p for p in INSTRUMENTS_DIR.glob("*.json") if _NAME.match(p.name)]
    return sorted(paths, key=lambda p: (_NAME.match(p.name)["id"], int(_NAME.match(p.name)["version"])))  # type: ignore[index]


def load_shipped(id: str, version: int | None = None) -> Questionnaire:
    """A shipped instrument by id; the latest version when `version` is None.  KeyError if absent."""
    versions = {
        int(m["version"]): p for p in shipped() if (m := _NAME.match(p.name)) and m["id"] == id
    }
    if not versions:
        raise KeyError(f"no shipped questionnaire {id!r}")
    v = max(versions) if version is None else version
    if v not in versions:
        raise KeyError(f"no shipped questionnaire {id!r} version {v} (have {sorted(versions)})")
    return load_file(versions[v])
