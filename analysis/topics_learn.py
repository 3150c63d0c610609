"""Learning the term weights of the topic classifier's learned layer (analysis/topics.py, `Weights`).

Why a learned layer at all: the hand-written rules miss wordings nobody wrote a phrase for (behaviour described
without judging words, waiting told as a scene); per topic, an L2-regularised logistic regression over the
comment's `features` (folded words and word pairs, negated words marked) finds which terms go with the topic in
the labelled rounds.  Why it stays transparent: the result is one weight per (topic, term), written to a TSV
file an administrator reads and edits like the lexicon; small weights are pruned.  numpy/scipy only.

Decision per topic: the rules' hit OR the learned score ≥ threshold.  The threshold (a probability) is chosen
on out-of-fold scores (leave one labelled round out) to maximise the F1 of the learned score ALONE, and folded
into the `(bias)` line, so the file alone decides: bias + Σ weights of the comment's terms ≥ 0.  Why not the F1
of the combined decision: the rules were tuned by hand on rounds 1-5 and find nearly everything there, so that
criterion would choose "add nothing" from figures that do not hold on a new writer's comments (round 6).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize, sparse

from analysis.topics import BIAS, Lexicon, Weights, explain_rules, features

Rows = list[tuple[str, frozenset[str]]]
L2 = 1.0  # penalty λ/2·‖w‖² (the bias is not penalised); chosen on rounds 1-6 by leave-one-round-out
MIN_COMMENTS = 2  # a term must occur in at least this many training comments
PRUNE = 0.1  # weights smaller than this (in absolute value) are dropped from the file
RULES_IN_CHOICE = False  # threshold by the learned score's own F1 (module docstring: why)
THRESHOLDS = tuple(round(0.05 * k, 2) for k in range(2, 19))  # candidate probabilities 0.10 … 0.90


@dataclass(frozen=True)
class Prepared:
    """The labelled comments once tokenised: their features and rule topics (computed once, reused per fold)."""

    feats: list[frozenset[str]]
    rules: list[frozenset[str]]
    truth: list[frozenset[str]]


def prepare(rows: Rows, lex: Lexicon) -> Prepared:
    return Prepared([features(t, lex) for t, _ in rows],
                    [frozenset(m.topic for m in explain_rules(t, lex)) for t, _ in rows], [y for _, y in rows])


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
                            options={"maxiter": 300, "gtol": 1e-4})
    return res.x[: d * k].reshape(d, k), res.x[d * k:]


def learn(data: Prepared, idx: Sequence[int], codes: Sequence[str], l2: float = L2) -> dict[str, dict[str, float]]:
    """Per topic: term → weight and BIAS → intercept (no threshold yet), learned from comments `idx`, pruned."""
    counts: dict[str, int] = {}
    for i in idx:
        for f in data.feats[i]:
            counts[f] = counts.get(f, 0) + 1
    vocab = sorted(f for f, c in counts.items() if c >= MIN_COMMENTS)
    col = {f: j for j, f in enumerate(vocab)}
    ri, ci = [], []
    for r, i in enumerate(idx):
        js = [col[f] for f in data.feats[i] if f in col]
        ri += [r] * len(js)
        ci += js
    x = sparse.csr_matrix((np.ones(len(ri)), (ri, ci)), shape=(len(idx), len(vocab)))
    y = np.array([[c in data.truth[i] for c in codes] for i in idx], dtype=float)
    w, b = _fit(x, y, l2)
    return {c: {BIAS: float(b[k]), **{vocab[j]: float(w[j, k]) for j in np.flatnonzero(np.abs(w[:, k]) >= PRUNE)}}
            for k, c in enumerate(codes)}


def _logit(p: float) -> float:
    return math.log(p / (1.0 - p))


def scores(raw: dict[str, dict[str, float]], data: Prepared, idx: Sequence[int]) -> dict[str, list[float]]:
    """Per topic, the learned score (log-odds, no threshold) of comments `idx`."""
    model = Weights(raw)
    return {code: [model.score(code, data.feats[i]) for i in idx] for code in raw}


def _f1(tp: int, fp: int, fn: int) -> float:
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def _counts(code: str, s: Sequence[float], t: float, data: Prepared, idx: Sequence[int],
            rules: bool = True) -> tuple[int, int, int]:
    cut = _logit(t)
    got = [(rules and code in data.rules[i]) or v >= cut for i, v in zip(idx, s, strict=True)]
    want = [code in data.truth[i] for i in idx]
    tp = sum(g and w for g, w in zip(got, want, strict=True))
    return tp, sum(got) - tp, sum(want) - tp


def choose(code: str, s: Sequence[float], data: Prepared, idx: Sequence[int]) -> float:
    """The threshold probability maximising the F1 of "score ≥ threshold" (RULES_IN_CHOICE: of "rule hit OR
    score ≥ threshold") on these scores; ties: the higher threshold, fewer learned additions."""
    return max(THRESHOLDS, key=lambda t: (_f1(*_counts(code, s, t, data, idx, RULES_IN_CHOICE)), t))


def out_of_fold(data: Prepared, folds: Sequence[Sequence[int]], codes: Sequence[str],
                l2: float = L2) -> dict[str, list[float]]:
    """Scores of every comment of `folds` from weights learned without its own fold (leave one round out)."""
    out: dict[str, list[float]] = {c: [] for c in codes}
    for k, fold_k in enumerate(folds):
        rest = [i for j, f in enumerate(folds) if j != k for i in f]
        for c, v in scores(learn(data, rest, codes, l2), data, fold_k).items():
            out[c] += v
    return out


def thresholds(data: Prepared, folds: Sequence[Sequence[int]], codes: Sequence[str],
               l2: float = L2) -> dict[str, float]:
    """Per topic, the threshold chosen on the leave-one-round-out scores of these folds."""
    oof = out_of_fold(data, folds, codes, l2)
    idx = [i for f in folds for i in f]
    return {c: choose(c, oof[c], data, idx) for c in codes}


def final(raw: dict[str, dict[str, float]], chosen: dict[str, float]) -> Weights:
    """The weights with each topic's threshold folded into its bias (score ≥ 0 ⇔ probability ≥ threshold)."""
    return Weights({c: {**w, BIAS: round(w[BIAS] - _logit(chosen[c]), 3)} for c, w in raw.items()})


def cross_validate(data: Prepared, folds: Sequence[Sequence[int]], codes: Sequence[str],
                   l2: float = L2) -> list[tuple[dict[str, tuple[int, int, int]], dict[str, tuple[int, int, int]],
                                                 dict[str, float]]]:
    """Per round k (leave one round out, nested): weights learned without round k, thresholds chosen on the
    other rounds' own leave-one-out scores, then round k measured.  Returns per round (rules-only counts,
    combined counts, thresholds), counts as (tp, fp, fn)."""
    out = []
    for k, fold_k in enumerate(folds):
        others = [f for j, f in enumerate(folds) if j != k]
        chosen = thresholds(data, others, codes, l2)
        s = scores(learn(data, [i for f in others for i in f], codes, l2), data, fold_k)
        rules = {c: _counts(c, [-math.inf] * len(fold_k), 0.5, data, fold_k) for c in codes}
        combined = {c: _counts(c, s[c], chosen[c], data, fold_k) for c in codes}
        out.append((rules, combined, chosen))
    return out
