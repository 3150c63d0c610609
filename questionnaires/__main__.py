"""`python -m questionnaires validate FILE...`: one `file: path: message` line per problem, exit 1 if any."""

from __future__ import annotations

import argparse
import sys

from .loader import load_file, shipped
from .validate import QuestionnaireError, coverage_line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m questionnaires", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    v = sub.add_parser("validate", help="check questionnaire files (default: the shipped instruments)")
    v.add_argument("files", nargs="*", metavar="FILE")
    args = parser.parse_args(argv)

    files = args.files or [str(p) for p in shipped()]
    bad = 0
    for f in files:
        try:
            q = load_file(f)
        except QuestionnaireError as e:
            bad += 1
            for issue in e.issues:
                print(issue)
        else:
            n = len(q.items())
            print(f"{f}: ok ({q.id} v{q.version}, {n} items, checksum {q.checksum()[:12]})", file=sys.stderr)
            print(f"{f}: {coverage_line(q.definition)}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
