"""Benchmark (not a test): precision and recall of the comment topic classifier (analysis/topics.py).

    .venv/bin/python benchmarks/topics_bench.py                    # the shipped lexicon
    .venv/bin/python benchmarks/topics_bench.py --lexicon FILE     # an edited copy, before installing it
    .venv/bin/python benchmarks/topics_bench.py --errors           # also list the held-out mistakes

Tune set: tests/data/comments-topics-vi.tsv, -2.tsv, -3.tsv and -4.tsv (rounds 1-4); held-out set:
tests/data/comments-topics-vi-5.tsv (round 5, written before its author read the lexicon, never tuned on).
Goal: precision and recall ≥ 0.8 for every topic with ≥ 20 held-out examples.  Prints a Markdown table for
benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from analysis.topics import DEFAULT_LEXICON, classify, evaluate, load_lexicon, read_labelled  # noqa: E402

DATA = ROOT / "tests" / "data"
TUNE = tuple(DATA / f"comments-topics-vi{n}.tsv" for n in ("", "-2", "-3", "-4"))
HELDOUT = DATA / "comments-topics-vi-5.tsv"
GOAL, MIN_SUPPORT = 0.8, 20


def _fmt(x: float) -> str:
    return "–" if math.isnan(x) else f"{x:.2f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lexicon", default=str(DEFAULT_LEXICON))
    ap.add_argument("--errors", action="store_true")
    args = ap.parse_args(argv)
    lex = load_lexicon(args.lexicon)
    sets = {"tune": [r for f in TUNE for r in read_labelled(f)], "held-out": read_labelled(HELDOUT)}
    res = {name: evaluate(rows, lex) for name, rows in sets.items()}
    print(f"comments: tune {len(sets['tune'])}, held-out {len(sets['held-out'])}\n")
    print("| topic | held-out n | precision | recall | tune n | tune precision | tune recall | goal met |")
    print("|---|---|---|---|---|---|---|---|")
    ok = True
    for code in lex.codes:
        h, t = res["held-out"][code], res["tune"][code]
        met = h["support"] < MIN_SUPPORT or (h["precision"] >= GOAL and h["recall"] >= GOAL)
        ok &= met
        print(f"| {code} | {int(h['support'])} | {_fmt(h['precision'])} | {_fmt(h['recall'])} | {int(t['support'])} "
              f"| {_fmt(t['precision'])} | {_fmt(t['recall'])} | {'yes' if met else 'NO'} |")
    if args.errors:
        print()
        for text, truth in sets["held-out"]:
            got = classify(text, lex)
            if got != truth:
                print(f"want {sorted(truth)} got {sorted(got)}: {text}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
