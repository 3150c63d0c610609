"""Fill the month-by-month results cache when a server process starts, before the first user asks.

Every agency page compares the agency with the whole city, and the whole city's per-month sufficient
statistics (item counts and Gram matrices, survey/results/design.py) are the one expensive read: about
a second per questionnaire at a million responses.  After it, a new response re-reads only its own month.
So each process reads them once at start, in a background thread, for every questionnaire version with
responses (from the month files of survey/results/month_files.py when an earlier process left them: then
the warm-up is computation only), and loads the comment-topic lexicon.  Off with HAILONG_PREWARM=0 (tests,
one-off CLI commands never start it).

Under gunicorn with the app preloaded (deploy/gunicorn.conf.py) the warm-up runs FIRST in the master, before
any worker is forked (`before_fork`, called by the `when_ready` hook): the lexicon, the comment topics
already classified (survey/results/topic_store.py) and the newest comments not classified yet (a new machine),
every page template compiled, the whole-city figures, and the Home Affairs index of every questionnaire as it
opens (its comparisons, ranks, change and trend).
Each worker then starts with them — shared copy-on-write, so 4 workers hold one copy — and takes no request before
the warm-up has finished (issue 14 §4: the first page after a restart).  The master closes every database
connection before forking.  A worker still runs `start` after the fork: it finds the figures computed and
only refreshes what changed since.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from flask import Flask
from sqlalchemy import select

log = logging.getLogger(__name__)


def prewarm(app: Flask) -> dict[int, float]:
    """Compute the whole-city indices of every questionnaire version with responses; seconds per version."""
    from survey.extensions import db
    from survey.respond.models import ResponseTally
    from survey.results.indices import indices
    from survey.results.selection import Selection

    took: dict[int, float] = {}
    with app.app_context():
        try:
            from survey.results.topics import lexicon

            lexicon(app.instance_path)  # the comment-topic lexicon: ~0.3 s to parse, asked by every agency page
            versions = db.session.scalars(select(ResponseTally.questionnaire_version_id).distinct()).all()
            for qv in versions:
                t0 = time.perf_counter()
                indices(db.session, Selection.of(qv))
                took[int(qv)] = time.perf_counter() - t0
        finally:
            db.session.remove()
    return took


#: the newest comments the master classifies before forking when the topic store lacks them (a new machine,
#: an edited lexicon): ≈ 0.4–0.7 ms of CPU each, so at most ≈ 20–35 s of CPU once; older ones are classified
#: when a page asks
CLASSIFY_AT_START = 50_000


def classify_comments(app: Flask, limit: int = CLASSIFY_AT_START) -> int:
    """Classify the newest `limit` comments the topic store (survey/results/topic_store.py) does not hold yet,
    and store them; how many were classified.

    Why: on a machine that never served (or after the lexicon or its code changed) no classification is
    stored, and the first agency page classified its ≈ 500 comments itself (≈ 200 of its 610 ms of CPU at
    1 M, benchmarks/README.md).  The master does it once here, the workers inherit the results and later
    starts read them from disk; a comment already stored costs a hash.  In the master itself: classifying in
    forked children (one per core) measured the same workers' memory and no shorter start at load 25.
    Nothing when the store is off (no folder): the work would be lost at the next start."""
    from analysis.topics import classify
    from survey.extensions import db
    from survey.respond.models import Comment
    from survey.results import month_files, topic_store
    from survey.results.topics import lexicon

    done = 0

    def counted(text: str, lex: Any) -> frozenset[str]:
        nonlocal done
        done += 1
        return classify(text, lex)

    with app.app_context():
        try:
            if month_files.directory() is None:
                return 0
            lex = lexicon(app.instance_path)
            topic_store.preload(lex)
            texts = db.session.scalars(select(Comment.text).order_by(Comment.id.desc()).limit(limit)
                                       .execution_options(yield_per=2000))
            for text in texts:
                topic_store.classified(text, lex, counted)  # only the texts not stored yet reach `counted`
            topic_store.flush()
        finally:
            db.session.remove()
    return done


def home_affairs_index(app: Flask) -> dict[int, float]:
    """Render the Home Affairs index and one agency page once per questionnaire version with responses, as a
    Home Affairs user opens them (no filter chosen: the default period and level); seconds per version.

    Why the page itself and not its figures: the index's first request builds 10–12 results of its own (the
    comparison of the default level with its ranks and change, the whole selection, the 8-period trend,
    coverage and languages per unit: 615 ms of CPU after the whole-city warm-up, benchmarks/README.md), and
    which results, under which cache keys, is decided by the page's code (compare_views.read_filters,
    choose_default …).  Running that code keeps the warm-up in step with the page, and compiles what the page
    compiles (SQL statements, the catalogue of the default language).  The viewer is a Home Affairs user
    that is never stored (nothing is written: the page only reads); every Home Affairs and admin user sees
    the same figures (scope: everything)."""
    from flask_login import login_user

    from survey.auth.models import User
    from survey.extensions import db
    from survey.org.models import Agency, ServicePoint
    from survey.respond.models import ResponseTally

    took: dict[int, float] = {}
    index, agency = app.view_functions.get("homeaffairs.index"), app.view_functions.get("dashboard.agency")
    with app.app_context():
        try:
            versions = db.session.scalars(select(ResponseTally.questionnaire_version_id).distinct()).all()
            # one agency page per questionnaire: the protection of small groups it applies is decided over the
            # whole tree for the page's questionnaire and months (survey/results/protection.py), the same for
            # every agency's default page, and cost ≈ 1 s of CPU on the first one (benchmarks/README.md)
            agencies = {int(qv): db.session.scalar(
                select(Agency.code).join(ServicePoint, ServicePoint.agency_id == Agency.id)
                .join(ResponseTally, ResponseTally.service_point_id == ServicePoint.id)
                .where(ResponseTally.questionnaire_version_id == qv).order_by(Agency.id).limit(1))
                for qv in versions}
        finally:
            db.session.remove()
    viewer = User(username="prewarm", display_name="", role="home_affairs", active=True)
    for qv in versions:
        t0 = time.perf_counter()
        pages: list[tuple[Any, str, dict[str, str]]] = [] if index is None else [
            (index, f"/homeaffairs/?questionnaire={int(qv)}", {})]
        code = agencies[int(qv)]
        if agency is not None and code:
            pages.append((agency, f"/dashboard/agency/{code}?questionnaire={int(qv)}", {"code": code}))
        for view, url, args in pages:
            # a fresh application context per page, as each request has (flask-login and Babel keep theirs in g)
            with app.app_context(), app.test_request_context(url):
                try:
                    login_user(viewer)  # this request's user only: no session cookie is sent anywhere
                    view(**args)
                finally:
                    db.session.remove()
        took[int(qv)] = time.perf_counter() - t0
    return took


def before_fork(app: Flask) -> dict[str, float]:
    """The warm-up of a preloaded gunicorn master, synchronous, ending with no database connection open;
    seconds per part.  Never raises: a cold cache is slower, never wrong."""
    from survey.extensions import db

    took: dict[str, float] = {}
    t0 = time.perf_counter()
    try:
        from survey.results import topic_store
        from survey.results.topics import lexicon

        with app.app_context():
            topic_store.preload(lexicon(app.instance_path))
        took["lexicon"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        if classify_comments(app):
            took["comment topics"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        for name in app.jinja_env.list_templates(filter_func=lambda n: n.endswith(".html")):
            app.jinja_env.get_template(name)  # compiled once here, not by each worker's first page
        took["templates"] = time.perf_counter() - t0
        if _enabled(app):
            t0 = time.perf_counter()
            took.update({f"v{k}": v for k, v in prewarm(app).items()})
            took.update({f"home affairs v{k}": v for k, v in home_affairs_index(app).items()})
    except Exception:
        log.exception("warm-up before forking failed")
    finally:
        with app.app_context():
            db.session.remove()
            for engine in (db.engine, db.replica_engine):
                if engine is not None:
                    engine.dispose()  # the workers must not share the master's connections
    return took


def _enabled(app: Flask) -> bool:
    return bool(app.config.get("HAILONG_PREWARM", True)) and bool(app.config.get("HAILONG_RESULTS_CACHE", True))


def start(app: Flask) -> threading.Thread | None:
    """Start `prewarm` in a daemon thread unless disabled, testing, or the cache is off."""
    if app.testing or not _enabled(app):
        return None

    def run() -> None:
        try:
            took = prewarm(app)
            log.info("results cache warmed: %s", ", ".join(f"v{k} {v:.1f} s" for k, v in took.items()))
        except Exception:  # a cold cache is slower, never wrong: the first request computes it instead
            log.exception("results cache warm-up failed")

    thread = threading.Thread(target=run, name="hailong-prewarm", daemon=True)
    thread.start()
    return thread
