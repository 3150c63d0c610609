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
