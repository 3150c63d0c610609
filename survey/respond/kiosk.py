"""Kiosk mode: enrolling a device, the kiosk app page, and its service worker.

The page is a small vanilla-JS app (static/js/kiosk.js) drawn from a JSON description embedded in the
page: the service point, the questionnaire's kiosk items with their texts in both languages, and the UI
strings in both languages — so the language switch, the idle reset and the offline queue all work without
another request to the server.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from questionnaires.model import Item, Questionnaire
from survey.errors import refuse, translate
from survey.extensions import db, limiter
from survey.forms import FlaskForm
from survey.i18n import CITIZEN_LANGUAGES, LANGUAGE_NAMES
from survey.org import kiosk_service
from survey.org.models import DEFAULT_KIOSK_INSTRUMENT, Kiosk
from survey.questionnaire_versions.models import QuestionnaireVersion
from survey.questionnaire_versions.service import latest_published, questionnaire_for
from survey.respond.kiosk_auth import current_kiosk, set_credential_cookie
from survey.respond.speech import kiosk_speech_data

bp = Blueprint("kiosk", __name__)

STATIC = Path(__file__).resolve().parent.parent / "static"
ASSETS = ("js/kiosk.js", "js/kiosk_speech.js", "css/kiosk_speech.css", "css/kiosk.css", "css/km.css")
KHMER_FONT = "fonts/NotoSansKhmer-Regular-subset.woff2"  # km.css asks for it by this URL (no version)
SW_TEMPLATE = STATIC / "kiosk-sw.js"
THANKS_SECONDS = 6
HEARTBEAT_SECONDS = 60
RETRY_SECONDS = 5
KIOSK_LANG = "vi"  # every kiosk starts (and resets to) Vietnamese, whatever its browser's language
IDLE_PROMPT_SECONDS = 15  # the "still answering?" countdown shown before the idle reset


def _software_version() -> str:
    """Changes whenever a shell file changes, so the service worker refreshes its cache."""
    h = hashlib.sha256()
    for name in (*ASSETS, "css/app.css", "kiosk-sw.js"):
        path = STATIC / name
        if path.exists():
            h.update(path.read_bytes())
    return "1." + h.hexdigest()[:10]


KIOSK_VERSION = _software_version()


class EnrolForm(FlaskForm):
    code = StringField(_l("Enrolment code"), validators=[DataRequired(), Length(max=32)],
                       render_kw={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false",
                                  "inputmode": "text"})


@bp.route("/kiosk/enrol", methods=["GET", "POST"])
@limiter.limit("30 per minute;300 per hour", methods=["POST"], key_func=lambda: "kiosk-enrol")
def enrol() -> str | Response:
    """Type the one-time code on the device; success stores the credential in an HttpOnly cookie."""
    form = EnrolForm()
    error = None
    if form.validate_on_submit():
        try:
            _kiosk, credential = kiosk_service.redeem_code(db.session, form.code.data)
        except kiosk_service.KioskError as exc:
            refuse(form, exc, fallback="code")
            error = form.code.errors[-1]  # the page shows it above the field (templates/kiosk/enrol.html)
        else:
            db.session.commit()
            resp = redirect(url_for("kiosk.app"))
            set_credential_cookie(resp, credential)
            return resp
    elif request.method == "POST":  # an empty or over-long code: say so, never stay silent
        error = translate("enrolment_unknown" if (request.form.get("code") or "").strip() else "enrolment_empty")
    current = current_kiosk()
    status = 400 if error else 200
    return render_template("kiosk/enrol.html", form=form, error=error, current=current), status  # type: ignore[return-value]


def kiosk_questionnaire_version(kiosk: Kiosk) -> QuestionnaireVersion | None:
    """The latest published version of the service point's kiosk instrument (default counter-quick)."""
    return latest_published(db.session, kiosk.service_point.kiosk_instrument or DEFAULT_KIOSK_INSTRUMENT)


def _texts(t: Any) -> dict[str, str] | None:
    """A text in every citizen language (a missing one is the Vietnamese text, shown, never blank)."""
    return None if t is None else {lang: t.get(lang) for lang in CITIZEN_LANGUAGES}


def item_json(item: Item) -> dict[str, Any]:
    out: dict[str, Any] = {"code": item.code, "type": item.type, "required": item.required,
                           "text": _texts(item.text), "help": _texts(item.help)}
    if item.scale is not None:
        out["levels"] = [{"value": lv.value, "label": _texts(lv.label), "face": lv.face} for lv in item.scale.levels]
        out["no_opinion"] = _texts(item.scale.no_opinion)
    if item.type == "choice":
        out["options"] = [{"value": o.value, "label": _texts(o.label)} for o in item.options]
        out["multiple"] = item.multiple
        out["max_choices"] = item.max_choices
    if item.type == "text":
        out["max_length"] = min(item.max_length or current_app.config["HAILONG_COMMENT_MAX_LENGTH"],
                                current_app.config["HAILONG_COMMENT_MAX_LENGTH"])
    return out


def questionnaire_json(qv: QuestionnaireVersion, q: Questionnaire) -> dict[str, Any]:
    return {"id": qv.instrument, "version": qv.version, "title": _texts(q.title),
            "items": [item_json(it) for it in q.kiosk_items()]}


def ui_strings() -> dict[str, str]:
    """The app's own words (gettext), evaluated in the current locale."""
    return {
        "welcome": _("Welcome"),
        "intro": _("Please tell us how we served you today. It takes less than a minute and is anonymous."),
        "official": _("Official on duty"),
        "start": _("Start"),
        "language": _("Language"),
        "larger_text": _("Larger text"),
        "question_n": _("Question %(n)s of %(total)s", n="{n}", total="{total}"),
        "back": _("Back"),
        "next": _("Next"),
        "skip": _("Skip"),
        "send": _("Send"),
        "optional": _("Optional"),
        "choose_up_to": _("Choose up to %(n)s.", n="{n}"),
        "chars_left": _("%(n)s characters left", n="{n}"),
        "comment_privacy": _("Phone numbers, ID numbers and e-mail addresses are removed before your comment is "
                             "stored. Please do not write your name."),
        "thanks": _("Thank you!"),
        "thanks_body": _("Your answers have been recorded. Thank you for helping us serve you better."),
        "restart_in": _("This screen will reset in %(n)s seconds.", n="{n}"),
        "still_there": _("Are you still answering?"),
        "continue": _("Continue answering"),
        "skip_link": _("Skip to content"),
        "done": _("Done"),
        "online": _("Online"),
        "offline": _("Offline"),
        "queued": _("%(n)s waiting to be sent", n="{n}"),
        "not_enrolled": _("This kiosk is not enrolled"),
        "not_enrolled_body": _("Ask an administrator for an enrolment code."),
        "enrol_link": _("Enrol this kiosk"),
        "progress": _("Progress"),
    }


@bp.route("/kiosk")
def app() -> tuple[str, int] | str:
    kiosk = current_kiosk()
    if kiosk is None:
        return render_template("kiosk/not_enrolled.html"), 403
    qv = kiosk_questionnaire_version(kiosk)
    if qv is None:
        return render_template("kiosk/unavailable.html", kiosk=kiosk), 503
    q, _ids = questionnaire_for(db.session, qv.id)
    strings = {}
    for lang in CITIZEN_LANGUAGES:
        with force_locale(lang):
            strings[lang] = ui_strings()
    sp = kiosk.service_point
    data = {
        "version": KIOSK_VERSION,
        "kiosk": kiosk.code,
        "service_point": {"vi": sp.name_vi, "en": sp.name_en, "km": sp.name_vi},  # no Khmer names kept
        "languages": [{"code": c, "name": LANGUAGE_NAMES[c]} for c in CITIZEN_LANGUAGES],
        "official": sp.official_on_duty,
        "idle_seconds": int(current_app.config["HAILONG_KIOSK_IDLE_SECONDS"]),
        "idle_prompt_seconds": int(current_app.config.get("HAILONG_KIOSK_IDLE_PROMPT_SECONDS", IDLE_PROMPT_SECONDS)),
        "thanks_seconds": int(current_app.config.get("HAILONG_KIOSK_THANKS_SECONDS", THANKS_SECONDS)),
        "heartbeat_seconds": int(current_app.config.get("HAILONG_KIOSK_HEARTBEAT_SECONDS", HEARTBEAT_SECONDS)),
        # first wait before resending a response the server failed (doubles per failure, at most 10 minutes)
        "retry_seconds": float(current_app.config.get("HAILONG_KIOSK_RETRY_SECONDS", RETRY_SECONDS)),
        "api": {"responses": url_for("api.submit_response"), "heartbeat": url_for("api.kiosk_heartbeat")},
        "enrol_url": url_for("kiosk.enrol"),
        "sw": {"url": url_for("kiosk.service_worker"), "scope": url_for("kiosk.app")},
        "questionnaire": questionnaire_json(qv, q),
        "speech": kiosk_speech_data(q, strings),  # "Listen to the question" (speech.py)
        "strings": strings,
    }
    with force_locale(KIOSK_LANG):  # the skip link and the noscript text speak the kiosk's language
        return render_template("kiosk/app.html", data=data, version=KIOSK_VERSION)


def shell_urls() -> list[str]:
    """What the service worker keeps for offline start: the page first, then its assets."""
    return [url_for("kiosk.app"), url_for("static", filename="css/app.css"),
            *(url_for("static", filename=a) + f"?v={KIOSK_VERSION}" for a in ASSETS),
            url_for("static", filename=KHMER_FONT)]


@bp.route("/kiosk-sw.js")
def service_worker() -> Response:
    """Served from the site root so that it may control `/kiosk` (a worker's scope is below its own URL)."""
    source = SW_TEMPLATE.read_text(encoding="utf-8")
    source = source.replace('"__VERSION__"', json.dumps(KIOSK_VERSION)).replace(
        "__SHELL__", json.dumps(shell_urls()))
    resp = current_app.response_class(source, mimetype="text/javascript")
    resp.headers["Cache-Control"] = "no-cache"
    return resp


@bp.after_request
def _no_store_for_kiosk(resp: Response) -> Response:
    """Browsers must not keep kiosk pages in their HTTP cache (the service worker keeps the shell)."""
    if request.endpoint in ("kiosk.app", "kiosk.enrol"):
        resp.headers["Cache-Control"] = "no-store"
    return resp
