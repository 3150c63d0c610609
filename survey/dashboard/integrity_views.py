"""Home Affairs' Integrity page: flagged cells with their evidence, confirm / dismiss / reopen with a reason.

Why: figures rank agencies, so responses made by the people being rated must be set aside — but only
after a person has looked at the evidence, with every decision audited and reversible.  Confirming
excludes the flag's suspect responses from every figure (survey/respond/quarantine.py keeps the count
tables exact); dismissing leaves (or puts) them in the figures.  Only home_affairs and admin see this page;
agency users see only that figures exclude reviewed responses, never who flagged what.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from survey.audit import record
from survey.auth import roles
from survey.auth.scope import roles_required
from survey.dashboard import params
from survey.dashboard.integrity_charts import arrivals_chart, control_chart
from survey.extensions import db
from survey.i18n import current_lang
from survey.org.models import Kiosk, ServicePoint
from survey.respond import quarantine
from survey.results import integrity as data
from survey.results.integrity_models import CONFIRMED, DISMISSED, OPEN, IntegrityFlag
from survey.results.periods import now

bp = Blueprint("integrity", __name__, url_prefix="/homeaffairs/integrity")

ROLES = roles.REVIEWS_INTEGRITY
STATUSES = (OPEN, CONFIRMED, DISMISSED)
MAX_ID = 2**31 - 1


def _signal_label(code: str) -> str:
    return {
        "overrun": _("more responses than citizens served this month"),
        "burst": _("many responses within minutes"),
        "straight": _("unusually many responses with every answer at the best level"),
        "uniform": _("unusually many responses with every answer at one same level"),
        "repeat": _("the same answers to every question, entered unusually often"),
        "hours": _("responses outside opening hours"),
        "jump": _("the day's best-level share far above usual"),
        "rise": _("unusually many responses with every answer satisfied, against the source's usual share "
                  "before the last 8 weeks"),
        "late": _("responses received long after submission, out of the source's queue order (backdated?)"),
    }.get(code, code)


def _source_label(source: str, kiosks: dict[int, str]) -> str:
    if source.startswith("kiosk:"):
        kid = int(source.split(":", 1)[1])
        return _("kiosk %(code)s", code=kiosks.get(kid, str(kid)))
    return {"qr": _("QR poster / link"), "web": _("web link"), "paper": _("paper")}.get(source, source)


@bp.route("/")
@roles_required(*ROLES)
def index() -> str:
    status = params.choice("status", [*STATUSES, "all"], OPEN)
    session = db.session
    flags = data.flags(session, None if status == "all" else status)
    sps = {sp.id: sp for sp in session.scalars(
        select(ServicePoint).where(ServicePoint.id.in_({f.service_point_id for f in flags} or {-1})))}
    kiosks = dict(session.execute(select(Kiosk.id, Kiosk.code)).all())
    lang = current_lang()
    items: list[dict[str, Any]] = []
    for f in flags:
        sp = sps.get(f.service_point_id)
        items.append({
            "flag": f, "sp": sp,
            "agency": sp.agency if sp else None,
            "signals": [_signal_label(s) for s in f.signals],
            "source": _source_label(f.source, kiosks),
            "sources": [dict(s, label=_source_label(s["source"], kiosks)) for s in f.evidence.get("sources", [])],
            "chart": arrivals_chart(f"arrivals-{f.id}", f.evidence.get("arrivals", []), lang=lang),
            "pattern": dict(f.evidence.get("pattern", [])),
            "month_responses": f.evidence.get("month_responses"),
            "month_dossiers": f.evidence.get("month_dossiers"),
            "delays": f.evidence.get("delays"),
        })
    defaults = _default_versions(session)
    signals = data.city_signals(session, now().date(), n_min=int(current_app.config["HAILONG_N_MIN"]),
                                shown=_shown_chart(defaults), charted=defaults)
    return render_template("dashboard/integrity/index.html", items=items, status=status, statuses=STATUSES,
                           signals=signals, lang=lang)


def _default_versions(session: Session) -> tuple[dict[int, int], int | None]:
    """(agency id → the questionnaire version its page shows by default, the city pages' default version), from
    one grouped read of the count table — before, one query per agency (57 on the demo).  The same order as the
    pages: most responses first, then instrument, then the agency page's newest / the city pages' oldest
    version (survey/dashboard/agency.py and compare_views.py `_versions_with_data`)."""
    from sqlalchemy import func

    from survey.questionnaire_versions.models import QuestionnaireVersion
    from survey.respond.models import ResponseTally

    rows = session.execute(select(ServicePoint.agency_id, ResponseTally.questionnaire_version_id,
                                  func.sum(ResponseTally.count))
                           .join(ServicePoint, ServicePoint.id == ResponseTally.service_point_id)
                           .group_by(ServicePoint.agency_id, ResponseTally.questionnaire_version_id)).all()
    counts = [(int(a), int(v), int(n or 0)) for a, v, n in rows]
    versions = {v.id: v for v in session.scalars(select(QuestionnaireVersion).where(
        QuestionnaireVersion.id.in_({v for _a, v, n in counts if n} or {-1})))}
    per_agency: dict[int, list[tuple[int, int]]] = {}
    city: dict[int, int] = {}
    for a, v, n in counts:
        if n and v in versions:
            per_agency.setdefault(a, []).append((v, n))
            city[v] = city.get(v, 0) + n
    agency_default = {a: min(vs, key=lambda vn: (-vn[1], versions[vn[0]].instrument, -versions[vn[0]].version))[0]
                      for a, vs in per_agency.items()}
    city_default = min(city.items(), key=lambda vn: (-vn[1], versions[vn[0]].instrument,
                                                     versions[vn[0]].version))[0] if city else None
    return agency_default, city_default


def _shown_chart(defaults: tuple[dict[int, int], int | None]) -> Any:
    """For the list: the node's chart as its default page draws it — that page's questionnaire's chart, without
    the points after the month the linked protection of that questionnaire lets the node's "so far" reach
    (`integrity_charts.shown_months`) — so the list signals from the points the page shows, never from a month
    it hides or another questionnaire's responses.  The default questionnaire is the page's own: an agency's,
    the one it has most responses on; a unit's, the city's (`defaults`: `_default_versions`)."""
    from survey.dashboard.integrity_charts import shown_months
    from survey.results.selection import Selection

    agency_default, city_default = defaults

    def shown(kind: str, node: Any, by_version: dict[int, dict[str, Any]]) -> dict[str, Any] | None:
        version = agency_default.get(node.id) if kind == "agency" else city_default
        chart = by_version.get(version) if version is not None else None
        if chart is None or version is None:
            return None
        if chart["first_signal"] is None:  # no point above the limit: no cut makes it signal (and the cut's
            return chart                  # linked decisions are most of a cold request's cost)
        return shown_months(chart, Selection.of(version), "agency" if kind == "agency" else node.level_code,
                            node.code)
    return shown


def unit_early_warning(unit_id: int, comp: Any = None) -> tuple[Any, str, bool] | None:
    """The unit's early-warning chart (the agencies of its subtree together, as listed above), a sentence saying
    what it shows (read first by a screen reader, beside the chart's data table) and whether it signals now,
    for the Home Affairs unit page; None without a year of history.  The route has already checked that the
    viewer may see the unit, so every agency summed here is within their scope.  A unit whose own figure the
    page's selection (`comp`, the comparison) hides gets no chart, only a sentence saying why."""
    from survey.dashboard.integrity_charts import shown_months, too_few_points_note, unit_hidden_note
    from survey.i18n import local_date, percent
    from survey.org.models import Unit

    n_min = int(current_app.config["HAILONG_N_MIN"])
    sel = getattr(comp, "shown_selection", None)
    c = data.unit_chart(db.session, now().date(), unit_id, n_min=n_min,
                        version_ids=None if sel is None else tuple(sel.questionnaire_version_ids))
    if c is None:
        return None
    hidden = unit_hidden_note(db.session, comp, unit_id)
    if hidden:
        return None, hidden, False
    if c["limit"] is None:
        return None, too_few_points_note(n_min, current_lang()), False
    unit = db.session.get(Unit, unit_id)
    if unit is not None:
        c = shown_months(c, sel, unit.level_code, unit.code)
    usual = percent(c["baseline"], 1)
    if c["signalling"]:
        text = _("Satisfaction with this unit's agencies together has fallen below its usual level (%(usual)s "
                 "satisfied) since %(day)s: more than day-to-day chance explains. Look at which agencies below it "
                 "changed.", usual=usual, day=local_date(c["first_signal"]))
    elif c["first_signal"] is not None:
        text = _("The warning measure crossed its limit on %(day)s and is below it again: satisfaction with this "
                 "unit's agencies together (usually %(usual)s satisfied) is back within day-to-day chance.",
                 day=local_date(c["first_signal"]), usual=usual)
    else:
        text = _("No drop: over the last %(days)s working days satisfaction with this unit's agencies together "
                 "(usually %(usual)s satisfied) stayed within day-to-day chance.", days=len(c["days"]), usual=usual)
    figure = control_chart("early-warning", c["days"], c["points"], c["limit"], lang=current_lang(), n_min=n_min,
                           tree=True)
    return figure, text, bool(c["signalling"])


@bp.app_context_processor
def _unit_warning_context() -> dict[str, Any]:
    """The Home Affairs unit page (survey/dashboard/compare_views.py) draws its unit's chart through this."""
    if request.endpoint != "homeaffairs.unit":
        return {}
    return {"unit_early_warning": unit_early_warning}


@bp.route("/<int:flag_id>/decide", methods=["POST"])
@roles_required(*ROLES)
def decide(flag_id: int) -> Response:
    if flag_id > MAX_ID:
        abort(404)
    session = db.session
    flag = session.get(IntegrityFlag, flag_id)
    if flag is None:
        abort(404)
    action = request.form.get("action", "")
    reason = " ".join((request.form.get("reason") or "").split())
    back = redirect(url_for("integrity.index", status=request.form.get("status", OPEN)) + f"#flag-{flag.id}")
    if action not in ("confirm", "dismiss", "reopen"):
        flash(_("Choose confirm, dismiss or reopen."), "error")
        return Response(index(), 400, mimetype="text/html")
    if not reason:
        flash(_("A decision needs a reason: say what the evidence shows."), "error")
        return Response(index(), 400, mimetype="text/html")
    if len(reason) > 300:
        flash(_("The reason is too long (at most 300 characters)."), "error")
        return Response(index(), 400, mimetype="text/html")
    wanted = {"confirm": OPEN, "dismiss": OPEN}.get(action)
    if (wanted and flag.status != wanted) or (action == "reopen" and flag.status == OPEN):
        flash(_("This flag has already been decided; reopen it first."), "error")
        return Response(index(), 409, mimetype="text/html")
    before = {"status": flag.status}
    ids = list(flag.response_ids)
    if action == "confirm":
        changed = quarantine.confirm(session, ids, reason, commit=False)
        flag.status = CONFIRMED
    elif action == "dismiss":
        changed = quarantine.dismiss(session, ids, reason, commit=False)
        flag.status = DISMISSED
    else:
        # a confirmed flag's responses go back to held (out of the figures) until a new decision
        changed = quarantine.reverse(session, ids, reason, commit=False) if flag.status == CONFIRMED else 0
        flag.status = OPEN
    from flask_login import current_user

    flag.decided_at = now()
    flag.decided_by_id = current_user.id
    flag.reason = reason
    record(session, f"integrity.{action}", "integrity_flag", flag.id, before=before,
           after={"status": flag.status, "reason": reason, "responses_changed": changed})
    session.commit()
    messages = {
        "confirm": _("Confirmed: %(n)s responses are excluded from every figure.", n=changed),
        "dismiss": _("Dismissed: the responses stay in the figures."),
        "reopen": _("Reopened: the flag awaits a new decision."),
    }
    flash(messages[action], "success")
    return back
