"""Reading an uploaded table (CSV UTF-8 or XLSX) into header + numbered rows, for the paper and volume imports.

Line numbers are what the user sees in a spreadsheet (the header is line 1), so every row error can say
"line 7, column E1.2".  Cells come back as text, except XLSX date cells, which stay `datetime` (Excel has
no time zone; the importers say how they read them).
"""

from __future__ import annotations

import csv
import io
import re
import secrets
import tempfile
import time
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from flask import current_app
from flask_babel import gettext as _

MAX_UPLOAD = 5 * 1024 * 1024
STASH_SECONDS = 24 * 3600
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,64}$")
Cell = str | datetime


class TableError(Exception):
    """The file cannot be read as a table at all (wrong type, not UTF-8, no header)."""


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
        raise TableError(_("The first line must name the columns."))
    return header


def read_csv(raw: bytes) -> Table:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TableError(_("The file is not UTF-8 text. Save it as UTF-8 (CSV UTF-8 in Excel).")) from exc
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
    except csv.Error as exc:
        raise TableError(_("Line %(line)d cannot be read as CSV: %(problem)s", line=reader.line_num,
                           problem=str(exc))) from exc
    if header is None:
        raise TableError(_("The file is empty."))
    return _rows(header, numbered)


def read_xlsx(raw: bytes) -> Table:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a damaged or foreign file
        raise TableError(_("The file could not be read as an Excel workbook (.xlsx).")) from exc
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
    finally:
        book.close()
    if header is None:
        raise TableError(_("The file is empty."))
    return _rows(header, numbered)


def read_table(filename: str, raw: bytes) -> Table:
    """A CSV or XLSX upload as a Table; TableError with a message in the user's language otherwise."""
    if len(raw) > MAX_UPLOAD:
        raise TableError(_("The file is larger than 5 MB: split it into several files."))
    lower = filename.lower()
    if lower.endswith(".csv"):
        return read_csv(raw)
    if lower.endswith(".xlsx"):
        return read_xlsx(raw)
    raise TableError(_("Unknown file type: use .csv or .xlsx."))


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


def _stash_dir() -> Path:
    base = Path(current_app.config.get("HAILONG_DOWNLOAD_DIR") or tempfile.gettempdir())
    path = base / "hailong-admin-uploads"
    path.mkdir(parents=True, exist_ok=True)
    return path


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
    (folder / token).write_bytes(raw)
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
