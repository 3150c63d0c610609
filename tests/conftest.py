"""Root of the suite.  The web fixtures (app, client, runner, db_session on SQLite and PostgreSQL) live in
tests/web_fixtures.py and are loaded only when Flask is installed, so the pure statistics and questionnaire
tests (tests/analysis, tests/questionnaires) run on an environment with just NumPy, pandas, SciPy and pytest,
like the packages they test (`analysis` and `questionnaires` never import Flask)."""

from __future__ import annotations

import os

try:
    import flask  # noqa: F401
except ImportError:  # a statistics-only environment
    pytest_plugins: list[str] = []
else:
    pytest_plugins = ["tests.web_fixtures"]


def pytest_collection_modifyitems(config, items) -> None:  # type: ignore[no-untyped-def]
    """Under pytest-xdist (`-n`), tests that share one server run in one worker, in file order: the browser
    tests share a live server whose responses they count, and the Redis tests share the rate-limit store.

    xdist's loadgroup hands out the largest groups first (browser, then Redis), then single tests in this
    order: the `slow` ones (demo loads of 20,000 responses, simulations) go first, so the run does not end
    on one worker still busy with a minute-long test while the other waits."""
    if not config.pluginmanager.hasplugin("xdist"):
        return
    import pytest

    for item in items:
        if item.get_closest_marker("browser") is not None:
            item.add_marker(pytest.mark.xdist_group("browser"))
        elif "redis_or_skip" in vars(getattr(item, "module", None) or object):
            item.add_marker(pytest.mark.xdist_group("redis"))
    if os.environ.get("PYTEST_XDIST_WORKER"):  # (a worker collects; one process keeps file order)
        items.sort(key=_not_slow_alone)  # stable: file order otherwise


def pytest_collection_finish(session) -> None:  # type: ignore[no-untyped-def]
    """What collection built (every module, ~2,300 test items) lives until the end: move it out of the garbage
    collector's view, so the full collections that each test's app and data set-up trigger do not walk it again
    (issue 13 §6: tests/respond/test_link.py within a whole collection, set-up CPU 4.0 -> 2.9 s for 50 tests)."""
    import gc

    gc.collect()
    gc.freeze()


def _not_slow_alone(item) -> bool:  # type: ignore[no-untyped-def]
    return item.get_closest_marker("slow") is None or item.get_closest_marker("xdist_group") is not None
