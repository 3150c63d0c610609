"""The start-up warm-up fills the month cache, so the first page after a restart reads no more than a live one."""

from __future__ import annotations

from survey.results import cache, prewarm
from survey.results.selection import Selection
from tests.results.factories import city_with_responses


def test_prewarm_computes_every_questionnaire_with_responses(app, db_session):
    data = city_with_responses(db_session, per_point=10)
    db_session.commit()
    cache.clear()
    took = prewarm.prewarm(app)
    assert set(took) == {data.qv_id}
    # the whole-city figures are now cached: computing them again hits the cache (no new entry)
    before = len(cache._entries)
    from survey.results.indices import indices

    with app.app_context():
        from survey.extensions import db

        indices(db.session, Selection.of(data.qv_id))
    assert len(cache._entries) == before


def test_prewarm_does_not_start_in_tests_or_with_the_cache_off(app):
    assert prewarm.start(app) is None  # app.testing
    app.config.update(TESTING=False, HAILONG_RESULTS_CACHE=False)
    try:
        assert prewarm.start(app) is None
    finally:
        app.config.update(TESTING=True, HAILONG_RESULTS_CACHE=True)


def test_the_preloaded_masters_warm_up_leaves_figures_computed_and_no_connection_open(app, db_session):
    """prewarm.before_fork (wsgi.py under gunicorn's preload_app): the workers forked afterwards find the
    whole-city figures, templates and lexicon ready, and inherit no database connection."""
    from survey.extensions import db
    from survey.results.indices import indices

    data = city_with_responses(db_session, per_point=10)
    db_session.commit()
    cache.clear()
    took = prewarm.before_fork(app)
    assert {"lexicon", "templates", f"v{data.qv_id}"} <= set(took)
    pool = db.engine.pool
    assert pool.checkedin() == 0 and pool.checkedout() == 0, "a connection would be shared by every worker"
    assert app.jinja_env.cache is not None and len(app.jinja_env.cache) >= 40  # every page template compiled
    before = len(cache._entries)
    with app.app_context():
        indices(db.session, Selection.of(data.qv_id))
    assert len(cache._entries) == before
