"""Citizens' comments of an agency: newest first, searchable, filterable, paginated; moderation hides (never
edits) an abusive comment, with a reason, in the audit log.

Moderators: unit managers (agencies of their subtree), Home Affairs and administrators.  Agency viewers read
their own agency's comments but cannot moderate: the agency being judged should not remove criticism of it.
Hidden comments disappear from agency viewers' pages and exports; moderators still see them, marked hidden.
Search is a case-insensitive substring match, bound as a parameter with LIKE wildcards escaped (on SQLite,
case folding covers ASCII letters only; PostgreSQL folds Vietnamese letters too).
"""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import func, select
from werkzeug.wrappers import Response as WResponse
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from survey.audit import record
from survey.auth import roles
from survey.auth.scope import can_see_agency, roles_required
from survey.dashboard import params
from survey.dashboard.comment_dates import coarsen
from survey.dashboard.common import STAFF, agency_or_404, bp, month_text, wants_export
from survey.dashboard.months import months_with_data
from survey.dashboard.tables import Col, Table, export
from survey.database import utcnow
from survey.extensions import db
from survey.forms import FlaskForm
from survey.i18n import current_lang
from survey.org.models import Agency, ServicePoint
from survey.redirects import safe_redirect_target
from survey.respond.models import Comment, Response
from survey.results.topics import lexicon, topics_of

MODERATORS = roles.MODERATES_COMMENTS
PER_PAGE = 20
MAX_EXPORT = 50_000
MAX_SEARCH = 200  # characters of a search text


class HideForm(FlaskForm):
    reason = StringField(_l("Reason"), validators=[DataRequired(), Length(max=300)])


def may_moderate(user: Any) -> bool:
    return user.role in MODERATORS


def comment_query(agency_id: int, args: dict[str, Any], moderator: bool) -> Any:
    q = (select(Comment, Response.submitted_at, ServicePoint)
         .join(Response, Response.id == Comment.response_id)
         .join(ServicePoint, ServicePoint.id == Response.service_point_id)
         .where(Response.agency_id == agency_id,
                Response.review_status.is_(None)))  # quarantined responses: in no figure, no comment list
    if not moderator:
        q = q.where(Comment.hidden_at.is_(None))
    if args["q"]:
        q = q.where(Comment.text.icontains(args["q"], autoescape=True))
    if args["sp"] is not None:
        q = q.where(Response.service_point_id == args["sp"].id)
    if args["from"] is not None:
        q = q.where(Response.period >= args["from"])
    if args["to"] is not None:
        q = q.where(Response.period <= args["to"])
    if args.get("topic"):  # topics are computed, not stored (survey/results/topics.py): filter by id
        lex = args["lexicon"]
        ids = [cid for cid, text in db.session.execute(q.with_only_columns(Comment.id, Comment.text))
               if args["topic"] in topics_of(text, lex)]
        q = q.where(Comment.id.in_(ids or [-1]))
    return q


def _filters(agency_id: int) -> dict[str, Any]:
    """The list's filters (survey/dashboard/params.py: a value the page cannot use is a page saying so)."""
    sp = None
    code = params.raw("sp")
    if code:
        sp = db.session.scalar(select(ServicePoint).where(ServicePoint.code == code))
        if sp is None or sp.agency_id != agency_id:
            raise params.unknown("sp", code)
    lex = lexicon(current_app.instance_path)
    topic = params.raw("topic") or ""
    if topic and topic not in lex.codes:
        raise params.unknown("topic", topic)
    period_from, period_to = params.month_range()
    return {"q": params.search_text("q", MAX_SEARCH), "sp": sp, "from": period_from, "to": period_to,
            "topic": topic, "lexicon": lex}


def comment_link_args(args: dict[str, Any], **extra: Any) -> dict[str, Any]:
    out = {"q": args["q"] or None, "sp": args["sp"].code if args["sp"] else None,
           "from": month_text(args["from"]), "to": month_text(args["to"]), "topic": args.get("topic")}
    out.update(extra)
    return {k: v for k, v in out.items() if v not in (None, "")}


@bp.route("/agency/<code>/comments")
@roles_required(*STAFF)
def comments(code: str) -> str | WResponse:
    ag = agency_or_404(code)
    moderator = may_moderate(current_user)
    args = _filters(ag.id)
    asked_page = params.whole("page")  # read before the download too, which has no pages but refuses `page=0`
    base = comment_query(ag.id, args, moderator)
    lang = current_lang()
    fmt = wants_export()
    if fmt:
        rows = db.session.execute(base.order_by(Response.submitted_at.desc(), Comment.id.desc())
                                  .limit(MAX_EXPORT)).all()
        cols = [Col("submitted", _("Submitted")), Col("service_point", _("Service point")),
                Col("text", _("Comment"))]
        if moderator:
            cols += [Col("hidden", _("Hidden")), Col("reason", _("Reason"))]
        table = Table("comments", _("Citizens' comments"), cols, [
            {"submitted": when, "service_point": sp.name(lang), "text": c.text,
             "hidden": _("yes") if c.hidden_at else "", "reason": c.hidden_reason or ""}
            for c, when, sp in coarsen(db.session, rows)])
        return export([table], fmt, f"comments-{ag.code}")
    total = db.session.scalar(select(func.count()).select_from(base.subquery())) or 0
    pages = max(1, -(-total // PER_PAGE))
    page = min(asked_page or 1, pages)  # past the last page (fewer comments now): the last page
    rows = db.session.execute(base.order_by(Response.submitted_at.desc(), Comment.id.desc())
                              .limit(PER_PAGE).offset((page - 1) * PER_PAGE)).all()
    return render_template("dashboard/agency/comments.html", agency=ag, rows=coarsen(db.session, rows), args=args,
                           total=total, page=page, pages=pages, moderator=moderator, form=HideForm(),
                           link_args=comment_link_args(args), lang=lang, lexicon=args["lexicon"], topics_of=topics_of,
                           months=months_with_data(db.session, agency_id=ag.id))


@bp.route("/comments/<int:comment_id>/hide", methods=["POST"])
@roles_required(*MODERATORS)
def hide_comment(comment_id: int) -> WResponse:
    comment = db.session.get(Comment, comment_id)
    if comment is None or not can_see_agency(current_user, comment.response.agency_id):
        abort(404)
    agency = db.session.get(Agency, comment.response.agency_id)
    assert agency is not None, "response.agency_id is a foreign key"
    agency_code = agency.code
    form = HideForm()
    back = safe_redirect_target(request.form.get("back"), url_for("dashboard.comments", code=agency_code))
    if not form.validate_on_submit():
        flash(_("Give a reason for hiding the comment."), "error")
        return redirect(back)
    if comment.hidden_at is None:
        comment.hidden_at = utcnow()
        comment.hidden_by_id = current_user.id
        comment.hidden_reason = form.reason.data.strip()
        record(db.session, "comment.hide", "comment", comment.id, before={"hidden": False},
               after={"hidden": True, "reason": comment.hidden_reason})
        db.session.commit()
        flash(_("The comment is hidden."), "success")
    return redirect(back)
