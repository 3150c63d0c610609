"""Benchmark (not a test): precision and recall of the comment topic classifier (analysis/topics.py).

    .venv/bin/python benchmarks/topics_bench.py                    # the shipped classifier on the held-out rounds
    .venv/bin/python benchmarks/topics_bench.py --lexicon FILE     # an edited copy, before installing it
    .venv/bin/python benchmarks/topics_bench.py --errors           # also list the held-out mistakes
    .venv/bin/python benchmarks/topics_bench.py --split            # measure (1): tune on one half, report on the other
    .venv/bin/python benchmarks/topics_bench.py --cv               # measure (2): leave one writer (round) out
    .venv/bin/python benchmarks/topics_bench.py --cv-lexicon       # the lexicon's own phrase-ablation table
    .venv/bin/python benchmarks/topics_bench.py --near-duplicates  # + figures without held-out near-duplicates

Labelled rounds (one writer each) are named in ONE place, analysis/topics_learn.py: every round before
HELD_OUT_ROUNDS (now rounds 1-20, tests/data/comments-topics-vi.tsv, -2 … -20.tsv) is learned from and tuned on (the
lexicon by hand on rounds 1-20, RULES_TUNED); the held-out set is the HELD_OUT_ROUNDS files POOLED (rounds 21 and 22:
two writers who never saw the classifier, opened only after the classifier was committed as frozen; absent until
then).  Per topic: n, precision and recall with Wilson 95% intervals, pooled, and each round's figures.
Measure (1), the issue's protocol: the learned rounds split in half by `topics_learn.split_half` (fixed seed, per
round and per label set), the weights learned and thresholds chosen on one half (leave one round's half out), P / R
reported on the other.  Measure (2), generalisation to a new writer: for each round k, the weights learned and L2
and thresholds chosen on the other rounds (nested), round k measured; per topic, pooled and averaged over rounds;
with the full lexicon and with the phrases only round k supports removed ("ablated": the honest column for rounds
the lexicon was tuned on by hand).  Rounds no one tuned the rules on (NEW_WRITERS; none now) are also given apart.
The lexicon phrase-ablation table (`--cv-lexicon`) is the older check of the rules alone.
Goal: precision and recall ≥ 0.8 for every topic with ≥ 20 held-out examples.  Prints Markdown tables for
benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from analysis import topics_learn  # noqa: E402
from analysis.intervals import wilson  # noqa: E402
from analysis.topics import (  # noqa: E402
    DEFAULT_LEXICON,
    OUTWEIGHED,
    Lexicon,
    classify,
    evaluate,
    explain,
    fold,
    load_lexicon,
    parse_lexicon,
    read_labelled,
)

TUNE = topics_learn.LEARNED_ROUNDS  # rounds before HELD_OUT_ROUNDS (one place: analysis/topics_learn.py)
RULES_TUNED = topics_learn.RULES_TUNED  # the rounds the lexicon was tuned on by hand (their findings cross-fitted)
NEW_WRITERS = tuple(k for k in range(len(TUNE)) if k not in RULES_TUNED)  # rounds no one tuned the rules on
HELDOUT = topics_learn.HELD_OUT  # the held-out rounds' files, measured pooled
LEARNED = TUNE  # the rounds the learned weights come from (tools/learn_topic_weights.py)
NEAR = 0.8  # difflib ratio from which a held-out comment counts as a near-duplicate of a tuning one
GOAL, MIN_SUPPORT = 0.8, 20
JOBS = 4  # processes for the leave-one-round-out fits ((K + K(K-1)/2) per L2 penalty for K rounds: 171 for 18)
Rows = list[tuple[str, frozenset[str]]]


def _fmt(x: float) -> str:
    return "–" if math.isnan(x) else f"{x:.2f}"


def _ci(x: float, n: float) -> str:
    """x of n as a proportion with its Wilson 95% interval ("0.83 (0.77-0.88), 57 of 69")."""
    if not n:
        return "–"
    lo, hi = wilson(int(x), int(n))
    return f"{x / n:.2f} ({float(lo):.2f}-{float(hi):.2f}), {int(x)} of {int(n)}"


def cross_validate(rounds: list[Rows], data: dict[str, Any]) -> tuple[list[dict[str, dict[str, float]]], list[int]]:
    """Per round k: the rules' figures with the phrases supported by round k alone removed; and how many were
    removed."""
    lex = dataclasses.replace(parse_lexicon(data), learned=None)
    removed = topics_learn.own_only(rounds, lex)
    return ([evaluate(rows, topics_learn.without(data, only_k)) for rows, only_k in zip(rounds, removed, strict=True)],
            [len(r) for r in removed])


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


def _pr(c: tuple[int, int, int]) -> str:
    tp, fp, fn = c
    return f"{_fmt(tp / (tp + fp) if tp + fp else math.nan)} / {_fmt(tp / (tp + fn) if tp + fn else math.nan)}"


def _sum(cs: list[tuple[int, int, int]]) -> tuple[int, int, int]:
    return sum(c[0] for c in cs), sum(c[1] for c in cs), sum(c[2] for c in cs)


def _mean(cs: list[tuple[int, int, int]]) -> str:
    """Precision and recall averaged over rounds (a round where a topic was never given has no precision)."""
    ps = [tp / (tp + fp) for tp, fp, _fn in cs if tp + fp]
    rs = [tp / (tp + fn) for tp, _fp, fn in cs if tp + fn]
    return f"{_fmt(sum(ps) / len(ps) if ps else math.nan)} / {_fmt(sum(rs) / len(rs) if rs else math.nan)}"


def prepared(lex: Lexicon, data: dict[str, Any]) -> tuple[topics_learn.Prepared, list[list[int]], list[Rows]]:
    rounds = [read_labelled(f) for f in LEARNED]
    prep, folds = topics_learn.prepare(rounds, lex, data, tuned=RULES_TUNED)
    return prep, folds, rounds


def print_split(lex: Lexicon, data: dict[str, Any]) -> None:
    """Measure (1): tune on one half of the learned rounds, report on the other (topics_learn.split_half)."""
    prep, _folds, rounds = prepared(lex, data)
    tune, report = topics_learn.split_half(rounds)
    model, picked = topics_learn.train(prep, tune, lex.codes, jobs=JOBS)
    print(f"Measure (1): rounds 1-{len(rounds)} split in half (seed {topics_learn.SPLIT_SEED}, per round and label "
          "set); "
          f"tuned on {sum(map(len, tune))}, reported on {sum(map(len, report))} comments\n")
    print("| topic | report n | rules-only P / R | classifier P / R | new rounds only: n, rules-only, classifier "
          "| threshold | goal met |")
    print("|---|---|---|---|---|---|---|")
    idx = [i for f in report for i in f]
    new = [i for k in NEW_WRITERS for i in report[k]]
    rules, comb = topics_learn.measure(model, prep, idx, lex.codes)
    rules_new, comb_new = topics_learn.measure(model, prep, new, lex.codes)
    for code in lex.codes:
        tp, fp, fn = comb[code]
        met = tp + fn < MIN_SUPPORT or (tp >= GOAL * (tp + fp) and tp >= GOAL * (tp + fn) and tp > 0)
        l2, cut = picked[code]
        print(f"| {code} | {tp + fn} | {_pr(rules[code])} | {_pr(comb[code])} | {sum(comb_new[code][::2])}, "
              f"{_pr(rules_new[code])}, {_pr(comb_new[code])} | {cut:.2f} (L2 {l2:g}) | {'yes' if met else 'NO'} |")
    print()


def print_learned_cv(lex: Lexicon, data: dict[str, Any]) -> None:
    """Measure (2): leave one round (writer) out, nested: per round k, weights learned and thresholds chosen on the
    other rounds, round k measured rules-only and with the classifier; with the full lexicon, and with the lexicon
    minus the phrases only round k supports ("ablated": what a writer the lexicon's author never read would meet)."""
    prep, folds, _rounds = prepared(lex, data)
    cv = topics_learn.cross_validate(prep, folds, lex.codes, jobs=JOBS)
    names = [f"round {k + 1}" for k in range(len(folds))]
    new = ", ".join(str(k + 1) for k in NEW_WRITERS) or "none"
    print(f"Measure (2): leave one round out over {len(folds)} rounds (P / R rules-only → classifier; thresholds "
          f"chosen without round k; rules tuned by hand on rounds {RULES_TUNED.start + 1}-{RULES_TUNED.stop}, "
          f"rounds new to them: {new})\n")
    print("| topic | " + " | ".join(names) + " | mean over rounds P / R rules-only → classifier | pooled → | "
          "pooled, own-only phrases ablated → | new rounds pooled → |")
    print("|---|" + "---|" * (len(names) + 4))
    for code in lex.codes:
        cells = [f"{_pr(f.rules[code])} → {_pr(f.combined[code])} (t {f.chosen[code]:.2f})" for f in cv]
        rs, cs = [f.rules[code] for f in cv], [f.combined[code] for f in cv]
        ra, ca = [f.rules_ablated[code] for f in cv], [f.combined_ablated[code] for f in cv]
        new_cells = (f"{_pr(_sum([rs[k] for k in NEW_WRITERS]))} → {_pr(_sum([cs[k] for k in NEW_WRITERS]))}"
                     if NEW_WRITERS else "–")
        print(f"| {code} | " + " | ".join(cells) + f" | {_mean(rs)} → {_mean(cs)} | {_pr(_sum(rs))} → "
              f"{_pr(_sum(cs))} | {_pr(_sum(ra))} → {_pr(_sum(ca))} | {new_cells} |")
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
    ap.add_argument("--heldout", nargs="+", default=[str(f) for f in HELDOUT],
                    help="held-out files, measured pooled (default: topics_learn.HELD_OUT)")
    ap.add_argument("--errors", action="store_true")
    ap.add_argument("--cv", action="store_true", help="measure (2): leave one round (writer) out")
    ap.add_argument("--split", action="store_true", help="measure (1): tune on one half, report on the other")
    ap.add_argument("--cv-lexicon", action="store_true",
                    help="the rules' phrase-ablation table of the rounds they were tuned on")
    ap.add_argument("--near-duplicates", action="store_true", help="also measure without held-out comments that "
                    "nearly repeat a tuning comment (folded, difflib ratio >= 0.8)")
    args = ap.parse_args(argv)
    data = yaml.safe_load(Path(args.lexicon).read_text(encoding="utf-8"))
    lex = load_lexicon(args.lexicon)
    rules = dataclasses.replace(lex, learned=None)
    rounds = [read_labelled(f) for f in TUNE]
    if args.cv_lexicon:
        print_cv([rounds[k] for k in RULES_TUNED], data)
    if args.split:
        print_split(lex, data)
    if args.cv:
        print_learned_cv(lex, data)
    if args.cv_lexicon or args.split or args.cv:
        return 0
    files = [Path(f) for f in args.heldout]
    missing = [f.name for f in files if not f.exists()]
    if missing:  # a held-out round is not written yet: tune figures and speed only (never half a pooled set)
        print(f"held-out {', '.join(missing)} not written yet: no held-out figures\n")
    by_round = {f.name: read_labelled(f) for f in files} if not missing else {}
    held = [r for rows in by_round.values() for r in rows]
    sets = {"tune": [r for rows in rounds for r in rows], "held-out": held}
    res = {name: evaluate(rows, lex) for name, rows in sets.items()}
    base = evaluate(sets["held-out"], rules)
    print(f"comments: tune {len(sets['tune'])}, held-out {len(sets['held-out'])} "
          f"({' + '.join(f'{n} {len(r)}' for n, r in by_round.items()) or 'none'}); "
          f"learned layer {'on' if lex.learned else 'off'}\n")
    print("| topic | held-out n | precision (95% CI) | recall (95% CI) | rules-only P / R | tune n | tune precision "
          "| tune recall | goal met |")
    print("|---|---|---|---|---|---|---|---|---|")
    ok = True
    for code in lex.codes:
        h, t, b = res["held-out"][code], res["tune"][code], base[code]
        met = h["support"] < MIN_SUPPORT or (h["precision"] >= GOAL and h["recall"] >= GOAL)
        ok &= met
        print(f"| {code} | {int(h['support'])} | {_ci(h['tp'], h['tp'] + h['fp'])} | {_ci(h['tp'], h['tp'] + h['fn'])} "
              f"| {_fmt(b['precision'])} / {_fmt(b['recall'])} | {int(t['support'])} "
              f"| {_fmt(t['precision'])} | {_fmt(t['recall'])} | {'yes' if met else 'NO'} |")
    if len(by_round) > 1:
        per = {name: evaluate(rows, lex) for name, rows in by_round.items()}
        print("\nper round, P / R (n):\n")
        print("| topic | " + " | ".join(per) + " |")
        print("|---|" + "---|" * len(per))
        for code in lex.codes:
            print(f"| {code} | " + " | ".join(f"{_fmt(r[code]['precision'])} / {_fmt(r[code]['recall'])} "
                                             f"({int(r[code]['support'])})" for r in per.values()) + " |")
    out = [(m.topic, m.topic in truth) for text, truth in sets["held-out"] for m in explain(text, lex)
           if m.rule == OUTWEIGHED]
    print(f"\nrule findings outweighed by the learned weights on the held-out set: {len(out)} matches, "
          f"{sum(ok for _c, ok in out)} of them on a labelled topic ("
          + ", ".join(f"{c} {sum(t == c for t, _ok in out)}" for c in lex.codes) + ")")
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
    start, cpu = time.perf_counter(), time.process_time()
    for text in texts:
        classify(text, lex)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - start
    print(f"\nspeed: {len(texts)} comments classified in {cpu:.2f} s CPU ({1000 * cpu / len(texts):.2f} ms each), "
          f"{wall:.2f} s wall, load average {os.getloadavg()[0]:.1f}")
    if args.errors:
        print()
        for text, truth in sets["held-out"]:
            got = classify(text, lex)
            if got != truth:
                print(f"want {sorted(truth)} got {sorted(got)}: {text}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
