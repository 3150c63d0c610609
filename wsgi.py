"""WSGI entry point: `gunicorn wsgi:app` or `flask --app wsgi run`."""

import os
import sys

from survey import create_app
from survey.results import prewarm

app = create_app()

# A serving process warms the results cache in the background (survey/results/prewarm.py); `flask db
# upgrade`, `flask demo` and other one-off commands import this module too and must not.
# Under gunicorn with preload_app (deploy/gunicorn.conf.py) this runs in the master: the master warms up
# before forking (its when_ready hook: prewarm.before_fork), and each worker starts this thread after it.
if not (sys.argv and sys.argv[0].endswith("flask") and "run" not in sys.argv[1:]) \
        and os.environ.get("HAILONG_PREWARM_AFTER_FORK") != "1":
    prewarm.start(app)
