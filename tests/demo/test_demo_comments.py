"""The demo's comments carry known topics (issue 15): the classifier finds exactly them, every topic occurs,
and the demo's agency page shows the topic table with counts that agree with those known topics."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from sqlalchemy import func, select

from analysis.topics import classify, load_lexicon
from survey.demo.comments import DEMO_COMMENTS
from survey.demo.model import COMMENTS
from survey.org.models import Agency
from survey.respond.models import Comment, Response


def test_demo_comments_have_the_topics_they_were_written_for():
    lex = load_lexicon()
    assert tuple(t for t, _ in DEMO_COMMENTS) == COMMENTS
    for text, topics in DEMO_COMMENTS:
        assert classify(text, lex) == topics, text
    assert set().union(*(t for _x, t in DEMO_COMMENTS)) == set(lex.codes)


@pytest.mark.demo_db(responses=4000)
def test_demo_agency_page_topic_table_matches_the_known_topics(app, client, db_session):
    from tests.dashboard.helpers import get, login

    known = dict(DEMO_COMMENTS)
    agency_id = db_session.scalar(select(Response.agency_id).join(Comment, Comment.response_id == Response.id)
                                  .group_by(Response.agency_id).order_by(func.count().desc()).limit(1))
    agency = db_session.get(Agency, agency_id)
    texts = db_session.scalars(select(Comment.text).join(Response, Response.id == Comment.response_id)
                               .where(Response.agency_id == agency.id, Comment.hidden_at.is_(None),
                                      Response.review_status.is_(None))).all()
    want = Counter(t for text in texts for t in known[text])
    login(client, "admin", "demo-admin-2022")
    html = get(client, f"/dashboard/agency/{agency.code}").get_data(as_text=True)
    section = html.split('id="table-topics"')[1].split("</table>")[0]
    waiting = re.search(r"topic=waiting[^>]*>[^<]*</a></th><td class=\"num\">(\d+)</td>", section)
    assert waiting and int(waiting.group(1)) == want["waiting"]
    praise = re.search(r"topic=praise[^>]*>[^<]*</a></th><td class=\"num\">(\d+)</td>", section)
    assert praise and int(praise.group(1)) == want["praise"] and want["praise"] > 0
