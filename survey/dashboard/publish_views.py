"""Publishing a period (issue 16 §3): Home Affairs freezes a period; later responses wait for a revision.

Routes on the report blueprint: `POST /homeaffairs/report/publish` (home_affairs, admin) freezes the chosen
questionnaire version and period at a data cut-off (survey/results/publication.py: responses received later
for it are kept out of every figure until a revision) and stores its report — HTML and XLSX in Vietnamese
and English, rendered then; its PDFs in both languages are then built in the background (issue 12 §3: the
first download is a file read).  From then on the report page and its XLSX serve that document, stating the
cut-off and how many responses arrived after it; `?live=1` builds the report from today's count tables
(the same responses, less any excluded after review since).  Publishing again is a revision and needs a
reason.  The frozen document is the city-wide report, so it is served only to viewers who see the whole
city (a unit manager gets the live report of its own subtree).
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup
from werkzeug.wrappers import Response

from survey.auth import roles
from survey.auth.scope import roles_required, visible_agency_ids
from survey.dashboard import report_pdf
from survey.dashboard.compare_views import XLSX_MIME, Filters, read_filters, tables_xlsx
from survey.dashboard.report import all_tables, bp, build_report
from survey.database import utcnow
from survey.errors import refuse
from survey.extensions import db
from survey.i18n import current_lang, local_datetime
from survey.results import cache
from survey.results import publication as pub
from survey.results.periods import period_name

PUBLISHERS = roles.PUBLISHES_PERIODS


def _publication(f: Filters) -> pub.PublishedPeriod | None:
    if f.version is None or f.period is None:
        return None
    return pub.current(db.session, f.version.id, f.period.label)


def _serves_frozen(p: pub.PublishedPeriod | None, f: Filters) -> bool:
    """The frozen document answers this request: same measure, all channels, a city-wide viewer."""
    return (p is not None and not request.args.get("live") and f.measure == p.measure and not f.channel
            and visible_agency_ids(current_user) is None)


def _late(p: pub.PublishedPeriod | None) -> int:
    return 0 if p is None else pub.late_responses(db.session, p)


def as_of() -> dict[str, str]:
    """When the late count is taken, as every place that shows it says it (dashboard/report/_late.html): the
    app's clock in Vietnam time, to the minute — the date a reader in Vietnam would write, not the UTC one."""
    day, time = local_datetime(utcnow()).split(" ")
    return {"date": day, "time": time}


def frozen_page() -> str | None:
    """The published report page, or None when the live report should be built."""
    f = read_filters(current_user, current_lang())
    p = _publication(f)
    if not _serves_frozen(p, f):
        return None
    assert p is not None
    return render_template("dashboard/report/published.html", f=f, publication=p, late=_late(p),
                           as_of=as_of(), revised_in=pub.revised_in(db.session, p),
                           body=Markup(p.html(current_lang())), can_publish=current_user.role in PUBLISHERS)


def frozen_xlsx() -> Response | None:
    f = read_filters(current_user, current_lang())
    p = _publication(f)
    if not _serves_frozen(p, f):
        return None
    assert p is not None
    stem = f"hailong-report-{p.label}-published-r{p.revision}"
    return Response(p.xlsx(current_lang()), mimetype=XLSX_MIME,
                    headers={"Content-Disposition": f'attachment; filename="{stem}.xlsx"'})


@bp.app_context_processor
def _publication_context() -> dict[str, Any]:
    """The live report page shows whether its period is published and lets Home Affairs publish it."""
    if request.blueprint != "report":
        return {}

    def publication_state() -> dict[str, Any]:
        f = read_filters(current_user, current_lang())
        p = _publication(f)
        return {"publication": p, "late": _late(p), "as_of": as_of(), "can_publish": current_user.role in PUBLISHERS}

    return {"publication_state": publication_state}


def _documents(f: Filters) -> pub.Documents:
    """The report's HTML body, XLSX and PDF body in both languages, as they would be rendered now."""
    out = {}
    for lang in ("vi", "en"):
        with force_locale(lang):
            report = build_report(f)
            if report is None:
                abort(404)
            html = render_template("dashboard/report/_body.html", report=report, f=f, pdf=False, lang=lang)
            pdf_html = render_template("dashboard/report/_body.html", report=report, f=f, pdf=True, lang=lang)
            out[lang] = (html, tables_xlsx(all_tables(report)), pdf_html)
    return out


def frozen_pdf_html() -> tuple[str, str, str] | None:
    """(whole HTML document of the PDF, file stem, the text the PDF store keys it by) of a published period, or
    None (build it live)."""
    f = read_filters(current_user, current_lang())
    p = _publication(f)
    if not _serves_frozen(p, f):
        return None
    assert p is not None
    html, key = _frozen_pdf_document(p)
    return html, f"hailong-report-{p.label}-published-r{p.revision}", key


AS_OF = {"date": "\u2063as-of-date\u2063", "time": "\u2063as-of-time\u2063"}  # placeholders of the store key


def _frozen_pdf_document(p: pub.PublishedPeriod) -> tuple[str, str]:
    """The whole HTML the PDF of a publication is laid out from, in the current language, and the text the PDF
    store keys it by.  It gives the count of responses received after the cut-off, as the page says (a printed
    report must not read as complete), and as of when (the app's clock, to the minute, in Vietnam time): a
    printed copy outlives the moment it was counted.  The key holds the count but not the moment, so a new count
    is a new file while the same count is served from the store — saying the moment it was first counted, when
    it was already what it still is (a render costs seconds; issue 12 §3)."""
    key = render_template("dashboard/report/published_pdf.html", publication=p, period=period_name(p.label),
                          revised_in=pub.revised_in(db.session, p), late=_late(p), as_of=AS_OF,
                          body=Markup(p.pdf_html(current_lang())))
    now = as_of()
    return key.replace(AS_OF["date"], now["date"]).replace(AS_OF["time"], now["time"]), key


def _prerender_pdfs(p: pub.PublishedPeriod) -> None:
    """Build the published report's PDF in both languages in the background: the first download after
    publishing is then a file read (issue 12 §3), under the same switches as the report page's pre-render."""
    if not report_pdf.prerenders():
        return
    first = current_lang()  # the publisher's language first: the likeliest next download
    documents = []
    for lang in (first, *(x for x in ("vi", "en") if x != first)):
        with force_locale(lang):
            documents.append(_frozen_pdf_document(p))
    report_pdf.prerender_all([html for html, _key in documents], [key for _html, key in documents])


@bp.route("/publish", methods=["POST"])
@roles_required(*PUBLISHERS)
def publish() -> Response:
    """Publish (or revise) the period of the posted filters; the request's form carries the same filters."""
    f = read_filters(current_user, current_lang())
    # only the period named in the request (never a default), for all channels
    if f.version is None or f.period is None or f.channel or request.args.get("period") != f.period.label:
        abort(400)
    at = pub.cutoff(db.session)  # BEFORE the documents: a response stored meanwhile counts as late

    def build() -> pub.Documents:
        cache.data_changed()  # late responses were just folded in: this request must not reuse its memo
        return _documents(f)

    try:
        p = pub.publish(db.session, questionnaire_version_id=f.version.id, label=f.period.label,
                        start=f.period.start, end=f.period.end, measure=f.measure, build=build, at=at,
                        user_id=current_user.id, reason=request.form.get("reason", ""))
    except pub.PublicationError as exc:
        refuse(None, exc)
        return redirect(url_for("report.period", **f.args()))
    except BaseException:  # nothing is committed: the error handlers and the request's end roll it back
        cache.clear()  # figures computed from the rolled-back count tables must not be served
        raise
    _prerender_pdfs(p)
    flash(_("%(period)s is published (revision %(n)s).", period=f.period.name, n=p.revision), "success")
    return redirect(url_for("report.period", **f.args()))
