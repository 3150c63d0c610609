"""Learning the term weights of the topic classifier's learned layer (analysis/topics.py, `Weights`).

Why a learned layer at all: the hand-written rules miss wordings nobody wrote a phrase for (behaviour described
without judging words, waiting told as a scene), and some of their phrases fire on comments about something else
("phòng chờ" in a complaint about the waiting ROOM).  Per topic, an L2-regularised logistic regression over the
comment's `features` (folded words and word pairs, negated words marked) AND the rules' findings (`@waiting`: the
rules found waiting) learns how far to trust each rule and which words add or take away a topic.  Why it stays
transparent: the result is one weight per (topic, term), written to a TSV file an administrator reads and edits
like the lexicon; small weights are pruned; the page names the rule phrases and the heaviest terms.

Decision per topic (when its weights have an `@topic` line): bias + Σ weights of the comment's terms (the rules'
`@` findings included) ≥ 0, so a rule hit can be outweighed and a topic found without one.  The threshold (a
probability) is chosen on out-of-fold scores (leave one labelled round out), as the one maximising the F-score
with β = BETA (< 1: precision weighs more than recall), and folded into the `(bias)` line.

Why the rules' findings are cross-fitted for training: the lexicon was tuned by hand on some rounds
(`RULE_TUNED`), where it finds nearly everything; learned from those findings, the weights would trust the rules
more than a new writer's comments deserve.  For such a round, the `@` terms are computed with the lexicon minus
the phrases whose only correct hits are in that round (phrases it would not have had without reading it).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from scipy import optimize, sparse

from analysis.topics import (
    BIAS,
    PRAISE,
    RULE,
    Lexicon,
    Weights,
    explain_rules,
    features,
    is_ironic,
    parse_lexicon,
    words,
)

Rows = list[tuple[str, frozenset[str]]]
L2 = 2.0  # penalty λ/2·‖w‖² (the bias is not penalised)
L2S = (L2,)  # penalties tried per topic, chosen with its threshold by leave-one-round-out (F_β); see README
MIN_COMMENTS = 2  # a term must occur in at least this many training comments
PRUNE = 0.05  # weights smaller than this (in absolute value) are dropped from the file
BETA = 0.7  # threshold choice: F_β, β < 1 weighs precision more (an agency's count must be about its topic)
THRESHOLDS = tuple(round(0.05 * k, 2) for k in range(2, 19))  # candidate probabilities 0.10 … 0.90
RULE_FLOOR = 0.0  # bias + @topic ≥ this: a bare rule hit is never outweighed by the bias alone (final)
SPLIT_SEED = 15  # the number: the fixed seed of the tune/report split (measure 1)

# The labelled rounds, one writer each (tests/data).  THE one place naming the held-out rounds: the weights tool,
# benchmarks/topics_bench.py and tests/analysis/test_topics.py read these.  Every round before the first held-out
# round is learned from; the held-out rounds (two fresh writers, pooled: ≈ 1,000 comments, so a topic's 95% interval
# is about ±0.06 instead of ±0.11 for one round) are measured once, after the classifier was committed as frozen.
# Switching to the next fresh writers = add their files, set HELD_OUT_ROUNDS to their numbers (then re-learn: the
# rounds just measured join the training rounds) and RULES_TUNED to the rounds the lexicon was edited after reading.
LABELLED = Path(__file__).resolve().parent.parent / "tests" / "data"
HELD_OUT_ROUNDS = (21, 22)
RULES_TUNED = range(20)  # indexes of the rounds the lexicon was edited by hand after reading (1-20): cross-fitted


def round_file(n: int) -> Path:
    """The labelled comments of round `n` (round 1 has no number in its name)."""
    return LABELLED / ("comments-topics-vi.tsv" if n == 1 else f"comments-topics-vi-{n}.tsv")


LEARNED_ROUNDS = tuple(round_file(n) for n in range(1, min(HELD_OUT_ROUNDS)))
HELD_OUT = tuple(round_file(n) for n in HELD_OUT_ROUNDS)


@dataclass(frozen=True)
class Prepared:
    """The labelled comments once tokenised: their word features, the rules' topics with the full lexicon
    (`rules`, what the shipped classifier sees) and cross-fitted (`fit_rules`, what training sees), the labels."""

    feats: list[frozenset[str]]
    rules: list[frozenset[str]]
    fit_rules: list[frozenset[str]]
    truth: list[frozenset[str]]
    ironic: list[bool]  # irony marker beside a complaint: no praise, whatever the weights (topics.explain)

    def terms(self, i: int, fit: bool) -> frozenset[str]:
        return self.feats[i] | rule_terms(self.fit_rules[i] if fit else self.rules[i])


def rule_terms(topics: Iterable[str]) -> frozenset[str]:
    return frozenset(RULE + t for t in topics)


def _key(phrase: str) -> str:
    return " ".join(w.exact for w in words(phrase))


def correct_hits(rows: Rows, lex: Lexicon) -> set[tuple[str, str]]:
    """(topic, phrase) pairs of the lexicon's rules that gave a labelled topic in `rows`."""
    return {(m.topic, m.term) for text, truth in rows for m in explain_rules(text, lex) if m.topic in truth}


def without(data: dict[str, Any], phrases: set[str]) -> Lexicon:
    """The lexicon `data` (parsed YAML) with these phrases (as `Match.term`) removed from every topic list; rules
    only."""
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


def own_only(rounds: Sequence[Rows], lex: Lexicon) -> list[set[str]]:
    """Per round, the phrases whose only correct hits are in that round."""
    hits = [{term for _topic, term in correct_hits(rows, lex)} for rows in rounds]
    return [h - set().union(*(o for j, o in enumerate(hits) if j != k)) for k, h in enumerate(hits)]


def prepare(rounds: Sequence[Rows], lex: Lexicon, data: dict[str, Any] | None = None,
            tuned: Iterable[int] = ()) -> tuple[Prepared, list[list[int]]]:
    """The comments of `rounds` (in order) and their round folds.  `tuned`: indexes of rounds the lexicon was
    tuned on, whose training `@` findings come from the lexicon `data` minus their own-only phrases."""
    rows = [r for rs in rounds for r in rs]
    folds, start = [], 0
    for rs in rounds:
        folds.append(list(range(start, start + len(rs))))
        start += len(rs)
    found = [explain_rules(t, lex) for t, _ in rows]
    rules = [frozenset(m.topic for m in ms) for ms in found]
    ironic = [any(m.rule == "problem" for m in ms) and is_ironic(t, lex)
              for ms, (t, _y) in zip(found, rows, strict=True)]
    fit = list(rules)
    tuned = set(tuned)
    if tuned and data is not None:
        removed = own_only(rounds, lex)
        for k in sorted(tuned):
            ablated = without(data, removed[k])
            for i in folds[k]:
                fit[i] = frozenset(m.topic for m in explain_rules(rows[i][0], ablated))
    return Prepared([features(t, lex) for t, _ in rows], rules, fit, [y for _, y in rows], ironic), folds


def _fit(x: sparse.csr_matrix, y: np.ndarray, l2: float) -> tuple[np.ndarray, np.ndarray]:
    """Weights (terms × topics) and biases minimising each topic's logistic loss + l2/2·‖w‖², all topics in one
    L-BFGS run (they are independent; one run is several times faster than one per topic)."""
    d, k = x.shape[1], y.shape[1]
    xt = x.T.tocsr()

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[: d * k].reshape(d, k), theta[d * k:]
        z = x @ w + b
        g = 1.0 / (1.0 + np.exp(-z)) - y
        nll = float(np.sum(np.logaddexp(0.0, z) - y * z))
        return nll + 0.5 * l2 * float(np.sum(w * w)), np.concatenate([(xt @ g + l2 * w).ravel(), g.sum(axis=0)])

    res = optimize.minimize(loss, np.zeros(d * k + k), jac=True, method="L-BFGS-B",
                            options={"maxiter": 400, "gtol": 1e-4})
    return res.x[: d * k].reshape(d, k), res.x[d * k:]


def learn(data: Prepared, idx: Sequence[int], codes: Sequence[str], l2: float = L2) -> dict[str, dict[str, float]]:
    """Per topic: term → weight and BIAS → intercept (no threshold yet), learned from comments `idx` (their
    cross-fitted rule findings), pruned.  Every topic's `@topic` weight is kept (it switches the stacked decision
    on for the topic, topics.Weights)."""
    rows = [data.terms(i, fit=True) for i in idx]
    counts: dict[str, int] = {}
    for fs in rows:
        for f in fs:
            counts[f] = counts.get(f, 0) + 1
    vocab = sorted(set(f for f, c in counts.items() if c >= MIN_COMMENTS) | {RULE + c for c in codes})
    col = {f: j for j, f in enumerate(vocab)}
    ri, ci = [], []
    for r, fs in enumerate(rows):
        js = [col[f] for f in fs if f in col]
        ri += [r] * len(js)
        ci += js
    x = sparse.csr_matrix((np.ones(len(ri)), (ri, ci)), shape=(len(idx), len(vocab)))
    y = np.array([[c in data.truth[i] for c in codes] for i in idx], dtype=float)
    w, b = _fit(x, y, l2)
    return {c: {BIAS: float(b[k]), **{vocab[j]: float(w[j, k]) for j in range(len(vocab))
                                      if abs(w[j, k]) >= PRUNE or vocab[j] == RULE + c}}
            for k, c in enumerate(codes)}


def _logit(p: float) -> float:
    return math.log(p / (1.0 - p))


def scores(raw: dict[str, dict[str, float]], data: Prepared, idx: Sequence[int], fit: bool) -> dict[str, list[float]]:
    """Per topic, the learned score (log-odds, no threshold) of comments `idx`."""
    model = Weights(raw)
    return {code: [model.score(code, data.terms(i, fit)) for i in idx] for code in raw}


def fbeta(tp: int, fp: int, fn: int, beta: float = BETA) -> float:
    b2 = beta * beta
    return (1 + b2) * tp / ((1 + b2) * tp + b2 * fn + fp) if tp else 0.0


def counts(code: str, s: Sequence[float], cut: float, data: Prepared, idx: Sequence[int]) -> tuple[int, int, int]:
    got = [v >= cut for v in s]
    want = [code in data.truth[i] for i in idx]
    tp = sum(g and w for g, w in zip(got, want, strict=True))
    return tp, sum(got) - tp, sum(want) - tp


def choose(code: str, s: Sequence[float], data: Prepared, idx: Sequence[int], beta: float = BETA) -> float:
    """The threshold probability maximising F_β of "score ≥ threshold" on these scores; ties: the higher one."""
    return _best(code, s, data, idx, beta)[1]


def _best(code: str, s: Sequence[float], data: Prepared, idx: Sequence[int], beta: float) -> tuple[float, float]:
    """(F_β, threshold) of the best threshold for these scores; ties: the higher threshold."""
    return max((fbeta(*counts(code, s, _logit(t), data, idx), beta), t) for t in THRESHOLDS)


Raw = dict[str, dict[str, float]]  # topic → term → weight, BIAS → intercept (no threshold yet)
Task = tuple[float, tuple[int, ...]]  # (L2, indexes of the folds left out)


def _select(oof: Mapping[float, Mapping[str, Sequence[float]]], data: Prepared, idx: Sequence[int],
            codes: Sequence[str], beta: float) -> dict[str, tuple[float, float]]:
    """Per topic, the (L2, threshold) whose out-of-fold scores give the highest F_β; ties: the stronger penalty,
    then the higher threshold (the simpler, more cautious model)."""
    out = {}
    for c in codes:
        best = max((_best(c, oof[l2][c], data, idx, beta), l2) for l2 in oof)
        out[c] = (best[1], best[0][1])
    return out


def _merge(raws: Mapping[float, Raw], picked: Mapping[str, tuple[float, float]]) -> Raw:
    """Each topic's weights from the fit with its chosen L2 (the topics are fitted independently)."""
    return {c: raws[l2][c] for c, (l2, _t) in picked.items()}


def out_of_fold(data: Prepared, folds: Sequence[Sequence[int]], codes: Sequence[str],
                l2: float = L2, fits: Mapping[Task, Raw] | None = None) -> dict[str, list[float]]:
    """Scores of every comment of `folds` from weights learned without its own fold (cross-fitted findings:
    the threshold is chosen for comments the rules have not been tuned on); `fits`: those weights, learned
    already (`learn_many`)."""
    fits = fits if fits is not None else learn_many(data, folds, codes, [(l2, (k,)) for k in range(len(folds))])
    out: dict[str, list[float]] = {c: [] for c in codes}
    for k, fold_k in enumerate(folds):
        for c, v in scores(fits[(l2, (k,))], data, fold_k, fit=True).items():
            out[c] += v
    return out


def thresholds(data: Prepared, folds: Sequence[Sequence[int]], codes: Sequence[str],
               l2s: Sequence[float] = L2S, beta: float = BETA, jobs: int = 1) -> dict[str, tuple[float, float]]:
    """Per topic, the (L2, threshold) chosen on the leave-one-fold-out scores of these folds."""
    fits = learn_many(data, folds, codes, [(l2, (k,)) for l2 in l2s for k in range(len(folds))], jobs)
    oof = {l2: out_of_fold(data, folds, codes, l2, fits) for l2 in l2s}
    return _select(oof, data, [i for f in folds for i in f], codes, beta)


def final(raw: Raw, chosen: Mapping[str, float]) -> Weights:
    """The weights with each topic's threshold folded into its bias (score ≥ 0 ⇔ probability ≥ threshold), and
    each `@topic` weight raised, if need be, so that bias + `@topic` ≥ RULE_FLOOR: a rule hit stands unless the
    comment's other terms weigh against the topic (the hand rules keep their word; the tests' examples hold)."""
    out = {}
    for c, w in raw.items():
        bias = round(w[BIAS] - _logit(chosen[c]), 3)
        rule = max(w[RULE + c], RULE_FLOOR - bias) if RULE + c in w else None
        out[c] = {**{t: round(v, 3) for t, v in w.items()}, BIAS: bias,
                  **({RULE + c: round(rule + 0.0005, 3)} if rule is not None else {})}
    return Weights(out)


def train(data: Prepared, folds: Sequence[Sequence[int]], codes: Sequence[str], l2s: Sequence[float] = L2S,
          beta: float = BETA, jobs: int = 1) -> tuple[Weights, dict[str, tuple[float, float]]]:
    """Weights learned from all of `folds`, each topic's L2 and threshold chosen by leaving one fold out at a
    time; returns the weights and per topic (L2, threshold)."""
    picked = thresholds(data, folds, codes, l2s, beta, jobs)
    fits = learn_many(data, folds, codes, [(l2, ()) for l2 in sorted({l2 for l2, _t in picked.values()})], jobs)
    raws = {l2: raw for (l2, _ex), raw in fits.items()}
    return final(_merge(raws, picked), {c: t for c, (_l2, t) in picked.items()}), picked


Counts = dict[str, tuple[int, int, int]]


def measure(model: Weights, data: Prepared, idx: Sequence[int], codes: Sequence[str],
            fit: bool = False) -> tuple[Counts, Counts]:
    """(rules-only, classifier) counts (tp, fp, fn) per topic on comments `idx`, as topics.classify decides: with
    the full lexicon's findings (what the shipped classifier sees), or with `fit` the cross-fitted ones (the
    lexicon without the phrases only the comments' own round supports: what a new writer would have met)."""
    found = data.fit_rules if fit else data.rules
    rules = {c: counts(c, [1.0 if c in found[i] else -1.0 for i in idx], 0.0, data, idx) for c in codes}
    combined = {c: counts(c, [1.0 if model.decide(c, data.feats[i], found[i])
                              and not (c == PRAISE and data.ironic[i]) else -1.0 for i in idx], 0.0, data, idx)
                for c in codes}
    return rules, combined


class Fold(NamedTuple):
    """One round of leave-one-round-out: counts (tp, fp, fn) per topic, rules-only and with the classifier, with the
    full lexicon (`rules`, `combined`) and with the round's own-only phrases removed (`*_ablated`), and the
    thresholds and L2 penalties chosen without the round."""

    rules: Counts
    combined: Counts
    chosen: dict[str, float]
    rules_ablated: Counts
    combined_ablated: Counts
    l2: dict[str, float]


_SHARED: dict[str, Any] = {}  # what the worker processes of learn_many read (inherited by fork)


def _learn_without(task: Task) -> Raw:
    data, folds, codes = _SHARED["args"]
    l2, excluded = task
    return learn(data, [i for j, f in enumerate(folds) if j not in excluded for i in f], codes, l2)


def learn_many(data: Prepared, folds: Sequence[Sequence[int]], codes: Sequence[str],
               tasks: Sequence[Task], jobs: int = 1) -> dict[Task, Raw]:
    """Weights per (L2, folds left out), learned from the other folds, in `jobs` processes."""
    _SHARED["args"] = (data, folds, codes)
    if jobs > 1 and len(tasks) > 1:
        import multiprocessing

        with multiprocessing.get_context("fork").Pool(jobs) as pool:
            return dict(zip(tasks, pool.map(_learn_without, tasks), strict=True))
    return {t: _learn_without(t) for t in tasks}


def cross_validate(data: Prepared, folds: Sequence[Sequence[int]], codes: Sequence[str], l2s: Sequence[float] = L2S,
                   beta: float = BETA, jobs: int = 1) -> list[Fold]:
    """Per fold k (leave one round out, nested): weights learned without fold k; per topic the L2 and threshold
    chosen by leaving each other fold j out in turn (weights learned without k and j), then fold k measured.
    Each weighting is learned once per L2 ((K + K(K-1)/2)·len(l2s) fits, `jobs` processes)."""
    n = len(folds)
    fits = learn_many(data, folds, codes, [(l2, ex) for l2 in l2s for ex in [(k,) for k in range(n)]
                                           + [(j, k) for k in range(n) for j in range(k)]], jobs)
    out = []
    for k, fold_k in enumerate(folds):
        inner = [j for j in range(n) if j != k]
        oof: dict[float, dict[str, list[float]]] = {l2: {c: [] for c in codes} for l2 in l2s}
        for l2 in l2s:
            for j in inner:
                for c, v in scores(fits[(l2, (min(j, k), max(j, k)))], data, folds[j], fit=True).items():
                    oof[l2][c] += v
        picked = _select(oof, data, [i for j in inner for i in folds[j]], codes, beta)
        model = final(_merge({l2: fits[(l2, (k,))] for l2 in l2s}, picked), {c: t for c, (_l2, t) in picked.items()})
        out.append(Fold(*measure(model, data, fold_k, codes), {c: t for c, (_l2, t) in picked.items()},
                        *measure(model, data, fold_k, codes, fit=True), {c: l2 for c, (l2, _t) in picked.items()}))
    return out


def split_half(rounds: Sequence[Rows], seed: int = SPLIT_SEED) -> tuple[list[list[int]], list[list[int]]]:
    """The issue's "tune on one half, report on the other": per round, the comments grouped by their label set
    (sorted, rarest topic first … as a string), each group shuffled with `random.Random(seed)`, the groups laid
    end to end and dealt alternately to tune and report.  So each half gets half of every round and, within one,
    of every label set.  Returns the row indexes (into the rounds laid end to end) per round, tune then report."""
    rng = random.Random(seed)
    tune: list[list[int]] = []
    report: list[list[int]] = []
    start = 0
    for rs in rounds:
        groups: dict[str, list[int]] = {}
        for j, (_t, y) in enumerate(rs):
            groups.setdefault(",".join(sorted(y)), []).append(start + j)
        order: list[int] = []
        for key in sorted(groups):
            g = groups[key]
            rng.shuffle(g)
            order += g
        tune.append(sorted(order[0::2]))
        report.append(sorted(order[1::2]))
        start += len(rs)
    return tune, report
