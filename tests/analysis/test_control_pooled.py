"""The early-warning chart over points of pooled days (analysis.control.pool_days, pooled_drop_chart).

Why points: a point per working day let a reader invert two printed EWMA values into a quiet day's mean, the
answers of its one or two citizens (tests/integrity/test_warning_reader.py).  Checked here: every point holds
at least n_min responses, a month's points hold exactly its responses, a month's points do not depend on where
the chart's window starts, and the calibration keeps the in-control run length at a year of working days —
against a Monte Carlo of the pooled chart itself on independently simulated 6-item responses."""

from __future__ import annotations

from datetime import date, timedelta
from itertools import pairwise

import numpy as np
import pytest
from scipy.optimize import brentq
from scipy.special import expit

from analysis.control import Baseline, ewma_limit, pool_days, pooled_drop_chart, pooled_factor


def _calendar(first: date, count: int) -> list[date]:
    return [first + timedelta(days=i) for i in range(count)]


def _counts(days: list[date], per_day: float, rng: np.random.Generator) -> np.ndarray:
    return np.array([rng.poisson(per_day) if d.weekday() < 5 else 0 for d in days], dtype=float)


@pytest.mark.parametrize("per_day", [0.8, 2.0, 7.0, 45.0])
def test_points_hold_n_min_responses_and_tile_their_months(per_day: float) -> None:
    rng = np.random.default_rng(int(per_day * 10))
    days = _calendar(date(2023, 1, 1), 500)  # ends mid-May 2024: the last month is not over
    counts = _counts(days, per_day, rng)
    points = pool_days(days, counts, 30)
    for p in points:
        assert counts[p.first:p.last + 1].sum() >= 30
        assert (days[p.first].year, days[p.first].month) == (days[p.last].year, days[p.last].month)
        assert p.last <= p.known
    by_month: dict[tuple[int, int], list[int]] = {}
    for i, d in enumerate(days):
        by_month.setdefault((d.year, d.month), []).append(i)
    for month, idx in list(by_month.items())[:-1]:  # complete months
        mine = [p for p in points if (days[p.first].year, days[p.first].month) == month]
        total = counts[idx].sum()
        if total < 30:
            assert not mine  # the dashboard hides such a month: no point gives it
            continue
        assert mine[0].first == idx[0] and mine[-1].last == idx[-1]  # from the month's first day to its last
        assert all(a.last + 1 == b.first for a, b in pairwise(mine))
        assert sum(counts[p.first:p.last + 1].sum() for p in mine) == total
        assert mine[-1].known == idx[-1]  # given once the month is over
    last = list(by_month)[-1]
    open_month = [p for p in points if (days[p.first].year, days[p.first].month) == last]
    # the month under way: a point is given only once the next one is full (the rest may still join the last)
    assert all(p.known > p.last for p in open_month) and (per_day < 30 or open_month)


def test_a_months_points_do_not_move_with_the_window() -> None:
    rng = np.random.default_rng(4)
    days = _calendar(date(2023, 1, 1), 520)
    counts = _counts(days, 6.0, rng)
    start = next(i for i, d in enumerate(days) if d == date(2023, 6, 1))
    whole = {(days[p.first], days[p.last]) for p in pool_days(days, counts, 30)}
    later = {(days[start + p.first], days[start + p.last]) for p in pool_days(days[start:], counts[start:], 30)}
    assert later and later <= whole
    with pytest.raises(ValueError):
        pool_days(days[3:], counts[3:], 30)  # a window must start on a month's first day


def _location(p: float, sd: float = 1.6) -> float:
    nodes, weights = np.polynomial.hermite_e.hermegauss(60)
    weights = weights / weights.sum()
    return float(brentq(lambda e: float(weights @ expit(e + sd * nodes)) - p, -10, 10))


def _scores(counts: np.ndarray, p: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Σ score and Σ score² per day: 6-item responses sharing a respondent effect (SD 1.6 on the logit scale,
    as the demo model) — built here, not by analysis.control."""
    n = counts.astype(int)
    day = np.repeat(np.arange(len(n)), n)
    s = rng.binomial(6, expit(_location(p) + 1.6 * rng.normal(size=len(day)))) / 6
    return np.bincount(day, s, len(n)), np.bincount(day, s * s, len(n))


def _moments(p: float = 0.85) -> tuple[float, float]:
    rng = np.random.default_rng(0)
    s = rng.binomial(6, expit(_location(p) + 1.6 * rng.normal(size=400_000))) / 6
    return float(s.mean()), float(s.std())


@pytest.mark.parametrize("per_day", [2.0, 5.0, 10.0])
def test_pooled_chart_holds_a_year_of_working_days_in_control(per_day: float) -> None:
    """Monte Carlo of the pooled chart (points as pool_days makes them, month ends and all) with the limit
    `pooled_factor` gives for the true level: mean working days to the first (false) signal ≈ 250."""
    mu0, sd0 = _moments()
    rng = np.random.default_rng(int(per_day))
    days = _calendar(date(2020, 1, 1), 365 * 7)
    working = np.array([d.weekday() < 5 for d in days])
    year = _counts(days[:366], per_day, rng)  # what a baseline year gives: working days a point, responses a point
    pts = pool_days(days[:366], year, 30)
    k = working[pts[0].first:pts[-1].last + 1].sum() / len(pts)
    size = float(np.mean([year[p.first:p.last + 1].sum() for p in pts]))
    c, lam = pooled_factor(Baseline(mu0, sd0, per_day), k, size)
    h = ewma_limit(lam, c)
    runs = []
    for _ in range(300):
        counts = _counts(days, per_day, rng)
        totals, _sq = _scores(counts, 0.85, rng)
        z, run = 0.0, int(working.sum())
        for p in pool_days(days, counts, 30):
            n, t = counts[p.first:p.last + 1].sum(), totals[p.first:p.last + 1].sum()
            z = max(0.0, (1 - lam) * z + lam * (mu0 - t / n) * np.sqrt(n) / sd0)
            if z > h:
                run = int(working[:p.known + 1].sum())
                break
        runs.append(run)
    # ARL0 250 working days: the mean of 300 runs has a standard error of about 15 days
    assert 215 < np.mean(runs) < 300, (np.mean(runs), k, size)


def test_the_pooled_chart_flags_a_drop_and_prints_no_point_under_n_min() -> None:
    """A year at 85%, then 5 responses a working day at 75%: flagged within a few points, no point of fewer than
    n_min responses in the chart, the baseline taken from whole points."""
    rng = np.random.default_rng(9)
    days = _calendar(date(2023, 1, 1), 366 + 120)
    counts = _counts(days, 5.0, rng)
    change = 366
    t0, s0 = _scores(counts[:change], 0.85, rng)
    t1, s1 = _scores(counts[change:], 0.75, rng)
    res = pooled_drop_chart(days, counts, np.r_[t0, t1], np.r_[s0, s1], 30, 0, change)
    assert res is not None and res.first_signal is not None
    assert all(n >= 30 for n in res.counts)
    known = res.points[res.first_signal].known
    working = sum(1 for d in days[change:known + 1] if d.weekday() < 5)
    assert working <= 40  # the benchmark's 90% figure at 5 a day is in docs/integrity.md
    assert res.lam == pytest.approx(1 - 0.9 ** res.days_per_point, rel=0.05)  # k on a 5% grid
