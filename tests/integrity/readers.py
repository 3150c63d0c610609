"""What a person reads off a page, a PDF or a workbook, in forms the integrity tests compare."""

from __future__ import annotations

import html as htmllib
import io
import re

from openpyxl import load_workbook
from pypdf import PdfReader


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
