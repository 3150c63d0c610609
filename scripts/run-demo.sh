#!/usr/bin/env bash
# Install HaiLong into .venv and serve it on SQLite with the Cần Thơ demo city loaded.
source "$(dirname "$0")/_venv.sh" ""
export FLASK_APP=wsgi
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-5000}
# QR posters and receipt links must point where this server listens
export HAILONG_PUBLIC_URL=${HAILONG_PUBLIC_URL:-http://$HOST:$PORT}
.venv/bin/flask --app wsgi db upgrade
.venv/bin/flask --app wsgi questionnaire load questionnaires/instruments/*.json
.venv/bin/flask --app wsgi demo --if-empty
echo
echo "HaiLong starts at http://$HOST:$PORT/ (staff log in at /auth/login):"
.venv/bin/flask --app wsgi demo --print-logins
echo "Kiosk: log in as admin → Quản trị → Máy đánh giá to enrol one (or: .venv/bin/flask --app wsgi kiosks enrol"
echo "  --service-point CODE), then open http://$HOST:$PORT/kiosk/enrol on the tablet and type the code."
echo
exec .venv/bin/flask --app wsgi run --host "$HOST" --port "$PORT"
