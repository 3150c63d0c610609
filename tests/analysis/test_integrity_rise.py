"""The rise signal: more responses with every answer satisfied than the source's own reference allows, over the
day and the last 7 and 28 days, the reference ending 8 weeks before the day.  The stuffers it is for (docs/
integrity.md): one who mixes 4s and 5s afresh for every response (no one-level response, no repeated vector,
no jump of the best-level share) and one who keeps it up for weeks (the 90-day history of the other signals
absorbs the episode)."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import analysis.integrity as integrity
from analysis.integrity import RISE_BASELINE, RISE_GUARD, RISE_WINDOWS, rise_pvalue, rise_test, scan
from tests.analysis.test_integrity_uniform import FIRST, ITEMS, _office_minute, _workdays, honest, rows

REFERENCE = Path(__file__).parent / "reference" / "rise_reference.csv"


def test_rise_test_is_fishers_exact_test_as_r_computes_it() -> None:
    """Against R's fisher.test(alternative = "greater") (reference/rise_reference.R)."""
    with REFERENCE.open() as fh:
        cases = list(csv.DictReader(fh))
    assert len(cases) >= 10
    for c in cases:
        got = rise_test(int(c["k"]), int(c["n"]), int(c["k0"]), int(c["n0"]))
        assert got == pytest.approx(float(c["p"]), rel=1e-9, abs=1e-300), c


def test_rise_pvalue_is_bonferroni_over_windows_and_silent_unless_the_day_itself_rises() -> None:
    ref = (396, 720)
    p, i = rise_pvalue([(17, 19), (60, 80), (200, 300)], *ref)
    assert p == pytest.approx(3 * min(rise_test(k, n, *ref) for k, n in [(17, 19), (60, 80), (200, 300)]))
    assert i == 2
    # the day itself ordinary (3 of 4 all satisfied): whatever the 28 days before held, no signal
    assert rise_pvalue([(3, 4), (60, 80), (300, 320)], *ref) == (1.0, 0)


def _stuffing(rng: np.random.Generator, sp: str, days: list[date], lo: int = 15, hi: int = 30) -> pd.DataFrame:
    """A counter official's responses: `lo`–`hi` a day over opening hours, every item 4 or 5 drawn afresh."""
    parts = []
    for day in days:
        k = int(rng.integers(lo, hi + 1))
        levels = np.where(rng.random((k, ITEMS)) < 0.5, 4, 5)
        parts.append(rows(sp, f"kiosk:K{sp[2:]}", day, sorted(_office_minute(rng) for _ in range(k)), levels))
    return pd.concat(parts, ignore_index=True)


def _weekly(res: pd.DataFrame, sp: str, days: list[date]) -> list[float]:
    cells = res.set_index(["service_point", "day"])
    hit = [bool(cells.loc[(sp, d), "flagged"]) for d in days]
    return [float(np.mean(hit[i:i + 5])) for i in range(0, len(hit), 5)]


def test_random_fours_and_fives_kept_up_for_four_weeks_are_flagged_every_week(monkeypatch: pytest.MonkeyPatch) -> None:
    """15–30 responses a day of random 4s and 5s for 4 weeks at one kiosk of 4 honest responses a day: flagged in
    every week, by the rise signal, and the other kiosks are not.  With the reference the other signals use (the
    90 days up to the day) the episode is absorbed into its own reference by the fourth week.
    The day after the episode (honest again) is not flagged for the weeks before it."""
    rng = np.random.default_rng(21)
    data = honest(rng, sps=3, days=260, per_day=4)
    work = _workdays(FIRST, 260)
    episode = work[230:250]
    stuffed = pd.concat([data, _stuffing(rng, "SP1", episode)], ignore_index=True)
    res = scan(stuffed, work[230:255])
    weeks = _weekly(res, "SP1", episode)
    assert min(weeks) >= 0.8, weeks
    assert all("rise" in s for s in res[(res["service_point"] == "SP1") & res["flagged"]]["signals"])
    assert not res[res["service_point"] != "SP1"]["flagged"].any()
    after = res[(res["service_point"] == "SP1") & (res["day"] > episode[-1])]
    assert len(after) == 5 and not after["flagged"].any()

    monkeypatch.setattr(integrity, "RISE_GUARD", 0)
    monkeypatch.setattr(integrity, "RISE_BASELINE", integrity.HISTORY_DAYS)
    absorbed = _weekly(scan(stuffed, episode), "SP1", episode)
    assert absorbed[-1] < weeks[-1] - 0.4, (absorbed, weeks)


def test_rise_counts_match_an_independent_recount_of_the_rows() -> None:
    """The scan's window and reference counts against a recount by dates (pandas filters, not cumulative sums)."""
    rng = np.random.default_rng(22)
    data = honest(rng, sps=2, days=260, per_day=6)
    work = _workdays(FIRST, 260)
    days = [work[200], work[240]]
    data = pd.concat([data, _stuffing(rng, "SP0", work[236:241], 5, 8)], ignore_index=True)
    res = scan(data, days)
    day_of = pd.to_datetime(data["local"]).dt.date
    allsat = (data["answered"] >= 3) & (data["sat"] == data["answered"])
    checked = 0
    for _, cell in res.iterrows():
        for s in cell["sources"]:
            mine = data["source"] == s["source"]

            def count(first: date, last: date, m: pd.Series = mine) -> tuple[int, int]:
                sel = m & (day_of >= first) & (day_of <= last)
                return int((sel & allsat).sum()), int(sel.sum())

            d = cell["day"]
            ref = count(d - pd.Timedelta(days=RISE_GUARD + RISE_BASELINE - 1).to_pytimedelta(),
                        d - pd.Timedelta(days=RISE_GUARD).to_pytimedelta())
            wins = [count(d - pd.Timedelta(days=w - 1).to_pytimedelta(), d) for w in RISE_WINDOWS]
            ps = [rise_test(k, n, *ref) for k, n in wins]
            expected = 1.0 if ps[0] > integrity.RISE_GATE else min(1.0, 3 * min(ps))
            assert s["p_rise"] == pytest.approx(expected, rel=1e-12), (s["source"], d)
            assert s["rise_share"] == pytest.approx(ref[0] / ref[1])
            checked += 1
    assert checked == 4
    assert res.set_index("service_point").loc["SP0"].set_index("day").loc[work[240], "p_rise"] < 1e-3


def test_rise_pvalues_are_valid_at_points_whose_citizens_are_more_or_less_satisfied() -> None:
    """Honest kiosks from ~25% to ~90% of responses all satisfied: each is tested against its own reference, so
    P(p ≤ α) stays about α or below, and nothing is flagged."""
    rng = np.random.default_rng(23)
    shifts = {0: -1.5, 1: 0.0, 2: 0.0, 3: 1.5, 4: 3.0}
    data = honest(rng, sps=5, days=330, per_day=8, shifts=shifts)
    res = scan(data, _workdays(FIRST, 330)[180:])
    allsat = ((data["answered"] >= 3) & (data["sat"] == data["answered"])).groupby(data["service_point"]).mean()
    assert allsat.min() < 0.35 and allsat.max() > 0.85, allsat
    p = np.array([s["p_rise"] for cell in res["sources"] for s in cell])
    assert len(p) > 700
    for alpha in (0.01, 0.05, 0.2):
        assert (p <= alpha).mean() <= alpha * 1.5 + 0.005, (alpha, (p <= alpha).mean())
    assert not res["flagged"].any()
