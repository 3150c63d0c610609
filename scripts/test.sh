#!/usr/bin/env bash
# Install everything the tests need (Python packages, Debian's Chromium, a running PostgreSQL and Redis)
# and run the whole suite: lint, unit, integration (SQLite and PostgreSQL) and browser tests.
source "$(dirname "$0")/_venv.sh" "[test]"
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else "$@"; fi; }
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ] || ! dpkg -s fonts-noto-core >/dev/null 2>&1; then
  # the pages name Noto Sans first: the layout tests (e.g. the staff header on one line at 1280 px) measure it
  echo "installing Debian's chromium and the Noto fonts for the browser tests…"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver fonts-noto-core >/dev/null
fi
if ! ldconfig -p 2>/dev/null | grep -q libpangoft2-1.0 || ! ldconfig -p 2>/dev/null | grep -q libharfbuzz-subset; then
  echo "installing pango, HarfBuzz-subset (invitation cards, WeasyPrint) and DejaVu fonts (PDF report)…"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libpango-1.0-0 libpangoft2-1.0-0 \
    libharfbuzz-subset0 fonts-dejavu-core >/dev/null
fi
if ! command -v nginx >/dev/null || ! command -v openssl >/dev/null; then
  echo "installing nginx for the deployment tests (tests/ops/test_deploy.py: nginx -t and an HTTPS round trip)…"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light openssl >/dev/null || true
fi
if ! command -v espeak-ng >/dev/null; then
  echo "installing espeak-ng for the kiosk's questions read aloud (tests/respond/test_speech.py)…"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq espeak-ng >/dev/null
fi
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  if [ -d /etc/postgresql ]; then
    echo "starting PostgreSQL…"
    as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    for _ in $(seq 1 20); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.5; done
  fi
fi
if command -v redis-server >/dev/null && ! (redis-cli -h 127.0.0.1 ping 2>/dev/null | grep -q PONG); then
  echo "starting Redis…"
  as_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /tmp --logfile /tmp/hailong-redis.log || true
fi
.venv/bin/ruff check .
# static types, configured in pyproject.toml [tool.mypy] (incremental: a few seconds with .mypy_cache/)
.venv/bin/mypy
# dead code (pyproject.toml [tool.vulture]; what only frameworks use is in tools/vulture_allowlist.py)
.venv/bin/vulture
# compiled bytecode is kept (__pycache__/, ignored by git) even where the environment turns it off: every xdist
# worker and every app process a test starts would otherwise compile the whole tree again (~5 s of CPU each)
unset PYTHONDONTWRITEBYTECODE
# every core (pytest-xdist); tests/conftest.py keeps the browser tests and the Redis tests in one worker each
exec .venv/bin/python -m pytest -n auto --dist loadgroup "$@"
