#!/usr/bin/env bash
# Regenerate the screenshots people review (issue 12): the citizen's phone form (first and last page,
# 390 × 844) and the kiosk (portrait 800 × 1280, landscape 1280 × 800), written to docs/screenshots/ (or the
# folder given as the first argument). Each screenshot test also checks the layout it shows.
# Add a line per browser-test module that writes screenshots into $HAILONG_SCREENSHOTS.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-docs/screenshots}"
mkdir -p "$out"
export HAILONG_SCREENSHOTS="$(cd "$out" && pwd)"
.venv/bin/python -m pytest -q -p no:cacheprovider \
  tests/browser/test_screenshots_citizen.py
echo "screenshots in $HAILONG_SCREENSHOTS:"
ls "$HAILONG_SCREENSHOTS"
