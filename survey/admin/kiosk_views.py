"""Kiosk pages: the status list (administrators and Home Affairs), enrol with a one-time code shown once,
rename, issue a new code, revoke.  The rules live in survey.org.kiosk_service (and update_kiosk in
survey.org.service); the one-time code is never stored in clear, so it is shown only in the response that
created it (marked no-store)."""

from __future__ import annotations

from flask import Response, flash, make_response, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from survey.admin.blueprint import ConfirmForm, admin_required, bp, get_or_404, viewer_required
from survey.dashboard import params
from survey.database import utcnow
from survey.errors import refuse
from survey.extensions import db
from survey.forms import FlaskForm
from survey.i18n import current_lang
from survey.org import kiosk_service as ks
from survey.org import service as svc
from survey.org.models import Agency, Kiosk, ServicePoint

STATUS_LABELS = {"pending": _l("waiting for its code"), "enrolled": _l("enrolled"), "revoked": _l("revoked")}


class EnrolForm(FlaskForm):
    service_point = SelectField(_l("Service point"), choices=[], validate_choice=True)
    name = StringField(_l("Name (optional)"), validators=[Optional(), Length(max=200)],
                       description=_l("Where the kiosk stands, e.g. \"Counter 2, ground floor\". "
                                      "Default: the service point's name."))


class RenameForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(_l("Enter a name.")), Length(max=200)])


def _sp_choices(lang: str) -> list[tuple[str, str]]:
    stmt = (select(ServicePoint).join(Agency).where(ServicePoint.active.is_(True), Agency.retired_at.is_(None))
            .order_by(ServicePoint.code))
    return [(sp.code, f"{sp.code} — {sp.name(lang)}") for sp in db.session.scalars(stmt)]


@bp.route("/kiosks")
@viewer_required
def kiosks() -> str:
    now = utcnow()
    rows = [(k, ks.status(k), ks.is_stale(k, now)) for k in ks.list_kiosks(db.session)]
    stale = sum(1 for _k, _s, is_stale in rows if is_stale)
    return render_template("admin/kiosks.html", rows=rows, stale=stale, status_labels=STATUS_LABELS,
                           lang=current_lang())


@bp.route("/kiosks/new", methods=["GET", "POST"])
@admin_required
def kiosk_new() -> ResponseReturnValue:
    form = EnrolForm()
    form.service_point.choices = _sp_choices(current_lang())
    if request.method == "GET":
        params.prefill(form.service_point, "service_point")
    if form.validate_on_submit():
        try:
            enrolment = ks.register_kiosk(db.session, form.service_point.data,
                                          (form.name.data or "").strip() or None)
        except ks.KioskError as exc:
            refuse(form, exc)
        else:
            db.session.commit()
            return _show_code(enrolment, new=True)
    status = 400 if request.method == "POST" else 200
    crumbs = [(url_for("admin.kiosks"), _("Kiosks")), (None, _("Enrol a kiosk"))]
    return render_template("admin/form.html", form=form, title=_("Enrol a kiosk"), submit=_("Create enrolment code"),
                           back=url_for("admin.kiosks"), breadcrumbs=crumbs,
                           intro=_("You get a one-time code to type on the kiosk's enrolment screen (/kiosk/enrol) "
                                   "within 24 hours.")), status


def _show_code(enrolment: ks.Enrolment, *, new: bool) -> Response:
    resp = make_response(render_template("admin/kiosk_code.html", enrolment=enrolment, new=new))
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.route("/kiosks/<int:kiosk_id>/new-code", methods=["GET", "POST"])
@admin_required
def kiosk_reissue(kiosk_id: int) -> ResponseReturnValue:
    kiosk = get_or_404(db.session, Kiosk, kiosk_id)
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            enrolment = ks.reissue_code(db.session, kiosk.code)
        except ks.KioskError as exc:
            refuse(None, exc)
            return redirect(url_for("admin.kiosks"))
        db.session.commit()
        return _show_code(enrolment, new=False)
    return render_template(
        "admin/confirm.html", form=form, title=_("New enrolment code for %(code)s", code=kiosk.code),
        explanation=_("Use this when the tablet was replaced or the code expired. The device enrolled now keeps "
                      "working until you revoke it."),
        details=[], submit=_("Create a new code"), back=url_for("admin.kiosks"),
        breadcrumbs=[(url_for("admin.kiosks"), _("Kiosks")), (None, kiosk.code)]), \
        400 if request.method == "POST" else 200


@bp.route("/kiosks/<int:kiosk_id>/rename", methods=["GET", "POST"])
@admin_required
def kiosk_rename(kiosk_id: int) -> ResponseReturnValue:
    kiosk = get_or_404(db.session, Kiosk, kiosk_id)
    form = RenameForm(obj=kiosk if request.method == "GET" else None)
    if form.validate_on_submit():
        try:
            changed = svc.update_kiosk(db.session, kiosk, name=form.name.data)
        except svc.OrgError as exc:  # the service's name rule (the form's own check says "Enter a name." first)
            refuse(form, exc)
        else:
            db.session.commit()
            flash(_("Kiosk %(code)s renamed.", code=kiosk.code) if changed else _("Nothing was changed."), "success")
            return redirect(url_for("admin.kiosks"))
    crumbs = [(url_for("admin.kiosks"), _("Kiosks")), (None, kiosk.code)]
    return render_template("admin/form.html", form=form, title=_("Rename kiosk %(code)s", code=kiosk.code),
                           submit=_("Save"), back=url_for("admin.kiosks"), breadcrumbs=crumbs), \
        400 if request.method == "POST" else 200


@bp.route("/kiosks/<int:kiosk_id>/revoke", methods=["GET", "POST"])
@admin_required
def kiosk_revoke(kiosk_id: int) -> ResponseReturnValue:
    kiosk = get_or_404(db.session, Kiosk, kiosk_id)
    if kiosk.revoked_at is not None:
        flash(_("Kiosk %(code)s is already revoked.", code=kiosk.code), "error")
        return redirect(url_for("admin.kiosks"))
    form = ConfirmForm()
    if form.validate_on_submit():
        ks.revoke_kiosk(db.session, kiosk.code)
        db.session.commit()
        flash(_("Kiosk %(code)s revoked.", code=kiosk.code), "success")
        return redirect(url_for("admin.kiosks"))
    return render_template(
        "admin/confirm.html", form=form, title=_("Revoke kiosk %(code)s", code=kiosk.code),
        explanation=_("The device stops working at once (its answers not yet sent are refused) and its pending "
                      "code is cancelled. This cannot be undone: to use the tablet again, enrol a new kiosk."),
        details=[], submit=_("Revoke kiosk"), back=url_for("admin.kiosks"),
        breadcrumbs=[(url_for("admin.kiosks"), _("Kiosks")), (None, kiosk.code)]), \
        400 if request.method == "POST" else 200
