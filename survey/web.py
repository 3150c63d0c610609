"""Public pages shared by everyone: the landing page, the language switch, error pages, security headers."""

from __future__ import annotations

from flask import Blueprint, Flask, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from survey.extensions import db
from survey.i18n import CITIZEN_LANGUAGES, current_lang
from survey.org.models import Unit
from survey.questionnaire_versions.models import QuestionnaireVersion
from survey.redirects import safe_redirect_target

bp = Blueprint("web", __name__)


@bp.route("/")
def home() -> str:
    roots = db.session.scalars(select(Unit).where(Unit.parent_id.is_(None)).order_by(Unit.code)).all()
    questionnaires = db.session.scalars(
        select(QuestionnaireVersion)
        .where(QuestionnaireVersion.status == "published")
        .order_by(QuestionnaireVersion.instrument, QuestionnaireVersion.version)
    ).all()
    return render_template("home.html", roots=roots, questionnaires=questionnaires)


@bp.route("/lang/<code>", methods=["GET", "POST"])
def set_language(code: str) -> Response:
    """Explicit language choice, remembered in the session and a cookie (no account needed)."""
    back = safe_redirect_target(request.referrer, url_for("web.home"), referrer=True)
    resp = redirect(safe_redirect_target(request.args.get("next"), back))
    if code in CITIZEN_LANGUAGES:  # km is kept for citizen pages; staff pages then show vi
        session["lang"] = code
        resp.set_cookie("hl_lang", code, max_age=365 * 24 * 3600, samesite="Lax", httponly=True)
    return resp


@bp.route("/healthz")
def healthz() -> dict[str, str]:
    db.session.execute(select(1))
    return {"status": "ok"}


def init_app(app: Flask) -> None:
    from survey import security_headers

    security_headers.init_app(app)  # CSP, Referrer-Policy, HSTS, no-store, Secure cookies (Flask-Talisman)
    from survey.access_log import install_dev_server_filter

    install_dev_server_filter(app.logger.name)  # `flask run` logs without client addresses or tokens, as gunicorn

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> tuple[str, int] | HTTPException:
        if request.path.startswith("/api/"):
            return exc  # JSON APIs render their own errors
        messages = {
            400: _("The request could not be understood."),
            403: _("You do not have access to this page."),
            404: _("This page does not exist."),
            405: _("This action is not allowed here."),
            413: _("The uploaded file is too large."),
            429: _("Too many requests. Please wait a moment and try again."),
        }
        code = exc.code or 500
        if code >= 500:  # a failure mid-request: its half-done transaction must not meet the error page's reads
            db.session.rollback()
        message = messages.get(code, _("Something went wrong. Please try again."))
        return render_template("error.html", code=code, message=message), code

    app.jinja_env.globals["current_lang"] = current_lang
