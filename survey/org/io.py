"""Reading and writing administrative-tree files (YAML nested, CSV flat): rows with line numbers.

Both formats become the same list of `Row`s (kind, canonical fields, the line of each field), so the
importer checks one thing, and every problem can name the file, the line and the field as the user wrote
it.  YAML is read through `yaml.compose` (nodes keep their line) with every scalar kept as text, so a code
such as `NO` or `0123` is not silently turned into a boolean or a number.  docs/org-file-format.md
describes both formats.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from survey.errors import DomainError
from survey.inputs import has_forbidden_characters
from survey.org.messages import N_, _
from survey.spreadsheets import csv_writer, unneutralise
from survey.uploads import RowError

KINDS = ("level", "unit", "agency", "service_point", "kiosk")

# canonical fields of each kind, in file order; the parent reference is named after what it points to
FIELDS: dict[str, tuple[str, ...]] = {
    "level": ("code", "rank", "name_vi", "name_en"),
    "unit": ("code", "level", "name_vi", "name_en", "parent", "valid_from", "status"),
    "agency": ("code", "kind", "name_vi", "name_en", "unit", "status"),
    "service_point": ("code", "name_vi", "name_en", "agency", "kiosk_instrument", "link_instrument",
                      "official_on_duty", "status"),
    "kiosk": ("code", "name", "service_point"),
}
PARENT_FIELD = {"unit": "parent", "agency": "unit", "service_point": "agency", "kiosk": "service_point"}

CSV_COLUMNS = ("type", "code", "parent", "level", "rank", "kind", "name_vi", "name_en", "kiosk_instrument",
               "link_instrument", "official_on_duty", "valid_from", "status")
# canonical field → CSV column, where they differ
_CSV_NAME = {"unit": "parent", "agency": "parent", "service_point": "parent", "name": "name_vi"}

# YAML: the list key of children nested under an entity, and the kind of its items
_NESTED = {"unit": {"units": "unit", "agencies": "agency"}, "agency": {"service_points": "service_point"},
           "service_point": {"kiosks": "kiosk"}}
_TOP = {"levels": "level", "units": "unit", "agencies": "agency", "service_points": "service_point",
        "kiosks": "kiosk"}

# one whole sentence per kind (not "a %(kind)s"): articles and word order differ between languages
_NOT_APPLICABLE = {
    "level": N_("does not apply to a level; leave it empty"),
    "unit": N_("does not apply to a unit; leave it empty"),
    "agency": N_("does not apply to an agency; leave it empty"),
    "service_point": N_("does not apply to a service point; leave it empty"),
    "kiosk": N_("does not apply to a kiosk; leave it empty"),
}
_UNKNOWN_FIELD = {
    "level": N_("unknown field for a level (use %(fields)s)"),
    "unit": N_("unknown field for a unit (use %(fields)s)"),
    "agency": N_("unknown field for an agency (use %(fields)s)"),
    "service_point": N_("unknown field for a service point (use %(fields)s)"),
    "kiosk": N_("unknown field for a kiosk (use %(fields)s)"),
}


class OrgFileError(DomainError):
    """The file cannot be imported.  `errors` lists every problem found, as the table every import page shows
    (survey/uploads.py `RowError`), each worded when it was found in the requesting user's language
    (survey/org/messages.py); the message is the `file:line: field: problem` lines the CLI prints."""

    def __init__(self, file: str, errors: list[RowError]):
        self.file = file
        self.errors = errors
        super().__init__("org_file_invalid")

    def lines(self) -> list[str]:
        out = []
        for e in self.errors:
            where = f"{self.file}:{e.line}" if e.line else self.file
            out.append(f"{where}: {e.column}: {e.problem}" if e.column else f"{where}: {e.problem}")
        return out

    @property
    def message(self) -> str:
        return "\n".join(self.lines())


@dataclass
class Row:
    """One entity from a file.  `fields` are canonical names → text (None when empty)."""

    kind: str
    line: int
    fields: dict[str, str | None]
    field_lines: dict[str, int] = field(default_factory=dict)
    csv: bool = False
    implied_parent: bool = False  # YAML nesting gave the parent

    @property
    def code(self) -> str | None:
        return self.fields.get("code")

    @property
    def parent(self) -> str | None:
        return self.fields.get(PARENT_FIELD[self.kind]) if self.kind in PARENT_FIELD else None

    def label(self, name: str) -> str:
        """The field's name as the user wrote it (CSV has one `parent` column, kiosks' name is `name_vi`)."""
        return _CSV_NAME.get(name, name) if self.csv else name

    def error(self, name: str | None, message: str) -> RowError:
        line = self.field_lines.get(name, self.line) if name else self.line
        return RowError(line, self.label(name) if name else "", message)


# ------------------------------------------------------------------------------------------ reading
def read_file(path: str | Path, fmt: str | None = None) -> tuple[list[Row], list[RowError]]:
    """Rows of a .yaml/.yml or .csv file and the problems of form found in them (unknown fields, …).

    Raises OrgFileError only when the file cannot be read at all (encoding, YAML syntax, CSV header), so
    that row problems can be reported together with the importer's checks.
    """
    path = Path(path)
    fmt = fmt or guess_format(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise OrgFileError(str(path), [RowError(0, "", _("not UTF-8 text (%(reason)s)", reason=exc.reason))]) from exc
    except OSError as exc:
        message = _("cannot read the file: %(reason)s", reason=exc.strerror)
        raise OrgFileError(str(path), [RowError(0, "", message)]) from exc
    return read_text(text, str(path), fmt)


def guess_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        return "yaml"
    if suffix == ".csv":
        return "csv"
    raise OrgFileError(str(path), [RowError(0, "", _("unknown file type: use .yaml, .yml or .csv"))])


#: a province has a few thousand entities; a file with more is a mistake or an attack (docs/security.md §6)
MAX_ENTRIES = 50_000


def read_text(text: str, name: str, fmt: str) -> tuple[list[Row], list[RowError]]:
    for number, line in enumerate(text.split("\n"), start=1):  # NUL etc. cannot be stored (docs/security.md §3)
        if has_forbidden_characters(line):
            raise OrgFileError(name, [RowError(number, "", _(
                "this line holds characters that cannot be stored (invisible control characters)"))])
    rows, errors = _read_yaml(text, name) if fmt == "yaml" else _read_csv(text, name)
    if len(rows) > MAX_ENTRIES:
        raise OrgFileError(name, [RowError(0, "", _("more than %(n)d entries: split the file", n=MAX_ENTRIES))])
    return rows, errors


def _read_csv(text: str, name: str) -> tuple[list[Row], list[RowError]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    errors: list[RowError] = []
    try:
        header = next(reader)
    except StopIteration:
        raise OrgFileError(name, [RowError(0, "", _("the file is empty"))]) from None
    header = [h.strip() for h in header]
    for col in header:
        if col not in CSV_COLUMNS:
            errors.append(RowError(1, col, _("unknown column (columns are: %(columns)s)",
                                                columns=", ".join(CSV_COLUMNS))))
    if "type" not in header:
        errors.append(RowError(1, "type", _("the header has no 'type' column")))
    if len(set(header)) != len(header):
        errors.append(RowError(1, "", _("a column name appears twice in the header")))
    if errors:
        raise OrgFileError(name, errors)
    rows: list[Row] = []
    line = 1
    for record in reader:
        start, line = line + 1, reader.line_num
        if not any(cell.strip() for cell in record):
            continue
        if len(record) > len(header):
            errors.append(RowError(start, "", _("%(cells)d cells but the header has %(columns)d",
                                                     cells=len(record), columns=len(header))))
            continue
        cells = {h: (_nfc(unneutralise(record[i])) if i < len(record) else "") for i, h in enumerate(header)}
        kind = cells.pop("type", "")
        if kind not in KINDS:
            errors.append(RowError(start, "type", _("unknown type '%(type)s' (use one of %(types)s)",
                                                       type=kind, types=", ".join(KINDS))))
            continue
        fields: dict[str, str | None] = {}
        by_column = {_CSV_NAME.get(f, f): f for f in FIELDS[kind]}
        for col, value in cells.items():
            if col in by_column:
                fields[by_column[col]] = value or None
            elif value:
                errors.append(RowError(start, col, _(_NOT_APPLICABLE[kind])))
        rows.append(Row(kind, start, fields, csv=True))
    return rows, errors


class _Map(dict[str, Any]):
    """A YAML mapping that remembers its line and the line of each key."""

    line: int = 0
    key_lines: dict[str, int]


def _node_to_py(node: yaml.Node, errors: list[RowError]) -> Any:
    if isinstance(node, yaml.MappingNode):
        out = _Map()
        out.line = node.start_mark.line + 1
        out.key_lines = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            kline = key_node.start_mark.line + 1
            if key is None:
                errors.append(RowError(kline, "", _("a key must be a plain name")))
                continue
            if key in out:
                errors.append(RowError(kline, key, _("key repeated (first on line %(line)d)",
                                                        line=out.key_lines[key])))
                continue
            out[key] = _node_to_py(value_node, errors)
            out.key_lines[key] = kline
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_node_to_py(n, errors) for n in node.value]
    if node.tag == "tag:yaml.org,2002:null":
        return None
    return _nfc(str(node.value)) or None


def _nfc(text: str) -> str:
    """Trimmed and in Unicode NFC: Vietnamese typed with different keyboards compares equal."""
    return unicodedata.normalize("NFC", text.strip())


def _line(event: yaml.Event) -> int:
    """The 1-based line an event starts on (PyYAML's parser always sets the mark; its stubs allow None: 0)."""
    return event.start_mark.line + 1 if event.start_mark is not None else 0


def _refuse_aliases(text: str, name: str) -> None:
    """Anchors and aliases (`&a`, `*a`) let 400 bytes expand to ten million nodes (a "billion laughs"); a tree
    file never needs them, so they are refused before anything is built (docs/security.md §6)."""
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise OrgFileError(name, [RowError(_line(event), "", _(
                "anchors and aliases (& and *) are not allowed: write every entry out in full"))])


MAX_YAML_DEPTH = 32  # a tree file nests about 10 deep; composing thousands of levels exhausts the recursion limit


def _refuse_deep_nesting(text: str, name: str) -> None:
    """Composing nodes is recursive: 2,000 nested `[` would end in RecursionError (a 500).  The event parser
    is not recursive, so the depth is counted on its events first (issue 11 §3, docs/security.md)."""
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_YAML_DEPTH:
                raise OrgFileError(name, [RowError(_line(event), "", _(
                    "nested more than %(n)d levels deep", n=MAX_YAML_DEPTH))])
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _read_yaml(text: str, name: str) -> tuple[list[Row], list[RowError]]:
    try:
        _refuse_deep_nesting(text, name)
        _refuse_aliases(text, name)
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 0
        problem = exc.problem or exc.context
        raise OrgFileError(name, [RowError(line, "", _("not valid YAML: %(problem)s", problem=problem))]) from exc
    except yaml.YAMLError as exc:
        raise OrgFileError(name, [RowError(0, "", _("not valid YAML: %(problem)s", problem=exc))]) from exc
    if root is None:
        raise OrgFileError(name, [RowError(0, "", _("the file is empty"))])
    errors: list[RowError] = []
    data = _node_to_py(root, errors)
    if not isinstance(data, _Map):
        raise OrgFileError(name, [RowError(1, "", _("the top level must be a mapping with keys %(keys)s",
                                                   keys=", ".join(_TOP)))])
    rows: list[Row] = []
    for key, value in data.items():
        kind = _TOP.get(key)
        if kind is None:
            errors.append(RowError(data.key_lines[key], key, _("unknown key (use %(keys)s)", keys=", ".join(_TOP))))
            continue
        _yaml_list(value, kind, None, data.key_lines[key], key, rows, errors)
    return rows, errors


def _yaml_list(value: Any, kind: str, parent: Row | None, line: int, key: str, rows: list[Row],
               errors: list[RowError]) -> None:
    if value is None:
        return
    if not isinstance(value, list):
        errors.append(RowError(line, key, _("must be a list (entries starting with '- ')")))
        return
    for entry in value:
        if not isinstance(entry, _Map):
            errors.append(RowError(line, key, _("each entry must be a mapping of fields")))
            continue
        _yaml_entry(entry, kind, parent, rows, errors)


def _yaml_entry(entry: _Map, kind: str, parent: Row | None, rows: list[Row], errors: list[RowError]) -> None:
    fields: dict[str, str | None] = {}
    nested = _NESTED.get(kind, {})
    row = Row(kind, entry.line, fields, dict(entry.key_lines))
    rows.append(row)
    children: list[tuple[str, Any]] = []
    for key, value in entry.items():
        kline = entry.key_lines[key]
        if key in nested:
            children.append((key, value))
        elif key not in FIELDS[kind]:
            allowed = [*FIELDS[kind], *nested]
            errors.append(RowError(kline, key, _(_UNKNOWN_FIELD[kind], fields=", ".join(allowed))))
        elif isinstance(value, list | dict):
            errors.append(RowError(kline, key, _("must be a single value")))
        elif parent is not None and key == PARENT_FIELD.get(kind):
            errors.append(RowError(kline, key, _("is given by the nesting; remove this field")))
        else:
            fields[key] = value
    if parent is not None:
        fields[PARENT_FIELD[kind]] = parent.code
        row.implied_parent = True
    for key, value in children:
        _yaml_list(value, nested[key], row, entry.key_lines[key], key, rows, errors)


# ------------------------------------------------------------------------------------------ writing
def _clean(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None and v != ""}


def to_csv(rows: Iterable[tuple[str, dict[str, Any]]]) -> str:
    """Flat CSV: one line per entity, parents before children (so the file reads top-down)."""
    out = io.StringIO(newline="")
    writer = csv_writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for kind, fields in rows:
        cells = {"type": kind}
        for name, value in fields.items():
            cells[_CSV_NAME.get(name, name)] = "" if value is None else str(value)
        writer.writerow([cells.get(col, "") for col in CSV_COLUMNS])
    return out.getvalue()


def to_yaml(levels: list[dict[str, Any]], roots: list[dict[str, Any]]) -> str:
    """Nested YAML: units hold their child units and agencies, agencies their service points, …"""
    doc = {"levels": [_clean(lv) for lv in levels], "units": roots}
    header = ("# HaiLong administrative tree (docs/org-file-format.md).\n"
              "# Import with: flask --app wsgi org import FILE\n")
    return header + yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=120)
