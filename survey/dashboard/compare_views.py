"""Home Affairs pages: units compared honestly (intervals, funnel, ranks with rank intervals, change),
drill-down district → agencies → service points, and their CSV/XLSX exports.

Access (server-side, every route): roles unit_manager, home_affairs, admin; a unit manager's selection is
restricted to the agencies of its own subtree (`visible_agency_ids`), and a unit or agency outside it is
403 whether or not it exists.  Agency viewers get 403 everywhere here.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, abort, current_app, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from survey.auth import roles
from survey.auth.scope import can_see_agency, roles_required, visible_agency_ids, visible_unit_ids
from survey.dashboard import coverage_present as cp
from survey.dashboard import params
from survey.dashboard.homeaffairs_present import (
    Table,
    comparison_charts,
    comparison_tables,
    overall_label,
    period_note,
    ranks_note,
    trend_of,
    trend_table,
)
from survey.dashboard.languages import responses_by_language_by, units_language_table
from survey.dashboard.method_text import design_sentence
from survey.dashboard.sheets import sheet_label, sheet_name
from survey.extensions import db
from survey.i18n import current_lang
from survey.org.models import Agency, Level, Unit
from survey.questionnaire_versions.models import QuestionnaireVersion
from survey.respond.models import CHANNELS, ResponseTally
from survey.results import publication
from survey.results.cache import per_request
from survey.results.comparison import (
    Comparison,
    DefaultChoice,
    Period,
    choose_default,
    compare_units,
    level_choices,
    periods_with_data,
    selection_trend,
)
from survey.results.coverage import coverage, coverage_by
from survey.results.periods import attachment, month_start, now
from survey.results.selection import Selection
from survey.spreadsheets import append_row, csv_writer

bp = Blueprint("homeaffairs", __name__, url_prefix="/homeaffairs")

STAFF_ROLES = roles.COMPARES_UNITS
PERIOD_KINDS = ("quarter", "month", "year")
MAX_TOP_K = 1000


@dataclass
class Filters:
    """The request's filters, validated against what exists (a value the page cannot use is refused)."""

    version: QuestionnaireVersion | None
    versions: list[QuestionnaireVersion]
    period: Period | None
    periods: list[Period]
    period_kind: str
    measure: str
    measures: list[tuple[str, str]]
    channel: str
    level: str
    levels: list[tuple[str, str]]
    top_k: int | None = None  # None: a quarter of the ranked units (analysis.ranks' default)
    choice: DefaultChoice | None = None  # how the period/level were chosen (said on the page)

    def args(self, **extra: Any) -> dict[str, Any]:
        out = {"questionnaire": self.version.id if self.version else None,
               "period": self.period.label if self.period else None, "measure": self.measure,
               "channel": self.channel or None, "level": self.level, "top_k": self.top_k}
        out.update(extra)
        return {k: v for k, v in out.items() if v not in (None, "")}


def _versions_with_data() -> list[QuestionnaireVersion]:
    counts = dict(db.session.execute(select(ResponseTally.questionnaire_version_id, func.sum(ResponseTally.count))
                                     .group_by(ResponseTally.questionnaire_version_id)).all())
    versions = db.session.scalars(select(QuestionnaireVersion).order_by(QuestionnaireVersion.instrument,
                                                                        QuestionnaireVersion.version)).all()
    with_data = [v for v in versions if counts.get(v.id)]
    return sorted(with_data, key=lambda v: (-int(counts[v.id]), v.instrument, v.version))


def _levels() -> list[Level]:
    """The tree levels a page compares, read once per request (the filters and the default choice both ask)."""
    return per_request(("level-choices", str(db.session.get_bind().engine.url)), lambda: level_choices(db.session))


def level_candidates(user: Any) -> list[str]:
    """Levels a viewer may be shown by default, highest first: those below the viewer's own unit (a unit
    manager), then the agencies of the scope."""
    levels = _levels()
    if user.role == "unit_manager" and user.unit is not None:
        levels = [lv for lv in levels if lv.rank > user.unit.level.rank]
    return [lv.code for lv in levels] + ["agency"]


def read_filters(user: Any, lang: str) -> Filters:
    """The page's filters (survey/dashboard/params.py: a value the page cannot use is a 400 page saying so)."""
    versions = _versions_with_data()
    wanted = params.questionnaire_id(versions)
    version = next((v for v in versions if v.id == wanted), versions[0] if versions else None)
    kind = params.choice("period_kind", PERIOD_KINDS, "quarter")
    period = params.period()
    if period is not None:
        kind = period.kind
    periods = periods_with_data(db.session, version.id, kind) if version else []
    channel = params.choice("channel", CHANNELS)
    lv = _levels()
    if user.role == "unit_manager" and user.unit is not None:  # its own level and below only
        lv = [x for x in lv if x.rank >= user.unit.level.rank]
    levels = [(x.code, x.name_en if lang == "en" else x.name_vi) for x in lv] + [("agency", _("Agencies"))]
    # a level of the tree above a unit manager's own is not offered to it: the default, as before (a link from
    # a colleague's page); a code that is no level at all is refused
    level = params.choice("level", [x.code for x in _levels()] + ["agency"])
    level_chosen = level in {c for c, _n in levels}
    choice = None
    if version is not None:
        # the latest complete period in which most units of the viewer's scope reach n_min (clock injectable)
        choice = choose_default(db.session, version.id, kind, channel, visible_agency_ids(user),
                                [level] if level_chosen else level_candidates(user),
                                int(current_app.config["HAILONG_N_MIN"]), month_start(now()), period)
        if period is None:
            period = choice.period
        if not level_chosen:
            level = choice.level
    elif not level_chosen:
        level = level_candidates(user)[0]
    measures: list[tuple[str, str]] = []
    if version is not None:
        from survey.questionnaire_versions.service import questionnaire_for

        q, _ids = questionnaire_for(db.session, version.id)
        for m in q.index_spec().measures:
            if m.kind in ("overall", "element", "item"):
                title = (m.title_en if lang == "en" else m.title_vi) or m.code
                measures.append((m.code, f"{m.code} — {title}" if m.kind != "overall" else title))
    measure = params.raw("measure") or ""
    codes = [c for c, _l in measures]
    if measure not in codes:
        if measure and measure not in _other_measures(versions):  # another questionnaire's: left in the form
            raise params.BadParameter("param_choice", "measure", value=measure, choices=", ".join(codes))
        measure = "OVERALL" if "OVERALL" in codes else (codes[0] if codes else "")
    top_k = params.whole("top_k", 1, MAX_TOP_K)
    return Filters(version, versions, period, periods, kind, measure, measures, channel, level, levels, top_k,
                   choice)


def _other_measures(versions: list[QuestionnaireVersion]) -> set[str]:
    """Measure codes of every questionnaire with responses: the filter form keeps the measure of the
    questionnaire shown when another is chosen, which falls back to the overall index rather than refused."""
    from survey.questionnaire_versions.service import questionnaire_for

    return {m.code for v in versions for m in questionnaire_for(db.session, v.id)[0].index_spec().measures}


def selection_for(user: Any, f: Filters, **kw: Any) -> Selection:
    """The viewer's selection: questionnaire, channel and scope (unit managers: own subtree only)."""
    assert f.version is not None, "callers check the filters first"
    vis = visible_agency_ids(user)
    return Selection.of(f.version.id, channels=(f.channel,) if f.channel else (), visible_agency_ids=vis, **kw)


def run_comparison(user: Any, f: Filters, group: str, group_label: str, **kw: Any) -> Comparison | None:
    if f.version is None or f.period is None or not f.measure:
        return None
    cfg = current_app.config
    allowed = visible_unit_ids(user)
    keep = None
    if allowed is not None and group not in ("agency", "service_point"):
        # a unit above the manager's own would be a partial aggregate under the parent's name: not shown
        keep = lambda row: row.id in allowed  # noqa: E731
    return compare_units(
        db.session, selection_for(user, f, **kw), group=group, measure_code=f.measure, period=f.period,
        lang=current_lang(), n_min=int(cfg["HAILONG_N_MIN"]), bootstrap_b=int(cfg["HAILONG_BOOTSTRAP_B"]),
        seed=int(cfg["HAILONG_BOOTSTRAP_SEED"]), group_label=group_label, top_k=f.top_k, keep=keep,
        scope_node=scope_node(user))


def scope_node(user: Any) -> tuple[str, str] | None:
    """The tree node a unit manager's scope is (its own unit): the node its whole-scope totals are."""
    if user.role == "unit_manager" and user.unit is not None:
        return user.unit.level_code, user.unit.code
    return None


def _group_label(level: str, f: Filters) -> str:
    return dict(f.levels).get(level, level)


def _unit_or_403(unit_id: int, param: str | None = None) -> Unit:
    """`param`: the URL parameter that named the unit (a download's `unit_id`): an unknown one is refused naming it
    (survey/dashboard/params.py), as every other parameter is, instead of the bare "not found" of a page's path."""
    allowed = visible_unit_ids(current_user)
    if allowed is not None and unit_id not in allowed:
        abort(403)
    unit = db.session.get(Unit, unit_id)
    if unit is None:
        if param:
            raise params.unknown(param, str(unit_id))
        abort(404)
    return unit


def _agency_or_403(agency_id: int, param: str | None = None) -> Agency:
    if not can_see_agency(current_user, agency_id):
        abort(403)
    agency = db.session.get(Agency, agency_id)
    if agency is None:
        if param:
            raise params.unknown(param, str(agency_id))
        abort(404)
    return agency


def _page(view: str, scope: dict[str, Any]) -> tuple[Filters, Comparison | None, str, list[tuple[str, str]]]:
    """(filters, comparison, heading, breadcrumbs) for one of the three page kinds."""
    lang = current_lang()
    f = read_filters(current_user, lang)
    crumbs = [(url_for("homeaffairs.index", **f.args()), _("Comparison"))]
    if view == "index":
        label = _group_label(f.level, f)
        comp = run_comparison(current_user, f, f.level, label)
        heading = _("%(group)s compared", group=label.lower() if lang == "vi" else label)
    elif view == "unit":
        unit = _unit_or_403(scope["unit_id"])
        comp = run_comparison(current_user, f, "agency", _("Agency"), unit_id=unit.id)
        for anc in unit.ancestors()[1:]:
            crumbs.append((url_for("homeaffairs.unit", unit_id=anc.id, **f.args()), anc.name(lang)))
        heading = _("Agencies of %(unit)s", unit=unit.name(lang))
    else:
        agency = _agency_or_403(scope["agency_id"])
        comp = run_comparison(current_user, f, "service_point", _("Service point"), agency_ids=(agency.id,))
        for anc in agency.unit.ancestors()[1:]:
            crumbs.append((url_for("homeaffairs.unit", unit_id=anc.id, **f.args()), anc.name(lang)))
        crumbs.append((url_for("homeaffairs.agency", agency_id=agency.id, **f.args()), agency.name(lang)))
        heading = _("Service points of %(agency)s", agency=agency.name(lang))
    allowed = visible_unit_ids(current_user)
    if allowed is not None:  # no link to a unit above the manager's own (it would be refused)
        crumbs = [crumbs[0], *(c for c in crumbs[1:] if not _is_unit_outside(c[0], allowed))]
    return f, comp, heading, crumbs


def _is_unit_outside(href: str, allowed: set[int]) -> bool:
    marker = "/homeaffairs/unit/"
    if marker not in href:
        return False
    return int(href.split(marker, 1)[1].split("?", 1)[0]) not in allowed


def page_content(view: str, f: Filters, comp: Comparison | None, lang: str) -> tuple[list[Table], list[Any]]:
    """Tables and charts of a page; the index page adds the selection's trend (its table is exported too)."""
    if comp is None:
        return [], []
    tables = comparison_tables(comp, lang)
    charts = comparison_charts(comp, lang)
    tables.append(_units_coverage(f, comp))
    tables.append(_units_languages(f, comp))  # issue 15: responses in vi, en, km per unit
    if view == "index":
        # over the units the total covers (comp.shown_selection), like the reference line
        trend = selection_trend(db.session, comp.shown_selection or selection_for(current_user, f), f.measure,
                                comp.period, comp.n_min, units=comp.trend_units, node=comp.total_node)
        if len(trend) > 1:
            charts.insert(0, trend_of(trend, comp, lang))
            tables.append(trend_table(trend, comp, lang))
    return tables, charts


def _published(comp: Comparison) -> list[publication.PublishedPeriod]:
    """The publication of the compared period, if it is published (its figures are as published)."""
    version_id, label = comp.instrument.record.id, comp.period.label
    # read once per request: the coverage table and the notes under the headline both state it
    found = per_request(("publication", str(db.session.get_bind().engine.url), version_id, label),
                        lambda: publication.current(db.session, version_id, label))
    return [] if found is None else [found]


def _units_coverage(f: Filters, comp: Comparison) -> Table:
    """Response rate, reviewed and late responses of every compared unit in the period (issue 16 §3)."""
    sel = selection_for(current_user, f, period_from=comp.period.start, period_to=comp.period.end)
    by_key = coverage_by(db.session, sel, comp.group)
    return cp.units_coverage_table(by_key, cp.comparison_labels(comp), comp.group_label,
                                   cp.cutoff_text(_published(comp)))


def _units_languages(f: Filters, comp: Comparison) -> Table:
    """Responses per citizen language of every compared unit in the period (issue 15)."""
    sel = selection_for(current_user, f, period_from=comp.period.start, period_to=comp.period.end)
    return units_language_table(responses_by_language_by(db.session, sel, comp.group), cp.comparison_labels(comp),
                                comp.group_label)


def _coverage_notes(view: str, f: Filters, comp: Comparison | None, scope: dict[str, Any]) -> list[str]:
    """Sentences under the page's headline figure: response rate, excluded and held responses."""
    if comp is None:
        return []
    kw: dict[str, Any] = {"period_from": comp.period.start, "period_to": comp.period.end}
    if view == "unit":
        kw["unit_id"] = scope["unit_id"]
    elif view == "agency":
        kw["agency_ids"] = (scope["agency_id"],)
    published = [cp.published_note(p) for p in _published(comp)]
    return published + cp.notes(coverage(db.session, selection_for(current_user, f, **kw)))


def _render(view: str, **scope: Any) -> str:
    f, comp, heading, crumbs = _page(view, scope)
    lang = current_lang()
    tables, charts = page_content(view, f, comp, lang)
    export_args = dict(f.args(), view=view, **scope)
    n_min = int(current_app.config["HAILONG_N_MIN"])
    return render_template("dashboard/homeaffairs/compare.html", f=f, comp=comp, heading=heading, crumbs=crumbs,
                           tables=tables, charts=charts, view=view, scope=scope, export_args=export_args,
                           period_note=period_note(f.choice, n_min), ranks_note=ranks_note(comp) if comp else "",
                           channels=CHANNELS, levels_all=db.session.scalars(select(Level)).all(),
                           coverage_notes=_coverage_notes(view, f, comp, scope), overall_label=overall_label)


@bp.route("/")
@roles_required(*STAFF_ROLES)
def index() -> str:
    return _render("index")


@bp.route("/unit/<int:unit_id>")
@roles_required(*STAFF_ROLES)
def unit(unit_id: int) -> str:
    return _render("unit", unit_id=unit_id)


@bp.route("/agency/<int:agency_id>")
@roles_required(*STAFF_ROLES)
def agency(agency_id: int) -> str:
    return _render("agency", agency_id=agency_id)


# --------------------------------------------------------------------------- exports
def table_csv(table: Table) -> str:
    """Raw values; a table with intervals also names the sampling design on every row (HAILONG_DESIGN decides
    the intervals, and a CSV travels without the page's method note)."""
    buf = io.StringIO()
    w = csv_writer(buf)
    has_intervals = any(c.key.endswith("_low") for c in table.columns)
    design = [design_sentence()] if has_intervals else []
    w.writerow([c.header for c in table.columns] + ([_("Sampling design")] if has_intervals else []))
    w.writerows([list(row) + design for row in table.rows])
    return buf.getvalue()


def tables_xlsx(sheets: list[tuple[str, Table]]) -> bytes:
    """One sheet per table, named in the reader's language (`sheets`: (title, table)); numbers stay numbers
    (percent format on shares)."""
    from openpyxl import Workbook

    wb = Workbook()
    wb.remove(wb.active)
    used: set[str] = set()
    for name, table in sheets:
        ws = wb.create_sheet(sheet_name(name, used))
        has_intervals = any(c.key.endswith("_low") for c in table.columns)
        design = [design_sentence()] if has_intervals else []
        append_row(ws, [c.header for c in table.columns] + ([_("Sampling design")] if has_intervals else []))
        for row in table.rows:
            append_row(ws, list(row) + design)
        for j, col in enumerate(table.columns, start=1):
            if col.kind == "pct":
                for cell in ws.iter_rows(min_row=2, min_col=j, max_col=j):
                    cell[0].number_format = "0.0%"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@bp.route("/export.<fmt>")
@roles_required(*STAFF_ROLES)
def export(fmt: str) -> Response:
    if fmt not in ("csv", "xlsx"):
        abort(404)
    view = params.choice("view", ("index", "unit", "agency"), "index")
    scope: dict[str, Any] = {}
    if view == "unit":
        scope["unit_id"] = _unit_or_403(params.required_whole("unit_id"), "unit_id").id
    elif view == "agency":
        scope["agency_id"] = _agency_or_403(params.required_whole("agency_id"), "agency_id").id
    f, comp, _heading, _crumbs = _page(view, scope)
    if comp is None:
        abort(404)
    lang = current_lang()
    stem = f"hailong-{view}-{comp.group}-{comp.measure}-{comp.period.name}"
    if fmt == "csv":
        shown = {t.id: t for t in page_content(view, f, comp, lang)[0]}
        name = params.choice("table", shown, "estimates", status=404)  # e.g. the trend of a drill-down
        if name not in shown:  # no estimates table on this page
            abort(404)
        body = "\ufeff" + table_csv(shown[name])  # BOM: Excel opens UTF-8 Vietnamese correctly
        return Response(body, content_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": attachment(f"{stem}-{name}", "csv")})
    data = tables_xlsx([(sheet_label(t.id), t) for t in page_content(view, f, comp, lang)[0]])
    return Response(data, mimetype=XLSX_MIME,
                    headers={"Content-Disposition": attachment(stem, "xlsx")})
