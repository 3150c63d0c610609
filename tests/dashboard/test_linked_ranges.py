"""Month ranges under the linked protection (survey/results/protection.py, `Linked`): every From–To a page may
ask, checked against an independent reader who sees every shown range's n and solves for any range.

WHY: a reader who has the figures of two shown ranges of one node has their difference; with many ranges, any
linear combination.  Along time the rule is exact: a range is shown only when shown periods join its ends, so no
combination of shown ranges is a group of 1 to n_min - 1 responses.  The reader here does not use the rule's
components: it takes every range the decision shows (all of them, not only calendar periods) and asks by least
squares whether each small range lies in their span."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from survey.results.cell_counts import ALL_CHANNELS, CellCounts, channel_parents, month_label, time_parents
from survey.results.protection import decide

N_MIN = 10
NOW_QUARTER = date(2026, 10, 1)  # the quarter in progress: every month of the tests is complete


def _cells(month_n: list[int], first: date = date(2021, 11, 1)) -> CellCounts:
    """One agency, one item, kiosk only: `month_n[i]` answers in the i-th month from `first`."""
    months = [date(first.year + (first.month - 1 + i) // 12, (first.month - 1 + i) % 12 + 1, 1)
              for i in range(len(month_n))]
    parent = time_parents(months)
    time = list(parent)
    channel = list(channel_parents())
    counts = np.zeros((1, len(time), len(channel), 1), dtype=np.int64)
    for d, k in zip(months, month_n, strict=True):
        label: str | None = month_label(d)
        while label is not None:
            for ch in ("kiosk", ALL_CHANNELS):
                counts[0, time.index(label), channel.index(ch), 0] += k
            label = parent[label]
    return CellCounts([("agency", "A")], time, channel, ["q1"], counts, parent, months)


def _decide(month_n: list[int]):
    cells = _cells(month_n)
    return cells, decide(cells, {("agency", "A"): None}, ["q1"], N_MIN, NOW_QUARTER)


def _shown_ranges(cells: CellCounts, dec, month_n: list[int]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(indicator vectors of the shown ranges with responses, of the small ranges with responses)."""
    shown, small = [], []
    months = cells.months
    for a in range(len(months)):
        for b in range(a, len(months)):
            v = np.zeros(len(months))
            v[a:b + 1] = 1
            k = int(v @ np.asarray(month_n))
            if k == 0:
                continue
            if 0 < k < N_MIN:
                small.append(v)
            if k >= N_MIN and int(dec.hidden(months[a], months[b], ())[0]) == 0:
                shown.append(v)
    return shown, small


def _in_span(rows: list[np.ndarray], target: np.ndarray) -> bool:
    if not rows:
        return False
    a = np.array(rows).T
    x, *_ = np.linalg.lstsq(a, target, rcond=None)
    return bool(np.linalg.norm(a @ x - target) < 1e-7)


@pytest.mark.parametrize("seed", range(8))
def test_no_small_range_is_a_combination_of_shown_ranges(seed):
    """Random months (some empty, some small) over 14 to 26 months: no range of 1-9 responses is a combination of
    the ranges the decision shows, whatever From–To a reader asks for."""
    rng = np.random.default_rng(seed)
    for _ in range(6):
        month_n = rng.choice([0, 0, 1, 3, 6, 9, 12, 20, 40], size=int(rng.integers(14, 27))).tolist()
        cells, dec = _decide(month_n)
        shown, small = _shown_ranges(cells, dec, month_n)
        leaked = [v for v in small if _in_span(shown, v)]
        assert not leaked, (month_n, [np.nonzero(v)[0].tolist() for v in leaked])


def test_a_small_newest_month_hides_only_the_ranges_ending_with_it():
    """20 responses a month from November 2021, then 3 in January 2023, the month in progress (clock: January
    2023).  January alone is hidden (too few), and so is every range ending with it: "so far" minus the complete
    quarters would be January.  Every complete quarter and month stays shown, and "so far" is offered up to the
    end of December 2022 (the agency page says the newest responses are left out)."""
    month_n = [20] * 14 + [3]  # November 2021 .. January 2023
    cells = _cells(month_n)
    dec = decide(cells, {("agency", "A"): None}, ["q1"], N_MIN, date(2023, 1, 1))
    months = cells.months
    shown = {(a, b): int(dec.hidden(months[a], months[b], ())[0]) == 0
             for a in range(len(months)) for b in range(a, len(months))}
    assert shown[(2, 13)] and shown[(0, 13)]  # the year 2022; so far without January
    assert all(shown[(m, m)] for m in range(14))  # every month of 2021-2022
    assert not shown[(14, 14)]  # January 2023 alone
    assert not shown[(0, 14)] and not shown[(2, 14)]  # so far, and 2022 + January: minus 2022 they give January
    assert dec.reach(0, ()) == 14
    assert decide(cells, {("agency", "A"): None}, ["q1"], N_MIN, NOW_QUARTER).reach(0, ()) == 14


def test_a_small_month_inside_a_shown_quarter_leaves_the_quarter_and_the_year_shown():
    """One agency, 2022: 12 a month except 3 in May.  May is hidden and June with it (the quarter minus the
    shown months must pool n_min; of April and June, equal, the later); the second quarter, the year and "so far"
    stay shown, and so does any From–To whose ends shown periods join (January–April), but no range with an end
    between May and June."""
    month_n = [12] * 4 + [3] + [12] * 7
    dec = decide(_cells(month_n, date(2022, 1, 1)), {("agency", "A"): None}, ["q1"], N_MIN, NOW_QUARTER)

    def shown(a: int, b: int) -> bool:
        return int(dec.hidden(date(2022, a, 1), date(2022, b, 1), ())[0]) == 0
    assert shown(4, 6) and shown(1, 12) and int(dec.hidden(None, None, ())[0]) == 0
    assert not shown(5, 5) and not shown(6, 6) and not shown(4, 5) and not shown(6, 12)
    assert shown(4, 4) and shown(1, 6) and shown(1, 4) and shown(7, 12)
    assert shown(5, 6) and shown(5, 12)  # the quarter minus April: 15 responses, nothing new
