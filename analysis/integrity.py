"""Signals of gamed responses per service point × day, and one score with a known false-alarm rate.

Why: figures rank agencies and feed officials' evaluations, so some responses are made by the people
being rated (an official tapping "very satisfied" between citizens, a relative filling the poster form
twenty times, a batch of receipt tokens answered by staff).  Each signal below is a p-value under the
honest model (arrivals spread over opening hours, answers like the point's own history); the cell's
score is the Bonferroni-combined minimum, so an honest cell is flagged with probability at most
10^−threshold whatever its volume.  `FLAG_THRESHOLD` was checked by simulating the honest demo model
(benchmarks/integrity_bench.py): far fewer than one false flag per service point-year.

Input: one row per response (no respondent data): `service_point`, `source` (the kiosk code for kiosk
responses, else the channel), `local` (local submission time, naive datetime), `answered` (scale items
answered), `top` (answers at the scale's best level), `sat` (satisfied answers).  History is the same
frame before the scanned day.  Optional `uniform` (bool: every answered scale item, at least
`UNIFORM_MIN_ITEMS`, at one same level); without it only the straight-lined responses count as uniform.
Optional `vector` (any hashable key of the response's answered scale items and their levels; missing → the
repeat signal is silent).
Nothing here knows about Flask or SQL.

Signals per cell (service point × day, each source — kiosk or channel — tested on its own):
- overrun: responses of the month so far > citizens served that month (impossible unless stuffed);
- burst: the most responses in any 5/15/60-minute window, against a Poisson process at the larger of
  the source's usual daily rate (upper 97.5% bound from history) and the day's own count;
- straight-lining: responses with every answered item (≥ 2) at the best level, against the source's
  history shrunk to the city's rate;
- uniform: responses whose answered items (≥ 3) are all at one same level, any level (a stuffer who
  taps "satisfied", not "very satisfied", on every item), against the source's history shrunk to the
  city's rate, as straight-lining;
- repeat: the day's most frequent answer vector (responses with ≥ 3 answered items) — one fixed vector of
  mixed levels entered again and again — against the largest share any one vector has in the source's
  history shrunk to the city's (a union bound over vectors, `repeat_test`);
- hours: responses outside the opening hours (± grace), against a small honest rate;
- jump: the day's mean top-box share against the source's history (normal approximation, n ≥ 5);
- rise: responses with every answered item (≥ 3) satisfied — a stuffer who mixes 4s and 5s at random, or keeps
  it up for weeks — over the last 1, 7 and 28 days against the source's own share over half a year that ends
  eight weeks before the day (`RISE_GUARD`), so an episode of up to eight weeks is not absorbed by the reference
  it is tested against; Fisher's exact test (one-sided, `rise_test`), given only when the day's own test is
  at most `RISE_GATE` (a day after an episode is not flagged for the days before it);
- late: responses received long after they were submitted *out of order* — an offline kiosk's queue
  delivers first-in first-out, so a response claimed to be submitted before others that the same source
  delivered earlier did not wait in a queue (backdated, e.g. into a month already published) — against
  the source's history shrunk to the city's rate.  Honest outages (late but in order, up to 31 days)
  are not counted; responses received after their period's publication are reported as evidence.
  The kiosk app (static/js/kiosk.js) sends its queue in order but lets one response the server keeps
  refusing wait its own backoff (≤ 10 min a try) while the rest go on: such a response can come late and
  out of order honestly, one at a time (a single one is far from the threshold; a server fault refusing
  many would show here — the evidence lists the delays).

Optional input columns for it: `received` (local reception time, naive) and `after_publication` (bool).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import binom, chi2, hypergeom, norm, poisson

FLAG_THRESHOLD = 3.0  # score = −log10(Bonferroni p); 3.0 → at most 1 in 1,000 honest cells flagged
OVERRUN_SCORE = 12.0  # more responses than citizens served: flagged whatever the other signals say
HISTORY_DAYS = 90  # calendar days of history before the scanned day
WINDOWS_MIN = (5, 15, 60)  # burst windows
SHRINK = 50.0  # pseudo-responses of city rate mixed into a source's history rate
GRACE_MIN = 10  # minutes before opening / after closing still counted as open
MIN_JUMP_N = 5
LATE_MIN = 60.0  # a response received this many minutes after its submission is late
SIGNALS = ("burst", "straight", "uniform", "repeat", "hours", "jump", "rise", "late")
REPEAT_FLOOR = 0.01  # the largest honest share of one answer vector is taken as at least this
UNIFORM_MIN_ITEMS = 3  # a response is uniform when its answered scale items (at least this many) share one level
RISE_WINDOWS = (1, 7, 28)  # calendar days ending on the scanned day, pooled by the rise signal
RISE_GUARD = 56  # the rise signal's reference ends this many days before the scanned day (8 weeks)
RISE_BASELINE = 182  # … and covers this many days before that (half a year)
RISE_GATE = 0.05  # the day's own rise p-value must be at most this for the signal to be given at all
READ_DAYS = max(HISTORY_DAYS, RISE_GUARD + RISE_BASELINE)  # history a caller should give the scan


@dataclass(frozen=True)
class OpeningHours:
    """When a service point serves citizens: weekdays (0 = Monday) and spans in minutes after midnight."""

    weekdays: frozenset[int] = frozenset(range(5))
    spans: tuple[tuple[int, int], ...] = ((7 * 60 + 30, 11 * 60 + 30), (13 * 60 + 30, 17 * 60))

    @property
    def open_minutes(self) -> int:
        return sum(b - a for a, b in self.spans)

    def is_open(self, local: datetime, grace: int = GRACE_MIN) -> bool:
        if local.weekday() not in self.weekdays:
            return False
        m = local.hour * 60 + local.minute + local.second / 60
        return any(a - grace <= m <= b + grace for a, b in self.spans)

    @classmethod
    def parse(cls, text: str | None) -> OpeningHours:
        """'07:30-11:30,13:30-17:00' optionally preceded by 'Mon-Sat ' (weekday range); empty → default."""
        if not text or not text.strip():
            return cls()
        names = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        parts = text.strip().split()
        weekdays = frozenset(range(5))
        if len(parts) == 2:
            lo, _, hi = parts[0].lower().partition("-")
            if lo not in names or (hi and hi not in names):
                raise ValueError(f"unknown weekday range {parts[0]!r}")
            a, b = names.index(lo), names.index(hi) if hi else names.index(lo)
            if b < a:
                raise ValueError(f"weekday range {parts[0]!r} runs backwards")
            weekdays = frozenset(range(a, b + 1))
            spans_text = parts[1]
        elif len(parts) == 1:
            spans_text = parts[0]
        else:
            raise ValueError(f"cannot read opening hours {text!r}")
        spans = []
        for chunk in spans_text.split(","):
            start, sep, end = chunk.partition("-")
            if not sep:
                raise ValueError(f"cannot read opening hours {chunk!r}")
            a, b = _minutes(start), _minutes(end)
            if b <= a:
                raise ValueError(f"opening span {chunk!r} ends before it starts")
            spans.append((a, b))
        return cls(weekdays, tuple(sorted(spans)))


_HHMM = re.compile(r"([01]?[0-9]|2[0-3]):([0-5][0-9])|24:00", re.ASCII)


def _minutes(hhmm: str) -> int:
    """Minutes after midnight of "7:30" / "07:30" (ASCII digits only; 24:00 is the end of the day)."""
    text = hhmm.strip()
    if not _HHMM.fullmatch(text):
        raise ValueError(f"not a time of day: {hhmm!r}")
    h, _, m = text.partition(":")
    return int(h) * 60 + int(m)


DEFAULT_HOURS = OpeningHours()


# ---------------------------------------------------------------------------------------- p-values
def scan_pvalue(count: int, mu: float, windows: float) -> float:
    """P(some window of mean `mu` holds ≥ `count` arrivals) over `windows` = T/w windows (Alm 1983).

    p = 1 − F(k−1; μ)·exp(−((k − μ)/k)·(T/w)·f(k−1; μ)), written to keep precision for tiny p.
    """
    k = int(count)
    if k <= 1 or k <= mu:
        return 1.0
    cdf = float(poisson.cdf(k - 1, mu))
    x = ((k - mu) / k) * windows * float(poisson.pmf(k - 1, mu))
    p = float(poisson.sf(k - 1, mu)) + cdf * -math.expm1(-x)
    return min(1.0, max(p, 0.0))


def max_in_window(minutes: np.ndarray, width: float) -> int:
    """The most arrivals within any window [t, t + width) (times in minutes, any order)."""
    if len(minutes) == 0:
        return 0
    t = np.sort(np.asarray(minutes, dtype=float))
    ends = np.searchsorted(t, t + width, side="left")
    return int((ends - np.arange(len(t))).max())


def rate_upper(count: float, days: float, level: float = 0.975) -> float:
    """Upper confidence bound of a Poisson rate per day (exact, chi-square)."""
    if days <= 0:
        return 0.0
    return float(chi2.ppf(level, 2 * (count + 1)) / 2.0 / days)


def burst_test(minutes: np.ndarray, usual_per_day: float, open_minutes: int,
               windows: Iterable[int] = WINDOWS_MIN) -> tuple[float, int, int]:
    """(p-value, window width, count) of the strongest burst; p is Bonferroni over the widths."""
    widths = tuple(windows)
    rate = max(usual_per_day, float(len(minutes))) / max(open_minutes, 1)
    best = (1.0, widths[0], max_in_window(minutes, widths[0]))
    for w in widths:
        m = max_in_window(minutes, w)
        p = min(1.0, scan_pvalue(m, rate * w, open_minutes / w) * len(widths))
        if p < best[0]:
            best = (p, w, m)
    return best


def binomial_excess(k: int, n: int, rate: float) -> float:
    """P(X ≥ k) for X ~ Bin(n, rate): how surprising k or more such responses are."""
    if k <= 0 or n <= 0:
        return 1.0
    return float(binom.sf(k - 1, n, min(max(rate, 1e-9), 1.0)))


def repeat_test(k: int, n: int, q_max: float) -> float:
    """P(some answer vector comes ≥ `k` times among `n` honest responses) when no vector's probability exceeds
    `q_max` (multinomial, any number of vectors).

    Union bound Σ_v P(Bin(n, q_v) ≥ k); with Σ q_v = 1 and q_v ≤ q_max it is largest when ⌈1/q_max⌉ vectors
    have q_max, because P(Bin(n, q) ≥ k) is convex in q up to q = (k − 1)/(n − 1) (its derivative,
    n·P(Bin(n − 1, q) = k − 1), rises up to there): a convex sum over that polytope peaks at a vertex.  Beyond
    that point the count is not surprising: 1.
    """
    if k < 2 or n < k:
        return 1.0
    q = min(max(q_max, 1e-9), 1.0)
    if q > (k - 1) / (n - 1):
        return 1.0
    return min(1.0, math.ceil(1.0 / q) * float(binom.sf(k - 1, n, q)))


def rise_test(k: int, n: int, k0: float, n0: float) -> float:
    """Fisher's exact test, one-sided: P(≥ `k` of the window's `n` responses all satisfied) when the window and
    the reference (`k0` of `n0`) share one probability — the hypergeometric tail given the margins, so the
    reference's own sampling error is accounted for (R: fisher.test(alternative = "greater"))."""
    k, n, k0, n0 = int(k), int(n), round(k0), round(n0)
    if n <= 0 or n0 <= 0 or k <= 0:
        return 1.0
    return min(1.0, max(float(hypergeom.sf(k - 1, n + n0, k + k0, n)), 0.0))


def rise_pvalue(windows: Iterable[tuple[int, int]], k0: float, n0: float, gate: float = RISE_GATE) -> tuple[float, int]:
    """(p-value, index of the strongest window) of the rise signal: Bonferroni over the windows (the first is the
    day itself), given only when the day's own p-value is at most `gate` (an intersection with a smaller region:
    the p-value stays valid)."""
    ps = [rise_test(k, n, k0, n0) for k, n in windows]
    if not ps or ps[0] > gate:
        return 1.0, 0
    i = int(np.argmin(ps))
    return min(1.0, ps[i] * len(ps)), i


def _window_max(daily: np.ndarray, owner: np.ndarray, owners: int) -> Callable[[int, int], np.ndarray]:
    """For rows of per-day counts (one row per vector, `owner` its group, rows sorted by owner): a function
    (lo, hi) → per owner the largest count any one of its vectors has over days lo…hi − 1 (0 without rows)."""
    cum = np.concatenate([np.zeros((daily.shape[0], 1)), np.cumsum(daily, axis=1)], axis=1)
    starts = np.searchsorted(owner, np.arange(owners))
    has = np.bincount(owner, minlength=owners) > 0

    def at(lo: int, hi: int) -> np.ndarray:
        out = np.zeros(owners)
        if len(owner):
            w = cum[:, hi] - cum[:, lo]
            out[has] = np.maximum.reduceat(w, starts[has])
        return out

    return at


def jump_test(mean: float, n: int, mu0: float, sd0: float) -> float:
    """One-sided p-value of the day's mean top-box share above the history's (normal approximation)."""
    if n < MIN_JUMP_N or sd0 <= 0 or not np.isfinite(mean):
        return 1.0
    return float(norm.sf((mean - mu0) / (sd0 / math.sqrt(n))))


def score_from(p_min: float, tests: int) -> float:
    """−log10 of the Bonferroni-adjusted minimum p-value (0 = nothing unusual)."""
    p = min(1.0, max(p_min * tests, 1e-300))
    return float(-math.log10(p))


# ---------------------------------------------------------------------------------------- the scan
@dataclass
class ScanInput:
    """Everything the scan needs besides the responses."""

    volumes: Mapping[tuple[object, date], int] = field(default_factory=dict)  # (sp, month start) → dossiers
    hours: Mapping[object, OpeningHours] = field(default_factory=dict)
    history_days: int = HISTORY_DAYS


def _kind(source: str) -> str:
    return "kiosk" if str(source).startswith("kiosk:") else str(source)


def late_out_of_order(frame: pd.DataFrame, late_min: float = LATE_MIN) -> np.ndarray:
    """Per response: late (received ≥ `late_min` after submission) and out of order, i.e. the same source
    had already delivered a response it submitted later (so this one cannot have waited in its queue)."""
    out = np.zeros(len(frame), dtype=bool)
    if "received" not in frame or frame.empty:
        return out
    sub = pd.to_datetime(frame["local"]).to_numpy(dtype="datetime64[s]").astype(np.int64)
    rec = pd.to_datetime(frame["received"]).to_numpy(dtype="datetime64[s]").astype(np.int64)
    late = (rec - sub) >= late_min * 60
    src = pd.factorize(frame["service_point"].astype(str) + "\x1f" + frame["source"].astype(str))[0]
    order = np.lexsort((-sub, src))  # per source, latest submission first
    s_src, s_rec = src[order], rec[order]
    earliest_later = np.empty(len(order), dtype=np.int64)  # min reception among strictly later submissions
    big = np.iinfo(np.int64).max
    for g in np.unique(s_src):
        idx = np.nonzero(s_src == g)[0]
        r = s_rec[idx]
        earliest_later[idx] = np.concatenate([[big], np.minimum.accumulate(r)[:-1]])
    result = np.empty(len(order), dtype=bool)
    result[order] = earliest_later < s_rec - GRACE_MIN * 60
    return late & result


def response_features(frame: pd.DataFrame, hours: Mapping[object, OpeningHours] | None = None) -> pd.DataFrame:
    """Adds day, minute of day, straight-lined, outside-hours and top-box share columns (vectorised)."""
    hours = hours or {}
    out = frame.reset_index(drop=True).copy()
    local = pd.to_datetime(out["local"])
    out["day"] = local.dt.date
    minute = (local.dt.hour * 60 + local.dt.minute + local.dt.second / 60.0).to_numpy()
    out["minute"] = minute
    weekday = local.dt.day_of_week.to_numpy()
    answered = out["answered"].to_numpy(dtype=float)
    out["straight"] = ((out["answered"] >= 2) & (out["top"] == out["answered"])).astype(int)
    enough = (out["answered"] >= UNIFORM_MIN_ITEMS).to_numpy()
    same = (out["uniform"].eq(True).to_numpy() if "uniform" in out  # missing → not uniform
            else (out["top"] == out["answered"]).to_numpy())
    out["uniform"] = (enough & same).astype(int)
    if "vector" in out:
        has_vector = enough & out["vector"].notna().to_numpy()
        out["vector_key"] = np.where(has_vector, pd.factorize(out["vector"])[0], -1)
    else:
        out["vector_key"] = -1
    out["n_vec"] = (out["vector_key"] >= 0).astype(int)
    out["n_rise"] = enough.astype(int)
    out["allsat"] = (enough & (out["sat"] == out["answered"]).to_numpy()).astype(int)
    out["top_share"] = np.where(answered > 0, out["top"].to_numpy() / np.where(answered > 0, answered, 1.0), np.nan)
    outside = np.ones(len(out), dtype=bool)
    sp_hours = out["service_point"].map(lambda sp: hours.get(sp, DEFAULT_HOURS))
    for oh in set(sp_hours.tolist()):
        mask = (sp_hours == oh).to_numpy()
        open_ = np.zeros(mask.sum(), dtype=bool)
        m = minute[mask]
        for a, b in oh.spans:
            open_ |= (m >= a - GRACE_MIN) & (m <= b + GRACE_MIN)
        open_ &= np.isin(weekday[mask], sorted(oh.weekdays))
        outside[mask] = ~open_
    out["outside"] = outside.astype(int)
    out["late"] = late_out_of_order(out).astype(int)
    return out


_STATS = ("n", "straight", "uniform", "n_vec", "outside", "ts", "ts2", "n_ts", "late", "after_pub", "allsat",
          "n_rise")


def scan(frame: pd.DataFrame, days: Iterable[date], inp: ScanInput | None = None) -> pd.DataFrame:
    """Score every service point × day of `days` that has responses; one row per cell.

    `frame` holds the responses of those days and of the `history_days` before them (older rows are
    harmless).  History sums come from cumulative per-day arrays, so a year of days costs one pass.
    """
    inp = inp or ScanInput()
    days = sorted(set(days))
    if frame.empty or not days:
        return pd.DataFrame(columns=_COLUMNS)
    f = response_features(frame, inp.hours)
    first_day = min(min(f["day"]), days[0] - timedelta(days=inp.history_days))
    f["d"] = [(d - first_day).days for d in f["day"]]
    n_days = max(int(f["d"].max()), (days[-1] - first_day).days) + 2
    keys = f["service_point"].astype(str) + "\x1f" + f["source"].astype(str)
    gcode, gkeys = pd.factorize(keys, sort=True)
    f["g"] = gcode
    n_groups = len(gkeys)
    g_sp = [k.split("\x1f", 1)[0] for k in gkeys]
    g_src = [k.split("\x1f", 1)[1] for k in gkeys]
    sp_objs = {str(sp): sp for sp in f["service_point"].unique()}
    g_kind = np.array([_kind(s) for s in g_src])
    ts = f["top_share"].to_numpy()
    has_ts = ~np.isnan(ts)
    tsz = np.where(has_ts, ts, 0.0)
    after_pub = f["after_publication"].fillna(False).to_numpy(bool) if "after_publication" in f else np.zeros(len(f))
    vals = {"n": np.ones(len(f)), "straight": f["straight"].to_numpy(float), "uniform": f["uniform"].to_numpy(float),
            "outside": f["outside"].to_numpy(float), "n_vec": f["n_vec"].to_numpy(float),
            "ts": tsz, "ts2": tsz**2, "n_ts": has_ts.astype(float), "late": f["late"].to_numpy(float),
            "after_pub": np.asarray(after_pub, dtype=float), "allsat": f["allsat"].to_numpy(float),
            "n_rise": f["n_rise"].to_numpy(float)}
    flat = f["g"].to_numpy() * n_days + f["d"].to_numpy()
    cum = {}
    for k, v in vals.items():
        daily = np.bincount(flat, weights=v, minlength=n_groups * n_days).reshape(n_groups, n_days)
        cum[k] = np.concatenate([np.zeros((n_groups, 1)), np.cumsum(daily, axis=1)], axis=1)  # cum[:, d] = Σ < d
    active = np.bincount(flat, minlength=n_groups * n_days).reshape(n_groups, n_days) > 0
    first_seen = np.where(active.any(axis=1), active.argmax(axis=1), n_days)
    kinds = sorted(set(g_kind.tolist()))
    # month-to-date responses per service point
    sp_codes = sorted(set(g_sp))
    sp_index = {sp: i for i, sp in enumerate(sp_codes)}
    g_spi = np.array([sp_index[s] for s in g_sp])
    sp_daily = np.zeros((len(sp_codes), n_days))
    np.add.at(sp_daily, g_spi, np.diff(cum["n"], axis=1))
    sp_cum = np.concatenate([np.zeros((len(sp_codes), 1)), np.cumsum(sp_daily, axis=1)], axis=1)  # Σ days < d
    repeat = _repeat_counts(f, g_kind, n_groups, n_days)
    order = np.argsort(flat, kind="stable")
    flat_sorted = flat[order]
    minutes_all = f["minute"].to_numpy()[order]
    rows = []
    for day in days:
        d = (day - first_day).days
        lo = max(d - inp.history_days, 0)
        h = {k: cum[k][:, d] - cum[k][:, lo] for k in _STATS}
        today = {k: cum[k][:, d + 1] - cum[k][:, d] for k in _STATS}
        r_hi = max(d + 1 - RISE_GUARD, 0)
        r_lo = max(r_hi - RISE_BASELINE, 0)
        rise_ref = {k: cum[k][:, r_hi] - cum[k][:, r_lo] for k in ("allsat", "n_rise")}
        rise_win = [{k: cum[k][:, d + 1] - cum[k][:, max(d + 1 - w, 0)] for k in ("allsat", "n_rise")}
                    for w in RISE_WINDOWS]
        city = {}
        for kind in kinds:
            mask = g_kind == kind
            n = h["n"][mask].sum()
            nts = h["n_ts"][mask].sum()
            mean = h["ts"][mask].sum() / nts if nts else 0.3
            city[kind] = (h["straight"][mask].sum() / n if n else 0.01, h["outside"][mask].sum() / n if n else 0.002,
                          mean, max(h["ts2"][mask].sum() / nts - mean**2, 1e-4) if nts else 0.05,
                          h["late"][mask].sum() / n if n else 0.002, h["uniform"][mask].sum() / n if n else 0.05)
        group_max = repeat["group"](lo, d)
        kind_max, kind_nvec = repeat["kind"](lo, d), {k: h["n_vec"][g_kind == k].sum() for k in kinds}
        city_top = {k: kind_max[i] / kind_nvec[k] if kind_nvec[k] else REPEAT_FLOOR
                    for i, k in enumerate(repeat["kinds"])}
        month = date(day.year, day.month, 1)
        m0 = max((month - first_day).days, 0)
        groups_today = np.nonzero(today["n"] > 0)[0]
        by_sp: dict[str, list[dict[str, Any]]] = {}
        for g in groups_today.tolist():
            sp, source, kind = g_sp[g], g_src[g], g_kind[g]
            hours = inp.hours.get(sp_objs[sp], DEFAULT_HOURS)
            c_straight, c_outside, c_mean, c_var, c_late, c_uniform = city.get(kind, (0.01, 0.002, 0.3, 0.05,
                                                                                      0.002, 0.05))
            h_n = h["n"][g]
            span = d - max(lo, first_seen[g])
            workdays = span * len(hours.weekdays) / 7.0
            usual = rate_upper(h_n, workdays) if h_n > 0 and workdays >= 1 else 0.0
            a, b = np.searchsorted(flat_sorted, [g * n_days + d, g * n_days + d + 1])
            minutes = minutes_all[a:b]
            n = int(today["n"][g])
            p_burst, width, burst_count = burst_test(minutes, usual, hours.open_minutes)
            straight_rate = max((h["straight"][g] + SHRINK * c_straight) / (h_n + SHRINK), 0.005)
            uniform_rate = max((h["uniform"][g] + SHRINK * c_uniform) / (h_n + SHRINK), 0.005)
            outside_rate = max((h["outside"][g] + SHRINK * c_outside) / (h_n + SHRINK), 0.002)
            late_rate = max((h["late"][g] + SHRINK * c_late) / (h_n + SHRINK), 0.002)
            straight, outside, late = int(today["straight"][g]), int(today["outside"][g]), int(today["late"][g])
            uniform = int(today["uniform"][g])
            n_vec, h_nvec = int(today["n_vec"][g]), h["n_vec"][g]
            top_vector = int(repeat["today"].get(g * n_days + d, 0))
            vector_share = max((max(group_max[g], min(h_nvec, 1.0)) + SHRINK * city_top.get(kind, REPEAT_FLOOR))
                               / (h_nvec + SHRINK), REPEAT_FLOOR)
            h_nts = h["n_ts"][g]
            mu0 = (h["ts"][g] + SHRINK * c_mean) / (h_nts + SHRINK)
            ex2 = (h["ts2"][g] + SHRINK * (c_var + c_mean**2)) / (h_nts + SHRINK)
            sd0 = math.sqrt(max(ex2 - mu0**2, 1e-4))
            n_ts = int(today["n_ts"][g])
            p_rise, rw = rise_pvalue([(int(x["allsat"][g]), int(x["n_rise"][g])) for x in rise_win],
                                     rise_ref["allsat"][g], rise_ref["n_rise"][g], RISE_GATE)
            mean_ts = today["ts"][g] / n_ts if n_ts else float("nan")
            by_sp.setdefault(sp, []).append({
                "source": source, "n": n, "p_burst": p_burst, "burst_window": width, "burst_count": burst_count,
                "usual_per_day": usual, "straight": straight, "straight_rate": float(straight_rate),
                "p_straight": binomial_excess(straight, n, straight_rate), "uniform": uniform,
                "uniform_rate": float(uniform_rate), "p_uniform": binomial_excess(uniform, n, uniform_rate),
                "top_vector": top_vector, "vector_share": float(vector_share),
                "p_repeat": repeat_test(top_vector, n_vec, vector_share),
                "outside": outside,
                "p_hours": binomial_excess(outside, n, outside_rate), "top_share": float(mean_ts),
                "top_share_history": float(mu0), "p_jump": jump_test(mean_ts, n_ts, mu0, sd0),
                "allsat": int(today["allsat"][g]), "rise_days": RISE_WINDOWS[rw],
                "rise_count": int(rise_win[rw]["allsat"][g]), "rise_n": int(rise_win[rw]["n_rise"][g]),
                "rise_share": float(rise_ref["allsat"][g] / rise_ref["n_rise"][g]) if rise_ref["n_rise"][g] else
                float("nan"), "p_rise": p_rise,
                "late": late, "late_rate": float(late_rate), "p_late": binomial_excess(late, n, late_rate),
                "after_publication": int(today["after_pub"][g]),
            })
        for sp, per_source in sorted(by_sp.items()):
            spo = sp_objs[sp]
            tests = len(SIGNALS) * len(per_source)
            best = min(per_source, key=lambda s: min(s[f"p_{k}"] for k in SIGNALS))
            p_min = min(best[f"p_{k}"] for k in SIGNALS)
            score = score_from(p_min, tests)
            dossiers = inp.volumes.get((spo, month))
            i = sp_index[sp]
            responses_month = int(sp_cum[i, d + 1] - sp_cum[i, m0])
            overrun = dossiers is not None and responses_month > dossiers
            if overrun:
                score = max(score, OVERRUN_SCORE)
            signals = [k for k in SIGNALS if min(1.0, best[f"p_{k}"] * tests) <= 10 ** -FLAG_THRESHOLD]
            if overrun:
                signals.insert(0, "overrun")
            rows.append({
                "service_point": spo, "day": day, "source": best["source"],
                "n": int(sum(s["n"] for s in per_source)), "score": score, "flagged": score >= FLAG_THRESHOLD,
                "signals": signals, "overrun": overrun, "month_responses": responses_month,
                "month_dossiers": dossiers,
                **{k: best[k] for k in _COLUMNS[10:-1]},
                "sources": per_source,
            })
    return pd.DataFrame(rows, columns=_COLUMNS)


_COLUMNS = ["service_point", "day", "source", "n", "score", "flagged", "signals", "overrun", "month_responses",
            "month_dossiers", "p_burst", "burst_window", "burst_count", "usual_per_day", "straight",
            "straight_rate", "p_straight", "uniform", "uniform_rate", "p_uniform", "top_vector", "vector_share",
            "p_repeat", "outside", "p_hours",
            "top_share", "top_share_history", "p_jump", "allsat", "rise_days", "rise_count", "rise_n",
            "rise_share", "p_rise", "late", "late_rate", "p_late", "after_publication",
            "sources"]


def _repeat_counts(f: pd.DataFrame, g_kind: np.ndarray, n_groups: int, n_days: int) -> dict[str, Any]:
    """What the repeat signal needs, from one pass: per group × day the count of the day's most frequent vector
    (`today`: flat index → count), and window maxima of any one vector's count per group and per kind of
    source (vectors seen at least twice; a vector seen once counts 1)."""
    rows = f[f["vector_key"] >= 0]
    kinds = sorted(set(g_kind.tolist()))
    kind_of = {k: i for i, k in enumerate(kinds)}
    out: dict[str, Any] = {"kinds": kinds}
    if rows.empty:
        out["today"] = {}
        out["group"] = lambda lo, hi: np.zeros(n_groups)
        out["kind"] = lambda lo, hi: np.zeros(len(kinds))
        return out
    g, d, v = rows["g"].to_numpy(), rows["d"].to_numpy(), rows["vector_key"].to_numpy()
    per_day = pd.DataFrame({"cell": g * n_days + d, "v": v}).value_counts()
    out["today"] = per_day.groupby(level="cell").max().to_dict()
    k = np.array([kind_of[x] for x in g_kind[g]])
    for name, owner, owners in (("group", g, n_groups), ("kind", k, len(kinds))):
        pair = pd.DataFrame({"o": owner, "v": v})
        sizes = pair.value_counts()
        keep = sizes[sizes >= 2].index
        if len(keep) == 0:
            out[name] = (lambda n: lambda lo, hi: np.zeros(n))(owners)
            continue
        index = pd.MultiIndex.from_frame(pair)
        rid = keep.get_indexer(index)
        mask = rid >= 0
        order = np.argsort(keep.get_level_values("o").to_numpy(), kind="stable")
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        daily = np.zeros((len(keep), n_days))
        np.add.at(daily, (rank[rid[mask]], d[mask]), 1.0)
        out[name] = _window_max(daily, keep.get_level_values("o").to_numpy()[order], owners)
    return out


def arrival_profile(minutes: Iterable[float], slot: int = 30, first: int = 6 * 60,
                    last: int = 20 * 60) -> list[tuple[int, int]]:
    """Arrivals per `slot` minutes from `first` to `last` (outside ones in the end slots): the page's chart."""
    edges = list(range(first, last + slot, slot))
    counts = [0] * (len(edges) - 1)
    for m in minutes:
        i = min(max(int((m - first) // slot), 0), len(counts) - 1)
        counts[i] += 1
    return list(zip(edges[:-1], counts, strict=True))
