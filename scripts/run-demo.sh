#!/usr/bin/env bash
# Install HaiLong into .venv and serve it on SQLite with the Cần Thơ demo city loaded.
source "$(dirname "$0")/_venv.sh" ""
export FLASK_APP=wsgi
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-5000}
mkdir -p "${HAILONG_INSTANCE:-instance}"   # the default SQLite database lives there
.venv/bin/flask --app wsgi db upgrade
.venv/bin/flask --app wsgi questionnaire load questionnaires/instruments/*.json
.venv/bin/flask --app wsgi demo --if-empty
echo
echo "HaiLong is running at http://$HOST:$PORT/"
.venv/bin/flask --app wsgi demo --print-logins
echo
exec .venv/bin/flask --app wsgi run --host "$HOST" --port "$PORT"
