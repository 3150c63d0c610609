"""Re-learn the comment topics' learned weights (analysis/lexicons/topic-weights-vi.tsv) from the labelled rounds.

    .venv/bin/python tools/learn_topic_weights.py              # rounds 1-6 → analysis/lexicons/topic-weights-vi.tsv
    .venv/bin/python tools/learn_topic_weights.py --out FILE   # elsewhere (measure it before installing it)

Deterministic (no random start, no network): the same labelled files and lexicon give the same file.  The
thresholds are chosen by leave-one-round-out over the same rounds (analysis/topics_learn.py) and folded into
each topic's `(bias)` line.  The labelled rounds are listed here, not discovered: a held-out round must never
be learned from by accident.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from analysis import topics_learn  # noqa: E402
from analysis.topics import DEFAULT_LEXICON, load_lexicon, read_labelled, write_weights  # noqa: E402

DATA = ROOT / "tests" / "data"
ROUNDS = tuple(DATA / f"comments-topics-vi{n}.tsv" for n in ("", "-2", "-3", "-4", "-5", "-6"))
OUT = DEFAULT_LEXICON.parent / "topic-weights-vi.tsv"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args(argv)
    lex = load_lexicon()
    rows: list[tuple[str, frozenset[str]]] = []
    folds: list[list[int]] = []
    for f in ROUNDS:
        r = read_labelled(f)
        folds.append(list(range(len(rows), len(rows) + len(r))))
        rows += r
    data = topics_learn.prepare(rows, lex)
    chosen = topics_learn.thresholds(data, folds, lex.codes)
    weights = topics_learn.final(topics_learn.learn(data, range(len(rows)), lex.codes), chosen)
    header = ("Learned term weights of the comment topics (analysis/topics.py), written by\n"
              f"tools/learn_topic_weights.py from {', '.join(f.name for f in ROUNDS)} ({len(rows)} comments);\n"
              "edit like the lexicon.\n"
              "A topic the rules did not find is given when (bias) + the weights of the comment's terms >= 0.\n"
              "Terms: folded words and word pairs; '~' marks a word just after a negator (~cho: 'khong cho').\n"
              "Thresholds (probability, folded into (bias)): "
              + ", ".join(f"{c} {t:.2f}" for c, t in chosen.items()))
    write_weights(args.out, weights, header)
    n = sum(len(w) - 1 for w in weights.terms.values())
    print(f"{args.out}: {n} weights; thresholds " + ", ".join(f"{c} {t:.2f}" for c, t in chosen.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
