"""The uniform and repeat signals: many responses with every answered item at one same level (any level),
against the source's own rate shrunk to the city's; the day's most frequent answer vector against the largest
share one vector has in the source's history.  The stuffer they are for (`moderate_spread` in
survey/demo/gaming.py) taps "satisfied" — not "very satisfied" — on every item, or one fixed vector of mixed
levels, spread over the opening hours at a service point without entered volumes: no burst, no
straight-lining, no jump, nothing outside hours, no overrun."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
from scipy.special import expit

from analysis.integrity import repeat_test, scan

FIRST = date(2022, 1, 3)  # a Monday
ITEMS = 6


def _workdays(first: date, count: int) -> list[date]:
    return [d.date() for d in pd.bdate_range(first, periods=count)]


def _office_minute(rng: np.random.Generator) -> float:
    m = rng.uniform(0, 450)
    return float(450 + m if m < 240 else 810 + (m - 240))


def answers(rng: np.random.Generator, n: int, shift: float = 0.0) -> np.ndarray:
    """[response, item] levels 1–5 of honest citizens: a respondent effect shared by the items (SD 1.6 on the
    logit, as the demo model), satisfied (4 or 5) with probability expit(2 + effect), 5 rather than 4 more
    often for a more satisfied respondent; `shift` moves every respondent (a point whose citizens answer
    alike more often)."""
    effect = 1.6 * rng.normal(size=n) + shift
    sat = rng.random((n, ITEMS)) < expit(2.0 + effect)[:, None]
    five = rng.random((n, ITEMS)) < expit(effect - 0.7)[:, None]
    low = rng.integers(1, 4, size=(n, ITEMS))
    return np.where(sat, np.where(five, 5, 4), low)


def rows(sp: str, source: str, day: date, minutes: list[float], levels: np.ndarray) -> pd.DataFrame:
    base = datetime(day.year, day.month, day.day)
    return pd.DataFrame({"service_point": sp, "source": source,
                         "local": [base + timedelta(minutes=m) for m in minutes],
                         "answered": ITEMS, "top": (levels == 5).sum(axis=1), "sat": (levels >= 4).sum(axis=1),
                         "uniform": (levels == levels[:, :1]).all(axis=1),
                         "vector": [tuple(r) for r in levels.tolist()]})


def honest(rng: np.random.Generator, sps: int, days: int, per_day: float,
           shifts: dict[int, float] | None = None) -> pd.DataFrame:
    parts = []
    for s in range(sps):
        for d in _workdays(FIRST, days):
            k = int(rng.poisson(per_day))
            if k:
                minutes = sorted(_office_minute(rng) for _ in range(k))
                parts.append(rows(f"SP{s}", f"kiosk:K{s}", d, minutes, answers(rng, k, (shifts or {}).get(s, 0.0))))
    return pd.concat(parts, ignore_index=True)


def test_moderate_answers_spread_over_the_day_are_flagged_as_uniform() -> None:
    """20 responses at level 4 on every item, spread over the opening hours on a kiosk of 4 a day: before the
    uniform signal nothing saw them (this test failed); now the uniform and repeat signals do, nothing else.
    The same day with 20 more honest responses (a busy day) raises nothing."""
    rng = np.random.default_rng(11)
    data = honest(rng, sps=4, days=100, per_day=4)
    day = _workdays(FIRST, 100)[90]
    minutes = sorted(_office_minute(rng) for _ in range(20))
    stuffed = rows("SP1", "kiosk:K1", day, minutes, np.full((20, ITEMS), 4))
    res = scan(pd.concat([data, stuffed], ignore_index=True), [day]).set_index("service_point")
    cell = res.loc["SP1"]
    assert cell["flagged"] and cell["signals"] == ["uniform", "repeat"], cell["signals"]
    assert cell["source"] == "kiosk:K1" and cell["uniform"] >= 20 and cell["straight"] < 5
    assert cell["top_vector"] >= 20
    assert 0.02 < cell["uniform_rate"] < 0.3  # the kiosk's own usual share of one-level responses
    assert not res.drop(index="SP1")["flagged"].any()

    busy = rows("SP1", "kiosk:K1", day, minutes, answers(rng, 20))
    quiet = scan(pd.concat([data, busy], ignore_index=True), [day]).set_index("service_point")
    assert not quiet.loc["SP1", "flagged"]


def test_one_level_or_one_fixed_vector_is_flagged_but_random_fours_and_fives_are_not() -> None:
    """Uniform: one level on every answered item (≥ 3), whichever level.  Repeat: one fixed vector of mixed
    levels.  A stuffer who mixes 4s and 5s at random makes neither; since 8 Dec 2026 the rise signal sees him
    (every answer satisfied, against the kiosk's own reference: tests/analysis/test_integrity_rise.py)."""
    rng = np.random.default_rng(12)
    data = honest(rng, sps=2, days=100, per_day=4)
    day = _workdays(FIRST, 100)[95]
    minutes = sorted(_office_minute(rng) for _ in range(20))
    for level in (3, 4, 5):
        res = scan(pd.concat([data, rows("SP0", "kiosk:K0", day, minutes, np.full((20, ITEMS), level))]), [day])
        cell = res.set_index("service_point").loc["SP0"]
        assert cell["flagged"] and "uniform" in cell["signals"], (level, cell["signals"])
    fixed = np.tile([4, 4, 5, 4, 4, 4], (20, 1))
    cell = scan(pd.concat([data, rows("SP0", "kiosk:K0", day, minutes, fixed)]), [day]).set_index("service_point")
    assert cell.loc["SP0", "flagged"] and "repeat" in cell.loc["SP0", "signals"], cell.loc["SP0", "signals"]
    assert not {"uniform", "straight"} & set(cell.loc["SP0", "signals"])
    random_mix = np.where(rng.random((20, ITEMS)) < 0.7, 4, 5)
    res = scan(pd.concat([data, rows("SP0", "kiosk:K0", day, minutes, random_mix)]), [day])
    cell = res.set_index("service_point").loc["SP0"]
    assert cell["flagged"] and cell["signals"] == ["rise"], cell["signals"]


def test_uniform_pvalues_are_valid_at_points_whose_citizens_answer_alike_more_or_less_often() -> None:
    """Points whose honest share of one-level responses differs from the city's (from ~4% to ~70%): the
    reference is each kiosk's own history shrunk to the city's, so the uniform p-value stays valid — at most
    about α of honest cells below α.  Measured against the city's rate alone, the alike point would be
    flagged on most busy days."""
    rng = np.random.default_rng(13)
    shifts = {0: -1.5, 1: 0.0, 2: 0.0, 3: 2.5, 4: 4.0, 5: 0.0}
    data = honest(rng, sps=6, days=220, per_day=8, shifts=shifts)
    days = _workdays(FIRST, 220)[100:]
    res = scan(data, days)
    share = data.groupby("service_point")["uniform"].mean()
    assert share.max() > 0.3 and share.min() < 0.05, share
    for signal in ("p_uniform", "p_repeat"):
        p = np.array([s[signal] for cell in res["sources"] for s in cell])
        assert len(p) > 600
        for alpha in (0.01, 0.05, 0.2):
            assert (p <= alpha).mean() <= alpha * 1.5 + 0.005, (signal, alpha, (p <= alpha).mean())
    assert not res["flagged"].any()


def test_repeat_bound_holds_for_any_vector_distribution() -> None:
    """`repeat_test` against simulation: multinomial days whose largest vector probability is q_max (a few
    shapes: equal vectors, one dominant vector and a long tail); the bound is never below the simulated
    probability that some vector comes k times or more."""
    rng = np.random.default_rng(14)
    for n, probs in ((12, np.full(10, 0.1)), (20, np.r_[0.2, np.full(160, 0.005)]),
                     (30, np.r_[0.1, 0.1, 0.05, np.full(150, 0.005)])):
        probs = probs / probs.sum()
        counts = rng.multinomial(n, probs, size=20000).max(axis=1)
        for k in range(2, n + 1):
            simulated = (counts >= k).mean()
            assert repeat_test(k, n, float(probs.max())) >= simulated - 0.005, (n, k, simulated)
