"""The demo model's true values as CSV: `python -m survey.demo.truth` rewrites docs/demo-truth-*.csv.

A test regenerates them from the model and compares, so the shipped files cannot drift from the code.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

from survey.demo.cantho import STRUCTURES, structure
from survey.demo.load import DEFAULT_SEED
from survey.demo.model import DemoModel
from survey.spreadsheets import csv_writer

COLUMNS = ("structure", "seed", "instrument", "version", "agency", "measure", "kind", "true_value")
DOCS = Path(__file__).resolve().parents[2] / "docs"


def truth_csv(structure_name: str, seed: int = DEFAULT_SEED) -> str:
    """True values per agency (and `ALL`) × instrument × measure, 6 decimals."""
    out = io.StringIO(newline="")
    writer = csv_writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in DemoModel(structure(structure_name), seed).truth():
        writer.writerow([row[c] if c != "true_value" else f"{row[c]:.6f}" for c in COLUMNS])
    return out.getvalue()


def truth_path(structure_name: str) -> Path:
    return DOCS / f"demo-truth-{structure_name}.csv"


def main() -> None:
    for name in STRUCTURES:
        truth_path(name).write_text(truth_csv(name), encoding="utf-8")
        print(f"wrote {truth_path(name)}", file=sys.stderr)


if __name__ == "__main__":
    main()
