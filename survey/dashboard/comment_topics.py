"""The agency page's table of comment topics: how many of the period's comments raise each topic, with a
link to those comments.  Counted over the comments an agency viewer sees (hidden ones and those of responses
held for review are not counted, whoever looks), filtered like the comment page (service point, months), so
a count and the list behind its link agree.  Two more tables give the trend: comments per topic, and their
share of the comments, per month (per quarter when the period shown spans more than a year), each period
linking to its comments.

Shares are shown whatever the number of comments, with that number beside them (attacker pass, 7 Dec 2026).
They used to be hidden under n_min comments "as for responses" while the count of each topic and the total stayed
in the same row — so the hidden share was count ÷ total, one division away.  No protection asks for hiding it:
n_min protects figures estimated from small groups of respondents, whereas these are counts of comments the
same viewer reads on the comment page, each linked from its count.  So the share is shown; under n_min comments
the files say that it rests on few comments (`few_comments`), and rises are still looked for only where both
periods have n_min comments (the topics page)."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import current_app, url_for
from flask_babel import gettext as _

from survey.dashboard.comments import comment_link_args, comment_query
from survey.dashboard.tables import INT, PCT, Col, Table
from survey.extensions import db
from survey.i18n import number
from survey.org.models import Agency, ServicePoint
from survey.respond.models import Comment, Response
from survey.results.periods import period_name, period_start
from survey.results.topics import lexicon, topic_counts, topic_trend, trend_kind


def comment_n_min() -> int:
    """The minimum number of comments under which a share of them is not shown: the app's n_min."""
    return int(current_app.config["HAILONG_N_MIN"])


def few_comments(total: int, n_min: int) -> dict[str, Any]:
    """Row keys that say, in the files, that a share rests on fewer than n_min comments (it stays shown: see the
    module docstring)."""
    if total >= n_min or total == 0:
        return {}
    return {"_note": _("few comments (n = %(n)s): the shares vary widely", n=number(total, 0))}


def topic_tables(agency: Agency, service_point: ServicePoint | None, period_from: date | None,
                 period_to: date | None, lang: str) -> list[Table]:
    """The topic table, then the trend per topic: counts and shares of comments per month or quarter."""
    lex = lexicon(current_app.instance_path)
    n_min = comment_n_min()
    args = {"q": "", "sp": service_point, "from": period_from, "to": period_to}
    rows = db.session.execute(comment_query(agency.id, args, moderator=False)
                              .with_only_columns(Response.period, Comment.text)).all()
    periods = [p for p, _t in rows]
    first, last = (period_from or min(periods), period_to or max(periods)) if periods else (period_from, period_to)
    kind = trend_kind(first, last) if first and last else "month"
    trend = topic_trend(((p, t) for p, t in rows), lex, kind, first, last)
    title = _("Comments per topic by month") if kind == "month" else _("Comments per topic by quarter")
    share_title = _("Share of comments per topic by month") if kind == "month" \
        else _("Share of comments per topic by quarter")
    lead = [Col("period", _("Period")), Col("n", _("Comments"), INT)]
    counts = Table("topics_trend", title, lead + [Col(t.code, t.label(lang), INT) for t in lex.topics])
    shares = Table("topics_share", share_title, lead + [Col(t.code, t.label(lang), PCT) for t in lex.topics])
    for label, (total, by_topic) in trend.items():
        start = period_start(label)
        end = date(start.year, start.month + 2, 1) if kind == "quarter" and start else start
        href = url_for("dashboard.comments", code=agency.code,
                       **comment_link_args({**args, "from": start, "to": end}))
        counts.rows.append({"period": period_name(label), "n": total, **by_topic, "_href": href})
        shares.rows.append({"period": period_name(label), "n": total, "_href": href, **few_comments(total, n_min),
                            **{c: n / total if total else None for c, n in by_topic.items()}})
    return [topics_table(agency, service_point, period_from, period_to, lang, rows=[t for _p, t in rows]),
            counts, shares]


def topics_table(agency: Agency, service_point: ServicePoint | None, period_from: date | None,
                 period_to: date | None, lang: str, rows: list[str] | None = None) -> Table:
    """Rows: every topic of the lexicon (most frequent first), then all comments; share = of all comments.
    `rows`: the comment texts when the caller has read them already."""
    lex = lexicon(current_app.instance_path)
    args = {"q": "", "sp": service_point, "from": period_from, "to": period_to}
    if rows is None:
        rows = list(db.session.scalars(comment_query(agency.id, args, moderator=False).with_only_columns(Comment.text)))
    total, counts = topic_counts(rows, lex)
    note = few_comments(total, comment_n_min())
    table = Table("topics", _("Topics of citizens' comments"), [
        Col("topic", _("Topic")), Col("n", _("Comments"), INT), Col("share", _("Share of comments"), PCT)])
    for t in sorted(lex.topics, key=lambda t: (-counts[t.code], lex.codes.index(t.code))):
        table.rows.append({"topic": t.label(lang), "n": counts[t.code],
                           "share": counts[t.code] / total if total else None, **note,
                           "_href": url_for("dashboard.comments", code=agency.code,
                                            **comment_link_args(args, topic=t.code))})
    table.rows.append({"topic": _("All comments (a comment may have several topics or none)"), "n": total,
                       "share": 1.0 if total else None, **note,
                       "_href": url_for("dashboard.comments", code=agency.code, **comment_link_args(args))})
    return table
