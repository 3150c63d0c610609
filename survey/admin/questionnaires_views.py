"""Questionnaire version pages: upload a definition file → validation report → preview (kiosk and phone, both
languages) → publish; retire a version; see which service points use which instrument.

An upload is stored as a *draft*: nothing offers a draft (kiosks and QR links use the latest *published*
version of their instrument), so an administrator can look at it before citizens do.  The immutability
rule lives in survey.questionnaire_versions.service (a version with responses cannot change); this page only explains
it in the user's language.
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from sqlalchemy import delete, func, select
from werkzeug.utils import secure_filename

from questionnaires.loader import load_dict
from questionnaires.validate import Issue, parse_json, validate_dict
from survey.admin import questionnaires_assign, questionnaires_preview  # noqa: F401  (this section's other routes)
from survey.admin.blueprint import ConfirmForm, admin_required, bp, get_or_404
from survey.audit import record
from survey.errors import refuse
from survey.extensions import db
from survey.forms import FlaskForm
from survey.i18n import current_lang
from survey.org.models import ServicePoint
from survey.questionnaire_versions.models import Item, QuestionnaireVersion
from survey.questionnaire_versions.service import VersionImmutableError, questionnaire_for, store_questionnaire
from survey.respond.models import Response

MAX_DEFINITION = 2 * 1024 * 1024
STATUS_LABELS = {"draft": _l("draft"), "published": _l("published"), "retired": _l("retired")}


class DefinitionUploadForm(FlaskForm):
    file = FileField(_l("Questionnaire file (.json)"), validators=[FileRequired(_l("Choose a file."))])


def _state(qv: QuestionnaireVersion) -> dict[str, Any]:
    return {"instrument": qv.instrument, "version": qv.version, "status": qv.status, "checksum": qv.checksum}


def response_counts() -> dict[int, int]:
    rows = db.session.execute(select(Response.questionnaire_version_id, func.count())
                              .group_by(Response.questionnaire_version_id))
    return {vid: n for vid, n in rows}


def assignments() -> dict[str, tuple[int, int]]:
    """Instrument id → (active service points using it on kiosks, on phones)."""
    out: dict[str, list[int]] = {}
    for kiosk, link in db.session.execute(select(ServicePoint.kiosk_instrument, ServicePoint.link_instrument)
                                          .where(ServicePoint.active.is_(True))):
        out.setdefault(kiosk, [0, 0])[0] += 1
        out.setdefault(link, [0, 0])[1] += 1
    return {k: (v[0], v[1]) for k, v in out.items()}


@bp.route("/questionnaires")
@admin_required
def questionnaires() -> str:
    versions = db.session.scalars(select(QuestionnaireVersion)
                                  .order_by(QuestionnaireVersion.instrument, QuestionnaireVersion.version)).all()
    return render_template("admin/questionnaires.html", versions=versions, counts=response_counts(),
                           used=assignments(), status_labels=STATUS_LABELS, lang=current_lang())


def _read_upload(form: DefinitionUploadForm) -> tuple[str, Any, list[Issue]]:
    upload = form.file.data
    filename = secure_filename(upload.filename or "") or "questionnaire.json"
    raw = upload.read(MAX_DEFINITION + 1)
    if len(raw) > MAX_DEFINITION:
        return filename, None, [Issue(filename, "(file)", _("The file is larger than 2 MB."))]
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return filename, None, [Issue(filename, "(file)", _("The file is not UTF-8 text."))]
    data, issues = parse_json(text, filename)
    if data is None:
        return filename, None, issues
    return filename, data, issues + validate_dict(data, filename)


@bp.route("/questionnaires/upload", methods=["GET", "POST"])
@admin_required
def questionnaire_upload() -> ResponseReturnValue:
    form = DefinitionUploadForm()
    ctx: dict[str, Any] = {"form": form, "issues": [], "filename": None}
    if not form.validate_on_submit():
        return render_template("admin/questionnaire_upload.html", **ctx), 400 if request.method == "POST" else 200
    filename, data, issues = _read_upload(form)
    ctx.update(filename=filename, issues=issues)
    if issues:
        return render_template("admin/questionnaire_upload.html", **ctx), 400
    q = load_dict(data, filename)
    existing = db.session.scalar(select(QuestionnaireVersion).where(
        QuestionnaireVersion.instrument == q.id, QuestionnaireVersion.version == q.version))
    before = _state(existing) if existing is not None else None
    try:
        outcome = store_questionnaire(db.session, q, status="draft")
    except VersionImmutableError as exc:
        refuse(form, exc, fallback="file")
        return render_template("admin/questionnaire_upload.html", **ctx), 409
    qv = outcome.record
    if outcome.action == "unchanged":  # nothing was written: the request's transaction simply ends
        flash(_("%(label)s is already stored with exactly this content: nothing changed.", label=qv.label), "success")
        return redirect(url_for("admin.questionnaire", qv_id=qv.id))
    record(db.session, f"questionnaire.{outcome.action}", "questionnaire_version", qv.label,
           before=before, after={**_state(qv), "file": filename})
    db.session.commit()
    if before is not None and before["status"] == "published":
        flash(_("%(label)s was replaced and is a draft again: kiosks and phones use the previous published version "
                "until you publish it.", label=qv.label), "warning")
    else:
        flash(_("%(label)s is stored as a draft. Preview it, then publish it.", label=qv.label), "success")
    return redirect(url_for("admin.questionnaire", qv_id=qv.id))


@bp.route("/questionnaires/<int:qv_id>")
@admin_required
def questionnaire(qv_id: int) -> str:
    qv = get_or_404(db.session, QuestionnaireVersion, qv_id)
    q, _ids = questionnaire_for(db.session, qv.id)
    n = response_counts().get(qv.id, 0)
    points = db.session.scalars(select(ServicePoint).where(
        ServicePoint.active.is_(True),
        (ServicePoint.kiosk_instrument == qv.instrument) | (ServicePoint.link_instrument == qv.instrument))
        .order_by(ServicePoint.code)).all()
    return render_template("admin/questionnaire.html", qv=qv, q=q, responses=n, points=points,
                           status_labels=STATUS_LABELS, lang=current_lang())


@bp.route("/questionnaires/<int:qv_id>/publish", methods=["POST"])
@admin_required
def questionnaire_publish(qv_id: int) -> ResponseReturnValue:
    qv = get_or_404(db.session, QuestionnaireVersion, qv_id)
    form = FlaskForm()
    if not form.validate_on_submit():
        flash(_("The form has expired; please try again."), "error")
        return redirect(url_for("admin.questionnaire", qv_id=qv.id))
    if qv.status == "published":
        flash(_("%(label)s is already published.", label=qv.label), "error")
        return redirect(url_for("admin.questionnaire", qv_id=qv.id))
    before = _state(qv)
    qv.status = "published"
    record(db.session, "questionnaire.publish", "questionnaire_version", qv.label, before=before, after=_state(qv))
    db.session.commit()
    flash(_("%(label)s is published: service points assigned to %(instrument)s now offer it.", label=qv.label,
            instrument=qv.instrument), "success")
    return redirect(url_for("admin.questionnaire", qv_id=qv.id))


@bp.route("/questionnaires/<int:qv_id>/delete", methods=["POST"])
@admin_required
def questionnaire_delete(qv_id: int) -> ResponseReturnValue:
    """Delete a draft that was never published and has no responses (a mistaken upload); audited."""
    qv = get_or_404(db.session, QuestionnaireVersion, qv_id)
    form = FlaskForm()
    if not form.validate_on_submit():
        flash(_("The form has expired; please try again."), "error")
        return redirect(url_for("admin.questionnaire", qv_id=qv.id))
    if qv.status != "draft" or response_counts().get(qv.id, 0):
        flash(_("Only a draft that was never published and has no responses can be deleted; retire %(label)s "
                "instead.", label=qv.label), "error")
        return questionnaire(qv.id), 409
    label, before = qv.label, _state(qv)
    db.session.execute(delete(Item).where(Item.questionnaire_version_id == qv.id))
    db.session.delete(qv)
    record(db.session, "questionnaire.delete", "questionnaire_version", label, before=before)
    db.session.commit()
    flash(_("Draft %(label)s deleted.", label=label), "success")
    return redirect(url_for("admin.questionnaires"))


@bp.route("/questionnaires/<int:qv_id>/retire", methods=["GET", "POST"])
@admin_required
def questionnaire_retire(qv_id: int) -> ResponseReturnValue:
    qv = get_or_404(db.session, QuestionnaireVersion, qv_id)
    if qv.status != "published":
        flash(_("Only a published version can be retired."), "error")
        return redirect(url_for("admin.questionnaire", qv_id=qv.id))
    form = ConfirmForm()
    if form.validate_on_submit():
        before = _state(qv)
        qv.status = "retired"
        record(db.session, "questionnaire.retire", "questionnaire_version", qv.label, before=before,
               after=_state(qv))
        db.session.commit()
        flash(_("%(label)s is retired. Its responses stay in the reports.", label=qv.label), "success")
        return redirect(url_for("admin.questionnaire", qv_id=qv.id))
    other = db.session.scalar(select(QuestionnaireVersion).where(
        QuestionnaireVersion.instrument == qv.instrument, QuestionnaireVersion.status == "published",
        QuestionnaireVersion.id != qv.id).order_by(QuestionnaireVersion.version.desc()).limit(1))
    used = assignments().get(qv.instrument, (0, 0))
    details = []
    if other is not None:
        details.append(_("Service points using %(instrument)s will offer %(label)s instead.",
                         instrument=qv.instrument, label=other.label))
    elif used != (0, 0):
        details.append(_("No other published version of %(instrument)s exists: %(kiosk)d kiosk service points and "
                         "%(phone)d phone service points will show \"not available\" until you publish one or "
                         "assign another questionnaire.", instrument=qv.instrument, kiosk=used[0], phone=used[1]))
    return render_template(
        "admin/confirm.html", form=form, title=_("Retire %(label)s", label=qv.label),
        explanation=_("The version is no longer offered to citizens. Nothing is deleted: its responses stay "
                      "reportable."),
        details=details, submit=_("Retire this version"), back=url_for("admin.questionnaire", qv_id=qv.id),
        breadcrumbs=[(url_for("admin.questionnaires"), _("Questionnaires")),
                     (url_for("admin.questionnaire", qv_id=qv.id), qv.label), (None, _("Retire"))]), \
        400 if request.method == "POST" else 200

