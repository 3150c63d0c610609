"""The agency page's table of comment topics: how many of the period's comments raise each topic, with a
link to those comments.  Counted over the comments an agency viewer sees (hidden ones and those of responses
held for review are not counted, whoever looks), filtered like the comment page (service point, months), so
a count and the list behind its link agree."""

from __future__ import annotations

from datetime import date

from flask import current_app, url_for
from flask_babel import gettext as _

from survey.dashboard.comments import comment_link_args, comment_query
from survey.dashboard.tables import INT, PCT, Col, Table
from survey.extensions import db
from survey.org.models import Agency, ServicePoint
from survey.respond.models import Comment
from survey.results.topics import lexicon, topic_counts


def topics_table(agency: Agency, service_point: ServicePoint | None, period_from: date | None,
                 period_to: date | None, lang: str) -> Table:
    """Rows: every topic of the lexicon (most frequent first), then all comments; share = of all comments."""
    lex = lexicon(current_app.instance_path)
    args = {"q": "", "sp": service_point, "from": period_from, "to": period_to}
    q = comment_query(agency.id, args, moderator=False).with_only_columns(Comment.text)
    total, counts = topic_counts(db.session.scalars(q), lex)
    table = Table("topics", _("Topics of citizens' comments"), [
        Col("topic", _("Topic")), Col("n", _("Comments"), INT), Col("share", _("Share of comments"), PCT)])
    for t in sorted(lex.topics, key=lambda t: (-counts[t.code], lex.codes.index(t.code))):
        table.rows.append({"topic": t.label(lang), "n": counts[t.code],
                           "share": counts[t.code] / total if total else None,
                           "_href": url_for("dashboard.comments", code=agency.code,
                                            **comment_link_args(args, topic=t.code))})
    table.rows.append({"topic": _("All comments (a comment may have several topics or none)"), "n": total,
                       "share": 1.0 if total else None,
                       "_href": url_for("dashboard.comments", code=agency.code, **comment_link_args(args))})
    return table
