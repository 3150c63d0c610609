"""Previews of a questionnaire version before it is published: as a kiosk shows it (one question per screen,
both languages side by side, drawn from the same JSON the kiosk app reads) and as a phone shows it (the real
citizen form template, in one language, posting back here — validated, never stored)."""

from __future__ import annotations

from flask import abort, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import force_locale
from flask_babel import gettext as _

from survey.admin.blueprint import admin_required, bp, get_or_404
from survey.extensions import db
from survey.questionnaire_versions.models import QuestionnaireVersion
from survey.questionnaire_versions.service import questionnaire_for
from survey.respond.form_pages import first_page_with_errors, page_context, preview_page
from survey.respond.forms import answer_form_class
from survey.respond.kiosk import questionnaire_json, ui_strings

LANGS = ("vi", "en")


class PreviewPoint:
    """Stands in for a service point in the citizen templates (only its name is shown)."""

    code = "PREVIEW"

    def name(self, lang: str) -> str:
        with force_locale(lang):
            return _("Preview service point")


def _fill(template: str, **values: object) -> str:
    for key, value in values.items():
        template = template.replace("{" + key + "}", str(value))
    return template


@bp.route("/questionnaires/<int:qv_id>/preview/kiosk")
@admin_required
def questionnaire_preview_kiosk(qv_id: int) -> str:
    qv = get_or_404(db.session, QuestionnaireVersion, qv_id)
    q, _ids = questionnaire_for(db.session, qv.id)
    data = questionnaire_json(qv, q)
    strings = {}
    for lang in LANGS:
        with force_locale(lang):
            strings[lang] = ui_strings()
    total = len(data["items"])
    progress = {lang: [_fill(strings[lang]["question_n"], n=i + 1, total=total) for i in range(total)]
                for lang in LANGS}
    return render_template("admin/preview_kiosk.html", qv=qv, q=q, data=data, strings=strings, progress=progress,
                           langs=LANGS, one_per_screen=q.one_question_per_screen)


@bp.route("/questionnaires/<int:qv_id>/preview/phone/<lang>", methods=["GET", "POST"])
@admin_required
def questionnaire_preview_phone(qv_id: int, lang: str) -> ResponseReturnValue:
    if lang not in LANGS:
        abort(404)
    qv = get_or_404(db.session, QuestionnaireVersion, qv_id)
    q, _ids = questionnaire_for(db.session, qv.id)
    with force_locale(lang):
        form = answer_form_class(q, lang)()
        page, send = preview_page(form)
        valid = send and form.validate_on_submit()
        if send and not valid:
            page = first_page_with_errors(form)
        errors = any(form[it.code].errors for it in q.items())
        status = 422 if errors or (send and not valid) else 200
        return render_template("admin/preview_phone.html", form=form, q=q, sp=PreviewPoint(), general_errors=[],
                               action=request.path, lang=lang, qv=qv, valid=valid,
                               **page_context(form, page)), status
