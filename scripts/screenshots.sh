#!/usr/bin/env bash
# Regenerate the review screenshots (issue 12): dashboards as each role, the period report, the citizen's
# phone form (first and last page, 390 × 844) and the kiosk (portrait 800 × 1280, landscape 1280 × 800).
# A wrapper around `python -m tests.browser.screenshots [--out DIR] [NAME ...]` (fixed city and clock).
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python -m tests.browser.screenshots "$@"
