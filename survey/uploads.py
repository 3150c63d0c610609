"""Reading an uploaded table (CSV UTF-8 or XLSX) into header + numbered rows, for the paper and volume imports.

Line numbers are what the user sees in a spreadsheet (the header is line 1), so every row error can say
"line 7, column E1.2".  Cells come back as text, except XLSX date cells, which stay `datetime` (Excel has
no time zone; the importers say how they read them).
"""

from __future__ import annotations

import csv
import io
import os
import re
import secrets
import time
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from survey.errors import N_, DomainError, register
from survey.inputs import has_forbidden_characters

MAX_UPLOAD = 5 * 1024 * 1024
# An XLSX is a zip: 87 kB can unpack to 600,000 rows.  Bound what we unpack and how many rows we read, and
# say so, rather than let one upload take a worker's memory and minutes (docs/security.md §6).
MAX_UNZIPPED = 50 * 1024 * 1024
MAX_ROWS = 100_000
UPLOAD_LIMITS = _l("At most 5 MB and 100,000 rows (an .xlsx at most 50 MB unpacked): larger files are refused, "
                   "so that one upload cannot hold up the server. Split a larger file.")
STASH_SECONDS = 24 * 3600
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,64}$")
Cell = str | datetime


register({
    "table_no_header": N_("The first line must name the columns."),
    "table_not_utf8": N_("The file is not UTF-8 text. Save it as UTF-8 (CSV UTF-8 in Excel)."),
    "table_too_many_rows": N_("The file has more than %(rows)s rows: split it into several files."),
    "table_csv_unreadable": N_("Line %(line)d cannot be read as CSV: %(problem)s"),
    "table_empty": N_("The file is empty."),
    "table_not_xlsx": N_("The file could not be read as an Excel workbook (.xlsx)."),
    "table_unpacks_too_large": N_("The workbook unpacks to more than %(mb)d MB: split it into several files."),
    "table_too_large": N_("The file is larger than 5 MB: split it into several files."),
    "table_type_unknown": N_("Unknown file type: use .csv or .xlsx."),
    "table_control_characters": N_("Line %(line)d, column %(column)s holds characters that cannot be stored "
                                   "(invisible control characters). Remove them and upload the file again."),
})


class TableError(DomainError):
    """The file cannot be read as a table at all (wrong type, not UTF-8, no header); its field is the upload."""

    def __init__(self, code: str, **params: Any):
        super().__init__(code, "file", **params)


@dataclass
class Table:
    header: list[str]
    rows: list[tuple[int, dict[str, Cell]]]  # (line number, column → cell), blank rows left out


def _text(value: Any) -> Cell:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _rows(header: list[str], numbered: list[tuple[int, list[Any]]]) -> Table:
    rows = []
    for line, values in numbered:
        cells = [_text(v) for v in values]
        if all(c == "" for c in cells):
            continue
        rows.append((line, {name: (cells[i] if i < len(cells) else "") for i, name in enumerate(header) if name}))
    return Table(header, rows)


def _header(values: list[Any]) -> list[str]:
    header = [str(v).strip() if v is not None else "" for v in values]
    while header and header[-1] == "":
        header.pop()
    if not any(header):
        raise TableError("table_no_header")
    return header


def read_csv(raw: bytes) -> Table:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TableError("table_not_utf8") from exc
    sample = text[:4096]
    delimiter = ";" if sample.count(";") > sample.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    numbered: list[tuple[int, list[Any]]] = []
    header: list[str] | None = None
    try:
        for values in reader:
            if header is None:
                if not any(v.strip() for v in values):
                    continue
                header = _header(values)
                continue
            numbered.append((reader.line_num, values))
            if len(numbered) > MAX_ROWS:
                raise _too_many_rows()
    except csv.Error as exc:
        raise TableError("table_csv_unreadable", line=reader.line_num, problem=str(exc)) from exc
    if header is None:
        raise TableError("table_empty")
    return _rows(header, numbered)


def read_xlsx(raw: bytes) -> Table:
    from openpyxl import load_workbook

    _check_unzipped_size(raw)
    try:
        book = load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a damaged or foreign file
        raise TableError("table_not_xlsx") from exc
    try:
        sheet = book.worksheets[0]
        header: list[str] | None = None
        numbered: list[tuple[int, list[Any]]] = []
        for line, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            if header is None:
                if all(v is None or str(v).strip() == "" for v in values):
                    continue
                header = _header(list(values))
                continue
            numbered.append((line, list(values)))
            if len(numbered) > MAX_ROWS:
                raise _too_many_rows()
    except TableError:
        raise
    except Exception as exc:  # read-only sheets are parsed while iterating: a damaged sheet fails here (a 500 once)
        raise TableError("table_not_xlsx") from exc
    finally:
        book.close()
    if header is None:
        raise TableError("table_empty")
    return _rows(header, numbered)


def _too_many_rows() -> TableError:
    from survey.i18n import number

    return TableError("table_too_many_rows", rows=number(MAX_ROWS, 0))


def _check_unzipped_size(raw: bytes) -> None:
    """Refuse a workbook whose parts unpack to more than MAX_UNZIPPED (a zip bomb), before openpyxl reads it."""
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as zf:
            unpacked = sum(info.file_size for info in zf.infolist())
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise TableError("table_not_xlsx") from exc
    if unpacked > MAX_UNZIPPED:
        raise TableError("table_unpacks_too_large", mb=MAX_UNZIPPED // (1024 * 1024))


def read_table(filename: str, raw: bytes) -> Table:
    """A CSV or XLSX upload as a Table; TableError with a message in the user's language otherwise."""
    if len(raw) > MAX_UPLOAD:
        raise TableError("table_too_large")
    lower = filename.lower()
    if lower.endswith(".csv"):
        return _storable(read_csv(raw))
    if lower.endswith(".xlsx"):
        return _storable(read_xlsx(raw))
    raise TableError("table_type_unknown")


def _visible(text: str) -> str:
    return text.encode("unicode_escape").decode("ascii") if has_forbidden_characters(text) else text


def _storable(table: Table) -> Table:
    """Refuse NUL and other control characters in any cell: PostgreSQL cannot even compare a text holding
    NUL, so one such cell ended an import in a 500 (docs/security.md §3)."""
    header: dict[str, Cell] = dict.fromkeys(table.header, "")
    for line, cells in [(1, header), *table.rows]:
        for column, cell in cells.items():
            if (isinstance(cell, str) and has_forbidden_characters(cell)) or has_forbidden_characters(column):
                raise TableError("table_control_characters", line=line, column=_visible(column))
    return table


@dataclass(frozen=True, order=True)
class RowError:
    """One problem in an uploaded file, as every import (paper, volumes, tree file) lists them: line (the
    header is 1; 0 = the file as a whole), column or field as the file writes it ("" = the row or the file)
    and the problem in the user's language.  They sort by line, then column."""

    line: int
    column: str
    problem: str


def header_errors(header: list[str], required: tuple[str, ...] | list[str]) -> list[RowError]:
    """The header problems every table import has: a required column missing, a column given twice."""
    errors = [RowError(1, c, _("This column is missing.")) for c in required if c not in header]
    return errors + [RowError(1, c, _("This column appears more than once.")) for c in duplicate_columns(header)]


def empty_table_error(table: Table) -> list[RowError]:
    """A header and nothing below it is a problem, not a successful import of nothing."""
    return [] if table.rows else [RowError(1, "", _("The file has no rows below the header."))]


def duplicate_columns(header: list[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for name in header:
        if name and name in seen and name not in out:
            out.append(name)
        seen.add(name)
    return out


# ------------------------------------------------------------------------------------------ checked uploads
# Between the dry run and the confirmation the checked file waits on the server under a random token (a form
# field cannot carry a 5 MB file back: Flask refuses form fields over 500 kB).  The commit re-checks it.


def private_dir(name: str) -> Path:
    """A folder only the server's user can enter (0700), `name` under HAILONG_DOWNLOAD_DIR or, by default,
    `<instance>/downloads`: uploads and one-time downloads hold respondents' answers and invitation tokens,
    so they never go to the shared, world-readable temp folder."""
    from survey.config import INSTANCE_DIR

    base = Path(current_app.config.get("HAILONG_DOWNLOAD_DIR") or INSTANCE_DIR / "downloads")
    base.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = base / name
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    for folder in (base, path):
        if folder.stat().st_mode & 0o077:
            folder.chmod(0o700)  # mkdir's mode is filtered by the umask; an older folder may be open
    return path


def write_private(path: Path, data: bytes) -> None:
    """Write `data` to a new file readable by the server's user only (0600, whatever the umask)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        os.fchmod(fh.fileno(), 0o600)
        fh.write(data)


def _stash_dir() -> Path:
    return private_dir("hailong-admin-uploads")


def stash_upload(raw: bytes) -> str:
    """Keep a checked upload for its confirmation; returns the token.  Older stashes are purged here."""
    folder = _stash_dir()
    cutoff = time.time() - STASH_SECONDS
    for old in folder.iterdir():
        try:
            if old.stat().st_mtime < cutoff:
                old.unlink()
        except OSError:  # another worker purged it first
            pass
    token = secrets.token_urlsafe(24)
    write_private(folder / token, raw)
    return token


def load_stash(token: str) -> bytes | None:
    if not _TOKEN.match(token or ""):
        return None
    try:
        return (_stash_dir() / token).read_bytes()
    except OSError:
        return None


def drop_stash(token: str) -> None:
    if _TOKEN.match(token or ""):
        (_stash_dir() / token).unlink(missing_ok=True)
