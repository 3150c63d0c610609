"""The `admin` blueprint and what every admin page shares: who may do what, confirmation, form helpers.

Administrators change things; Home Affairs staff may look at the audit log, the kiosk status list and the
tree (read-only), because they supervise the survey but do not run it.  Everyone else gets 403.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, abort
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session
from wtforms import BooleanField
from wtforms.validators import DataRequired

from survey.auth import roles
from survey.auth.scope import roles_required
from survey.forms import FlaskForm

bp = Blueprint("admin", __name__, url_prefix="/admin")

ADMIN = roles.ADMINISTERS
VIEWERS = roles.READS_ADMINISTRATION  # read-only pages: audit log, kiosk status, tree

admin_required: Callable[[Any], Any] = roles_required(*ADMIN)
viewer_required: Callable[[Any], Any] = roles_required(*VIEWERS)


class ConfirmForm(FlaskForm):
    """The confirmation step of a destructive action: a checkbox that must be ticked."""

    confirm = BooleanField(_l("Yes, I understand what this does"),
                           validators=[DataRequired(_l("Tick the box to confirm."))])


def get_or_404(session: Session, model: type, ident: int) -> Any:
    obj = session.get(model, ident)
    if obj is None:
        abort(404)
    return obj
