"""Paper survey import pages: upload → dry run listing every row error → import all rows or none.

The checked file waits on the server under a random token (survey.uploads.stash_upload) until the
administrator confirms, so what is imported is exactly the file that was checked; the commit re-checks it
anyway, because the database may have changed in between.
"""

from __future__ import annotations

import io
from typing import Any

from flask import Response, flash, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from sqlalchemy import select

from survey.admin.blueprint import admin_required, bp, get_or_404
from survey.admin.checked_upload import CommitForm, confirmed, end_dry_run, read_upload, uploaded
from survey.audit import record
from survey.extensions import db
from survey.forms import FlaskForm
from survey.i18n import current_lang
from survey.org.models import Level
from survey.questionnaire_versions.models import QuestionnaireVersion
from survey.questionnaire_versions.service import questionnaire_for
from survey.respond.paper_import import REQUIRED, PaperCheck, RowError, check_table, import_checked, item_columns
from survey.respond.store import SubmissionError
from survey.spreadsheets import csv_writer
from survey.uploads import UPLOAD_LIMITS, drop_stash, stash_upload


class PaperUploadForm(FlaskForm):
    file = FileField(_l("Paper responses (.csv or .xlsx)"), validators=[FileRequired(_l("Choose a file."))],
                     description=UPLOAD_LIMITS)


class PaperCommitForm(CommitForm):
    """Confirms a checked paper file (survey/admin/checked_upload.py)."""


def _published() -> list[QuestionnaireVersion]:
    return list(db.session.scalars(select(QuestionnaireVersion).where(QuestionnaireVersion.status == "published")
                                   .order_by(QuestionnaireVersion.instrument, QuestionnaireVersion.version)))


def _page(form: PaperUploadForm, status: int = 200, **ctx: Any) -> tuple[str, int]:
    ctx.setdefault("check", None)
    ctx.setdefault("file_error", None)
    return render_template("admin/paper.html", form=form, versions=_published(), **ctx), status


def _check(form: Any, filename: str, raw: bytes) -> PaperCheck | None:
    """Every row checked, or None when the file is not a table (refused on `form`, see read_upload)."""
    table = read_upload(form, filename, raw)
    return None if table is None else check_table(db.session, table, current_lang())


@bp.route("/paper", methods=["GET", "POST"])
@admin_required
def paper() -> ResponseReturnValue:
    form = PaperUploadForm()
    if not form.validate_on_submit():
        return _page(form, 400 if request.method == "POST" else 200)
    filename, raw = uploaded(form, "paper.csv")
    check = _check(form, filename, raw)
    end_dry_run()
    if check is None:
        return _page(form, 400)
    commit_form = None
    if check.ok:
        commit_form = PaperCommitForm(formdata=None, filename=filename, upload=stash_upload(raw))
    return _page(form, 200 if check.ok else 400, check=check, filename=filename, commit_form=commit_form)


@bp.route("/paper/commit", methods=["POST"])
@admin_required
def paper_commit() -> ResponseReturnValue:
    upload_form = PaperUploadForm(formdata=None)
    form = PaperCommitForm()
    if (file := confirmed(form, "paper.csv")) is None:
        return _page(upload_form, 400)
    filename, raw = file
    check = _check(None, filename, raw)
    if check is None or not check.ok:
        end_dry_run()
        return _page(upload_form, 400, check=check, filename=filename, commit_form=None)
    try:
        outcome = import_checked(db.session, check, filename, raw)
    except SubmissionError as exc:  # a rule only storing knows: listed like the check's row errors
        end_dry_run()
        check.errors = [_store_error(key, message) for key, message in exc.errors.items()]
        return _page(upload_form, 400, check=check, filename=filename, commit_form=None)
    db.session.commit()
    drop_stash(form.upload.data)
    return render_template("admin/paper_done.html", outcome=outcome, filename=filename)


@bp.route("/paper/discard", methods=["POST"])
@admin_required
def paper_discard() -> ResponseReturnValue:
    """Throw away a checked file waiting for confirmation (a draft import): nothing of it is ever stored."""
    form = PaperCommitForm()
    if (file := confirmed(form, "paper.csv")) is None:
        return _page(PaperUploadForm(formdata=None), 400)
    filename, _raw = file
    drop_stash(form.upload.data)
    record(db.session, "paper.discard", "paper_batch", filename[:64], after={"file": filename})
    db.session.commit()
    flash(_("%(file)s was discarded: nothing of it was imported.", file=filename), "success")
    return _page(PaperUploadForm(formdata=None))


def _store_error(key: str, message: str) -> RowError:
    line, _sep, column = key.partition(":")
    return RowError(int(line) if line.isdigit() else 0, column if column != "_" else "", message)


@bp.route("/paper/template/<int:version_id>.csv")
@admin_required
def paper_template(version_id: int) -> Response:
    """An empty file with the right header for one questionnaire version (the paper clerk fills it in)."""
    qv = get_or_404(db.session, QuestionnaireVersion, version_id)
    q, _ids = questionnaire_for(db.session, qv.id)
    levels = list(db.session.scalars(select(Level.code).order_by(Level.rank)))
    header = [*REQUIRED[:2], "questionnaire", "questionnaire_version", "channel", "language", *levels, "agency",
              "service_point", *item_columns(q)]
    out = io.StringIO()
    writer = csv_writer(out, lineterminator="\n")
    writer.writerow(header)
    return Response(out.getvalue().encode("utf-8"), content_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="paper-{qv.instrument}-v{qv.version}.csv"'})

