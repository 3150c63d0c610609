#!/bin/sh
# Nightly jobs of a HaiLong server (deploy/systemd/hailong-jobs.timer): a verified backup, old ones pruned.
# HAILONG_BACKUP_DIR (default <instance>/backups) and HAILONG_BACKUP_KEEP (default 14) are read by the command.
set -eu
cd "$(dirname "$0")/.."
.venv/bin/flask --app wsgi backup create --verify --prune
