"""Fill the month-by-month results cache when a server process starts, before the first user asks.

Every agency page compares the agency with the whole city, and the whole city's per-month sufficient
statistics (item counts and Gram matrices, survey/results/design.py) are the one expensive read: about
a second per questionnaire at a million responses.  After it, a new response re-reads only its own month.
So each process reads them once at start, in a background thread, for every questionnaire version with
responses (from the month files of survey/results/month_files.py when an earlier process left them: then
the warm-up is computation only), and loads the comment-topic lexicon.  Off with HAILONG_PREWARM=0 (tests,
one-off CLI commands never start it).
"""

from __future__ import annotations

import logging
import threading
import time

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


def start(app: Flask) -> threading.Thread | None:
    """Start `prewarm` in a daemon thread unless disabled, testing, or the cache is off."""
    if app.testing or not app.config.get("HAILONG_PREWARM", True) or not app.config.get("HAILONG_RESULTS_CACHE", True):
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
