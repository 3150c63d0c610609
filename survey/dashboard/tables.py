"""One table object feeds the page, the CSV and the XLSX, so an export holds exactly what the page shows.

Values are raw (floats 0–1 for shares, ints for counts); the page formats them with the `percent`/`number`
filters, exports write them unformatted.  A suppressed row (n below n_min) shows "not enough responses
(n = …)" instead of its estimate on the page, and its estimate and interval are left EMPTY in exports.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from typing import Any

from flask import Response, abort
from flask_babel import gettext as _

from survey.dashboard.sheets import sheet_label, sheet_name
from survey.spreadsheets import append_row, csv_writer

TEXT, PCT, NUM, INT, PVAL, CI = "text", "pct", "num", "int", "pval", "ci"
#: a difference of two figures (and its interval): percentage points for shares, signed score for PAPI scores
DIFF, DIFF_CI = "diff", "diff_ci"
#: an effective number of responses: one decimal on every page (the Home Affairs tables and the funnel too)
NEFF = "neff"
HIDDEN_WHEN_SUPPRESSED = (PCT, NUM, CI, PVAL, DIFF, DIFF_CI, NEFF)



@dataclass(frozen=True)
class Col:
    key: str
    label: str
    kind: str = TEXT


@dataclass
class Table:
    id: str
    title: str
    cols: list[Col]
    rows: list[dict[str, Any]] = field(default_factory=list)

    def display_rows(self) -> list[dict[str, Any]]:
        """Rows formatted for the page (Babel numbers in the page language): [{suppressed, cells}], each cell
        (kind, text, href) with kind th | num | text | note.  Done here, not in Jinja macros: a SIPAS page has
        ~1,500 cells and a macro call per cell costs more than the statistics."""
        out = []
        for r in self.rows:
            suppressed = bool(r.get("_suppressed"))
            noted = False
            cells: list[tuple[str, str, str | None]] = []
            for i, c in enumerate(self.cols):
                if i == 0:
                    cells.append(("th", format_cell(r, c), r.get("_href")))
                elif suppressed and c.kind in HIDDEN_WHEN_SUPPRESSED:
                    cells.append(("num", "—", None) if noted else ("note", suppressed_note(r), None))
                    noted = True
                else:
                    cells.append(("text" if c.kind == TEXT else "num", format_cell(r, c), None))
            out.append({"suppressed": suppressed, "cells": cells})
        return out

    def export_header(self) -> list[str]:
        out: list[str] = []
        unit = self._difference_unit()
        for c in self.cols:
            if c.kind == CI:
                out += [f"{c.label} ({_('low')})", f"{c.label} ({_('high')})"]
            elif c.kind == DIFF_CI:
                out += [f"{c.label} ({_('low')}; {unit})", f"{c.label} ({_('high')}; {unit})"]
            elif c.kind == DIFF:
                out.append(f"{c.label} ({unit})")
            else:
                out.append(c.label)
        return [*out, _("Note"), *([_("Sampling design")] if self._has_intervals() else [])]

    def _has_intervals(self) -> bool:
        """Intervals depend on the sampling design (HAILONG_DESIGN): a file with intervals names it."""
        return any(c.kind in (CI, DIFF_CI) for c in self.cols)

    def _difference_unit(self) -> str:
        """What a raw difference in the file means: shares differ in proportion (0.053 = 5.3 points)."""
        kinds = {r.get("_kind", PCT) for r in self.rows}
        if kinds <= {PCT}:
            return _("proportion")
        if kinds == {NUM}:
            return _("score")
        return _("proportion; score for PAPI scores")

    def export_rows(self) -> list[list[Any]]:
        from survey.dashboard.method_text import design_sentence

        design = [design_sentence()] if self._has_intervals() else []
        out = []
        for r in self.rows:
            suppressed = bool(r.get("_suppressed"))
            line: list[Any] = []
            for c in self.cols:
                v = r.get(c.key)
                blank = suppressed and c.kind in HIDDEN_WHEN_SUPPRESSED
                if c.kind in (CI, DIFF_CI):
                    lo, hi = v if isinstance(v, tuple) else (None, None)
                    line += [None if blank else _clean(lo), None if blank else _clean(hi)]
                else:
                    line.append(None if blank else _clean(v))
            line.append(suppressed_note(r) if suppressed else r.get("_note", ""))
            out.append(line + design)
        return out


def format_cell(row: dict[str, Any], col: Col) -> str:
    """One value as the page shows it: shares as 84,97% (vi), scores and counts with Vietnamese separators."""
    from survey.i18n import number, percent, points, points_range

    v = row.get(col.key)
    as_number = row.get("_kind") == NUM
    if col.kind == PCT:
        return number(_clean(v), 2) if as_number else percent(_clean(v), 1)
    if col.kind == CI:
        lo, hi = v if isinstance(v, tuple) else (None, None)
        lo, hi = _clean(lo), _clean(hi)
        if lo is None or hi is None:
            # answers from one service point per stratum (design df = 0): the variance cannot be
            # estimated — say so rather than leave a dash that reads as a missing figure
            return _("no interval: one service point")
        return f"{number(lo, 2)} – {number(hi, 2)}" if as_number else f"{percent(lo, 1)} – {percent(hi, 1)}"
    if col.kind == DIFF:
        return _signed(_clean(v)) if as_number else points(_clean(v))
    if col.kind == DIFF_CI:
        lo, hi = v if isinstance(v, tuple) else (None, None)
        lo, hi = _clean(lo), _clean(hi)
        if lo is None or hi is None:
            return _("no interval: one service point")
        return f"{_signed(lo)} – {_signed(hi)}" if as_number else points_range(lo, hi)
    if col.kind == NUM:
        return number(_clean(v), 2)
    if col.kind == NEFF:
        return number(_clean(v), 1)
    if col.kind == INT:
        return number(_clean(v), 0)
    if col.kind == PVAL:
        v = _clean(v)
        if v is None:
            return "—"
        return f"< {number(0.001, 3)}" if v < 0.001 else number(v, 3)
    return "" if v is None else str(v)


def _signed(v: float | None) -> str:
    """A difference of scores with its sign: +0,12 / -0,30."""
    from survey.i18n import number

    if v is None:
        return "—"
    text = number(abs(v), 2)
    return text if round(v, 2) == 0 else ("+" if v > 0 else "-") + text


def _clean(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if hasattr(v, "item"):  # numpy scalar
        return _clean(v.item())
    return v


def not_enough(n: Any) -> str:
    from survey.i18n import number

    return _("not enough responses (n = %(n)s)", n=number(int(n or 0), 0))


def suppressed_note(row: dict[str, Any]) -> str:
    """Why a row's figures are hidden: the row's own `_why` (e.g. too few comments), else too few responses."""
    return str(row.get("_why") or not_enough(row.get("_n", 0)))


def csv_response(tables: list[Table], filename: str) -> Response:
    """UTF-8 with BOM (Excel opens Vietnamese correctly); several tables are separated by a title line."""
    buf = io.StringIO()
    w = csv_writer(buf)
    for i, t in enumerate(tables):
        if len(tables) > 1:
            if i:
                w.writerow([])
            w.writerow([t.title])
        w.writerow(t.export_header())
        for row in t.export_rows():
            w.writerow(row)
    body = "\ufeff" + buf.getvalue()
    return Response(body, content_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'})


def xlsx_response(tables: list[Table], filename: str) -> Response:
    """One sheet per table (openpyxl), numbers as numbers, shares formatted as percentages."""
    from openpyxl import Workbook

    wb = Workbook()
    wb.remove(wb.active)
    used: set[str] = set()
    for t in tables:
        name = sheet_name(sheet_label(t.id), used)
        ws = wb.create_sheet(name)
        append_row(ws, t.export_header())
        kinds: list[str] = []
        for c in t.cols:
            kinds += [c.kind, c.kind] if c.kind in (CI, DIFF_CI) else [c.kind]
        for row in t.export_rows():
            append_row(ws, row)
        for j, kind in enumerate(kinds, start=1):
            if kind in (PCT, CI):
                for cell in ws.iter_cols(min_col=j, max_col=j, min_row=2):
                    for x in cell:
                        x.number_format = "0.00%"
    buf = io.BytesIO()
    wb.save(buf)
    return Response(buf.getvalue(),
                    mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f'attachment; filename="{filename}.xlsx"'})


def chosen_table(tables: list[Table]) -> str | None:
    """`?table=`: one of the page's tables, None for all of them; any other name is a 404 page naming those the
    page has (as before, a table this view lacks is "not found"), on the page as on its downloads."""
    from survey.dashboard import params

    which = params.raw("table")
    if which is None or not tables:  # a page without tables has nothing to choose from (its download is 404)
        return which
    return params.choice("table", [t.id for t in tables], status=404)


def export(tables: list[Table], fmt: str, filename: str, which: str | None = None) -> Response:
    """`?format=csv|xlsx[&table=id]`: the named table, or all of them; a table the page does not have is a 404
    page naming those it has (survey/dashboard/params.py), and so is a page without tables (no responses yet:
    an empty workbook cannot be written, openpyxl refused with a 500)."""
    if which and tables:
        ids = [t.id for t in tables]
        if which not in ids:
            from survey.dashboard.params import BadParameter

            raise BadParameter("param_choice", "table", status=404, value=which, choices=", ".join(ids))
        tables = [t for t in tables if t.id == which]
    if not tables:
        abort(404)
    if fmt == "csv":
        return csv_response(tables, filename)
    if fmt == "xlsx":
        return xlsx_response(tables, filename)
    abort(404)
