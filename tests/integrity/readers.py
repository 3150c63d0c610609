"""What a person reads off a page, a PDF or a workbook, in forms the integrity tests compare."""

from __future__ import annotations

import html as htmllib
import io
import re

from openpyxl import load_workbook
from pypdf import PdfReader

from survey.i18n import fixed


def page_lines(markup: str) -> str:
    """Page text one cell per line (tags → line breaks), as the PDF's text comes out."""
    text = htmllib.unescape(re.sub(r"<[^>]+>", "\n", markup))
    return "\n".join(line.strip() for line in text.split("\n") if line.strip())


def pdf_lines(data: bytes) -> str:
    return "\n".join(line.strip() for page in PdfReader(io.BytesIO(data)).pages
                     for line in page.extract_text().split("\n") if line.strip())


def sheets(data: bytes) -> dict[str, list[tuple]]:
    wb = load_workbook(io.BytesIO(data))
    return {ws.title: [tuple(r) for r in ws.iter_rows(values_only=True)] for ws in wb.worksheets}


def sheet_rows(rows: list[tuple], first: str) -> dict[object, dict[object, object]]:
    """Rows below the header whose first cell is `first`, keyed by their first cell."""
    header = next(r for r in rows if r and r[0] == first)
    return {r[0]: dict(zip(header, r, strict=False)) for r in rows[rows.index(header) + 1:] if r and r[0]}


def pct(value: float) -> str:
    """A share as the English pages print it (one decimal)."""
    return fixed(float(value), 1, "en", as_percent=True)


def shows_row(text: str, label: str, estimate: float, n: int) -> bool:
    """A table row in page or PDF text: the label, the estimate, one or two interval cells, n."""
    pattern = rf"(?m)^{re.escape(label)}\n{re.escape(pct(estimate))}\n(?:[^\n]+\n){{1,2}}{n}$"
    return re.search(pattern, text) is not None
