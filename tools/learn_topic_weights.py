"""Re-learn the comment topics' learned weights (analysis/lexicons/topic-weights-vi.tsv) from the labelled rounds.

    .venv/bin/python tools/learn_topic_weights.py              # rounds 1-18 → analysis/lexicons/topic-weights-vi.tsv
    .venv/bin/python tools/learn_topic_weights.py --out FILE   # elsewhere (measure it before installing it)

Deterministic (no random start, no network): the same labelled files and lexicon give the same file.  Per topic
the L2 penalty (topics_learn.L2S) and the threshold are chosen together by leave-one-round-out over the same
rounds (analysis/topics_learn.py: F_β, β = 0.7); the threshold is folded into the topic's `(bias)` line.  The
rules' findings on the rounds the lexicon was tuned on (topics_learn.RULES_TUNED) are cross-fitted
(topics_learn.prepare).  The labelled rounds are named in one place, topics_learn.LEARNED_ROUNDS (every round
before HELD_OUT_ROUNDS), not discovered: a held-out round must never be learned from by accident.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from analysis import topics_learn  # noqa: E402
from analysis.topics import DEFAULT_LEXICON, load_lexicon, read_labelled, write_weights  # noqa: E402

ROUNDS = topics_learn.LEARNED_ROUNDS  # every round before topics_learn.HELD_OUT_ROUNDS
RULES_TUNED = topics_learn.RULES_TUNED  # the rounds the lexicon was tuned on by hand
OUT = DEFAULT_LEXICON.parent / "topic-weights-vi.tsv"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(OUT))
    ap.add_argument("--jobs", type=int, default=1, help="processes for the leave-one-round-out fits")
    args = ap.parse_args(argv)
    lex = load_lexicon()
    data = yaml.safe_load(DEFAULT_LEXICON.read_text(encoding="utf-8"))
    prep, folds = topics_learn.prepare([read_labelled(f) for f in ROUNDS], lex, data, tuned=RULES_TUNED)
    weights, picked = topics_learn.train(prep, folds, lex.codes, jobs=args.jobs)
    n_rows = sum(map(len, folds))
    header = ("Learned term weights of the comment topics (analysis/topics.py), written by\n"
              f"tools/learn_topic_weights.py from {', '.join(f.name for f in ROUNDS)} ({n_rows} comments);\n"
              "edit like the lexicon.\n"
              "A topic is given when (bias) + the weights of the comment's terms >= 0 (a topic without an\n"
              "@topic line: also whenever the rules find it).\n"
              "Terms: folded words and word pairs; '~' marks a word just after a negator (~cho: 'khong cho');\n"
              "'<che>': a word of the lexicon's class <chê> (any member) in the comment;\n"
              "'@waiting': the lexicon's rules found waiting in the comment.\n"
              "Per topic, the L2 penalty and the threshold (probability, folded into (bias)) chosen by\n"
              "leave-one-round-out: " + ", ".join(f"{c} {l2:g} {t:.2f}" for c, (l2, t) in picked.items()))
    write_weights(args.out, weights, header)
    n = sum(len(w) - 1 for w in weights.terms.values())
    print(f"{args.out}: {n} weights; L2, threshold: "
          + ", ".join(f"{c} {l2:g} {t:.2f}" for c, (l2, t) in picked.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
