"""The early-warning points of an organisation tree (analysis.control.pool_tree) against an independent reader.

The reader has every point of every node's chart (its days and n, and n·mean by inverting the printed warning
measure: tests/integrity/test_warning_reader.py) and combines them by linear algebra: a group of responses is
read when its indicator over the cells (agency × day with responses) is a linear combination of the points'.
It tries every group a difference of charts could isolate — a node's, or a node's minus one node's below it,
over any run of days of one month, and an agency's — and must read none of 1…n_min − 1 responses.  On the
charts pooled each on its own (`pool_days`, the rule until 7 Dec 2026) it reads many: a district's point minus
its committee's point over the same days is its wards' one or two responses of those days."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest

from analysis.control import Point, pool_days, pool_tree

N_MIN = 6
# city 0 → districts 1, 2 → wards 3, 4 (units); agencies: 5 city department, 6 and 7 district committees,
# 8 ward committee of 3, 9 quiet ward committee of 4, 10 a second ward agency of 3
PARENT = [-1, 0, 0, 1, 2, 0, 1, 2, 3, 4, 3]
AGENCIES = [5, 6, 7, 8, 9, 10]


def _days(first: date, count: int) -> list[date]:
    return [first + timedelta(days=i) for i in range(count)]


def _counts(days: list[date], rates: dict[int, float], rng: np.random.Generator) -> np.ndarray:
    counts = np.zeros((len(PARENT), len(days)))
    for i, r in rates.items():
        counts[i] = [rng.poisson(r) if d.weekday() < 5 else 0 for d in days]
    return counts


def _below(node: int) -> set[int]:
    out = {node}
    for i, p in enumerate(PARENT):
        if p == node:
            out |= _below(i)
    return out


def _months(days: list[date]) -> list[tuple[int, int]]:
    out, start = [], 0
    for i in range(1, len(days) + 1):
        if i == len(days) or days[i].month != days[start].month:
            out.append((start, i - 1))
            start = i
    return out


def _small_groups_read(days: list[date], counts: np.ndarray, points: list[list[Point]]) -> list[tuple]:
    """The candidate groups of 1…N_MIN − 1 responses whose indicator lies in the span of the points'."""
    cells = [(a, d) for a in AGENCIES for d in range(len(days)) if counts[a, d] > 0]
    index = {c: k for k, c in enumerate(cells)}

    def vector(agencies: set[int], first: int, last: int) -> np.ndarray:
        v = np.zeros(len(cells))
        for a in agencies & set(AGENCIES):
            for d in range(first, last + 1):
                if (a, d) in index:
                    v[index[(a, d)]] = 1.0
        return v

    rows = [vector(_below(i), p.first, p.last) for i in range(len(PARENT)) for p in points[i]]
    basis = np.linalg.svd(np.array(rows), full_matrices=False)[2] if rows else np.zeros((0, len(cells)))
    rank = int((np.linalg.svd(np.array(rows), compute_uv=False) > 1e-9).sum()) if rows else 0
    basis = basis[:rank]
    candidates, labels = [], []
    pairs = [(x, y) for x in range(len(PARENT)) for y in _below(x) - {x}] + [(x, None) for x in range(len(PARENT))]
    for first_month, last_month in _months(days):
        for first in range(first_month, last_month + 1):
            for last in range(first, last_month + 1):
                for x, y in pairs:
                    group = _below(x) - (_below(y) if y is not None else set())
                    n = sum(counts[a, first:last + 1].sum() for a in group & set(AGENCIES))
                    if 0 < n < N_MIN:
                        candidates.append(vector(group, first, last))
                        labels.append((x, y, days[first], days[last], int(n)))
    if not candidates:
        return []
    v = np.array(candidates)
    off = np.linalg.norm(v - (v @ basis.T) @ basis, axis=1)
    return [lab for lab, r in zip(labels, off, strict=True) if r < 1e-6]


def _separate(days: list[date], counts: np.ndarray) -> list[list[Point]]:
    """Each node's chart pooled on its own subtree's counts (the rule until 7 Dec 2026)."""
    return [pool_days(days, counts[sorted(_below(i))].sum(axis=0), N_MIN) for i in range(len(PARENT))]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_no_combination_of_the_trees_charts_reads_a_group_under_n_min(seed: int) -> None:
    rng = np.random.default_rng(seed)
    days = _days(date(2024, 1, 1), 31 + 29 + 20)  # January and February over, March under way
    counts = _counts(days, {5: 3.0, 6: 8.0, 7: 2.5, 8: 1.0, 9: 0.2, 10: 0.6}, rng)
    points = pool_tree(days, counts, PARENT, N_MIN)
    assert points[6] and points[8]  # the busy agencies chart, so units have a frontier to align on
    assert _small_groups_read(days, counts, points) == []
    assert len(_small_groups_read(days, counts, _separate(days, counts))) >= 10  # the reader is competent


def test_points_tile_months_hold_n_min_and_align_with_the_nodes_below() -> None:
    rng = np.random.default_rng(7)
    days = _days(date(2024, 1, 1), 31 + 29 + 20)
    counts = _counts(days, {5: 3.0, 6: 8.0, 7: 6.0, 8: 2.0, 9: 0.2, 10: 0.6}, rng)
    points = pool_tree(days, counts, PARENT, N_MIN)
    for agency in AGENCIES:  # agencies: pooled on their own, as before
        assert points[agency] == pool_days(days, counts[agency], N_MIN)
    assert points[4] == points[9]  # a unit with one agency below it charts that agency's points
    month_end = {last for _f, last in _months(days)[:-1]}
    for unit in (0, 1, 2, 3):
        own = sorted(_below(unit) & set(AGENCIES))
        total = counts[own].sum(axis=0)
        for p in points[unit]:
            assert total[p.first:p.last + 1].sum() >= N_MIN
            assert p.known in month_end and days[p.last].month == days[p.first].month  # given once the month is over
            for below in _below(unit) - {unit}:  # a point ends where every node below that charts the month ends
                theirs = [q for q in points[below] if days[q.first].month == days[p.first].month]
                if theirs:
                    assert p.last in {q.last for q in theirs}
        assert all(days[p.first].month != 3 for p in points[unit])  # the month under way: not yet
    over = _months(days)[:-1]
    assert all(len({days[p.first].month for p in points[u]}) == len(over) for u in (1, 3))
    for unit in (0, 2):  # above the quiet ward (agency 9): a month of 1…n_min − 1 of its responses has no point
        for first, last in over:
            quiet = counts[9, first:last + 1].sum()
            assert any(days[p.first].month == days[first].month for p in points[unit]) == (not 0 < quiet < N_MIN)


@pytest.mark.parametrize("day_sd", [0.08, 0.2])
def test_a_citys_month_point_is_calibrated_as_normal_theory_scaled_by_its_sd(day_sd: float) -> None:
    """A unit's point under `pool_tree` can be a city's month (16,000 responses): its factor is the exact law's at
    EXACT_VOLUME scaled by the point's SD √(1 + n·τ²/σ0²); against `spc`-style normal theory (`ewma_crit`, checked
    against R in test_control.py) times that SD it is 0–10% higher (the skew of the index and of a day effect on
    the logit scale: 3% and 8% here).  Before, the exact law of
    16,000 responses was built (slow) and, with a day SD of 0.2, its factor (≈ 31) lay beyond the search: a
    ValueError (the city at 400,000 demo responses, benchmarks/integrity_bench.py --units)."""
    from analysis.control import Baseline, ewma_crit, pooled_factor

    p, sd = 0.8, 0.3
    c, lam_point = pooled_factor(Baseline(p, sd, 760.0, day_sd), 21.0, 16_000)
    k = 1.05 ** round(np.log(21.0) / np.log(1.05))
    ratio = round(1.05 ** round(np.log(p * (1 - p) / sd**2) / np.log(1.05)), 3)
    n = round(1.05 ** round(np.log(16_000) / np.log(1.05)))
    spread = np.sqrt(1 + n * (day_sd * p * (1 - p)) ** 2 * ratio / (p * (1 - p)))
    assert lam_point == pytest.approx(1 - 0.9**k)
    assert 1.0 <= c / (ewma_crit(lam_point, 250 / k) * spread) <= 1.10


def test_points_far_from_a_day_are_calibrated_without_error() -> None:
    """Two shapes of tree points `discrete_crit`'s search once missed (a ValueError, i.e. a page error): a unit whose
    months mostly have no point (200 working days a point: an in-control ARL of 1.2 points, shorter than any factor
    gives — the smallest factor searched, so the chart alarms as often as it can and no more), and a city's month
    with a large day effect (a factor far above the old search's 26)."""
    from analysis.control import Baseline, pooled_factor

    c, _lam = pooled_factor(Baseline(0.8, 0.3, 1.0, 0.0), 200.0, 40)
    assert 0 < c < 0.25
    big, _lam = pooled_factor(Baseline(0.8, 0.3, 700.0, 1.0), 21.0, 16_000)
    assert 26 < big < 500
