#!/usr/bin/env bash
# Regenerate the single initial migration from the models (allowed until the first release).
set -euo pipefail
cd "$(dirname "$0")/.."
exec 9>/tmp/hailong-migration.lock
flock 9
tmp=$(mktemp -d)
rm -f migrations/versions/0001_initial.py
.venv/bin/python - "$tmp" <<'PY'
import sys
from alembic import command
from survey.migrate import alembic_config
cfg = alembic_config(f"sqlite:///{sys.argv[1]}/empty.sqlite")
command.revision(cfg, message="initial schema", autogenerate=True, rev_id="0001")
PY
mv migrations/versions/0001_initial_schema.py migrations/versions/0001_initial.py
rm -rf "$tmp"
.venv/bin/ruff format -q migrations/versions/0001_initial.py || true
echo "regenerated migrations/versions/0001_initial.py"
