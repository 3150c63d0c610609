"""The audit log page: every administrative action with who, what, when and a readable before/after diff,
filterable by action, actor, target and date, paginated.  Read-only by design: this module has GET routes
only, and no page anywhere edits or deletes audit events (a test checks the whole URL map)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from babel.numbers import format_decimal
from flask import render_template, request, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select
from wtforms import DateField, SelectField, StringField
from wtforms.validators import Length, Optional

from survey.admin.blueprint import bp, viewer_required
from survey.audit.models import AuditEvent
from survey.dashboard import params
from survey.extensions import db
from survey.forms import FlaskForm
from survey.i18n import LOCAL_TZ, current_lang

PER_PAGE = 50


class AuditFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET search form changes nothing

    action = SelectField(_l("Action"), choices=[], validate_choice=False)
    actor = SelectField(_l("Who"), choices=[], validate_choice=False)
    target = StringField(_l("Target (code or number)"), validators=[Optional(), Length(max=64)])
    date_from = DateField(_l("From (day)"), validators=[Optional()])
    date_to = DateField(_l("To (day, included)"), validators=[Optional()])


@dataclass(frozen=True)
class Change:
    key: str
    before: Any
    after: Any
    changed: bool


#: keys whose integers are identifiers, not quantities: shown as stored (no "12.345" for an id or a seed)
IDENTIFIER_KEYS = ("id", "seed", "version", "rank", "year")


def readable(value: Any, key: str = "") -> Any:
    """Timestamps stored as ISO text are shown in local time, like every other date on the site; counts and
    proportions with the reader's separators (12.000 and 0,8497 in Vietnamese), identifiers as stored."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if isinstance(value, int) and (key in IDENTIFIER_KEYS or key.endswith("_id")):
            return value
        return format_decimal(value, format="#,##0.######", locale=current_lang())
    if isinstance(value, str) and len(value) >= 19 and value[10:11] == "T":
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
        if moment.tzinfo is not None:
            try:
                return moment.astimezone(LOCAL_TZ).strftime("%d/%m/%Y %H:%M:%S")
            except OverflowError:  # "9999-12-31T23:59:59+00:00" typed as a name: shown as written (a 500 before)
                return value
    return value


def diff(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[Change]:
    """Every key of either side, in first-seen order; `changed` where the values differ."""
    before, after = before or {}, after or {}
    keys = list(dict.fromkeys([*before, *after]))
    return [Change(k, readable(before.get(k), k), readable(after.get(k), k), before.get(k) != after.get(k))
            for k in keys]


def _local_start(day: date) -> datetime:
    return datetime.combine(day, time.min, LOCAL_TZ)


@bp.route("/audit")
@viewer_required
def audit() -> tuple[str, int]:
    form = AuditFilterForm(request.args)
    actions = list(db.session.scalars(select(AuditEvent.action).distinct().order_by(AuditEvent.action)))
    actors = list(db.session.scalars(select(AuditEvent.actor).distinct().order_by(AuditEvent.actor)))
    form.action.choices = [("", _l("all"))] + [(a, a) for a in actions]
    form.actor.choices = [("", _l("everyone"))] + [(a, a) for a in actors]
    conditions = []
    valid = form.validate()  # a filter that is not valid (a date "2026-13-01") is shown on its field, with a 400
    if valid:
        if form.action.data:
            conditions.append(AuditEvent.action == form.action.data)
        if form.actor.data:
            conditions.append(AuditEvent.actor == form.actor.data)
        if form.target.data:
            target = form.target.data.strip()
            conditions.append(or_(AuditEvent.target_id == target, AuditEvent.target_type == target))
        if form.date_from.data:
            conditions.append(AuditEvent.at >= _local_start(form.date_from.data))
        if form.date_to.data:
            conditions.append(AuditEvent.at < _local_start(form.date_to.data + timedelta(days=1)))
    total = db.session.scalar(select(func.count()).select_from(AuditEvent).where(*conditions)) or 0
    pages = max(1, -(-total // PER_PAGE))
    page = min(params.whole("page") or 1, pages)  # not a page number: a page saying so; past the last: the last
    events = db.session.scalars(select(AuditEvent).where(*conditions)
                                .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
                                .offset((page - 1) * PER_PAGE).limit(PER_PAGE)).all()
    # Any: url_for's signature has typed keywords (_external: bool …) that a dict[str, str] cannot match
    args: dict[str, Any] = {k: v for k, v in request.args.items() if k != "page" and v}

    def page_url(n: int) -> str:
        return url_for("admin.audit", page=n, **args)

    return render_template("admin/audit.html", form=form, events=[(e, diff(e.before, e.after)) for e in events],
                           total=total, page=page, pages=pages, page_url=page_url), 200 if valid else 400
