"""WSGI entry point: `gunicorn wsgi:app` or `flask --app wsgi run`."""

import sys

from survey import create_app
from survey.results import prewarm

app = create_app()

# A serving process warms the results cache in the background (survey/results/prewarm.py); `flask db
# upgrade`, `flask demo` and other one-off commands import this module too and must not.
if not (sys.argv and sys.argv[0].endswith("flask") and "run" not in sys.argv[1:]):
    prewarm.start(app)
