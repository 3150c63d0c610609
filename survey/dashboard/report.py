"""The period report Sở Nội vụ sends to the People's Committee: HTML (print stylesheet), PDF and XLSX.

Contents: a summary (overall and element indices of the whole selection), the comparison of the first tree
level below the city (districts, or communes in a two-tier city) and of all agencies with their charts,
one page per agency, and the method note.  The PDF is the same HTML laid out by ReportLab
(survey/dashboard/report_pdf_layout.py), so the PDF and the page cannot disagree; the XLSX has one sheet per
table.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from dataclasses import dataclass, field, replace
from typing import Any

from flask import Blueprint, abort, current_app, render_template
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from survey.auth.scope import roles_required
from survey.dashboard import coverage_present as cp
from survey.dashboard import report_pdf
from survey.dashboard.charts import Chart, ForestRow, forest_plot
from survey.dashboard.compare_views import (
    STAFF_ROLES,
    XLSX_MIME,
    Filters,
    read_filters,
    run_comparison,
    selection_for,
    tables_xlsx,
)
from survey.dashboard.homeaffairs_present import (
    INT,
    PCT,
    TEXT,
    Column,
    Table,
    comparison_charts,
    comparison_tables,
    not_enough,
    period_note,
    protecting,
    trend_of,
    trend_table,
)
from survey.dashboard.sheets import sheet_label
from survey.extensions import db
from survey.i18n import LOCAL_TZ, current_lang, local_date
from survey.org.models import Agency
from survey.results.comparison import Comparison, level_choices, selection_trend
from survey.results.coverage import coverage, coverage_by
from survey.results.indices import indices
from survey.results.periods import attachment, now
from survey.results.protection import protect_records, root_node

bp = Blueprint("report", __name__, url_prefix="/homeaffairs/report")


@dataclass
class Section:
    """A compared level of the report: the comparison, its tables and charts."""

    comparison: Comparison
    tables: list[Table]
    charts: list[Chart]


@dataclass
class AgencyPage:
    id: int
    name: str
    table: Table
    chart: Chart | None


@dataclass
class Report:
    filters: Filters
    summary: Table | None
    sections: list[Section]
    agencies: list[AgencyPage]
    method: dict[str, Any]
    trend: Chart | None = None
    trend_table: Table | None = None
    coverage: Table | None = None  # response rate and reviewed responses per agency (issue 16 §3)
    coverage_notes: list[str] = field(default_factory=list)


def _measure_rows(table: Any, lang: str) -> list[tuple[Any, ...]]:
    """Rows of the measure table from an indices table (or its records)."""
    rows: list[tuple[Any, ...]] = []
    for rec in (table.to_dict("records") if hasattr(table, "to_dict") else table):
        title = (rec["title_en"] if lang == "en" else rec["title_vi"]) or rec["measure"]
        if rec["suppressed"]:
            note = protecting if rec.get("protects") else not_enough
            rows.append((title, None, None, None, int(rec["n"]), note(int(rec["n"]), lang)))
        else:
            lo, hi = rec["ci_low"], rec["ci_high"]
            rows.append((title, float(rec["estimate"]), None if math.isnan(lo) else float(lo),
                         None if math.isnan(hi) else float(hi), int(rec["n"]), ""))
    return rows


def _measure_columns() -> tuple[Column, ...]:
    return (Column("measure", _("Measure"), TEXT), Column("estimate", _("Estimate"), PCT),
            Column("ci_low", _("95% CI low"), PCT), Column("ci_high", _("95% CI high"), PCT),
            Column("n", "n", INT), Column("note", _("Note"), TEXT))


def build_report(f: Filters) -> Report | None:
    """Everything the report shows for the viewer's scope (unit managers: their subtree only)."""
    if f.version is None or f.period is None:
        return None
    lang = current_lang()
    n_min = int(current_app.config["HAILONG_N_MIN"])
    sel = replace(selection_for(current_user, f), period_from=f.period.start, period_to=f.period.end)
    whole = indices(db.session, sel, domain=(), n_min=n_min)
    if whole.table.empty:
        return None
    kinds = ("overall", "element")

    sections: list[Section] = []
    levels = level_choices(db.session)
    groups = [(levels[0].code, levels[0].name_en if lang == "en" else levels[0].name_vi)] if levels else []
    groups.append(("agency", _("Agencies")))
    for i, (group, label) in enumerate(groups):
        comp = run_comparison(current_user, f, group, label)
        if comp is None or not comp.rows:
            continue
        sections.append(Section(comp, comparison_tables(comp, lang), comparison_charts(comp, lang, prefix=f"r{i}")))

    # the summary beside the agencies (their section and pages): when the whole minus the agencies with an
    # estimate would give the suppressed agencies away (analysis.disclosure), it covers those agencies only
    summary_title = _("Summary: overall and element indices")
    by_agency = next((s.comparison for s in sections if s.comparison.group == "agency"), None)
    if by_agency is not None and by_agency.overall_scope == "with_estimate" and by_agency.shown_selection:
        whole = indices(db.session, by_agency.shown_selection, domain=(), n_min=n_min)
        summary_title = _("Summary: overall and element indices of the %(k)s agencies with an estimate (the "
                          "%(s)s with too few responses are left out, so that their figures cannot be worked out)",
                          k=sum(1 for r in by_agency.rows if not r.suppressed), s=by_agency.left_out)
    summary_rows = whole.table[whole.table["kind"].isin(kinds)].to_dict("records")
    node = root_node(db.session, current_user.unit.code if current_user.role == "unit_manager"
                     and current_user.unit is not None else None)
    if node is not None:  # the whole (the city, a manager's unit) hidden to protect a small group: says so
        summary_rows = protect_records(db.session, sel, summary_rows, node[0], n_min, code=node[1])
    summary = Table("summary", summary_title, _measure_columns(), tuple(_measure_rows(summary_rows, lang)))

    per_agency = indices(db.session, sel, domain="agency", n_min=n_min)
    agencies: list[AgencyPage] = []
    names = {a.code: a for a in db.session.query(Agency).all()}
    # one pass over the records: filtering the frame once per agency cost ~1 s for the 120 agencies of a city;
    # only the overall and element rows become records (all of them cost 0.1 s more for SIPAS's 62 measures)
    frame = per_agency.table
    by_code: dict[str, list[dict[Hashable, Any]]] = {str(code): [] for code in frame["domain"].unique()}
    # each measure's rows hidden to protect a small group, as on every other page (survey.results.protection)
    for rec in protect_records(db.session, sel, frame[frame["kind"].isin(kinds)].to_dict("records"), "agency",
                               n_min):
        by_code[str(rec["domain"])].append(rec)
    for code in sorted(by_code):
        ag = names.get(code)
        if ag is None:
            continue
        rows = by_code[code]
        table = Table(f"agency-{ag.code}", ag.name(lang), _measure_columns(), tuple(_measure_rows(rows, lang)))
        elements = [r for r in rows if r["kind"] == "element"]
        chart = None
        if elements:
            chart = forest_plot(
                f"ag-{ag.id}",
                [ForestRow((r["title_en"] if lang == "en" else r["title_vi"]) or r["measure"],
                           None if r["suppressed"] else float(r["estimate"]),
                           None if r["suppressed"] else float(r["ci_low"]),
                           None if r["suppressed"] else float(r["ci_high"]), int(r["n"]), bool(r["suppressed"]),
                           protecting(int(r["n"]), lang) if r.get("protects") else "")
                 for r in elements],
                title=_("Elements of %(agency)s, %(period)s", agency=ag.name(lang), period=f.period.name), lang=lang,
                of_elements=True)
        agencies.append(AgencyPage(ag.id, ag.name(lang), table, chart))
    agencies.sort(key=lambda a: a.name)

    version = f.version
    note = whole.method_note(lang)
    method = {
        "instrument": version.label, "title": version.title(lang), "basis": note.get("basis") or "",
        "ci": whole.ci, "n_min": n_min, "weights": whole.weights,
        "bootstrap_b": int(current_app.config["HAILONG_BOOTSTRAP_B"]),
        "seed": int(current_app.config["HAILONG_BOOTSTRAP_SEED"]),
        "clusters": whole.meta.get("clusters"), "strata": whole.meta.get("strata"),
        "channel": f.channel, "period": f.period.name, "scope": _scope_name(lang),
        "issued_by": _issuer(lang), "issued_on": local_date(now().astimezone(LOCAL_TZ).date()),
        "design": str(whole.meta.get("design", "")),
        "rank_method": next((s.comparison.rank_method for s in sections if s.comparison.rank_method), ""),
    }
    report = Report(f, summary, sections, agencies, method)
    report.coverage_notes = cp.notes(coverage(db.session, sel))
    report.coverage = cp.units_coverage_table(coverage_by(db.session, sel, "agency"),
                                              {code: ag.name(lang) for code, ag in names.items()}, _("Agency"))
    shown = sections[0].comparison.shown_selection if sections else None  # the first level's units, as its line
    trend = selection_trend(db.session, shown or selection_for(current_user, f), f.measure, f.period, n_min,
                            units=sections[0].comparison.trend_units if sections else None,
                            node=sections[0].comparison.total_node if sections else None)
    if len(trend) > 1 and sections:
        comp = sections[0].comparison
        report.trend = trend_of(trend, comp, lang, chart_id="r-trend")
        report.trend_table = trend_table(trend, comp, lang)
    return report


def _scope_name(lang: str) -> str:
    """Whose figures these are: the manager's unit, or the whole tree (the root unit)."""
    from sqlalchemy import select

    from survey.org.models import Unit

    if current_user.role == "unit_manager" and current_user.unit is not None:
        return current_user.unit.name(lang)
    root = db.session.scalars(select(Unit).where(Unit.parent_id.is_(None)).order_by(Unit.id)).first()
    return root.name(lang) if root is not None else ""


def _issuer(lang: str) -> str:
    """Who issues the report: HAILONG_REPORT_ISSUER, else the Department of Home Affairs of the root unit."""
    configured = current_app.config.get("HAILONG_REPORT_ISSUER")
    if configured:
        return str(configured)
    from sqlalchemy import select

    from survey.org.models import Unit

    root = db.session.scalars(select(Unit).where(Unit.parent_id.is_(None)).order_by(Unit.id)).first()
    return _("Department of Home Affairs, %(city)s", city=root.name(lang)) if root is not None else \
        _("Department of Home Affairs")


def _report_or_404() -> Report:
    f = read_filters(current_user, current_lang())
    report = build_report(f)
    if report is None:
        abort(404)
    return report


def all_tables(report: Report) -> list[tuple[str, Table]]:
    """(sheet title, table) for the XLSX: every table of the report, in report order, titled in the reader's
    language (a comparison's tables by level and table, an agency's by its name)."""
    out: list[tuple[str, Table]] = []
    if report.summary is not None:
        out.append((sheet_label("summary"), report.summary))
    if report.trend_table is not None:
        out.append((sheet_label("trend"), report.trend_table))
    for s in report.sections:
        for t in s.tables:
            out.append((f"{s.comparison.group_label} - {sheet_label(t.id)}", t))
    for a in report.agencies:
        out.append((a.name, a.table))
    if report.coverage is not None:
        out.append((sheet_label("coverage"), report.coverage))
    return out


@bp.route("/")
@roles_required(*STAFF_ROLES)
def period() -> str:
    frozen = publish_views.frozen_page()  # a published period: the report as published (issue 16 §3)
    if frozen is not None:
        return frozen
    f = read_filters(current_user, current_lang())
    report = build_report(f)
    if report is not None and report_pdf.prerenders():  # its PDF is likely next: build it meanwhile
        report_pdf.prerender(_pdf_document(report))
    return render_template("dashboard/report/period.html", report=report, f=f, pdf=False,
                           period_note=period_note(f.choice, int(current_app.config["HAILONG_N_MIN"])))


@bp.route("/report.pdf")
@roles_required(*STAFF_ROLES)
def pdf() -> Response:
    frozen = publish_views.frozen_pdf_html()  # a published period: the PDF of the report as published
    if frozen is not None:
        html, stem, key = frozen
        data = report_pdf.pdf_bytes(html, key=key)
        return Response(data, mimetype="application/pdf",
                        headers={"Content-Disposition": f'attachment; filename="{stem}.pdf"'})
    report = _report_or_404()
    data = report_pdf.pdf_bytes(_pdf_document(report))
    return Response(data, mimetype="application/pdf",
                    headers={"Content-Disposition": attachment(_report_stem(report), "pdf")})


def _pdf_document(report: Report) -> str:
    """The HTML the report's PDF is laid out from (its <meta> tags carry the running head and page word)."""
    return render_template("dashboard/report/pdf.html", report=report, f=report.filters, pdf=True)


@bp.route("/report.xlsx")
@roles_required(*STAFF_ROLES)
def xlsx() -> Response:
    frozen = publish_views.frozen_xlsx()
    if frozen is not None:
        return frozen
    report = _report_or_404()
    data = tables_xlsx(all_tables(report))
    return Response(data, mimetype=XLSX_MIME, headers={"Content-Disposition": attachment(_report_stem(report), "xlsx")})


def _report_stem(report: Report) -> str:
    """The download's name in the reader's language: 'Báo cáo Quý IV-2022' (one per questionnaire and period)."""
    f = report.filters
    return _("Report %(questionnaire)s %(period)s", questionnaire=f.version.label if f.version else "",
             period=f.period.name if f.period else "")


from survey.dashboard import publish_views  # noqa: E402  (registers the publish routes on bp)
