"""gunicorn settings for HaiLong: `gunicorn -c deploy/gunicorn.conf.py wsgi:app` (README, production).

Ops settings (workers, bind, timeouts) are added by the deployment work (issue 14); this file starts with
the part that protects respondents (issue 11 §5, docs/security.md): access log lines carry neither the
client address nor a receipt token (`/r/<token>`), so a log cannot join a citizen to an answer.
"""

from survey.access_log import ACCESS_LOG_FORMAT, install_gunicorn_filter

# --- access logging (issue 11 §5): no client address, no query string, /r/<token> masked -------------
accesslog = "-"
access_log_format = ACCESS_LOG_FORMAT


def on_starting(server: object) -> None:  # gunicorn hook: runs once in the master, workers inherit
    install_gunicorn_filter()
# --- end of access logging ---------------------------------------------------------------------------
