"""Early warning of real drops: a one-sided EWMA chart on daily satisfaction, with known run lengths.

Why an EWMA: with 10–20 responses a working day a single day says little, but an exponentially weighted
mean of standardised daily means accumulates evidence; one-sided (we only warn about drops) and
reflected at 0 as in Lucas & Saccucci / R package `spc` (`xewma.arl(..., sided="one", zr=0)`), so a run of
good days cannot bank credit against a later drop.

The chart statistic, for working days t with n_t > 0 responses (days without any response are skipped):

    x_t = (μ0 − m_t) / (σ0 / √n_t)            (a drop gives positive x_t)
    z_t = max(0, (1 − λ) z_{t−1} + λ x_t),  z_0 = 0
    signal when z_t > c · √(λ / (2 − λ))

m_t is the day's mean per-response score (for a yes/no indicator, the day's share satisfied; for the
index, each response's share of satisfied answers), μ0 and σ0 the in-control mean and per-response
standard deviation estimated from history.  Weighting by n enters through the standard error.

Run lengths are computed by the Markov chain approximation of Brook & Evans (1972) with the reflection
atom at 0 as its own state; tests compare them with `spc` (tests/analysis/reference/control_reference.R).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
from scipy.optimize import brentq
from scipy.stats import norm
from threadpoolctl import threadpool_limits

DEFAULT_LAMBDA = 0.10  # best 90% quantile for the 85% → 75% drop at 10–20 responses/day (spc, see README)
DEFAULT_ARL0 = 250.0  # in-control average run length in working days (about a year)


def ewma_limit(lam: float, c: float) -> float:
    """Upper limit of the one-sided chart, asymptotic form c·√(λ/(2−λ)) as `spc` uses."""
    return c * math.sqrt(lam / (2.0 - lam))


def _solve(q: np.ndarray) -> np.ndarray:
    """ARL vector (I − Q)⁻¹·1; one BLAS thread (several threads spin-wait on a shared machine: 6× slower)."""
    with threadpool_limits(limits=1, user_api="blas"):
        return np.linalg.solve(np.eye(len(q)) - q, np.ones(len(q)))


def _transient(lam: float, c: float, mu: float, states: int) -> np.ndarray:
    """Substochastic transition matrix among in-control states: [atom at 0, N interval midpoints]."""
    h = ewma_limit(lam, c)
    w = h / states
    mids = (np.arange(states) + 0.5) * w
    start = np.concatenate([[0.0], mids])  # state values
    edges = np.arange(states + 1) * w  # cell j spans [edges[j], edges[j+1])
    # next z = (1-λ) s + λ X, X ~ N(mu, 1):  P(z < e) = Φ((e − (1−λ)s)/λ − mu)
    cdf = norm.cdf((edges[None, :] - (1.0 - lam) * start[:, None]) / lam - mu)
    q = np.empty((states + 1, states + 1))
    q[:, 0] = cdf[:, 0]  # reflected to the atom at 0
    q[:, 1:] = np.diff(cdf, axis=1)
    return q


def ewma_arl(lam: float, c: float, mu: float = 0.0, states: int = 400) -> float:
    """Zero-state average run length of the one-sided reflected EWMA for N(mu, 1) observations."""
    q = _transient(lam, c, mu, states)
    return float(_solve(q)[0])


def _transient_discrete(lam: float, c: float, values: np.ndarray, probs: np.ndarray,
                        states: int) -> np.ndarray:
    """As `_transient` for a discrete observation distribution (atoms `values`, weights `probs`)."""
    return _chain(1.0 - lam, lam, ewma_limit(lam, c), values, probs, states)


def _chain(decay: float, gain: float, h: float, values: np.ndarray, probs: np.ndarray, states: int) -> np.ndarray:
    """Transitions of z' = max(0, decay·z + gain·x) below the limit h: EWMA (1−λ, λ) or CUSUM (1, 1)."""
    w = h / states
    start = np.concatenate([[0.0], (np.arange(states) + 0.5) * w])
    nxt = decay * start[:, None] + gain * np.asarray(values, dtype=float)[None, :]
    cell = np.where(nxt <= 0.0, 0, np.floor(nxt / w).astype(np.int64) + 1)
    cell = np.where(nxt > h, states + 1, cell)  # absorbed (signal)
    flat = (np.arange(states + 1)[:, None] * (states + 2) + cell).ravel()
    weights = np.broadcast_to(np.asarray(probs, dtype=float)[None, :], cell.shape).ravel()
    q = np.bincount(flat, weights, (states + 1) * (states + 2)).reshape(states + 1, states + 2)
    return q[:, : states + 1]


def _day_mixture(p: float, day_sd: float) -> list[tuple[float, float]]:
    """(probability, weight) pairs: p moved by a normal day effect of SD `day_sd` on the logit scale."""
    if day_sd <= 0:
        return [(p, 1.0)]
    nodes, weights = np.polynomial.hermite_e.hermegauss(24)
    eta = math.log(p / (1 - p)) + day_sd * nodes
    return list(zip((1 / (1 + np.exp(-eta))).tolist(), (weights / weights.sum()).tolist(), strict=True))


def binomial_innovations(p0: float, volume: float, p: float | None = None, day_sd: float = 0.0,
                         score: str = "share") -> tuple[np.ndarray, np.ndarray, float]:
    """Distribution of the daily value x for a yes/no indicator.

    Days have n ~ Poisson(volume) responses, each satisfied with probability `p` (default p0), moved on a
    day by a normal effect of SD `day_sd` on the logit scale (the counter-day effect: extra-binomial
    variance between days); days with n = 0 do not move the chart.  `score` "share" is the standardised
    share (p0 − k/n)/√(p0(1−p0)/n) that `lower_ewma` charts; "llr" the day's log-likelihood ratio of
    p0 − 0.10 against p0 (what `bernoulli_cusum` adds up).  Returns (atoms, probabilities given n > 0, P(n > 0)).
    """
    from scipy.stats import binom, poisson

    p = p0 if p is None else p
    p1 = p0 - 0.10
    n_max = int(poisson.ppf(1 - 1e-12, volume)) + 1
    ns = np.arange(1, n_max + 1)
    pn = poisson.pmf(ns, volume)
    mixture = _day_mixture(p, day_sd)
    atoms, probs = [], []
    for n, w in zip(ns.tolist(), pn.tolist(), strict=True):
        k = np.arange(n + 1)
        if score == "llr":
            atoms.append(k * math.log(p1 / p0) + (n - k) * math.log((1 - p1) / (1 - p0)))
        else:
            atoms.append((p0 - k / n) / math.sqrt(p0 * (1 - p0) / n))
        probs.append(w * sum(m * binom.pmf(k, n, q) for q, m in mixture))
    pr = np.concatenate(probs)
    active = float(pr.sum())
    return np.concatenate(atoms), pr / active, active


def ewma_arl_discrete(lam: float, c: float, values: np.ndarray, probs: np.ndarray,
                      active: float = 1.0, states: int = 400) -> float:
    """Average run length in days when only a share `active` of days moves the chart."""
    q = _transient_discrete(lam, c, values, probs, states)
    return float(_solve(q)[0]) / active


def binomial_crit(lam: float, p0: float, volume: float, arl0: float = DEFAULT_ARL0,
                  states: int = 300, day_sd: float = 0.0) -> float:
    """c for an in-control ARL of `arl0` working days for a yes/no share at `volume` responses a day.

    The normal-theory factor (`ewma_crit`) gives only ~180–200 days for shares near 85% at 10–20 a day:
    the share's lower tail is longer than the normal's.  This uses the exact binomial–Poisson law (with
    the day effect `day_sd`, logit scale, when days vary more than binomially).
    """
    values, probs, active = binomial_innovations(p0, volume, day_sd=day_sd)
    return discrete_crit(lam, values, probs, active, arl0, states)


def empirical_innovations(scores: np.ndarray, volume: float, draws: int = 20_000, bins: int = 600,
                          seed: int = 0) -> tuple[np.ndarray, np.ndarray, float]:
    """Distribution of the standardised daily value when responses are like `scores` (history).

    For scores that are not yes/no (each response's share of satisfied answers) no closed law exists:
    days of n ~ Poisson(volume) responses are resampled from history and binned (a fixed seed, so the
    limit is the same on every page view).  Returns (atoms, probabilities given n > 0, P(n > 0)).
    """
    scores = np.asarray(scores, dtype=float)
    mu0, sd0 = float(scores.mean()), float(scores.std())
    if sd0 <= 0 or volume <= 0:
        raise ValueError("need varying scores and a positive volume")
    rng = np.random.default_rng(seed)
    n = rng.poisson(volume, draws)
    n = n[n > 0]
    idx = rng.integers(0, len(scores), int(n.sum()))
    day = np.repeat(np.arange(len(n)), n)
    means = np.bincount(day, weights=scores[idx], minlength=len(n)) / n
    x = (mu0 - means) / (sd0 / np.sqrt(n))
    hist, edges = np.histogram(x, bins=bins)
    keep = hist > 0
    atoms = 0.5 * (edges[:-1] + edges[1:])
    return atoms[keep], hist[keep] / hist.sum(), 1.0 - math.exp(-volume)


SCORE_ANSWERS = 12  # answers a response's score is modelled on in `score_innovations` (see there)


def _score_pmf(p: float, rho: float, answers: int) -> np.ndarray:
    """P(K = k), k = 0…answers: beta-binomial with mean share p and intra-response correlation rho."""
    from scipy.stats import betabinom, binom

    if rho >= 1.0 - 1e-9:  # one shared answer: a yes/no response
        pmf = np.zeros(answers + 1)
        pmf[0], pmf[-1] = 1.0 - p, p
        return pmf
    if rho <= 1e-9:
        return np.asarray(binom.pmf(np.arange(answers + 1), answers, p))
    ab = 1.0 / rho - 1.0
    return np.asarray(betabinom.pmf(np.arange(answers + 1), answers, p * ab, (1.0 - p) * ab))


def _merge_atoms(values: np.ndarray, probs: np.ndarray, max_atoms: int) -> tuple[np.ndarray, np.ndarray]:
    """At most `max_atoms` atoms: equal-width bins, each at its probability-weighted mean (mean kept)."""
    if len(values) <= max_atoms:
        return values, probs
    edges = np.linspace(values.min(), values.max(), max_atoms + 1)
    cell = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, max_atoms - 1)
    mass = np.bincount(cell, probs, max_atoms)
    where = np.bincount(cell, probs * values, max_atoms)
    keep = mass > 0
    return where[keep] / mass[keep], mass[keep]


def score_innovations(p0: float, sd: float, volume: float, p: float | None = None, day_sd: float = 0.0,
                      answers: int = SCORE_ANSWERS, max_atoms: int = 4000,
                      size: int | None = None) -> tuple[np.ndarray, np.ndarray, float]:
    """Distribution of the daily value x for per-response scores in [0, 1] (a response's share satisfied).

    Why not an effective binomial volume n·p(1−p)/σ²: that matches the variance of a day's mean but not
    its skew.  A citizen's answers move together (one respondent, one mood), so index scores pile up at
    1 with a long tail of unhappy responses: skewness −1.67 for the demo's 6 items against −1.19 for the
    equivalent binomial, and the limit was set too low (in-control ARL ≈ 235 instead of 250 days).
    Here a response's score is the share of `answers` answers sharing a beta-distributed satisfaction
    (beta-binomial), the intra-response correlation ρ chosen so that the score's SD within a day is `sd`:
    ρ = 1 is exactly a yes/no answer, ρ = 0 independent answers.  Days: n ~ Poisson(volume), mean share
    `p` (default p0; ρ kept) moved by a normal day effect of SD `day_sd` on the logit scale.  Returns
    (atoms, probabilities given n > 0, P(n > 0)); x = (p0 − m)/(sd/√n) as `lower_ewma` computes it.
    `size`: every point holds exactly that many responses instead (a point of pooled days, `pooled_factor`).
    """
    from scipy.stats import poisson

    p = p0 if p is None else p
    tau2 = (day_sd * p0 * (1 - p0)) ** 2  # variance of a day's mean share: taken out of the pooled SD
    r = (p0 * (1 - p0) - tau2) / max(sd**2 - tau2, 1e-12)  # yes/no answers a response is worth, within a day
    rho = min(max((answers / min(max(r, 1.0), answers) - 1.0) / (answers - 1.0), 0.0), 1.0)
    if size is not None:
        n_max = n_lo = size
        pn = np.zeros(size)
        pn[-1] = 1.0
    else:
        n_max = int(poisson.ppf(1 - 1e-12, volume)) + 1
        pn = poisson.pmf(np.arange(1, n_max + 1), volume)
        n_lo = max(int(poisson.ppf(1e-12, volume)), 1)  # smaller days weigh nothing: their atoms are not kept
    atoms, probs = [], []
    # all atoms at once while few (as before); a unit of hundreds of responses a day has millions: binned as
    # they come, on the same equal-width grid `_merge_atoms` would use (its ends are those of the largest day)
    streamed = answers * (n_max + 1) * (n_max - n_lo + 1) // 2 > 500_000
    scale = sd / math.sqrt(n_max)
    edges = np.linspace((p0 - 1.0) / scale, p0 / scale, max_atoms + 1)
    mass, where = np.zeros(max_atoms), np.zeros(max_atoms)
    sums = [np.array([1.0]) for _ in _day_mixture(p, day_sd)]
    pmfs = [(w, _score_pmf(q, rho, answers)) for q, w in _day_mixture(p, day_sd)]
    for i, w_n in enumerate(pn.tolist()):
        n = i + 1
        sums = [np.convolve(acc, pmf) for acc, (_, pmf) in zip(sums, pmfs, strict=True)]
        if n < n_lo and (streamed or size is not None):
            continue
        law = sum(w * acc for acc, (w, _) in zip(sums, pmfs, strict=True))
        x = (p0 - np.arange(answers * n + 1) / (answers * n)) / (sd / math.sqrt(n))
        if streamed:
            cell = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, max_atoms - 1)
            mass += np.bincount(cell, w_n * law, max_atoms)
            where += np.bincount(cell, w_n * law * x, max_atoms)
            continue
        atoms.append(x)
        probs.append(w_n * law)
    if streamed:
        keep = mass > 0
        values, pr = where[keep] / mass[keep], mass[keep]
    else:
        values, pr = _merge_atoms(np.concatenate(atoms), np.concatenate(probs), max_atoms)
    active = float(pr.sum())
    return values, pr / active, active


def discrete_crit(lam: float, values: np.ndarray, probs: np.ndarray, active: float = 1.0,
                  arl0: float = DEFAULT_ARL0, states: int = 300) -> float:
    """c giving an in-control ARL of `arl0` days for a discrete law of the daily value.

    The search widens to 0.01…500: a unit's points under `pool_tree` can be months of thousands of responses
    (c ≈ 30 with a day effect) or, where most months have no point, a few points a year (ARL0 of 2–5 points, c
    below 0.25); both once lay outside it (a ValueError, i.e. a page error).  An `arl0` shorter than any c gives
    (a point alarms at most when its value is above the usual level) takes the smallest c searched."""
    def gap(c: float) -> float:
        return ewma_arl_discrete(lam, c, values, probs, active, states) - arl0

    lo, hi = 2.0, 3.5  # where c lies for ARL0 of 100–1000 at usual volumes; widened when not
    while (low := gap(lo)) > 0 and lo > 0.01:
        lo /= 1.5
    while (high := gap(hi)) < 0 and hi < 500:
        hi *= 1.5
    if low > 0 or high < 0:
        return lo if low > 0 else hi
    return float(brentq(gap, lo, hi, xtol=2e-4))


def ewma_rl_quantile_discrete(lam: float, c: float, values: np.ndarray, probs: np.ndarray,
                              active: float = 1.0, alpha: float = 0.9, states: int = 300,
                              max_steps: int = 20_000) -> int:
    """Smallest number of days t with P(run length ≤ t) ≥ alpha (days without responses included)."""
    return _rl_quantile(_transient_discrete(lam, c, values, probs, states), active, alpha, max_steps)


def _rl_quantile(q: np.ndarray, active: float, alpha: float, max_steps: int = 20_000) -> int:
    p = np.zeros(len(q))
    p[0] = 1.0
    for t in range(1, max_steps + 1):
        p = (1.0 - active) * p + active * (p @ q)
        if 1.0 - p.sum() >= alpha:
            return t
    raise ValueError("run length quantile beyond max_steps")


def cusum_arl_discrete(h: float, values: np.ndarray, probs: np.ndarray, active: float = 1.0,
                       states: int = 300) -> float:
    """Average run length in days of the CUSUM C' = max(0, C + x), signal C > h (x: the daily value)."""
    return float(_solve(_chain(1.0, 1.0, h, values, probs, states))[0]) / active


def cusum_limit(values: np.ndarray, probs: np.ndarray, active: float = 1.0, arl0: float = DEFAULT_ARL0,
                states: int = 300) -> float:
    """The CUSUM limit h giving an in-control ARL of `arl0` days."""
    spread = float(np.sqrt(np.dot(probs, np.square(values))))
    hi = spread
    while cusum_arl_discrete(hi, values, probs, active, states) < arl0:
        hi *= 2.0
    return float(brentq(lambda h: cusum_arl_discrete(h, values, probs, active, states) - arl0,
                        1e-3 * spread, hi, xtol=1e-5 * spread))


def cusum_rl_quantile(h: float, values: np.ndarray, probs: np.ndarray, active: float = 1.0,
                      alpha: float = 0.9, states: int = 300) -> int:
    """As `ewma_rl_quantile_discrete` for the CUSUM."""
    return _rl_quantile(_chain(1.0, 1.0, h, values, probs, states), active, alpha)


def ewma_rl_quantile(lam: float, c: float, mu: float, alpha: float = 0.9, states: int = 400,
                     max_steps: int = 100_000) -> int:
    """Smallest t with P(run length ≤ t) ≥ alpha (zero state), as `spc::xewma.q` reports."""
    q = _transient(lam, c, mu, states)
    p = np.zeros(states + 1)
    p[0] = 1.0
    for t in range(1, max_steps + 1):
        p = p @ q
        if 1.0 - p.sum() >= alpha:
            return t
    raise ValueError("run length quantile beyond max_steps")


def ewma_crit(lam: float, arl0: float = DEFAULT_ARL0, states: int = 400) -> float:
    """The factor c giving the in-control ARL `arl0` (bisection; ARL grows with c)."""
    return float(brentq(lambda c: ewma_arl(lam, c, 0.0, states) - arl0, 0.1, 6.0, xtol=1e-7))


@dataclass(frozen=True)
class ChartResult:
    """The chart over the days given: statistic, limit, and the first day it signals (or None)."""

    statistic: np.ndarray  # z_t per day (NaN before the first day with data; carried over empty days)
    standardised: np.ndarray  # x_t per day (NaN on days without responses)
    limit: float
    first_signal: int | None  # index of the first day with z_t > limit
    signalling: bool  # the last day is above the limit


def lower_ewma(means: np.ndarray, counts: np.ndarray, mu0: float, sigma0: float,
               lam: float = DEFAULT_LAMBDA, c: float | None = None) -> ChartResult:
    """Run the one-sided (downward) EWMA over daily means `means` with `counts` responses each.

    `mu0`, `sigma0`: in-control mean and per-response standard deviation from history (σ0 > 0).
    """
    if sigma0 <= 0:
        raise ValueError("sigma0 must be positive")
    if c is None:
        c = critical_factor(lam)
    limit = ewma_limit(lam, c)
    means = np.asarray(means, dtype=float)
    counts = np.asarray(counts, dtype=float)
    x = np.full(len(means), np.nan)
    ok = counts > 0
    x[ok] = (mu0 - means[ok]) / (sigma0 / np.sqrt(counts[ok]))
    z = np.full(len(means), np.nan)
    cur = 0.0
    started = False
    first = None
    for t in range(len(means)):
        if ok[t]:
            cur = max(0.0, (1.0 - lam) * cur + lam * x[t])
            started = True
        if started:
            z[t] = cur
            if first is None and cur > limit:
                first = t
    last = bool(started and z[-1] > limit) if len(z) else False
    return ChartResult(z, x, limit, first, last)


_CRIT_CACHE: dict[tuple[float, float], float] = {}


def critical_factor(lam: float = DEFAULT_LAMBDA, arl0: float = DEFAULT_ARL0) -> float:
    """`ewma_crit`, remembered (the pages draw many charts with the same λ)."""
    key = (round(lam, 6), round(arl0, 6))
    if key not in _CRIT_CACHE:
        _CRIT_CACHE[key] = ewma_crit(lam, arl0)
    return _CRIT_CACHE[key]


@dataclass(frozen=True)
class Baseline:
    """In-control level from history: per-response mean and standard deviation, mean responses a day, and
    the SD of a day effect on the logit scale (days vary more than their responses do: counter-days)."""

    mean: float
    sd: float
    per_day: float
    day_sd: float = 0.0

    @classmethod
    def from_sums(cls, n: float, total: float, sumsq: float, days: int) -> Baseline:
        """From Σ1, Σ score and Σ score² of the history's responses over `days` working days."""
        if n <= 1 or days <= 0:
            raise ValueError("history too short for a baseline")
        mean = total / n
        var = max(sumsq / n - mean * mean, 1e-6)
        return cls(mean, math.sqrt(var), n / days)

    @classmethod
    def from_days(cls, counts: np.ndarray, totals: np.ndarray, sumsq: np.ndarray, days: int) -> Baseline:
        """As `from_sums`, plus the between-day variance beyond what the responses explain.

        Moment estimate: the mean over days with responses of (m_t − μ)² − σ²/n_t estimates the variance
        τ² of a day's true mean; it is turned into a logit-scale SD τ/(μ(1−μ)) for the calibration.  Without
        it the limits are calibrated for binomial days and the in-control ARL falls below its target (the
        demo's counter-day SD 0.15: 216 instead of 250 days at 10 responses a day, 195 at 20).
        """
        counts = np.asarray(counts, dtype=float)
        totals = np.asarray(totals, dtype=float)
        base = cls.from_sums(float(counts.sum()), float(totals.sum()), float(np.sum(sumsq)), days)
        ok = counts > 0
        if ok.sum() < 20:
            return base
        m = totals[ok] / counts[ok]
        tau2 = float(np.mean((m - base.mean) ** 2 - base.sd**2 / counts[ok]))
        p = min(max(base.mean, 0.02), 0.98)
        day_sd = math.sqrt(max(tau2, 0.0)) / (p * (1 - p))
        return cls(base.mean, base.sd, base.per_day, min(day_sd, 1.0))


_CALIBRATION: dict[tuple[float, float, float, float, float], float] = {}
EXACT_VOLUME = 1000.0  # responses (yes/no: answers) a day up to which the daily value's exact law is built


def calibrated_factor(baseline: Baseline, lam: float = DEFAULT_LAMBDA, arl0: float = DEFAULT_ARL0) -> float:
    """c for an in-control ARL of `arl0` working days at this baseline.

    Yes/no scores (σ0² = p(1−p)): the exact binomial–Poisson law.  Index scores (a response's share of
    satisfied answers): the beta-binomial law of `score_innovations`, which keeps the skew of answers that
    move together (the effective binomial volume n·p(1−p)/σ0² used before kept only the variance and gave
    an in-control ARL of ≈ 235 days for the demo's index).  Scores less variable than SCORE_ANSWERS
    independent answers: the effective binomial volume, right for independent answers.  All with the
    baseline's day effect, at every volume: until 7 Dec 2026 days of more than 200 responses (answers) took
    the normal-theory factor, which ignores the day effect — whose share of a day's variance grows with the
    day's size — so large agencies and administrative units (tens to hundreds a day) alarmed every 100–180
    working days instead of 250 (benchmarks/integrity_bench.py --units).  Above EXACT_VOLUME a day the
    factor at EXACT_VOLUME is scaled by the growth of the daily value's SD, √(1 + n·τ²/σ0²) (τ the day
    effect on the share), which is what a normal day effect adds (R `spc`: xewma.crit scales with the SD).
    Rounded (p to 0.01, volumes on 5% grids, the day SD to 0.01) and remembered.
    """
    p = min(max(baseline.mean, 0.02), 0.98)
    ratio = max(p * (1 - p) / (baseline.sd**2), 1.0)
    day_sd = round(baseline.day_sd, 2)
    if ratio < 1.01 or ratio > SCORE_ANSWERS:  # yes/no scores; or answers as good as independent
        volume, answers_per_response = max(baseline.per_day * ratio, 0.5), 1.0
    else:
        volume, answers_per_response = max(baseline.per_day, 0.5), ratio
    grid = round(math.log(volume) / math.log(1.05))  # volumes on a 5% grid: few distinct calibrations
    r_grid = round(math.log(answers_per_response) / math.log(1.05))  # yes/no answers a response is worth
    key = (round(p, 2), round(1.05**grid, 3), round(1.05**r_grid, 3), lam, day_sd)
    if key not in _CALIBRATION:
        _CALIBRATION[key] = _calibrate(*key, arl0=arl0)
    return _CALIBRATION[key]


def _calibrate(p: float, volume: float, ratio: float, lam: float, day_sd: float, arl0: float) -> float:
    """c for days of Poisson(`volume`) responses worth `ratio` yes/no answers each (1: yes/no scores)."""
    if volume > EXACT_VOLUME:
        tau2_over_var = (day_sd * p * (1 - p)) ** 2 * ratio / (p * (1 - p))  # τ²/σ0², σ0² = p(1−p)/ratio
        growth = math.sqrt((1 + volume * tau2_over_var) / (1 + EXACT_VOLUME * tau2_over_var))
        return growth * _calibrate(p, EXACT_VOLUME, ratio, lam, day_sd, arl0)
    if ratio <= 1.0 and volume <= 200:
        return binomial_crit(lam, p, volume, arl0, day_sd=day_sd)
    law = score_innovations(p, math.sqrt(p * (1 - p) / ratio), volume, day_sd=day_sd)  # ratio 1: the yes/no law
    return discrete_crit(lam, *law, arl0=arl0)


def drop_chart(counts: np.ndarray, totals: np.ndarray, baseline: Baseline,
               lam: float = DEFAULT_LAMBDA) -> ChartResult:
    """The downward chart over days given per-day response counts and Σ scores (what a GROUP BY returns)."""
    counts = np.asarray(counts, dtype=float)
    means = np.divide(np.asarray(totals, dtype=float), counts, out=np.full(len(counts), np.nan), where=counts > 0)
    return lower_ewma(means, counts, baseline.mean, baseline.sd, lam, calibrated_factor(baseline, lam))


# ------------------------------------------------------------------ points of pooled days (disclosure)
@dataclass(frozen=True)
class Point:
    """Consecutive calendar days of one month pooled into one chart point (indices into the day arrays)."""

    first: int
    last: int
    known: int  # the day from which its responses can no longer change which point they belong to


def pool_days(days: Sequence[date], counts: np.ndarray, n_min: int) -> list[Point]:
    """Consecutive days pooled, within each calendar month, until the point holds at least `n_min` responses.

    Why: a chart of one point per working day lets a reader invert two printed EWMA values into one day's
    mean, i.e. the answers of a quiet day's one or two citizens (docs/integrity.md).  A point of ≥ n_min
    responses gives away only a group the dashboard may show anyway.  Points tile each month: a month's
    remaining days (fewer than n_min responses) join its last point, so a month's figure minus its points is
    nothing; a point is given (`known`) only once that can no longer change it — the next point of its month
    is full, or its month is over (`days` must start on a month's first day and run without gaps to the last
    day with data).  A month of fewer than n_min responses has no point (the dashboard hides it too).  The
    partition of a month depends on that month's counts only, so it does not move when the chart's window
    moves.
    """
    counts = np.asarray(counts, dtype=float)
    out: list[Point] = []
    i = 0
    while i < len(days):
        month = (days[i].year, days[i].month)
        if days[i].day != 1:
            raise ValueError("the days must start on a month's first day")
        end = i
        while end + 1 < len(days) and (days[end + 1].year, days[end + 1].month) == month:
            end += 1
        complete = (days[end] + timedelta(days=1)).month != days[end].month
        closed: list[tuple[int, int]] = []
        start, acc = i, 0.0
        for j in range(i, end + 1):
            acc += counts[j]
            if acc >= n_min:
                closed.append((start, j))
                start, acc = j + 1, 0.0
        for k, (a, b) in enumerate(closed):
            if k + 1 < len(closed):
                out.append(Point(a, b, closed[k + 1][1]))
            elif complete:
                out.append(Point(a, end, end))  # the month's remaining days join its last point
        i = end + 1
    return out


def pool_tree(days: Sequence[date], counts: np.ndarray, parent: Sequence[int], n_min: int) -> list[list[Point]]:
    """Points of every node of an organisation tree, so that no combination of the nodes' charts gives a group
    of fewer than `n_min` responses away.

    `counts[i]`: node i's own responses per day (only nodes without children hold responses: the agencies);
    `parent[i]`: index of i's parent (−1 for a root).  Days as `pool_days` takes them.  Returns each node's
    points: an agency's are `pool_days`' (unchanged); a unit's pool whole points of the nodes below it.

    Why: `pool_days` on each chart alone let a unit's point minus an agency's point over the same days give
    the rest of the unit — one or two responses of a ward a day (tests/integrity/test_warning_tree_reader.py).
    The rule, per month and node, children before parents: a node *shows* the month when it gets points in
    it; its *frontier* is the nearest nodes below it that show the month (a child that shows it, else that
    child's frontier); its *residual* is its responses under no frontier node (own responses, and the
    residuals of its children that do not show the month).  A unit's point (a) ends only on a day on which a
    point of every frontier node ends, (b) holds ≥ n_min responses, (c) holds a residual of 0 or ≥ n_min.
    Points are closed greedily as in `pool_days` (the first day all three hold); the month's remaining days
    join its last point, which then merges with the one before while its residual is 1…n_min − 1; a month
    that cannot be cut so has no point for the node (its responses are its parent's residual).

    Why that is exact: call *atom* a node's residual in one of its points.  Every response of a month is in
    exactly one atom (that of the lowest node above it, itself included, showing the month), and by (a) a
    node's point is its atom plus whole points of each frontier node, so, recursively, a disjoint union of
    atoms; by (b, c) and `pool_days` every atom holds 0 or ≥ n_min responses.  So every point of every chart
    is a sum of atoms, and so is anything a reader computes from any number of charts — sums and differences of
    n and n·mean (the warning measure inverted), of points of one node or of nodes at any levels, or of a
    chart and the month figure of a node that charts the month (its points tile it): a set of responses whose
    count and mean it gives is a union of whole atoms, none or at least n_min of them.  It is the same argument
    as the dashboard's remainder rule, on days instead of periods.

    A unit of several agencies gives a month's points only once the month is over (`known` = its last day):
    before, an agency with a few responses may still reach n_min (and the unit's points must then end where its
    points end) or stay below it (and be residual), and a point that changed after being given gives the
    difference of its two versions away.  A unit with a single agency below it has that agency's points
    (frontier the agency, residual 0), given as the agency's are.  The cost is the units' detection: points
    as long as the slowest frontier node's (a ward of one point a month makes its district's points months),
    given at the month's end (docs/integrity.md, benchmarks/README.md).
    """
    counts = np.asarray(counts, dtype=float)
    nodes = len(parent)
    children: list[list[int]] = [[] for _ in range(nodes)]
    for i, p in enumerate(parent):
        if p >= 0:
            children[p].append(i)
    order: list[int] = []  # children before parents
    stack = [(i, False) for i in range(nodes) if parent[i] < 0]
    while stack:
        i, done = stack.pop()
        if done:
            order.append(i)
            continue
        stack.append((i, True))
        stack.extend((c, False) for c in children[i])
    if len(order) != nodes:
        raise ValueError("parent must describe a forest")
    total = counts.copy()
    leaves: list[list[int]] = [[] for _ in range(nodes)]
    for i in order:
        if not children[i]:
            leaves[i] = [i]
        for c in children[i]:
            total[i] += total[c]
            leaves[i] += leaves[c]
    out: list[list[Point]] = [[] for _ in range(nodes)]
    for i in order:
        if not children[i]:
            out[i] = pool_days(days, counts[i], n_min)
        elif len(leaves[i]) == 1:
            out[i] = list(out[leaves[i][0]])
    several = [i for i in order if children[i] and len(leaves[i]) > 1]
    if not several:
        return out
    start = 0
    while start < len(days):
        if days[start].day != 1:
            raise ValueError("the days must start on a month's first day")
        end = start
        while end + 1 < len(days) and (days[end + 1].year, days[end + 1].month) == (days[start].year,
                                                                                   days[start].month):
            end += 1
        if (days[end] + timedelta(days=1)).month != days[end].month:  # only months that are over
            _tree_month(start, end, order, children, leaves, counts, total, out, n_min)
        start = end + 1
    return out


def _tree_month(a: int, b: int, order: list[int], children: list[list[int]], leaves: list[list[int]],
                counts: np.ndarray, total: np.ndarray, out: list[list[Point]], n_min: int) -> None:
    """`pool_tree` for the month of days a…b (over): the points of the units of several agencies."""
    span = b - a + 1
    ends: dict[int, np.ndarray] = {}  # node → bool per day: a point of the node ends there (node shows the month)
    frontier: dict[int, list[int]] = {}  # node not showing the month → its frontier
    residual: dict[int, np.ndarray] = {}  # node not showing the month → its residual per day
    for i in order:
        if not children[i] or len(leaves[i]) == 1:
            mine = [p for p in out[i] if a <= p.first <= b]
            if mine:
                flags = np.zeros(span, dtype=bool)
                flags[[p.last - a for p in mine]] = True
                ends[i] = flags
            elif children[i]:
                frontier[i], residual[i] = frontier[leaves[i][0]], residual[leaves[i][0]]
            else:
                frontier[i], residual[i] = [], counts[i, a:b + 1]
            continue
        front: list[int] = []
        rest = counts[i, a:b + 1].copy()
        for c in children[i]:
            if c in ends:
                front.append(c)
            else:
                front += frontier[c]
                rest += residual[c]
        allowed = np.ones(span, dtype=bool)
        for f in front:
            allowed &= ends[f]
        points = _cut(total[i, a:b + 1], rest, allowed, n_min)
        if points:
            flags = np.zeros(span, dtype=bool)
            flags[[last for _first, last in points]] = True
            ends[i] = flags
            out[i] += [Point(a + first, a + last, b) for first, last in points]
        else:
            frontier[i], residual[i] = front, rest


def _cut(total: np.ndarray, rest: np.ndarray, allowed: np.ndarray, n_min: int) -> list[tuple[int, int]]:
    """A month's points (first, last day, 0-based) under `pool_tree`'s conditions (a)–(c); [] when none."""
    def fine(r: float) -> bool:
        return r == 0 or r >= n_min

    closed: list[list[float]] = []  # [first, last, residual]
    first, acc, acc_rest = 0, 0.0, 0.0
    for j in range(len(total)):
        acc += total[j]
        acc_rest += rest[j]
        if allowed[j] and acc >= n_min and fine(acc_rest):
            closed.append([first, j, acc_rest])
            first, acc, acc_rest = j + 1, 0.0, 0.0
    if first < len(total):  # the remaining days join the last point
        if not closed:
            return []
        closed[-1][1], closed[-1][2] = len(total) - 1, closed[-1][2] + acc_rest
    while len(closed) > 1 and not fine(closed[-1][2]):
        last = closed.pop()
        closed[-1][1], closed[-1][2] = last[1], closed[-1][2] + last[2]
    if not fine(closed[-1][2]):
        return []
    return [(int(f), int(t)) for f, t, _r in closed]


@dataclass(frozen=True)
class PooledChart:
    """The chart over points of pooled days (`pool_days`) in the window, with what it was calibrated on."""

    points: list[Point]
    counts: np.ndarray
    statistic: np.ndarray  # z per point
    limit: float
    lam: float  # per point: 1 − (1 − λ)^k for k working days a point
    baseline: Baseline
    days_per_point: float
    first_signal: int | None  # index into points of the first above the limit
    signalling: bool  # the last point is above the limit


def pooled_drop_chart(days: Sequence[date], counts: np.ndarray, totals: np.ndarray, sumsq: np.ndarray,
                      n_min: int, baseline_start: int, chart_start: int, lam: float = DEFAULT_LAMBDA,
                      arl0: float = DEFAULT_ARL0, points: list[Point] | None = None) -> PooledChart | None:
    """The downward chart over points of ≥ n_min responses (`pool_days`) whose last day is on or after
    `chart_start`, calibrated on the points within `baseline_start`…`chart_start` − 1 (None: fewer than 30
    responses in them, e.g. no month of n_min).  Per-day arrays over consecutive calendar days (Σ1, Σ score,
    Σ score² as a GROUP BY returns them); weekends are pooled too (a month's points then sum to the month),
    working days measure time.

    The baseline is taken over whole points, so from one day to the next it gains or loses whole points,
    never one day.  The point-to-point variance beyond the responses' (day effects pooled over a point) is
    estimated from those points (`Baseline.from_days` on points).  Calibration: `pooled_factor`.  `points`: the
    node's points when it is charted beside others of its organisation tree (`pool_tree`), else `pool_days`'.
    """
    counts, totals, sumsq = (np.asarray(a, dtype=float) for a in (counts, totals, sumsq))
    working = np.array([d.weekday() < 5 for d in days])
    points = pool_days(days, counts, n_min) if points is None else points
    sums = np.vstack([np.zeros((1, 3)), np.cumsum(np.c_[counts, totals, sumsq], axis=0)])

    def of(pts: list[Point]) -> np.ndarray:
        return np.array([sums[p.last + 1] - sums[p.first] for p in pts]).reshape(-1, 3)

    base = [p for p in points if p.first >= baseline_start and p.last < chart_start]
    shown = [p for p in points if p.last >= chart_start]
    base_sums = of(base)
    if base_sums[:, 0].sum() < 30:
        return None
    # time between points: the working days their days span (not the window's: history may be shorter)
    span = max(int(working[base[0].first:base[-1].last + 1].sum()), 1)
    baseline = Baseline.from_days(base_sums[:, 0], base_sums[:, 1], base_sums[:, 2], span)
    k = max(span / len(base), 1.0)
    c, lam_point = pooled_factor(baseline, k, float(base_sums[:, 0].mean()), lam, arl0)
    shown_sums = of(shown)
    means = shown_sums[:, 1] / np.maximum(shown_sums[:, 0], 1)
    res = lower_ewma(means, shown_sums[:, 0], baseline.mean, baseline.sd, lam_point, c)
    return PooledChart(shown, shown_sums[:, 0], res.statistic, res.limit, lam_point, baseline, k,
                       res.first_signal, res.signalling)


_POOLED: dict[tuple[float, ...], tuple[float, float]] = {}


def pooled_factor(baseline: Baseline, days_per_point: float, size: float, lam: float = DEFAULT_LAMBDA,
                  arl0: float = DEFAULT_ARL0) -> tuple[float, float]:
    """(c, λ per point) for points of `days_per_point` working days and `size` responses on average.

    A point of about one working day (k ≤ 1.05: agencies and units of more than ~2·n_min a day) is a day:
    `calibrated_factor`, λ, ARL0 as before.  Otherwise λ per point is 1 − (1 − λ)^k, so the chart forgets at
    the same rate per working day as the daily chart, and the in-control ARL is `arl0`/k points (= `arl0`
    working days).  A point's law: `score_innovations` for exactly `size` responses (rounded; the sizes vary
    from n_min to ~2·n_min, the standardised value hardly with them) with the between-point effect
    (`baseline.day_sd`, estimated on points) mixed in.  A point of more than EXACT_VOLUME responses (a unit's
    month under `pool_tree`: thousands at a city) takes the factor at EXACT_VOLUME scaled by the growth of the
    point's SD, √(1 + n·τ²/σ0²), as `calibrated_factor` does for days: the exact law of a point of 16,000
    responses is slow to build, and its factor (> 20) was beyond `discrete_crit`'s search (the city at 400,000
    demo responses, benchmarks/integrity_bench.py --units).  Rounded (p 0.01, size and k on 5% grids) and
    remembered.
    """
    if days_per_point <= 1.05:
        return calibrated_factor(baseline, lam, arl0), lam
    p = round(min(max(baseline.mean, 0.02), 0.98), 2)
    ratio = min(max(p * (1 - p) / baseline.sd**2, 1.0), float(SCORE_ANSWERS))
    n = max(round(1.05 ** round(math.log(max(size, 1.0)) / math.log(1.05))), 1)
    k = 1.05 ** round(math.log(days_per_point) / math.log(1.05))
    key = (p, round(1.05 ** round(math.log(ratio) / math.log(1.05)), 3), float(n), round(k, 3), lam,
           round(baseline.day_sd, 2), arl0)
    if key not in _POOLED:
        lam_point = 1.0 - (1.0 - lam) ** k
        exact = min(n, int(EXACT_VOLUME))  # a unit's month at a city holds thousands: scaled as `_calibrate` does
        law = score_innovations(p, math.sqrt(p * (1 - p) / key[1]), 1.0, day_sd=key[5], size=exact)
        tau2_over_var = (key[5] * p * (1 - p)) ** 2 * key[1] / (p * (1 - p))
        growth = math.sqrt((1 + n * tau2_over_var) / (1 + exact * tau2_over_var))
        _POOLED[key] = (growth * discrete_crit(lam_point, law[0], law[1], 1.0, arl0 / k), lam_point)
    return _POOLED[key]
