"""The preloaded gunicorn master's warm-up (survey/results/prewarm.py: before_fork) and the first page after a
restart (issue 14 §4): the Home Affairs index a worker serves first must find its figures computed, show
exactly what it shows cold, and the master must fork with no database connection; on a machine that never
served, the master classifies the comments so the first agency page classifies none."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text

from survey.audit.models import AuditEvent
from survey.auth.models import User
from survey.demo.users import DEMO_USERS
from survey.respond.models import Comment, ResponseTally
from survey.results import cache, prewarm, protection, topic_store, topics
from tests.dashboard.helpers import get, signed_in

HOME_AFFAIRS = next(u for u in DEMO_USERS if u.role == "home_affairs")
AGENCY_VIEWER = next(u for u in DEMO_USERS if u.role == "agency_viewer")
# the CSRF token of the page's forms is signed with the time: the only part of a page that may differ
CSRF = re.compile(r'(name="csrf_token"[^>]*value=")[^"]+|(value=")[^"]+("[^>]*name="csrf_token")')


def _index_pages(db_session) -> list[str]:
    """The index as opened (default questionnaire) and as opened on every questionnaire with responses."""
    versions = sorted(db_session.scalars(select(ResponseTally.questionnaire_version_id).distinct()))
    assert len(versions) >= 2, "the demo city answers two questionnaires"
    return ["/homeaffairs/", *(f"/homeaffairs/?questionnaire={v}" for v in versions)]


def _bodies(client, pages: list[str]) -> dict[str, str]:
    out = {}
    for page in pages:
        resp = get(client, page)
        assert resp.status_code == 200, page
        html = resp.get_data(as_text=True)
        out[page] = CSRF.sub(lambda m: (m.group(1) or m.group(2)) + "T" + (m.group(3) or ""), html)
    return out


def _connections(app) -> int:
    """Connections this test process holds to its database: PostgreSQL's own view, or the SQLite file open."""
    url = app.config["DATABASE_URL"]
    if url.startswith("sqlite"):
        path = str(Path(url.split("///", 1)[1].split("?", 1)[0]).resolve())
        held = 0
        for fd in Path("/proc/self/fd").iterdir():
            try:
                held += os.readlink(fd) == path
            except OSError:
                continue
        return held
    probe = create_engine(url.split("?", 1)[0])
    try:
        with probe.connect() as conn:
            return int(conn.scalar(text("SELECT count(*) FROM pg_stat_activity"
                                        " WHERE datname = current_database() AND pid <> pg_backend_pid()")))
    finally:
        probe.dispose()


@pytest.mark.demo_db(responses=4000)
def test_the_masters_warm_up_computes_the_home_affairs_index_writes_nothing_and_closes_every_connection(
        app, client, db_session):
    """A worker finds the index computed, byte for byte the cold page; the master forks with no connection."""
    pages = _index_pages(db_session)
    signed_in(client, HOME_AFFAIRS.username, HOME_AFFAIRS.password)
    cache.clear()
    cold = _bodies(client, pages)
    users = db_session.scalar(select(func.count()).select_from(User))
    events = db_session.scalar(select(func.count()).select_from(AuditEvent))
    db_session.commit()
    assert _connections(app) >= 1  # the probe sees the test's own connection (it would see the master's)
    cache.clear()
    took = prewarm.before_fork(app)
    assert {k for k in took if k.startswith("home affairs v")}, took
    deadline = time.monotonic() + 5  # a closed PostgreSQL connection leaves pg_stat_activity a moment later
    while _connections(app) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _connections(app) == 0, "a connection open at the fork would be shared by every worker"
    assert db_session.scalar(select(func.count()).select_from(User)) == users  # the warm-up's viewer is never stored
    assert db_session.scalar(select(func.count()).select_from(AuditEvent)) == events
    misses, hits = cache.STATS["results", "miss"], cache.STATS["results", "hit"]
    warm = _bodies(client, pages)
    # every figure of every index page (comparison, ranks, change, trend, coverage …) came from the cache …
    assert cache.STATS["results", "miss"] == misses
    assert cache.STATS["results", "hit"] > hits
    # … and is what the page shows computed cold
    for page in pages:
        assert warm[page] == cold[page], page
    assert "<svg" in warm["/homeaffairs/"]  # a real page (the trend chart), not an empty one twice


@pytest.mark.demo_db(responses=4000)
def test_on_a_new_machine_the_master_prepares_the_first_agency_page(app, client, db_session, tmp_path, monkeypatch):
    """Its comments classified and the protection of small groups decided before any worker exists."""
    comments = db_session.scalar(select(func.count()).select_from(Comment))
    assert comments > 50
    app.config["HAILONG_MONTH_CELLS_DIR"] = str(tmp_path / "cells")  # on, and empty: a machine that never served
    topic_store.clear()
    topics._topics.cache_clear()
    cache.clear()
    newest = db_session.scalars(select(Comment.text).order_by(Comment.id.desc()).limit(10)).all()
    assert prewarm.classify_comments(app, limit=10) == len(set(newest))  # the newest ten only (each text once)
    took = prewarm.before_fork(app)
    assert "comment topics" in took
    assert prewarm.classify_comments(app) == 0  # all stored now: a restart classifies nothing
    # a worker forked now (or a later start reading the store) classifies none for its first agency page
    topics._topics.cache_clear()

    def refuse(text: str, lex: object) -> frozenset[str]:
        raise AssertionError("classified during the page: the warm-up missed this comment")

    monkeypatch.setattr(topics, "classify", refuse)

    def decided(*args: object) -> None:
        raise AssertionError("the protection of small groups decided during the page: the warm-up missed it")

    # decided over the whole tree, the same for every agency's default page: the master rendered one
    monkeypatch.setattr(protection, "_read_inputs", decided)
    signed_in(client, AGENCY_VIEWER.username, AGENCY_VIEWER.password)
    page = get(client, "/dashboard/", follow_redirects=True)
    assert page.status_code == 200
    assert 'id="table-topics"' in page.get_data(as_text=True)  # the page counted its comments' topics
