"""Comment topics across agencies (issue 15 §3): for a chosen month, quarter or year, each agency's comments
and the share raising each topic, and the topics whose share rose since the previous period ("unofficial
fees rising at X").  Only counts are shown; the comments themselves are read on each agency's comment page
(redacted text, moderation rules unchanged) through the links.

Access: every staff role, scoped like everything else (`visible_agency_ids`): Home Affairs and
administrators see every agency, a unit manager those of its subtree, an agency viewer its own agency.
Hidden comments and those of responses held for review are never counted, as on the agency page.
Shares are shown with the number of comments beside them, however few (survey/dashboard/comment_topics.py
says why none is hidden); a rise is looked for only where both periods have n_min comments: a share of a few
comments moves too much to be said to rise.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from werkzeug.wrappers import Response as WResponse

from survey.auth import roles
from survey.auth.scope import roles_required, visible_agency_ids
from survey.dashboard import params
from survey.dashboard.comment_topics import comment_n_min, few_comments
from survey.dashboard.common import month_text, wants_export
from survey.dashboard.tables import DIFF, INT, PCT, Col, Table, chosen_table, export
from survey.extensions import db
from survey.i18n import current_lang
from survey.org.models import Agency
from survey.respond.models import Comment, Response
from survey.results.comparison import Period
from survey.results.topics import lexicon, rising, topic_counts
from survey.results.totals import period_label

bp = Blueprint("topics", __name__, url_prefix="/dashboard/topics")
KINDS = ("quarter", "month", "year")
MIN_COUNT, MIN_POINTS = 3, 0.05  # a rise is flagged from 3 comments and 5 percentage points


def _base(agency_ids: set[int] | None) -> Any:
    q = (select(Response.agency_id, Comment.text).join(Response, Response.id == Comment.response_id)
         .where(Comment.hidden_at.is_(None), Response.review_status.is_(None)))
    return q if agency_ids is None else q.where(Response.agency_id.in_(agency_ids or [-1]))


def _periods(kind: str, agency_ids: set[int] | None) -> list[Period]:
    """Periods of `kind` with comments the user may see, newest first (the choices offered)."""
    months = db.session.scalars(_base(agency_ids).with_only_columns(Response.period).distinct()).all()
    return sorted({Period.parse(period_label(d, kind)) for d in months}, key=lambda p: p.start, reverse=True)


def _by_agency(agency_ids: set[int] | None, p: Period) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for agency_id, text in db.session.execute(
            _base(agency_ids).where(Response.period >= p.start, Response.period <= p.end)):
        out.setdefault(agency_id, []).append(text)
    return out


def _link(agency: Agency, p: Period, **extra: Any) -> str:
    args: dict[str, Any] = {"code": agency.code, "from": month_text(p.start), "to": month_text(p.end), **extra}
    return url_for("dashboard.comments", **args)


@bp.route("/")
@roles_required(*roles.STAFF)
def index() -> str | WResponse:
    lang = current_lang()
    kind = params.choice("period_kind", KINDS, "quarter")
    wanted = params.period()  # malformed: a 400 page; one without comments (or of another kind): the newest
    agency_ids = visible_agency_ids(current_user)
    lex = lexicon(current_app.instance_path)
    n_min = comment_n_min()
    periods = _periods(kind, agency_ids)
    p = next((x for x in periods if wanted is not None and x.label == wanted.label), periods[0] if periods else None)
    topic_cols = [Col(t.code, t.label(lang), PCT) for t in lex.topics]
    shares = Table("topic_shares", _("Share of comments per topic, by agency"),
                   [Col("agency", _("Agency")), Col("n", _("Comments"), INT), *topic_cols])
    rises = Table("topic_rises", _("Topics rising since the previous period"), [
        Col("agency", _("Agency")), Col("topic", _("Topic")), Col("n_before", _("Comments, previous period"), INT),
        Col("share_before", _("Share, previous period"), PCT), Col("n_now", _("Comments, this period"), INT),
        Col("share_now", _("Share, this period"), PCT), Col("change", _("Change"), DIFF)])
    if p is not None:
        now, before = _by_agency(agency_ids, p), _by_agency(agency_ids, p.previous())
        agencies = db.session.scalars(select(Agency).where(Agency.id.in_(set(now) | set(before)))).all()
        for ag in sorted(agencies, key=lambda a: a.name(lang)):
            total, counts = topic_counts(now.get(ag.id, []), lex)
            shares.rows.append({"agency": ag.name(lang), "n": total, "_href": _link(ag, p),
                                **few_comments(total, n_min),
                                **{c: n / total if total else None for c, n in counts.items()}})
            previous = topic_counts(before.get(ag.id, []), lex)
            if min(total, previous[0]) < n_min:
                continue
            for r in rising(previous, (total, counts), MIN_COUNT, MIN_POINTS):
                topic = lex.topic(r.topic)
                rises.rows.append({"agency": ag.name(lang), "topic": topic.label(lang) if topic else r.topic,
                                   "n_before": r.n_before, "share_before": r.share_before, "n_now": r.n_now,
                                   "share_now": r.share_now, "change": r.points, "_href": _link(ag, p, topic=r.topic)})
        rises.rows.sort(key=lambda row: -row["change"])
    which, fmt = chosen_table([shares, rises]), wants_export()
    if fmt:
        return export([shares, rises], fmt, f"comment-topics-{p.label if p else 'none'}", which)
    args = {"period_kind": kind, **({"period": p.label} if p else {})}
    return render_template("dashboard/topics/index.html", shares=shares, rises=rises, period=p, kind=kind,
                           kinds=KINDS, periods=periods, args=args, previous=p.previous() if p else None, lang=lang,
                           min_count=MIN_COUNT, min_points=MIN_POINTS, n_min=n_min)
