"""The early-warning chart of an administrative unit (or a large agency): tens to hundreds of responses a day.

An administrative unit's chart adds up the day sums of the agencies below it (survey/results/integrity.py), so
its days are large.  The day effect (a counter's good or bad day, the mix of agencies on a given day) then
weighs more against the responses' own variance, and the limit calibrated for small days without it let the
chart alarm every 40–180 working days instead of 250 (benchmarks/integrity_bench.py --units; the demo's
districts alarmed 1.8 times a year instead of about 1).  Checked against an exact law of the daily value built
here independently of analysis.control: a 6-item index whose answers share a logit-normal respondent effect
(the demo model's SD 1.6) and a day effect on every answer's logit, the day's sum by repeated convolution,
n ~ Poisson(volume).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import brentq
from scipy.special import expit
from scipy.stats import binom, poisson

from analysis.control import Baseline, calibrated_factor, ewma_arl_discrete, ewma_rl_quantile_discrete

ITEMS, RESPONDENT_SD = 6, 1.6
NODES, WEIGHTS = np.polynomial.hermite_e.hermegauss(40)
WEIGHTS = WEIGHTS / WEIGHTS.sum()
DAY_NODES, DAY_WEIGHTS = np.polynomial.hermite_e.hermegauss(16)
DAY_WEIGHTS = DAY_WEIGHTS / DAY_WEIGHTS.sum()


def _response_pmf(eta: float) -> np.ndarray:
    """P(k of the 6 answers satisfied) for a response at logit location `eta` (respondent integrated out)."""
    p = expit(eta + RESPONDENT_SD * NODES)
    return np.array([WEIGHTS @ binom.pmf(k, ITEMS, p) for k in range(ITEMS + 1)])


def _moments(eta: float, day: float) -> tuple[float, float, float]:
    """(mean score, pooled per-response SD, SD of a day's mean score) with day effect SD `day` on the logit."""
    means, second = [], []
    for d in DAY_NODES:
        pmf = _response_pmf(eta + day * d)
        k = np.arange(ITEMS + 1) / ITEMS
        means.append(pmf @ k)
        second.append(pmf @ k**2)
    mean = float(DAY_WEIGHTS @ np.array(means))
    pooled = float(DAY_WEIGHTS @ np.array(second)) - mean**2
    tau = float(np.sqrt(DAY_WEIGHTS @ (np.array(means) - mean) ** 2))
    return mean, float(np.sqrt(pooled)), tau


def _day_law(eta: float, day: float, volume: float, mu0: float, sd0: float,
             bins: int = 3000) -> tuple[np.ndarray, np.ndarray, float]:
    """Law of x = (μ0 − m)/(σ0/√n) over days, binned on a fine grid (probability-weighted bin means)."""
    pmfs = [_response_pmf(eta + day * d) for d in DAY_NODES]
    n_lo, n_hi = max(int(poisson.ppf(1e-10, volume)), 1), int(poisson.ppf(1 - 1e-10, volume)) + 1
    sums = [np.array([1.0]) for _ in pmfs]
    values, probs = [], []
    for n in range(1, n_hi + 1):
        sums = [np.convolve(acc, pmf) for acc, pmf in zip(sums, pmfs, strict=True)]
        if n < n_lo:
            continue
        law = sum(w * acc for w, acc in zip(DAY_WEIGHTS, sums, strict=True))
        values.append((mu0 - np.arange(ITEMS * n + 1) / (ITEMS * n)) / (sd0 / np.sqrt(n)))
        probs.append(poisson.pmf(n, volume) * law)
    x, w = np.concatenate(values), np.concatenate(probs)
    mass, edges = np.histogram(x, bins=bins, weights=w)
    where, _ = np.histogram(x, bins=edges, weights=w * x)
    keep = mass > 0
    return where[keep] / mass[keep], mass[keep] / mass.sum(), 1.0


def _location(share: float, day: float) -> float:
    return brentq(lambda e: _moments(e, day)[0] - share, -10, 10)


@pytest.mark.parametrize(("volume", "day_sd"), [(80, 0.08), (300, 0.08), (300, 0.0)])
def test_a_units_chart_holds_a_year_whatever_its_size(volume: int, day_sd: float) -> None:
    # the day effect on each answer's logit giving the baseline's day SD (τ / p(1−p), as Baseline.from_days
    # estimates it) of exactly `day_sd`
    day = 0.0 if day_sd == 0 else brentq(
        lambda s: (lambda m: m[2] / (m[0] * (1 - m[0])))(_moments(_location(0.85, s), s)) - day_sd, 0.01, 2.0)
    eta = _location(0.85, day)
    mu0, sd0, _tau = _moments(eta, day)
    c = calibrated_factor(Baseline(mu0, sd0, volume, day_sd))
    arl = ewma_arl_discrete(0.1, c, *_day_law(eta, day, volume, mu0, sd0))
    # at least a year; up to ~10% above it where the day effect weighs (the calibration moves the day's mean
    # share on its logit, this law every answer's logit before the respondent effect: a slightly lighter tail)
    assert 240 < arl < 290
    # a drop of every answer's marginal share from 85% to 75% is flagged within a few working days
    drop = _location(0.75, day)
    assert ewma_rl_quantile_discrete(0.1, c, *_day_law(drop, day, volume, mu0, sd0)) <= 4


def test_the_largest_units_limit_grows_with_the_day_effect_as_normal_theory_says() -> None:
    """Above the volumes the exact law is built for, the limit is the exact one at that volume scaled by the
    daily value's SD √(1 + n·τ²/σ²): at 1,400 a day with a day SD of 0.05 it stays close to the exact law."""
    from analysis.control import discrete_crit, score_innovations

    p, ratio, day_sd, volume = 0.8, 2.5, 0.05, 1400.0
    sd = float(np.sqrt(p * (1 - p) / ratio))
    exact = discrete_crit(0.1, *score_innovations(p, sd, volume, day_sd=day_sd))
    assert calibrated_factor(Baseline(p, sd, volume, day_sd)) == pytest.approx(exact, rel=0.01)
