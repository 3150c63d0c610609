"""Agency pages (blueprint `dashboard`): indices with intervals, distributions, expectations, trend, comparison
with the city, citizens' comments with moderation, and CSV/XLSX exports of every table shown.

Access, server-side on every route: any staff role; an agency outside the viewer's scope (agency_viewer: own
agency; unit_manager: agencies of its unit subtree; home_affairs/admin: all) is 404 — the same answer as an
agency that does not exist, so guessing codes reveals nothing.  The scope is also passed to every query
(`Selection.visible_agency_ids`), so figures cannot include rows the viewer may not see.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from flask import abort, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from survey.auth.scope import roles_required, visible_agency_ids
from survey.dashboard import agency_data as ad
from survey.dashboard import coverage_present as cp
from survey.dashboard import linked_figures as lf
from survey.dashboard import params
from survey.dashboard.comment_topics import topic_tables
from survey.dashboard.common import STAFF, agency_or_404, bp, month_text, wants_export
from survey.dashboard.languages import language_table
from survey.dashboard.months import months_with_data
from survey.dashboard.tables import CI, INT, PCT, Col, Table, chosen_table, export
from survey.extensions import db
from survey.i18n import current_lang
from survey.org.models import Agency, ServicePoint
from survey.questionnaire_versions.models import QuestionnaireVersion
from survey.respond.models import CHANNELS, ResponseTally
from survey.results import Selection, compare_with_whole, distributions, indices, publication, response_count
from survey.results.coverage import coverage
from survey.results.indices import DEFAULT_CI, hidden_beside_total
from survey.results.periods import period_name

TREND_KINDS = ("month", "quarter", "year")
#: the same interval as every other page (survey.results.DEFAULT_CI): one method city-wide
CI_METHOD = DEFAULT_CI


@dataclass
class Filters:
    """GET filters, validated: a value the page cannot use is refused (400; a foreign service point 404)."""

    version: QuestionnaireVersion | None
    versions: list[QuestionnaireVersion]
    period_from: date | None
    period_to: date | None
    channel: str
    service_point: ServicePoint | None
    trend: str
    trend_chosen: bool = False  # the viewer picked the granularity (no automatic fallback then)
    months: tuple[tuple[str, str], ...] = ()  # (label, name) offered by the From/To selects

    def args(self, **extra: Any) -> dict[str, Any]:
        out = {"questionnaire": self.version.id if self.version else None,
               "from": month_text(self.period_from), "to": month_text(self.period_to),
               "channel": self.channel or None, "sp": self.service_point.code if self.service_point else None,
               "trend": self.trend if self.trend != "month" else None}
        out.update(extra)
        return {k: v for k, v in out.items() if v not in (None, "")}


def _scope() -> frozenset[int] | None:
    ids = visible_agency_ids(current_user)
    return None if ids is None else frozenset(ids)


def _versions_with_data(scope: frozenset[int] | None, agency_id: int | None = None) -> list[QuestionnaireVersion]:
    """Questionnaire versions with responses in the scope (most responses first)."""
    q = select(ResponseTally.questionnaire_version_id, func.sum(ResponseTally.count)).join(
        ServicePoint, ServicePoint.id == ResponseTally.service_point_id)
    if agency_id is not None:
        q = q.where(ServicePoint.agency_id == agency_id)
    elif scope is not None:
        q = q.where(ServicePoint.agency_id.in_(scope or {-1}))
    counts = dict(db.session.execute(q.group_by(ResponseTally.questionnaire_version_id)).all())
    if not counts:
        return []
    versions = db.session.scalars(select(QuestionnaireVersion).where(QuestionnaireVersion.id.in_(counts))).all()
    return sorted(versions, key=lambda v: (-int(counts[v.id]), v.instrument, -v.version))


def read_filters(agency: Agency | None, scope: frozenset[int] | None) -> Filters:
    """The page's filters (survey/dashboard/params.py: a value the page cannot use is a 400 page saying so)."""
    versions = _versions_with_data(scope, agency.id if agency else None)
    wanted = params.questionnaire_id(versions)
    version = next((v for v in versions if v.id == wanted), versions[0] if versions else None)
    sp = None
    sp_code = params.raw("sp")
    if sp_code and agency is not None:
        sp = db.session.scalar(select(ServicePoint).where(ServicePoint.code == sp_code))
        if sp is None or sp.agency_id != agency.id:
            raise params.unknown("sp", sp_code)
    channel = params.choice("channel", CHANNELS)
    trend = params.choice("trend", TREND_KINDS)
    period_from, period_to = params.month_range()
    months = tuple(months_with_data(db.session, version_id=version.id, agency_id=agency.id if agency else None)
                   ) if version is not None else ()
    return Filters(version, versions, period_from, period_to, channel, sp, trend or "month", bool(trend), months)


def trend_indices(f: Filters, sel: Selection, protect: Any = lambda res: res) -> tuple[str, Any]:
    """(granularity, indices by period) for the trend.  Unless the viewer chose one, months give way to
    quarters, then years, when no month can be shown (too few responses, hidden to protect a small group —
    `protect` — or hidden beside the headline so as not to give a small period away): a chart of gaps only says
    nothing."""
    kinds = (f.trend,) if f.trend_chosen else TREND_KINDS
    res = None
    for kind in kinds:
        res = protect(indices(db.session, sel, domain=kind, ci=CI_METHOD))
        t = res.table
        overall = t[t["kind"] == "overall"] if len(t) else t
        # counted as the page shows them: with the periods hidden beside the headline (ad.trend)
        if len(overall) and not all(hidden_beside_total([int(k) for k in overall["n"]],
                                                        [bool(x) for x in overall["suppressed"]])):
            return kind, res
    first = kinds[0]
    return first, protect(indices(db.session, sel, domain=first, ci=CI_METHOD))


def selection(f: Filters, scope: frozenset[int] | None, agency: Agency | None = None) -> Selection | None:
    if f.version is None:
        return None
    return Selection(
        questionnaire_version_ids=(f.version.id,), period_from=f.period_from, period_to=f.period_to,
        channels=(f.channel,) if f.channel else (), service_point_ids=(f.service_point.id,) if f.service_point else (),
        agency_ids=(agency.id,) if agency else (), visible_agency_ids=scope)


# --------------------------------------------------------------------------- landing
@bp.route("/")
@roles_required(*STAFF)
def index() -> str | Response:
    """Agency viewers go to their agency; everyone else gets the agencies they may see, with the overall index."""
    if current_user.role == "agency_viewer":
        if current_user.agency is None:
            abort(403)
        return redirect(url_for("dashboard.agency", code=current_user.agency.code))
    scope = _scope()
    f = read_filters(None, scope)
    sel = selection(f, scope)
    lang = current_lang()
    agencies = {a.code: a for a in db.session.scalars(
        select(Agency).where(Agency.id.in_(scope)) if scope is not None else select(Agency)).all()}
    table = Table("agencies", _("Agencies"), [
        Col("agency", _("Agency")), Col("estimate", _("Overall index"), PCT), Col("ci", _("95% CI"), CI),
        Col("n", "n", INT)])
    method = None
    if sel is not None:
        res = indices(db.session, sel, domain="agency", ci=CI_METHOD)
        method = res.method_note(lang)
        rows = res.table[res.table["kind"] == "overall"] if len(res.table) else res.table
        for _i, r in rows.iterrows():
            ag = agencies.get(r["domain"])
            if ag is None:  # cannot happen: the scope is in the query; never show a foreign agency
                continue
            table.rows.append({"agency": ag.name(lang), "estimate": ad._f(r["estimate"]),
                               "ci": (ad._f(r["ci_low"]), ad._f(r["ci_high"])), "n": int(r["n"]),
                               "_suppressed": bool(r["suppressed"])
                               or lf.protects(sel, "agency", ag.code, str(r["measure"])),
                               "_n": int(r["n"]), "_kind": PCT,
                               "_href": url_for("dashboard.agency", code=ag.code, **f.args())})
        table.rows.sort(key=lambda r: r["agency"])
        lf.explain([table])  # an agency hidden to protect a small group says so (survey/results/protection.py)
    which, fmt = chosen_table([table]), wants_export()
    if fmt:
        return export([table], fmt, "agencies", which)
    return render_template("dashboard/agency/index.html", f=f, table=table, method=method,
                           channels=CHANNELS, export_args=f.args())


# --------------------------------------------------------------------------- agency page
@bp.route("/agency/<code>")
@roles_required(*STAFF)
def agency(code: str) -> str | Response:
    ag = agency_or_404(code)
    scope = _scope()
    f = read_filters(ag, scope)
    sel = selection(f, scope, ag)
    lang = current_lang()
    tables: list[Table] = []
    chart = None
    method = None
    responses = 0
    overall = None
    shown_period = ""
    left_out = None
    if sel is not None:
        unit_kind, unit_code = ("service_point", f.service_point.code) if f.service_point else ("agency", ag.code)
        # "so far" up to the month the linked protection allows, saying so (survey/dashboard/linked_figures.py)
        sel, left_out = lf.newest_left_out(sel, unit_kind, unit_code)
        res = indices(db.session, sel, ci=CI_METHOD)
        # hidden on every page to protect a small group (survey/results/protection.py): its figures, its trend,
        # its difference from the city and its item shares
        protected = lf.node_measures(sel, unit_kind, unit_code, res)
        res = lf.hide(res, protected)
        method = res.method_note(lang)
        overall = ad.overall_row(res)
        responses = response_count(db.session, sel)
        shown_period = period_shown(sel, f)
        tables += ad.index_tables(res, lang)
        f.trend, trend_res = trend_indices(
            f, sel, lf.trend_protection(sel, unit_kind, unit_code, protected))
        # the headline covers the same months: no period it would give away (analysis.disclosure)
        trend_table, chart = ad.trend(trend_res, lang, f.trend, beside_total=True)
        lf.explain([trend_table])  # a period hidden to protect a small group says so
        unit_col, unit_val, unit_name = ("service_point", f.service_point.code, f.service_point.name(lang)) \
            if f.service_point else ("agency", ag.code, ag.name(lang))
        cmp = lf.hide_comparison(compare_with_whole(db.session, sel.whole(), unit_column=unit_col,
                                                    unit_value=unit_val), protected)
        # the city is a node too: over months its shown periods do not give, its figure is hidden everywhere
        cmp = lf.hide_comparison(cmp, lf.reference_measures(sel, cmp.table["measure"].astype(str)),
                                 "reference_hidden")
        tables.append(ad.comparison_table(cmp, lang, unit_name))
        tables.append(trend_table)
        # an item's answer counts give its share: hidden wherever the share is (ad.distribution_tables)
        tables += ad.distribution_tables(distributions(db.session, sel, lang), lf.HIDE_ALL if protected else None,
                                         res)
        # response rate, excluded after review, published periods' cut-off and late responses (issue 16 §3)
        cov = coverage(db.session, sel)
        published = publication.overlapping(db.session, sel.questionnaire_version_ids[0], f.period_from, f.period_to)
        tables.append(cp.coverage_table(cov, f.service_point.name(lang) if f.service_point else ag.name(lang),
                                        cp.cutoff_text(published)))
        coverage_notes = ([left_out] if left_out else []) + [cp.published_note(p) for p in published] + cp.notes(cov)
        tables += topic_tables(ag, f.service_point, f.period_from, f.period_to, lang)  # issue 15
        tables.append(language_table(db.session, sel))  # issue 15: responses in vi, en, km
        if protected:
            lf.explain(tables)
    else:
        coverage_notes = []
    which, fmt = chosen_table(tables), wants_export()
    if fmt:
        return export(tables, fmt, f"agency-{ag.code}", which)
    # issue 16 §2; no day-by-day figures of an agency whose figures the page hides (too few, or protected)
    hidden = None if overall is not None and not bool(overall["suppressed"]) else \
        (int(overall["n"]) if overall is not None else 0)
    warning_chart, warning_text = early_warning(ag, lang, hidden, selection(f, scope, ag))
    return render_template("dashboard/agency/agency.html", agency=ag, f=f, tables={t.id: t for t in tables},
                           chart=chart, method=method, responses=responses, overall=overall, channels=CHANNELS,
                           lang=lang, coverage_notes=coverage_notes, shown_period=shown_period,
                           warning_chart=warning_chart, warning_text=warning_text)


def early_warning(ag: Agency, lang: str, hidden_n: int | None = None,
                  sel: Selection | None = None) -> tuple[Any, str | None]:
    """The agency's early-warning chart of the last working days, and a plain sentence when it signals; when the
    page hides the agency's figures (`hidden_n`: their n), no chart, only a sentence saying why; without the
    months after those the linked protection lets the agency's "so far" reach (`sel`: the page's selection)."""
    from flask import current_app

    from survey.dashboard.integrity_charts import control_chart, hidden_chart_note, shown_months, too_few_points_note
    from survey.i18n import local_date, percent
    from survey.results.integrity import agency_charts
    from survey.results.periods import now

    n_min = int(current_app.config["HAILONG_N_MIN"])
    c = agency_charts(db.session, now().date(), [ag.id], n_min=n_min,  # the page's questionnaire's responses only
                      version_ids=None if sel is None else tuple(sel.questionnaire_version_ids)).get(ag.id)
    if c is None:
        return None, None
    if hidden_n is not None:
        return None, hidden_chart_note(hidden_n, n_min, lang)
    if c["limit"] is None:
        return None, too_few_points_note(n_min, lang)
    c = shown_months(c, sel, "agency", ag.code)
    figure = control_chart("early-warning", c["days"], c["points"], c["limit"], lang=lang, n_min=n_min)
    text = None
    if c["signalling"]:
        text = _("Satisfaction has fallen below this agency's usual level (%(usual)s satisfied) since %(day)s: "
                 "more than day-to-day chance explains. Look at what changed at the counters.",
                 usual=percent(c["baseline"], 1), day=local_date(c["first_signal"]))
    return figure, text


def period_shown(sel: Selection, f: Filters) -> str:
    """The months the page's figures cover, in words: without From/To the page silently spanned every year
    with responses (2021–2026), so say so."""
    from survey.results.selection import tally_filters

    t = ResponseTally.__table__
    first, last = db.session.execute(select(func.min(t.c.period), func.max(t.c.period))
                                     .where(*tally_filters(db.session, t, sel))).one()
    if first is None:
        return ""
    first, last = f.period_from or first, f.period_to or last
    span = _("%(first)s to %(last)s", first=period_name(month_text(first) or ""),
             last=period_name(month_text(last) or ""))
    if f.period_from is None and f.period_to is None:
        return _("Period shown: %(span)s (every response so far; choose From and To to narrow it).", span=span)
    return _("Period shown: %(span)s.", span=span)


from survey.dashboard import comments as _comments  # noqa: E402,F401  (registers the comment routes on bp)
