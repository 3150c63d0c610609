"""Benchmark (not a test): precision and recall of the comment topic classifier (analysis/topics.py).

    .venv/bin/python benchmarks/topics_bench.py                    # the shipped lexicon
    .venv/bin/python benchmarks/topics_bench.py --lexicon FILE     # an edited copy, before installing it
    .venv/bin/python benchmarks/topics_bench.py --errors           # also list the held-out mistakes
    .venv/bin/python benchmarks/topics_bench.py --cv               # only the tuning rounds' cross-validation

Tune set: tests/data/comments-topics-vi.tsv, -2 … -6.tsv (rounds 1-6: the lexicon was tuned on 1-5, the learned
weights on 1-6); held-out set: the round-7 file (written by a writer who never saw the classifier, opened only
after the method, weights and thresholds were committed as frozen).  The table gives the classifier as shipped
(rules + learned layer when the lexicon names its weights) and, beside it, the rules alone.
    .venv/bin/python benchmarks/topics_bench.py --near-duplicates  # + figures without held-out near-duplicates
Cross-validation across the tuning rounds (why: the lexicon was tuned by hand on all five, so a round's own
figure flatters it): for each round k, every lexicon phrase whose only correct hits are in round k is removed
(it would not be there had round k not been read) and round k is measured with what is left.  Phrases that
hit nothing stay (written from general knowledge); word classes, aliases and rules cannot be attributed to a
round and stay too (optimistic), while general phrases that happen to hit only round k go (pessimistic).  On
round 6 it proved optimistic (benchmarks/README.md).
Goal: precision and recall ≥ 0.8 for every topic with ≥ 20 held-out examples.  Prints Markdown tables for
benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from analysis.topics import (  # noqa: E402
    DEFAULT_LEXICON,
    PRAISE,
    Lexicon,
    classify,
    evaluate,
    explain,
    fold,
    load_lexicon,
    parse_lexicon,
    read_labelled,
    words,
)

DATA = ROOT / "tests" / "data"
TUNE = tuple(DATA / f"comments-topics-vi{n}.tsv" for n in ("", "-2", "-3", "-4", "-5", "-6"))
HELDOUT = DATA / "comments-topics-vi-7.tsv"
LEARNED = TUNE  # the rounds the learned weights come from (tools/learn_topic_weights.py)
NEAR = 0.8  # difflib ratio from which a held-out comment counts as a near-duplicate of a tuning one
GOAL, MIN_SUPPORT = 0.8, 20
Rows = list[tuple[str, frozenset[str]]]


def _fmt(x: float) -> str:
    return "–" if math.isnan(x) else f"{x:.2f}"


def _key(phrase: str) -> str:
    return " ".join(w.exact for w in words(phrase))


def correct_hits(rows: Rows, lex: Lexicon) -> set[tuple[str, str]]:
    """(topic, phrase) pairs of the lexicon that gave a labelled topic in `rows` (a true positive's evidence)."""
    return {(m.topic, m.term) for text, truth in rows for m in explain(text, lex) if m.topic in truth}


def without(data: dict[str, Any], phrases: set[str]) -> Lexicon:
    """The lexicon `data` (parsed YAML) with these phrases (as `Match.term`) removed from every topic list."""
    topics = []
    for t in data["topics"]:
        t = dict(t)
        for key in ("problems", "subjects", "terms"):
            if t.get(key):
                t[key] = [p for p in t[key] if _key(p) not in phrases]
        if t["code"] == PRAISE and t.get("negated"):
            t["negated"] = {p: v for p, v in t["negated"].items() if _key(p) not in phrases}
        topics.append(t)
    return parse_lexicon({**data, "topics": topics})


def cross_validate(rounds: list[Rows], data: dict[str, Any]) -> tuple[list[dict[str, dict[str, float]]], list[int]]:
    """Per round k: its figures with the phrases supported by round k alone removed; and how many were removed."""
    lex = parse_lexicon(data)
    hits = [{term for _topic, term in correct_hits(rows, lex)} for rows in rounds]
    out, dropped = [], []
    for k, rows in enumerate(rounds):
        others = set().union(*(h for j, h in enumerate(hits) if j != k))
        only_k = hits[k] - others
        dropped.append(len(only_k))
        out.append(evaluate(rows, without(data, only_k)))
    return out, dropped


def _pooled(results: list[dict[str, dict[str, float]]], code: str) -> tuple[int, float, float]:
    tp = sum(r[code]["tp"] for r in results)
    fp = sum(r[code]["fp"] for r in results)
    fn = sum(r[code]["fn"] for r in results)
    return int(tp + fn), tp / (tp + fp) if tp + fp else float("nan"), tp / (tp + fn) if tp + fn else float("nan")


def print_cv(rounds: list[Rows], data: dict[str, Any]) -> None:
    lex = parse_lexicon(data)
    cv, dropped = cross_validate(rounds, data)
    seen = [evaluate(rows, lex) for rows in rounds]
    names = [f"round {k + 1}" for k in range(len(rounds))]
    print("Cross-validation across the tuning rounds (P / R of round k with its own-only phrases removed; "
          "phrases removed: " + ", ".join(f"{n} {d}" for n, d in zip(names, dropped, strict=True)) + ")\n")
    print("| topic | " + " | ".join(names) + " | pooled n | pooled P / R | all rounds seen P / R |")
    print("|---|" + "---|" * (len(names) + 3))
    for code in lex.codes:
        cells = [f"{_fmt(r[code]['precision'])} / {_fmt(r[code]['recall'])}" for r in cv]
        n, p, r = _pooled(cv, code)
        _n, sp, sr = _pooled(seen, code)
        print(f"| {code} | " + " | ".join(cells) + f" | {n} | {_fmt(p)} / {_fmt(r)} | {_fmt(sp)} / {_fmt(sr)} |")
    print()


def print_learned_cv(rounds: list[Rows], lex: Lexicon) -> None:
    """Leave-one-round-out of the learned layer (analysis/topics_learn.py): per round k, weights learned and
    thresholds chosen without it, then round k measured rules-only and combined (rules OR learned score)."""
    from analysis import topics_learn

    rows = [r for rs in rounds for r in rs]
    folds, start = [], 0
    for rs in rounds:
        folds.append(list(range(start, start + len(rs))))
        start += len(rs)
    cv = topics_learn.cross_validate(topics_learn.prepare(rows, lex), folds, lex.codes)
    names = [f"round {k + 1}" for k in range(len(rounds))]
    print("Learned layer, leave one round out (P / R rules-only → combined; threshold chosen without round k; "
          "the rules were tuned on rounds 1-5, so only round 6's rules-only column is unseen by them)\n")
    print("| topic | " + " | ".join(names) + " | pooled rules-only P / R | pooled combined P / R |")
    print("|---|" + "---|" * (len(names) + 2))

    def pr(c: tuple[int, int, int]) -> str:
        tp, fp, fn = c
        return f"{_fmt(tp / (tp + fp) if tp + fp else math.nan)} / {_fmt(tp / (tp + fn) if tp + fn else math.nan)}"

    for code in lex.codes:
        cells = [f"{pr(r[code])} → {pr(c[code])} (t {th[code]:.2f})" for r, c, th in cv]
        pool_r = tuple(sum(x) for x in zip(*(r[code] for r, _c, _t in cv), strict=True))
        pool_c = tuple(sum(x) for x in zip(*(c[code] for _r, c, _t in cv), strict=True))
        print(f"| {code} | " + " | ".join(cells) + f" | {pr(pool_r)} | {pr(pool_c)} |")
    print()


def near_duplicates(held: Rows, tune: Rows) -> tuple[list[bool], int]:
    """Per held-out comment: does it nearly repeat a tuning comment (lower case, accents and đ folded, spaces
    collapsed; difflib ratio ≥ NEAR)?  And how many repeat one exactly."""
    from difflib import SequenceMatcher

    def norm(t: str) -> str:
        return " ".join(fold(t).split())

    seen = [norm(t) for t, _ in tune]
    exact = set(seen)
    out = []
    for text, _ in held:
        h = norm(text)
        sm = SequenceMatcher(None, h, autojunk=False)
        hit = h in exact
        for other in seen:
            if hit:
                break
            sm.set_seq1(other)
            hit = sm.real_quick_ratio() >= NEAR and sm.quick_ratio() >= NEAR and sm.ratio() >= NEAR
        out.append(hit)
    return out, sum(norm(t) in exact for t, _ in held)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lexicon", default=str(DEFAULT_LEXICON))
    ap.add_argument("--heldout", default=str(HELDOUT))
    ap.add_argument("--errors", action="store_true")
    ap.add_argument("--cv", action="store_true", help="only the cross-validation table of the tuning rounds")
    ap.add_argument("--near-duplicates", action="store_true", help="also measure without held-out comments that "
                    "nearly repeat a tuning comment (folded, difflib ratio >= 0.8)")
    args = ap.parse_args(argv)
    data = yaml.safe_load(Path(args.lexicon).read_text(encoding="utf-8"))
    lex = load_lexicon(args.lexicon)
    rules = dataclasses.replace(lex, learned=None)
    rounds = [read_labelled(f) for f in TUNE]
    if args.cv:
        print_cv(rounds, data)
        print_learned_cv([read_labelled(f) for f in LEARNED], lex)
        return 0
    sets = {"tune": [r for rows in rounds for r in rows], "held-out": read_labelled(args.heldout)}
    res = {name: evaluate(rows, lex) for name, rows in sets.items()}
    base = evaluate(sets["held-out"], rules)
    print(f"comments: tune {len(sets['tune'])}, held-out {len(sets['held-out'])} ({Path(args.heldout).name}); "
          f"learned layer {'on' if lex.learned else 'off'}\n")
    print("| topic | held-out n | precision | recall | rules-only P / R | tune n | tune precision | tune recall "
          "| goal met |")
    print("|---|---|---|---|---|---|---|---|---|")
    ok = True
    for code in lex.codes:
        h, t, b = res["held-out"][code], res["tune"][code], base[code]
        met = h["support"] < MIN_SUPPORT or (h["precision"] >= GOAL and h["recall"] >= GOAL)
        ok &= met
        print(f"| {code} | {int(h['support'])} | {_fmt(h['precision'])} | {_fmt(h['recall'])} "
              f"| {_fmt(b['precision'])} / {_fmt(b['recall'])} | {int(t['support'])} "
              f"| {_fmt(t['precision'])} | {_fmt(t['recall'])} | {'yes' if met else 'NO'} |")
    if args.near_duplicates:
        near, exact = near_duplicates(sets["held-out"], sets["tune"])
        rest = [r for r, n in zip(sets["held-out"], near, strict=True) if not n]
        print(f"\nnear-duplicates of the tune set: {sum(near)} of {len(near)} ({exact} exact); without them "
              f"({len(rest)} comments), P / R combined | rules-only:")
        comb, only = evaluate(rest, lex), evaluate(rest, rules)
        for code in lex.codes:
            print(f"| {code} | {int(comb[code]['support'])} | {_fmt(comb[code]['precision'])} / "
                  f"{_fmt(comb[code]['recall'])} | {_fmt(only[code]['precision'])} / {_fmt(only[code]['recall'])} |")
    texts = [t for t, _ in sets["tune"]][:1000]
    start = time.perf_counter()
    for text in texts:
        classify(text, lex)
    print(f"\nspeed: {len(texts)} comments classified in {time.perf_counter() - start:.2f} s")
    if args.errors:
        print()
        for text, truth in sets["held-out"]:
            got = classify(text, lex)
            if got != truth:
                print(f"want {sorted(truth)} got {sorted(got)}: {text}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
