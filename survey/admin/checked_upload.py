"""The check → dry run → commit flow of every table import page (paper responses, service volumes), once.

An upload is read and checked without writing (the dry run shows what would change); the checked file then
waits on the server under a random token (survey/uploads.py `stash_upload`) until the person confirms with
`CommitForm`, which re-checks it before anything is stored.  These helpers are the parts the pages shared
word for word: the safe file name and bounded read, the confirmation form, and refusing an expired one.
"""

from __future__ import annotations

from typing import Any

from flask import flash
from flask_babel import gettext as _
from werkzeug.utils import secure_filename
from wtforms import HiddenField
from wtforms.validators import DataRequired

from survey.forms import FlaskForm
from survey.uploads import MAX_UPLOAD, load_stash


class CommitForm(FlaskForm):
    """The confirmation of a checked file: its name and the token it waits under."""

    filename = HiddenField(validators=[DataRequired()])
    upload = HiddenField(validators=[DataRequired()])


def uploaded(form: Any, default_name: str) -> tuple[str, bytes]:
    """The file of a validated upload form: a safe name, and one byte more than the limit at most (so the
    table reader can say it is too large without reading all of it)."""
    upload = form.file.data
    return secure_filename(upload.filename or "") or default_name, upload.read(MAX_UPLOAD + 1)


def confirmed(form: CommitForm, default_name: str) -> tuple[str, bytes] | None:
    """The checked file a confirmation points to, or None after saying why (expired or not valid)."""
    raw = load_stash(form.upload.data) if form.validate_on_submit() else None
    if raw is None:
        flash(_("The confirmation was not valid (the page may have expired). Upload the file again."), "error")
        return None
    return secure_filename(form.filename.data) or default_name, raw
