"""The check → dry run → commit flow of every import page (paper responses, service volumes, tree file), once.

An upload is read and checked without writing (the dry run shows what would change); the checked file then
waits on the server under a random token (survey/uploads.py `stash_upload`) until the person confirms with
`CommitForm`, which re-checks it before anything is stored.  These helpers are the parts the pages shared
word for word: the safe file name and bounded read, reading it as a table (a file that is not one is refused
with survey/errors.py `refuse`), ending the dry run, the confirmation form, and refusing an expired one.
Problems in the rows are listed as survey/uploads.py `RowError`s (templates/admin/_row_errors.html).
"""

from __future__ import annotations

from typing import Any

from flask import flash
from flask_babel import gettext as _
from werkzeug.utils import secure_filename
from wtforms import HiddenField
from wtforms.validators import DataRequired

from survey.errors import refuse
from survey.extensions import db
from survey.forms import FlaskForm
from survey.uploads import MAX_UPLOAD, Table, TableError, load_stash, read_table


class CommitForm(FlaskForm):
    """The confirmation of a checked file: its name and the token it waits under."""

    filename = HiddenField(validators=[DataRequired()])
    upload = HiddenField(validators=[DataRequired()])


def uploaded(form: Any, default_name: str) -> tuple[str, bytes]:
    """The file of a validated upload form: a safe name, and one byte more than the limit at most (so the
    table reader can say it is too large without reading all of it)."""
    upload = form.file.data
    return secure_filename(upload.filename or "") or default_name, upload.read(MAX_UPLOAD + 1)


def read_upload(form: Any, filename: str, raw: bytes) -> Table | None:
    """The file as a table, or None after `refuse` said why it cannot be read: on the upload form's file
    field, or flashed when `form` is None (a confirmation, whose form has no file)."""
    try:
        return read_table(filename, raw)
    except TableError as exc:
        refuse(form, exc)
        return None


def end_dry_run() -> None:
    """Keep nothing a check read or wrote (the tree file's check even runs the import, in the transaction).
    The dry run ends here; so does a confirmation whose re-check or import finds problems, which are then
    shown as the dry run shows them.  Only a confirmed import without problems commits."""
    db.session.rollback()


def confirmed(form: CommitForm, default_name: str) -> tuple[str, bytes] | None:
    """The checked file a confirmation points to, or None after saying why (expired or not valid)."""
    raw = load_stash(form.upload.data) if form.validate_on_submit() else None
    if raw is None:
        flash(_("The confirmation was not valid (the page may have expired). Upload the file again."), "error")
        return None
    return secure_filename(form.filename.data) or default_name, raw
