"""The citizen's own phone: the service-point QR poster (`/s/<code>`) and receipt tokens (`/r/<token>`).

One light page per questionnaire section (no JavaScript; answers carried between pages by the form itself,
see `form_pages`), answered with a Flask-WTF form built from the questionnaire version; every accepted
answer set goes through `store_response` with channel `qr`.  Anything that stops a citizen (a used or
expired receipt, a phone that answered a moment ago, a stale form) gets a page explaining why in their language,
never an error page.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Callable
from datetime import timedelta

import flask_babel
from flask import (
    Blueprint,
    current_app,
    g,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import format_timedelta
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from limits import RateLimitItem, parse
from sqlalchemy import select
from werkzeug.wrappers import Response  # redirect() returns werkzeug's; flask's Response is a subclass

from survey.database import write_retrying
from survey.extensions import db, limiter
from survey.i18n import CITIZEN_LANGUAGES, current_lang, local_datetime
from survey.org.models import ServicePoint
from survey.questionnaire_versions.models import QuestionnaireVersion
from survey.questionnaire_versions.service import latest_published, questionnaire_for
from survey.redirects import safe_redirect_target
from survey.respond import form_pages as fp
from survey.respond import invitations as inv
from survey.respond import poster_guard
from survey.respond.forms import AnswerForm, answer_form_class
from survey.respond.link_qr import poster_svg, qr_svg
from survey.respond.store import Submission, SubmissionError, existing_response, store_response

bp = Blueprint("link", __name__)

DEVICE_COOKIE = "hl_device"  # random, not personal data; also the rate-limit key in survey.extensions
TEXT_COOKIE = "hl_text"
YEAR = 365 * 24 * 3600


@bp.context_processor
def _respond_context() -> dict[str, object]:
    large = g.get("large_text", request.cookies.get(TEXT_COOKIE) == "large")
    return {"large_text": large, "hide_login": True}


@bp.after_request
def _remember_choices(resp: Response) -> Response:
    """Cookies for a language or text size chosen with a button of the answer form (see form_pages)."""
    if "chosen_lang" in g:
        resp.set_cookie("hl_lang", g.chosen_lang, max_age=YEAR, samesite="Lax", httponly=True)
    if "large_text" in g:
        if g.large_text:
            resp.set_cookie(TEXT_COOKIE, "large", max_age=YEAR, samesite="Lax", httponly=True)
        else:
            resp.delete_cookie(TEXT_COOKIE)
    return resp


# ---------------------------------------------------------------- friendly notices


def _notice(kind: str, status: int, **values: object) -> tuple[str, int]:
    """An explanation page (never the generic error page) for every reason a citizen cannot answer."""
    texts = {
        "unknown": (_("This survey link is not valid"),
                    _("We could not find this survey link. Please check that you scanned or typed the whole "
                      "address printed on your receipt.")),
        "used": (_("This survey link has already been used"),
                 _("Each link on a receipt can be answered once, and this one has already been answered. "
                   "Thank you for taking part.")),
        "expired": (_("This survey link has expired"),
                    _("The link on your receipt was valid until %(date)s.", date=values.get("date", ""))),
        "revoked": (_("This survey link has been withdrawn"),
                    _("The office withdrew this batch of survey links, for example after a printing mistake.")),
        "point": (_("This service point was not found"),
                  _("The code in this link does not match any service point that is currently open.")),
        "closed": (_("This survey is not available right now"),
                   _("The questionnaire for this service point has not been published yet. Please try again "
                     "later.")),
        "limited": (_("You have already answered recently"),
                    _("To keep the results fair, one phone can answer for this service point at most "
                      "%(limit)s. You can answer again in about %(wait)s.",
                      limit=values.get("limit", ""), wait=values.get("wait", ""))),
        "csrf": (_("This form has expired"),
                 _("For your security, a form must be sent back during the same visit. Nothing was recorded: "
                   "please open the survey again and answer.")),
    }
    title, message = texts[kind]
    return render_template("respond/notice.html", kind=kind, title=title, message=message, **values), status


@bp.errorhandler(CSRFError)
def _csrf_failed(exc: CSRFError) -> tuple[str, int]:
    return _notice("csrf", 400, again=request.path)


# ---------------------------------------------------------------- shared form handling


def _questionnaire(instrument: str) -> QuestionnaireVersion | None:
    return latest_published(db.session, instrument)


def _form_for(qv: QuestionnaireVersion) -> AnswerForm:
    q, _items = questionnaire_for(db.session, qv.id)
    return answer_form_class(q, current_lang())()


def _render_form(form: AnswerForm, sp: ServicePoint, *, status: int = 200, page: int = 0,
                 general: list[str] | None = None) -> tuple[str, int]:
    return render_template("respond/form.html", form=form, q=form.questionnaire, sp=sp,
                           general_errors=general or [], action=request.path, **fp.page_context(form, page)), status


def _answer(qv: QuestionnaireVersion, sp: ServicePoint,
            store: Callable[[AnswerForm], Response | tuple[str, int]]) -> Response | tuple[str, int]:
    """One page of the form: GET shows page 1; a POST moves between pages or, on "Send", stores via `store`."""
    form = _form_for(qv)
    if request.method != "POST":
        return _render_form(form, sp)
    step = fp.posted_step(form)
    if step.action.startswith(fp.LANG_PREFIX):
        code = step.action.removeprefix(fp.LANG_PREFIX)
        if code in CITIZEN_LANGUAGES:
            session["lang"] = g.chosen_lang = code
            flask_babel.refresh()
            form = _form_for(qv)  # the same posted answers, labels in the new language
        return _render_form(form, sp, page=step.page)
    if step.action.startswith(fp.TEXT_PREFIX):
        g.large_text = step.action == fp.TEXT_PREFIX + "large"
        return _render_form(form, sp, page=step.page)
    if step.action == fp.BACK:
        return _render_form(form, sp, page=max(0, step.page - 1))
    if step.action == fp.NEXT:
        if not fp.section_valid(form, form.questionnaire.sections[step.page]):
            return _render_form(form, sp, status=422, page=step.page)
        return _render_form(form, sp, page=fp.clamp_page(form, step.page + 1))
    if form.validate_on_submit():
        return store(form)
    return _render_form(form, sp, status=422, page=fp.first_page_with_errors(form))


def _apply_store_errors(form: AnswerForm, exc: SubmissionError) -> list[str]:
    """Put store-time messages on their fields; return those that belong to no field."""
    general = []
    for key, message in exc.errors.items():
        if key in form and key != "csrf_token":
            form[key].errors = [*form[key].errors, message]
        else:
            general.append(message)
    return general


def _thanks(sp: ServicePoint) -> Response:
    return redirect(url_for("link.thanks", sp=sp.code), 303)


def _submission(form: AnswerForm, sp: ServicePoint, qv: QuestionnaireVersion, invitation_id: int | None = None
                ) -> Submission:
    return Submission(service_point_id=sp.id, questionnaire_version_id=qv.id, answers=form.answers(),
                      channel="qr", language=current_lang(), client_id=form.client_id.data,
                      invitation_id=invitation_id)


def _already_stored(form: AnswerForm) -> bool:
    """A double submit (same hidden client id) of a response stored a moment ago."""
    return existing_response(db.session, str(uuid.UUID(str(form.client_id.data)))) is not None


# ---------------------------------------------------------------- service-point poster link: /s/<code>


def _device_limit() -> RateLimitItem:
    return parse(current_app.config.get("HAILONG_LINK_DEVICE_LIMIT", "1 per hour"))


def _limit_keys(sp: ServicePoint, device: str) -> tuple[str, ...]:
    return ("link-device", sp.code, device)


def _device_may_answer(sp: ServicePoint, device: str, *, count: bool) -> bool:
    """Whether this phone is still under its limit here (`count`: and use one answer of it).

    Fails open: if the rate-limit storage (Redis in production) is unreachable, a citizen may still answer.
    """
    if not current_app.config.get("RATELIMIT_ENABLED", True):
        return True
    item, keys = _device_limit(), _limit_keys(sp, device)
    try:
        return bool(limiter.limiter.hit(item, *keys) if count else limiter.limiter.test(item, *keys))
    except Exception:
        current_app.logger.warning("device rate limit storage failed; answer allowed", exc_info=True)
        return True


def _limited_notice(sp: ServicePoint, device: str) -> tuple[str, int]:
    item = _device_limit()
    reset_at, _remaining = limiter.limiter.get_window_stats(item, *_limit_keys(sp, device))
    wait = max(60.0, reset_at - time.time())
    per = format_timedelta(timedelta(seconds=item.get_expiry()), threshold=1.0, add_direction=False)
    limit = (_("once per %(period)s", period=per) if item.amount == 1
             else _("%(n)s times per %(period)s", n=item.amount, period=per))
    return _notice("limited", 429, limit=limit,
                   wait=format_timedelta(timedelta(seconds=wait), threshold=1.0, add_direction=False))


def _over_limits(sp: ServicePoint, device: str, *, count: bool) -> tuple[str, int] | None:
    """The polite 429 page when this phone or its network is over its limit at `sp`, else None (`count`: a "Send",
    which uses one answer of each).  The same limits, and the same counters, for the poster and for receipt
    tokens (docs/security.md §2): a phone, a network, a service point answer so often, whichever link they use."""
    if not count:
        if not _device_may_answer(sp, device, count=False):
            return _limited_notice(sp, device)
        return None if poster_guard.network_may_answer(sp, count=False) else poster_guard.limited_notice(sp)
    if not poster_guard.network_may_answer(sp, count=False):  # a phone that dropped its cookie
        return poster_guard.limited_notice(sp)
    if not _device_may_answer(sp, device, count=True):
        return _limited_notice(sp, device)
    if not poster_guard.network_may_answer(sp, count=True):  # (checked again: counted only now)
        return poster_guard.limited_notice(sp)
    return None


def _with_device(answer: Callable[[str], Response | tuple[str, int]]) -> Response:
    """`answer(device)` with this phone's random device cookie (set when it had none)."""
    device = request.cookies.get(DEVICE_COOKIE) or secrets.token_urlsafe(16)
    resp = make_response(answer(device))
    if request.cookies.get(DEVICE_COOKIE) != device:
        resp.set_cookie(DEVICE_COOKIE, device, max_age=YEAR, httponly=True, samesite="Lax",
                        secure=current_app.config.get("SESSION_COOKIE_SECURE", False))
    return resp


@bp.route("/s/<code>", methods=["GET", "POST"])
def service_point(code: str) -> Response | tuple[str, int]:
    sp = db.session.scalar(select(ServicePoint).where(ServicePoint.code == code, ServicePoint.active.is_(True)))
    if sp is None:
        return _notice("point", 404)
    qv = _questionnaire(sp.link_instrument)
    if qv is None:
        return _notice("closed", 503)
    return _with_device(lambda device: _answer_service_point(sp, qv, device))


def _answer_service_point(sp: ServicePoint, qv: QuestionnaireVersion, device: str) -> Response | tuple[str, int]:
    def store(form: AnswerForm) -> Response | tuple[str, int]:
        if _already_stored(form):
            return _thanks(sp)
        if (refused := _over_limits(sp, device, count=True)) is not None:
            return refused
        submission = _submission(form, sp, qv)
        reason = poster_guard.hold_reason(sp)  # over the service point's ceiling: stored held, not counted
        if reason is not None:
            submission.hold, submission.hold_reason = True, reason
        try:
            write_retrying(db.session, lambda: store_response(db.session, submission))
        except SubmissionError as exc:
            db.session.rollback()
            general = _apply_store_errors(form, exc)
            return _render_form(form, sp, status=422, page=fp.first_page_with_errors(form), general=general)
        return _thanks(sp)

    if request.method == "GET" and (refused := _over_limits(sp, device, count=False)) is not None:
        return refused
    return _answer(qv, sp, store)


@bp.route("/s/<code>/poster")
def poster(code: str) -> tuple[str, int]:
    """A printable A4 poster with the service point's QR code (print from the browser)."""
    sp = db.session.scalar(select(ServicePoint).where(ServicePoint.code == code))
    if sp is None:
        return _notice("point", 404)
    url = inv.service_point_link(current_app.config["HAILONG_PUBLIC_URL"], sp.code)
    svg = poster_svg(url, sp.name(current_lang()), khmer=current_lang() == "km")
    return render_template("respond/poster.html", sp=sp, url=url, svg=svg), 200


@bp.route("/s/<code>/qr.svg")
def poster_qr(code: str) -> Response | tuple[str, int]:
    sp = db.session.scalar(select(ServicePoint).where(ServicePoint.code == code))
    if sp is None:
        return _notice("point", 404)
    url = inv.service_point_link(current_app.config["HAILONG_PUBLIC_URL"], sp.code)
    resp = make_response(qr_svg(url, title=sp.name(current_lang())))
    resp.mimetype = "image/svg+xml"
    return resp


# ---------------------------------------------------------------- receipt tokens: /r/<token>


@bp.route("/r/<token>", methods=["GET", "POST"])
def invitation(token: str) -> Response | tuple[str, int]:
    check = inv.check_token(db.session, token)
    if check.status != inv.VALID:
        if request.method == "POST" and check.status == inv.USED and check.invitation is not None:
            earlier = existing_response(db.session, _posted_client_id())
            if earlier is not None and earlier.invitation_id == check.invitation.id:
                sp = db.session.get(ServicePoint, earlier.service_point_id)
                assert sp is not None
                return _thanks(sp)  # the same citizen pressed "send" twice
        date = local_datetime(check.batch.expires_at, with_time=False) if check.batch else ""
        return _notice(check.status, 404 if check.status == inv.UNKNOWN else 410, date=date)
    assert check.invitation is not None and check.batch is not None
    sp = db.session.get(ServicePoint, check.batch.service_point_id)
    assert sp is not None
    qv = _questionnaire(check.batch.instrument or sp.link_instrument)
    if qv is None or not sp.active:
        return _notice("closed", 503)
    invitation_id = check.invitation.id
    return _with_device(lambda device: _answer_invitation(sp, qv, invitation_id, device))


def _answer_invitation(sp: ServicePoint, qv: QuestionnaireVersion, invitation_id: int,
                       device: str) -> Response | tuple[str, int]:
    """A valid receipt token: the poster's limits apply (one official holding a pile of unused receipts is one
    phone, one network, and over the hourly ceiling held, as on the poster); a refused answer leaves the token
    usable."""
    def store(form: AnswerForm) -> Response | tuple[str, int]:
        if _already_stored(form):
            return _thanks(sp)
        if (refused := _over_limits(sp, device, count=True)) is not None:
            return refused
        submission = _submission(form, sp, qv, invitation_id)
        reason = poster_guard.hold_reason(sp, receipt=True)
        if reason is not None:
            submission.hold, submission.hold_reason = True, reason
        try:
            response, _created = inv.store_invited_response(db.session, submission)
        except SubmissionError as exc:  # the claim was rolled back with it: the token stays usable
            general = _apply_store_errors(form, exc)
            return _render_form(form, sp, status=422, page=fp.first_page_with_errors(form), general=general)
        if response is None:
            return _notice("used", 410)
        return _thanks(sp)

    if request.method == "GET" and (refused := _over_limits(sp, device, count=False)) is not None:
        return refused
    return _answer(qv, sp, store)


def _posted_client_id() -> str:
    try:
        return str(uuid.UUID(request.form.get("client_id", "")))
    except ValueError:
        return ""


# ---------------------------------------------------------------- thanks, text size


@bp.route("/thanks")
def thanks() -> tuple[str, int]:
    sp = db.session.scalar(select(ServicePoint).where(ServicePoint.code == request.args.get("sp", "")))
    return render_template("respond/thanks.html", sp=sp), 200


def _safe_next() -> str:
    return safe_redirect_target(request.args.get("next"), "/")


@bp.route("/text-size/<size>")
def text_size(size: str) -> Response:
    """Larger text without JavaScript: a cookie read by the citizen pages."""
    resp = redirect(_safe_next())
    if size == "large":
        resp.set_cookie(TEXT_COOKIE, "large", max_age=YEAR, samesite="Lax", httponly=True)
    else:
        resp.delete_cookie(TEXT_COOKIE)
    return resp

