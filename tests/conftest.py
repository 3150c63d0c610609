"""Root of the suite.  The web fixtures (app, client, runner, db_session on SQLite and PostgreSQL) live in
tests/web_fixtures.py and are loaded only when Flask is installed, so the pure statistics and questionnaire
tests (tests/analysis, tests/questionnaires) run on an environment with just NumPy, pandas, SciPy and pytest,
like the packages they test (`analysis` and `questionnaires` never import Flask)."""

from __future__ import annotations

try:
    import flask  # noqa: F401
except ImportError:  # a statistics-only environment
    pytest_plugins: list[str] = []
else:
    pytest_plugins = ["tests.web_fixtures"]


def pytest_collection_modifyitems(config, items) -> None:  # type: ignore[no-untyped-def]
    """Under pytest-xdist (`-n`), tests that share one server run in one worker, in file order: the browser
    tests share a live server whose responses they count, and the Redis tests share the rate-limit store."""
    if not config.pluginmanager.hasplugin("xdist"):
        return
    import pytest

    for item in items:
        if item.get_closest_marker("browser") is not None:
            item.add_marker(pytest.mark.xdist_group("browser"))
        elif "redis_or_skip" in vars(getattr(item, "module", None) or object):
            item.add_marker(pytest.mark.xdist_group("redis"))
