"""Invitation pages: create a batch of single-use receipt tokens, download its sheet and CSV, list batches
with their usage, revoke a batch.  Tokens and batches come from survey.respond.invitations.

The database keeps only token hashes, so the printable files can exist only at creation time.  They are
written once, into a private directory (mode 0700) named by a random id that only the creating admin's
session knows; they can be downloaded from that session for one hour or until the admin deletes them
(whichever is first).  Nothing regenerates them; after that, revoke the batch and create a new one.
"""

from __future__ import annotations

import os
import secrets
import shutil
import time
from pathlib import Path
from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, send_file, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from wtforms import IntegerField, SelectField
from wtforms.validators import InputRequired, NumberRange

from survey.admin.blueprint import ConfirmForm, admin_required, bp, get_or_404
from survey.dashboard import params
from survey.database import utcnow
from survey.errors import N_, DomainError, refuse, register
from survey.extensions import db
from survey.forms import FlaskForm
from survey.i18n import current_lang
from survey.org.models import Agency, ServicePoint
from survey.questionnaire_versions.service import latest_published
from survey.respond import invitations as inv
from survey.respond.link_qr import write_batch_files
from survey.respond.models import InvitationBatch
from survey.uploads import private_dir

KEEP_SECONDS = 3600
PDF_MAX_TOKENS = 240  # 20 pages; a larger sheet is printed from the HTML (WeasyPrint takes ~1 s a page)
SESSION_KEY = "invitation_files"


class BatchForm(FlaskForm):
    service_point = SelectField(_l("Service point"), choices=[], validate_choice=True)
    count = IntegerField(_l("Number of tokens"), default=24,
                         validators=[InputRequired(_l("Enter a whole number.")),
                                     NumberRange(1, inv.MAX_BATCH, _l("Between %(min)s and %(max)s."))],
                         description=_l("12 receipts fit on one A4 sheet."))
    expires_days = IntegerField(_l("Valid for (days)"), default=30,
                                validators=[InputRequired(_l("Enter a whole number.")),
                                            NumberRange(1, inv.MAX_DAYS, _l("Between %(min)s and %(max)s."))])


def download_root() -> Path:
    """A private directory of our own (purge_old deletes whatever is old in it), see `survey.uploads.private_dir`."""
    return private_dir("hailong-invitation-files")


def purge_old(now: float | None = None) -> None:
    """Delete every batch's files older than KEEP_SECONDS (whoever created them)."""
    now = now or time.time()
    for entry in download_root().iterdir():
        if entry.is_dir() and now - entry.stat().st_mtime > KEEP_SECONDS:
            shutil.rmtree(entry, ignore_errors=True)


def _files_dir(batch_id: int) -> Path | None:
    """This session's directory of the batch's files, if it still exists."""
    name = session.get(SESSION_KEY, {}).get(str(batch_id))
    if not name:
        return None
    path = download_root() / name
    return path if path.is_dir() else None


def _sp_choices(lang: str) -> list[tuple[str, str]]:
    stmt = (select(ServicePoint).join(Agency).where(ServicePoint.active.is_(True), Agency.retired_at.is_(None))
            .order_by(ServicePoint.code))
    return [(sp.code, f"{sp.code} — {sp.name(lang)}") for sp in db.session.scalars(stmt)]


def _counts(u: inv.BatchUsage, now: Any) -> dict[str, int]:
    status = u.status(now)
    return {"used": u.used, "unused": u.unused if status == inv.VALID else 0,
            "expired": u.unused if status == inv.EXPIRED else 0, "revoked": u.unused if status == inv.REVOKED else 0}


@bp.route("/invitations", methods=["GET", "POST"])
@admin_required
def invitations() -> ResponseReturnValue:
    purge_old()
    form = BatchForm()
    form.service_point.choices = _sp_choices(current_lang())
    if request.method == "GET":
        params.prefill(form.service_point, "service_point")
    if form.validate_on_submit():
        created = _create(form)
        if created is not None:
            return redirect(url_for("admin.invitation_created", batch_id=created))
    now = utcnow()
    batches = [(u, u.status(now), _counts(u, now)) for u in inv.usage_counts(db.session)]
    mine = set(session.get(SESSION_KEY, {}))
    return render_template("admin/invitations.html", form=form, batches=batches, mine=mine,
                           status_labels=STATUS_LABELS), 400 if request.method == "POST" else 200


register({"invitation_files_not_written": N_("The files could not be written; no tokens were created.")})
STATUS_LABELS = {inv.VALID: _l("valid"), inv.EXPIRED: _l("expired"), inv.REVOKED: _l("revoked")}


def _create(form: BatchForm) -> int | None:
    sp = db.session.scalar(select(ServicePoint).where(ServicePoint.code == form.service_point.data))
    if sp is None or not sp.active:
        form.service_point.errors = [_("This service point is not active.")]
        return None
    if latest_published(db.session, sp.link_instrument) is None:
        form.service_point.errors = [_("Questionnaire %(q)s, used by this service point's QR links, has no "
                                       "published version.", q=sp.link_instrument)]
        return None
    try:
        created = inv.create_batch(db.session, sp, form.count.data, form.expires_days.data,
                                   created_by_id=current_user.id)
    except inv.InvitationError as exc:  # the form checked the same ranges; a race on the service point's state
        refuse(form, exc)
        return None
    name = secrets.token_urlsafe(16)
    out = download_root() / name
    out.mkdir(mode=0o700)
    base = current_app.config["HAILONG_PUBLIC_URL"]
    try:
        write_batch_files(out, batch_id=created.batch.id, service_point_code=sp.code, service_point_name=sp.name_vi,
                          urls=[inv.invitation_link(base, t) for t in created.tokens], tokens=created.tokens,
                          expires_at=created.batch.expires_at)
    except OSError:
        shutil.rmtree(out, ignore_errors=True)
        refuse(None, DomainError("invitation_files_not_written"))
        return None
    for f in out.iterdir():
        os.chmod(f, 0o600)
    db.session.commit()  # only once the files exist: no tokens that nobody can print
    files = dict(session.get(SESSION_KEY, {}))
    files[str(created.batch.id)] = name
    session[SESSION_KEY] = files
    return created.batch.id


@bp.route("/invitations/<int:batch_id>/created")
@admin_required
def invitation_created(batch_id: int) -> ResponseReturnValue:
    batch = get_or_404(db.session, InvitationBatch, batch_id)
    folder = _files_dir(batch_id)
    sp = db.session.get(ServicePoint, batch.service_point_id)
    kept_until = folder.stat().st_mtime + KEEP_SECONDS if folder else None
    resp = render_template("admin/invitation_created.html", batch=batch, sp=sp, available=folder is not None,
                           pdf_ok=batch.size <= PDF_MAX_TOKENS, pdf_max=PDF_MAX_TOKENS,
                           kept_minutes=int((kept_until - time.time()) // 60) if kept_until else 0)
    return resp, 200, {"Cache-Control": "no-store"}


def _file(folder: Path, suffix: str) -> Path | None:
    for f in folder.iterdir():
        if f.name.endswith(suffix) and "-page" not in f.name:
            return f
    return None


@bp.route("/invitations/<int:batch_id>/download/<kind>")
@admin_required
def invitation_download(batch_id: int, kind: str) -> ResponseReturnValue:
    if kind not in ("csv", "html", "pdf"):
        abort(404)
    batch = get_or_404(db.session, InvitationBatch, batch_id)
    folder = _files_dir(batch_id)
    if folder is None:
        flash(_("The files of this batch are no longer available: they are kept for one hour, only for the "
                "person who created the batch. Revoke the batch and create a new one if they were lost."), "error")
        return redirect(url_for("admin.invitations"))
    if kind == "pdf":
        if batch.size > PDF_MAX_TOKENS:
            abort(404)
        path = folder / "sheet.pdf"
        if not path.exists():
            from weasyprint import HTML

            html = _file(folder, ".html")
            if html is None:
                abort(404)
            HTML(filename=str(html)).write_pdf(str(path))
            os.chmod(path, 0o600)
        name = f"invitations-batch{batch_id}.pdf"
    else:
        found = _file(folder, f".{kind}")
        if found is None:
            abort(404)
        path, name = found, found.name
    mimetype = {"csv": "text/csv", "html": "text/html", "pdf": "application/pdf"}[kind]
    resp = send_file(path, mimetype=mimetype, as_attachment=True, download_name=name, max_age=0)
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.route("/invitations/<int:batch_id>/discard", methods=["POST"])
@admin_required
def invitation_discard(batch_id: int) -> ResponseReturnValue:
    folder = _files_dir(batch_id)
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)
    files = dict(session.get(SESSION_KEY, {}))
    files.pop(str(batch_id), None)
    session[SESSION_KEY] = files
    flash(_("The files of batch %(id)d were deleted.", id=batch_id), "success")
    return redirect(url_for("admin.invitations"))


@bp.route("/invitations/<int:batch_id>/revoke", methods=["GET", "POST"])
@admin_required
def invitation_revoke(batch_id: int) -> ResponseReturnValue:
    batch = get_or_404(db.session, InvitationBatch, batch_id)
    if batch.revoked_at is not None:
        flash(_("Batch %(id)d is already revoked.", id=batch_id), "error")
        return redirect(url_for("admin.invitations"))
    form = ConfirmForm()
    if form.validate_on_submit():
        inv.revoke_batch(db.session, batch)
        db.session.commit()
        flash(_("Batch %(id)d revoked: its unused receipts no longer work.", id=batch_id), "success")
        return redirect(url_for("admin.invitations"))
    sp = db.session.get(ServicePoint, batch.service_point_id)
    return render_template(
        "admin/confirm.html", form=form, title=_("Revoke batch %(id)d", id=batch_id),
        explanation=_("Every unused receipt of this batch (service point %(sp)s, %(size)d receipts) stops working "
                      "at once; citizens who scan one are told it was withdrawn. Answers already given stay. This "
                      "cannot be undone.", sp=sp.code if sp else "?", size=batch.size),
        details=[], submit=_("Revoke batch"), back=url_for("admin.invitations"),
        breadcrumbs=[(url_for("admin.invitations"), _("Invitations")), (None, str(batch_id))]), \
        400 if request.method == "POST" else 200
