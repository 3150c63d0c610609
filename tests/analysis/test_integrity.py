"""Integrity signals: each pattern raises its own signal, honest data stays quiet, p-values are valid."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from analysis.integrity import (
    FLAG_THRESHOLD,
    OpeningHours,
    ScanInput,
    arrival_profile,
    max_in_window,
    scan,
    scan_pvalue,
)

FIRST = date(2022, 1, 3)  # a Monday


def _workdays(first: date, count: int) -> list[date]:
    out, d = [], first
    while len(out) < count:
        if d.weekday() < 5:
            out.append(d)
        d += timedelta(days=1)
    return out


def honest(rng: np.random.Generator, sps: int = 6, days: int = 120, per_day: float = 8.0,
           items: int = 6, p_top: float = 0.35) -> pd.DataFrame:
    """Uniform arrivals over office hours; items independent, best level with probability p_top."""
    rows = []
    for s in range(sps):
        for d in _workdays(FIRST, days):
            for _ in range(rng.poisson(per_day)):
                m = rng.uniform(0, 450)
                minute = 450 + m if m < 240 else 810 + (m - 240)
                top = int(rng.binomial(items, p_top))
                rows.append((f"SP{s}", f"kiosk:K{s}" if rng.random() < 0.7 else "qr",
                             datetime(d.year, d.month, d.day) + timedelta(minutes=float(minute)), items, top,
                             items))
    return pd.DataFrame(rows, columns=["service_point", "source", "local", "answered", "top", "sat"])


def stuffed(sp: str, source: str, day: date, minutes: list[float], items: int = 6) -> pd.DataFrame:
    base = datetime(day.year, day.month, day.day)
    return pd.DataFrame({"service_point": sp, "source": source, "local": [base + timedelta(minutes=m) for m in minutes],
                         "answered": items, "top": items, "sat": items})


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return honest(np.random.default_rng(7))


def test_honest_data_raises_no_flags(data: pd.DataFrame) -> None:
    days = _workdays(FIRST, 120)[60:]
    res = scan(data, days)
    assert len(res) == 6 * 60
    # 360 honest cells; the threshold allows at most 1 in 1,000 (and Bonferroni makes it conservative)
    assert res["flagged"].sum() == 0
    assert (res["score"] < FLAG_THRESHOLD).all()


def test_kiosk_burst_is_flagged_as_a_burst(data: pd.DataFrame) -> None:
    day = _workdays(FIRST, 120)[100]
    burst = stuffed("SP2", "kiosk:K2", day, [600 + 0.5 * i for i in range(20)])
    res = scan(pd.concat([data, burst]), [day])
    cell = res[res["service_point"] == "SP2"].iloc[0]
    assert cell["flagged"] and "burst" in cell["signals"]
    assert cell["source"] == "kiosk:K2"
    assert cell["burst_count"] >= 20 and cell["burst_window"] <= 15
    others = res[res["service_point"] != "SP2"]
    assert not others["flagged"].any()


def test_spread_stuffing_is_flagged_by_straight_lining(data: pd.DataFrame) -> None:
    day = _workdays(FIRST, 120)[90]
    spread = stuffed("SP1", "qr", day, list(np.linspace(460, 1010, 20)))
    res = scan(pd.concat([data, spread]), [day])
    cell = res[res["service_point"] == "SP1"].iloc[0]
    assert cell["flagged"]
    assert "straight" in cell["signals"] or "jump" in cell["signals"]
    assert "burst" not in cell["signals"]


def test_straight_lined_responses_are_flagged_even_when_the_days_share_is_usual(data: pd.DataFrame) -> None:
    """4 responses with every answer at the best level among 12, the others low, spread over the opening hours:
    the day's best-level share stays near the point's usual (no jump), its volume usual (no burst) — only
    straight-lining sees it (and the uniform signal: every answer at the best level is every answer at one level)."""
    day = _workdays(FIRST, 120)[94]
    minutes = np.linspace(470, 1000, 12)
    minutes = [m if m < 690 or m > 810 else m + 130 for m in minutes]
    mixed = stuffed("SP5", "qr", day, minutes).assign(top=[6, 1, 1, 6, 1, 1, 6, 1, 1, 6, 1, 1])
    base = data[~((data["service_point"] == "SP5") & (data["local"].dt.date == day))]
    cell = scan(pd.concat([base, mixed]), [day]).set_index("service_point").loc["SP5"]
    assert cell["flagged"] and cell["signals"] == ["straight", "uniform"], cell["signals"]
    assert cell["straight"] == 4 and abs(cell["top_share"] - cell["top_share_history"]) < 0.15
    quiet = scan(pd.concat([base, mixed.assign(top=[5, 1, 1, 5, 1, 1, 5, 1, 1, 5, 1, 1])]), [day])
    assert not quiet.set_index("service_point").loc["SP5", "flagged"]  # 5 of 6 at the best level: not straight


def test_a_day_far_above_the_usual_best_level_share_is_flagged_as_a_jump(data: pd.DataFrame) -> None:
    """Stuffing with 5 of 6 answers at the best level (never every one: no straight-lining), spread over the
    opening hours at the usual volume (no burst): only the jump signal can see it."""
    day = _workdays(FIRST, 120)[92]
    rng = np.random.default_rng(3)
    minutes = sorted(rng.uniform(460, 1010, 12).tolist())
    nudged = stuffed("SP4", "qr", day, [m if m < 690 or m > 810 else m + 120 for m in minutes]).assign(top=5)
    base = data[~((data["service_point"] == "SP4") & (data["source"] == "qr")
                  & (data["local"].dt.date == day))]
    res = scan(pd.concat([base, nudged]), [day])
    cell = res[res["service_point"] == "SP4"].iloc[0]
    assert cell["flagged"] and cell["signals"] == ["jump"], cell["signals"]
    assert cell["source"] == "qr" and cell["top_share"] == pytest.approx(5 / 6)
    # the same day with the point's usual share raises nothing
    usual = nudged.assign(top=rng.binomial(6, 0.35, len(nudged)))
    quiet = scan(pd.concat([base, usual]), [day])
    assert not quiet[quiet["service_point"] == "SP4"].iloc[0]["flagged"]


def test_night_responses_are_flagged_as_outside_opening_hours(data: pd.DataFrame) -> None:
    day = _workdays(FIRST, 120)[95]
    night = stuffed("SP3", "qr", day, [22 * 60 + 7 * i for i in range(8)], items=6)
    night["top"] = 2  # ordinary answers: only the time is odd
    res = scan(pd.concat([data, night]), [day])
    cell = res[res["service_point"] == "SP3"].iloc[0]
    assert cell["flagged"] and "hours" in cell["signals"] and cell["outside"] == 8


def test_opening_hours_per_service_point_change_what_is_outside(data: pd.DataFrame) -> None:
    day = _workdays(FIRST, 120)[95]
    evening = stuffed("SP3", "qr", day, [18 * 60 + 7 * i for i in range(8)])
    evening["top"] = 2
    frame = pd.concat([data, evening])
    late = ScanInput(hours={"SP3": OpeningHours.parse("Mon-Sat 07:00-11:30,13:00-20:00")})
    assert "hours" in scan(frame, [day]).set_index("service_point").loc["SP3", "signals"]
    assert scan(frame, [day], late).set_index("service_point").loc["SP3", "outside"] == 0


def test_more_responses_than_citizens_served_is_flagged(data: pd.DataFrame) -> None:
    day = _workdays(FIRST, 120)[80]
    month = date(day.year, day.month, 1)
    so_far = int(((data["service_point"] == "SP4") & (pd.to_datetime(data["local"]).dt.date >= month)
                  & (pd.to_datetime(data["local"]).dt.date <= day)).sum())
    res_ok = scan(data, [day], ScanInput(volumes={("SP4", month): so_far}))
    res_over = scan(data, [day], ScanInput(volumes={("SP4", month): so_far - 1}))
    assert not res_ok.set_index("service_point").loc["SP4", "overrun"]
    cell = res_over.set_index("service_point").loc["SP4"]
    assert cell["overrun"] and cell["flagged"] and cell["signals"][0] == "overrun"
    assert cell["month_responses"] == so_far


def test_history_of_the_point_sets_what_is_usual() -> None:
    """A point whose citizens always answer at the best level is not flagged for it."""
    rng = np.random.default_rng(3)
    frame = honest(rng, sps=2, days=80, p_top=0.97)
    res = scan(frame, _workdays(FIRST, 80)[60:])
    assert not res["flagged"].any()


def test_scan_pvalue_is_valid_for_honest_arrivals() -> None:
    rng = np.random.default_rng(0)
    rate, width, span = 20 / 450, 5.0, 450.0
    counts = np.array([max_in_window(rng.random(rng.poisson(20)) * span, width) for _ in range(4000)])
    for k in (4, 5, 6):
        # the approximation may be conservative, never anti-conservative beyond noise
        assert scan_pvalue(k, rate * width, span / width) >= (counts >= k).mean() * 0.8


def test_max_in_window_and_arrival_profile() -> None:
    assert max_in_window(np.array([1.0, 2.0, 2.5, 10.0]), 2.0) == 3
    assert max_in_window(np.array([]), 5.0) == 0
    prof = arrival_profile([7 * 60 + 40, 7 * 60 + 50, 23 * 60], slot=60, first=7 * 60, last=9 * 60)
    assert prof == [(420, 2), (480, 1)]


@pytest.mark.parametrize("text", ["", "7:30-11:30", "Mon-Fri 07:30-11:30,13:30-17:00", "Sat 08:00-11:00",
                                  "Mon-Sun 00:00-24:00"])
def test_opening_hours_parse(text: str) -> None:
    oh = OpeningHours.parse(text)
    assert oh.open_minutes > 0


@pytest.mark.parametrize("text", ["Funday 07:00-08:00", "08:00", "17:00-08:00", "25:00-26:00", "a b c",
                                  "07:30-24:59", "07:30-24:01", "٠٧:٣٠-١١:٣٠", "07:30-11:3", "７:30-11:30"])
def test_opening_hours_parse_rejects_nonsense(text: str) -> None:
    with pytest.raises(ValueError):
        OpeningHours.parse(text)


def _with_outages(frame: pd.DataFrame, rng: np.random.Generator, rate: float = 0.05) -> pd.DataFrame:
    """Reception times of honest kiosks: 2 s after submission, except during offline spells (about one
    working day in 20, lasting 1 hour to 10 days) whose queue is delivered in order when back online."""
    frame = frame.sort_values("local").reset_index(drop=True)
    received = frame["local"] + pd.Timedelta(seconds=2)
    for (_sp, src), part in frame.groupby(["service_point", "source"]):
        if not str(src).startswith("kiosk:"):
            continue
        online_again = pd.Timestamp.min
        for start in sorted(part["local"].dt.normalize().unique()):
            t0 = (pd.Timestamp(start) + pd.Timedelta(hours=float(rng.uniform(7, 16)))).floor("s")
            if rng.random() >= rate or t0 < online_again:
                continue
            back = online_again = t0 + pd.Timedelta(hours=float(rng.choice([1, 5, 30, 100, 240])))
            spell = part.index[(part["local"] >= t0) & (part["local"] < back)]
            # the queue flushes first-in first-out, one response a second
            received.loc[spell] = back + pd.to_timedelta(np.arange(len(spell)), unit="s")
    return frame.assign(received=received)


def test_late_signal_ignores_honest_offline_queues_and_flags_backdated_responses(data: pd.DataFrame) -> None:
    from analysis.integrity import late_out_of_order

    rng = np.random.default_rng(11)
    honest_frame = _with_outages(data, rng)
    delays = (honest_frame["received"] - honest_frame["local"]).dt.total_seconds()
    assert (delays > 3600).sum() > 200  # plenty of honest late responses, some days late
    assert not late_out_of_order(honest_frame).any()
    days = _workdays(FIRST, 120)[60:]
    res = scan(honest_frame, days)
    assert not res["flagged"].any()  # a year of such outages at 6 service points: no flag
    # 15 responses backdated into a day 20 days ago (e.g. a month already published), sent today by the
    # kiosk that delivered that day's own responses on time
    target, today = days[10], days[30]
    fake = stuffed("SP2", "kiosk:K2", target, list(np.linspace(480, 600, 15)))
    fake = fake.assign(top=rng.binomial(6, 0.35, 15), received=datetime(today.year, today.month, today.day, 9),
                       after_publication=True)
    with_fake = pd.concat([honest_frame.assign(after_publication=False), fake], ignore_index=True)
    assert late_out_of_order(with_fake).sum() == 15
    cell = scan(with_fake, [target]).set_index("service_point").loc["SP2"]
    assert cell["flagged"] and "late" in cell["signals"]
    assert cell["late"] == 15 and cell["after_publication"] == 15
    # the same responses in an honest queue (the kiosk offline from that morning until today) are not counted
    queued = pd.concat([honest_frame, fake.drop(columns="after_publication")], ignore_index=True)
    queued = queued.sort_values("local").reset_index(drop=True)
    spell = (queued["source"] == "kiosk:K2") & (queued["local"] >= datetime(target.year, target.month, target.day, 8))
    flush = pd.Timestamp(datetime(today.year, today.month, today.day, 9))
    queued.loc[spell, "received"] = flush + pd.to_timedelta(np.arange(int(spell.sum())), unit="s")
    assert not late_out_of_order(queued).any()
