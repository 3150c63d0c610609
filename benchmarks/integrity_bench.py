"""Integrity and early warning, measured (issue 16 §4): python benchmarks/integrity_bench.py [--quick]

Prints
1. false flags per service point-year on honest data (the demo model, a year of working days scanned by
   analysis.integrity.scan), at the demo's volume and at a few times it;
2. per stuffing pattern (survey/demo/gaming.py), episodes of `--size` responses injected one per
   service point into the honest data: detection rate on the day itself and median days to detection;
3. the early-warning curve: days until the pages' chart (analysis.control.pooled_drop_chart: points of a
   month's consecutive days pooled to --n-min responses, fed by daily counts and sums as the database returns
   them, baseline estimated from the points of 250 working days of history) flags a drop
   of every answer's satisfied probability from 85% to 75%, 90% quantile and median, against daily
   volume; also the in-control false-alarm run length.  "share" charts a yes/no answer per response
   (the issue's reference case: spc gives 10 days at 20/day, 16 at 10/day); "index" charts each
   response's share of satisfied answers over the 6 counter-quick items.  Responses carry the demo
   model's respondent and counter-day effects; the baseline estimates the day effect (Baseline.from_days);
4. the same 90% quantile by exact Markov chains for the best charts of binomial data: what is possible;
5. (`--units`) administrative units: in-control series of every agency and every unit of several agencies
   (districts, the city) built like the real ones — the demo city's service points with their volumes,
   seasons, instruments, item logits, respondent and counter-day effects, summed per agency-day and then up
   the tree — baseline from 250 working days, then false alarms per unit-year (chart restarted after each
   alarm) over the next 250, against the agencies' of the same data; and the days until a unit's chart
   flags a drop of its index from 85% to 75% (every service point's logits moved by one shift).  Charted as the
   pages chart them: points of pooled days (analysis.control.pooled_drop_chart) over calendar days, each unit's
   points pooled alone (analysis.control.pool_days, the pages until 7 Dec 2026, session 13) and across the tree
   (analysis.control.pool_tree, since), on the same simulated data; `--units-daily` charts one point a working
   day instead (analysis.control.drop_chart, the pages before pooled points).
Figures go to benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scipy.optimize import brentq
from scipy.special import expit

from analysis.control import (
    DEFAULT_LAMBDA,
    Baseline,
    binomial_crit,
    binomial_innovations,
    calibrated_factor,
    cusum_limit,
    cusum_rl_quantile,
    discrete_crit,
    drop_chart,
    ewma_crit,
    ewma_rl_quantile,
    ewma_rl_quantile_discrete,
    pool_days,
    pool_tree,
    pooled_drop_chart,
)
from analysis.integrity import ScanInput, scan
from survey.demo.cantho import structure
from survey.demo.gaming import KIOSK_PATTERNS, PATTERNS, episode_frame, frame_from_simulated, make_episode, working_days
from survey.demo.model import KIOSK_SHARE, PAPI_SHARE, SD_COUNTER_DAY, SD_RESPONDENT, DemoModel

YEAR = (date(2022, 1, 1), date(2022, 12, 31))


def honest_frame(model: DemoModel, responses: int) -> pd.DataFrame:
    frame = frame_from_simulated(model, model.simulate(responses))
    return frame[frame["local"] >= pd.Timestamp(YEAR[0]) - pd.Timedelta(days=100)].reset_index(drop=True)


def false_flags(model: DemoModel, frame: pd.DataFrame) -> tuple[int, float, float]:
    days = working_days(*YEAR)
    res = scan(frame, days)
    flags = int(res["flagged"].sum())
    return flags, flags / len(model.service_points), float(res["n"].mean())


def detection(model: DemoModel, frame: pd.DataFrame, pattern: str, size: int, seed: int) -> list[int | None]:
    """Days to detection (0 = the episode's own day) per episode; None = not flagged within 5 days."""
    rng = np.random.default_rng(seed)
    days = working_days(date(2022, 3, 1), date(2022, 11, 30))
    eligible = [i for i, sp in enumerate(model.service_points) if pattern not in KIOSK_PATTERNS or sp.kiosk]
    parts = [frame]
    episodes = []
    for i in eligible:
        day = days[int(rng.integers(len(days)))]
        ep = make_episode(pattern, model, i, day, size, rng)
        episodes.append(ep)
        parts.append(episode_frame(model, ep, rng))
    data = pd.concat(parts, ignore_index=True)
    volumes: dict[tuple[object, date], int] = {}
    if pattern == "overrun":
        # the entered volume is below what the month then holds: honest month-to-date + half the episode
        local = pd.to_datetime(data["local"])
        for ep in episodes:
            month0 = pd.Timestamp(ep.day.year, ep.day.month, 1)
            mask = ((data["service_point"] == ep.service_point) & (local >= month0)
                    & (local < pd.Timestamp(ep.day) + pd.Timedelta(days=1)) & ~data["stuffed"])
            volumes[(ep.service_point, date(ep.day.year, ep.day.month, 1))] = int(mask.sum()) + size // 2
    scan_days = sorted({d for ep in episodes for d in working_days(ep.day, ep.day + timedelta(days=7))})
    res = scan(data, scan_days, ScanInput(volumes=volumes))
    flagged = res[res["flagged"]]
    out: list[int | None] = []
    for ep in episodes:
        hits = flagged[(flagged["service_point"] == ep.service_point) & (flagged["day"] >= ep.day)]
        later = [len(working_days(ep.day, d)) - 1 for d in hits["day"]]
        later = [x for x in later if x <= 5]
        out.append(min(later) if later else None)
    return out


def _location(p: float, sd: float) -> float:
    """Logit location η with E[expit(η + sd·Z)] = p: a marginal share p under the respondent effect."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(40)
    weights = weights / weights.sum()
    return float(brentq(lambda eta: float(weights @ expit(eta + sd * nodes)) - p, -10, 10))


def drop_curve(volumes: list[float], reps: int, seed: int, kind: str, p0: float = 0.85,
               p1: float = 0.75, history: int = 250, horizon: int = 120,
               n_min: int = 30) -> list[tuple[float, float, float, float]]:
    """(volume, 90% quantile, median of days to detection, share of in-control runs alarmed within 250 days).

    The pages' chart (analysis.control.pooled_drop_chart): points of consecutive days of a month pooled to
    n_min responses, baseline from the points of `history` working days, the drop at the first charted day,
    which falls at a random working day of its month.  Days to detection: working days from the drop to the
    day the first signalling point is given (its month's next point full, or its month over), counted from 1.
    Responses as the demo model makes them: a respondent effect (SD_RESPONDENT, shared by the response's
    items) and a counter-day effect (SD_COUNTER_DAY) on the logit scale; the marginal share of satisfied
    answers is p0 before and p1 after the drop.
    """
    rng = np.random.default_rng(seed)
    items = 1 if kind == "share" else 6
    out = []
    first = date(2021, 1, 1)
    days = [first + timedelta(days=i) for i in range(int((history + 23 + max(horizon, 250)) * 1.45))]
    working = np.array([d.weekday() < 5 for d in days])
    at = np.nonzero(working)[0]
    for v in volumes:
        delays, early = [], 0
        for _ in range(reps):
            offset = int(rng.integers(0, 22))  # the baseline (and so the drop) starts anywhere in a month
            base_start, chart_start = int(at[offset]), int(at[offset + history])
            ends = (int(at[offset + history + horizon - 1]) + 1, int(at[offset + history + 249]) + 1)
            found = _pooled_run(rng, days[:ends[0]], working, (base_start, chart_start), v, items, (p0, p1), n_min)
            delays.append(found if found is not None else horizon + 1)
            if _pooled_run(rng, days[:ends[1]], working, (base_start, chart_start), v, items, (p0, p0),
                           n_min) is not None:
                early += 1
        arr = np.array(delays)
        out.append((v, float(np.quantile(arr, 0.9, method="higher")), float(np.median(arr)), early / reps))
    return out


def _pooled_run(rng: np.random.Generator, days: list[date], working: np.ndarray, starts: tuple[int, int],
                v: float, items: int, levels: tuple[float, float], n_min: int) -> int | None:
    """Working days from the chart's first day to the day its first signalling point is given (None: none)."""
    base_start, chart_start = starts
    n = np.where(working[:len(days)], rng.poisson(v, len(days)), 0)
    day = np.repeat(np.arange(len(days)), n)
    p = np.where(day < chart_start, _location(levels[0], SD_RESPONDENT), _location(levels[1], SD_RESPONDENT))
    eta = p + SD_RESPONDENT * rng.normal(size=len(day)) + SD_COUNTER_DAY * rng.normal(size=len(days))[day]
    s = rng.binomial(items, expit(eta)) / items
    res = pooled_drop_chart(days, n, np.bincount(day, s, len(days)), np.bincount(day, s * s, len(days)), n_min,
                            base_start, chart_start)
    if res is None or res.first_signal is None:
        return None
    return int(working[chart_start:res.points[res.first_signal].known + 1].sum())


def best_possible(volumes: list[float], p0: float = 0.85,
                  p1: float = 0.75) -> list[tuple[float, int, int, int, int]]:
    """90% quantiles (exact Markov chains, ARL0 250) of what the information allows at each volume.

    (volume, spc normal-theory EWMA λ 0.1 at fixed n, best EWMA of the standardised share over λ, Bernoulli
    log-likelihood-ratio CUSUM (optimal for the mean delay), the EWMA the pages draw with the demo's
    counter-day effect calibrated in).  Binomial days of Poisson size.
    """
    out = []
    for v in volumes:
        normal = ewma_rl_quantile(0.1, ewma_crit(0.1), (p0 - p1) / math.sqrt(p0 * (1 - p0) / v))
        law0, law1 = binomial_innovations(p0, v), binomial_innovations(p0, v, p1)
        ewma = min(ewma_rl_quantile_discrete(lam, discrete_crit(lam, *law0), *law1) for lam in (0.05, 0.1, 0.15))
        llr0, llr1 = binomial_innovations(p0, v, score="llr"), binomial_innovations(p0, v, p1, score="llr")
        h = cusum_limit(*llr0)
        cusum = cusum_rl_quantile(h, *llr1)
        c_day = binomial_crit(DEFAULT_LAMBDA, p0, v, day_sd=SD_COUNTER_DAY)
        paged = ewma_rl_quantile_discrete(DEFAULT_LAMBDA, c_day,
                                          *binomial_innovations(p0, v, p1, day_sd=SD_COUNTER_DAY))
        out.append((v, normal, ewma, cusum, paged))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller runs (a minute or two)")
    ap.add_argument("--size", type=int, default=20, help="responses per stuffing episode")
    ap.add_argument("--seed", type=int, default=16)
    ap.add_argument("--drops-only", action="store_true", help="only the early-warning parts 3 and 4")
    ap.add_argument("--volumes", default="5,10,15,20,30,40,60", help="daily volumes of parts 3 and 4")
    ap.add_argument("--kinds", default="share,index", help="charts of part 3: share, index or both")
    ap.add_argument("--runs", type=int, default=0, help="runs per volume in part 3 (default 400, 150 with --quick)")
    ap.add_argument("--no-chains", action="store_true", help="skip part 4 (exact chains for yes/no data)")
    ap.add_argument("--flags-only", action="store_true", help="only parts 1 and 2 (false flags, stuffing episodes)")
    ap.add_argument("--units", action="store_true", help="only part 5 (administrative units' charts)")
    ap.add_argument("--units-daily", action="store_true", help="part 5 with one point a working day (before pooling)")
    ap.add_argument("--unit-reps", type=int, default=40, help="simulated years of the city in part 5")
    ap.add_argument("--unit-responses", default="100000,400000", help="demo responses per 24 months, part 5")
    ap.add_argument("--agency-reps", type=int, default=10, help="of those years, how many also chart every agency")
    ap.add_argument("--n-min", type=int, default=30, help="responses a chart point pools days to (HAILONG_N_MIN)")
    args = ap.parse_args()
    t0, c0 = time.time(), time.process_time()
    if args.units or args.units_daily:
        for total in (int(x) for x in args.unit_responses.split(",")):
            if args.units_daily:
                unit_false_alarms(total, args.unit_reps, args.seed, args.agency_reps)
                unit_drops(total, max(args.unit_reps // 4, 5), args.seed)
            else:
                unit_pooled(total, args.unit_reps, max(args.unit_reps // 4, 5), args.seed, args.n_min)
        _done(t0, c0)
        return
    vols = [float(v) for v in args.volumes.split(",")]
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    reps = args.runs or (150 if args.quick else 400)
    if args.drops_only:
        early_warning(reps, args.seed, vols, kinds, not args.no_chains, args.n_min)
        _done(t0, c0)
        return
    model = DemoModel(structure("2022"))
    scales = [100_000] if args.quick else [100_000, 400_000]
    print("1. False flags on honest data (demo model, 2022 scanned day by day)")
    base_frame = None
    for n in scales:
        frame = honest_frame(model, n)
        base_frame = base_frame if base_frame is not None else frame
        flags, per_year, mean_n = false_flags(model, frame)
        print(f"   {n:>9,} responses/24 months: mean {mean_n:5.1f} responses per active service point-day, "
              f"{flags} false flags, {per_year:.3f} per service point-year")
    print(f"2. Stuffing episodes of {args.size} responses (one per eligible service point, "
          f"{1 if args.quick else 3} seed(s))")
    assert base_frame is not None
    for pattern in PATTERNS:
        res: list[int | None] = []
        for s in range(1 if args.quick else 3):
            res += detection(model, base_frame, pattern, args.size, args.seed + s)
        same_day = sum(1 for r in res if r == 0) / len(res)
        found = [r for r in res if r is not None]
        med = float(np.median(found)) if found else float("nan")
        print(f"   {pattern:<13} episodes {len(res):>4}  detected the same day {same_day:6.1%}  "
              f"within 5 days {len(found) / len(res):6.1%}  median days to detection {med:.0f}")
    if args.flags_only:
        _done(t0, c0)
        return
    early_warning(reps, args.seed, vols, kinds, not args.no_chains, args.n_min)
    _done(t0, c0)


def _done(t0: float, c0: float) -> None:
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"done in {time.time() - t0:.0f} s wall, {time.process_time() - c0:.0f} s CPU (load average {load})")


def early_warning(reps: int, seed: int, vols: list[float], kinds: list[str], chains: bool = True,
                  n_min: int = 30) -> None:
    print(f"3. Early warning, drop 85% -> 75% (ARL0 250 working days by calibration), days to signal, {reps} runs, "
          f"points pooled to n_min = {n_min}")
    for kind in kinds:
        print(f"   {kind}: volume/day  q90  median  in-control runs alarmed within 250 days "
              "(± 2 SE; ARL0 if geometric)")
        for v, q90, med, early in drop_curve(vols, reps, seed, kind, n_min=n_min):
            se = math.sqrt(early * (1 - early) / reps)
            arl = -250 / math.log(1 - early) if 0 < early < 1 else float("nan")
            print(f"   {'':7}{v:>8.0f}  {q90:4.0f}  {med:6.0f}  {early:6.1%} ± {2 * se:4.1%}  ARL0 ≈ {arl:4.0f}",
                  flush=True)
    print("   (a run-length of 250 days on average alarms within 250 days in about 63% of runs)")
    sys.stdout.flush()
    if not chains:
        return
    print("4. What the information allows, 85% -> 75%, 90% quantile of working days (exact chains, ARL0 250)")
    print("   volume/day  spc-normal  best-EWMA(binomial)  LLR-CUSUM(binomial)  pages' EWMA with day effect")
    for v, normal, ewma, cusum, paged in best_possible(vols):
        print(f"   {v:>10.0f}  {normal:>10}  {ewma:>19}  {cusum:>19}  {paged:>27}")


# ------------------------------------------------------------------------------ 5. administrative units
class UnitCity:
    """The demo city's service points as daily Poisson streams of index scores, summed per agency-day; units
    sum the agencies of their subtree (survey/results/integrity.py:_by_unit does the same on the database)."""

    INSTRUMENTS = ("counter-quick", "sipas-2017", "papi-services")

    def __init__(self, responses: int) -> None:
        self.model = DemoModel(structure("2022"))
        sps = self.model.service_points
        self.agencies = self.model.agencies
        index = {a: i for i, a in enumerate(self.agencies)}
        self.sp_agency = np.array([index[sp.agency] for sp in sps])
        self.units: dict[str, list[int]] = {}
        self.parent: dict[str, str | None] = {}  # unit → its parent unit
        self.direct: dict[int, str] = {}  # agency → its own unit

        def walk(node: dict[str, object], up: str | None = None) -> list[int]:
            mine = [index[str(a["code"])] for a in node.get("agencies", [])]  # type: ignore[attr-defined]
            self.parent[str(node["code"])] = up
            self.direct.update((a, str(node["code"])) for a in mine)
            for child in node.get("units", []):  # type: ignore[attr-defined]
                mine += walk(child, str(node["code"]))
            self.units[str(node["code"])] = mine
            return mine

        for root in self.model.structure.roots:
            walk(root)
        months = self.model.structure.months
        self.days = working_days(months[0], date(months[-1].year, 12, 31))
        month = np.array([(d.year - months[0].year) * 12 + d.month - months[0].month for d in self.days])
        per_month = np.bincount(month, minlength=len(months))
        rate = self.model.volumes * self.model.propensity[:, None]  # as DemoModel.simulate spreads responses
        self.lam = (responses * rate / rate.sum())[:, month] / per_month[month][None, :]  # [service point, day]
        self.kiosk = np.array([sp.kiosk is not None for sp in sps])
        self.commune = np.array([sp.tier == "commune" for sp in sps])

    def several(self) -> dict[str, list[int]]:
        """Units of more than one agency (a commune of one agency charts exactly its agency's series)."""
        return {u: a for u, a in self.units.items() if len(a) > 1}

    def share(self, points: np.ndarray, shift: float) -> float:
        """The index a unit's service points `points` give on average with every logit moved by `shift`."""
        z = math.hypot(SD_RESPONDENT, SD_COUNTER_DAY) * GH[0]
        lam = self.lam[points].sum(axis=1)
        mix = self._instrument_mix(points)
        total = 0.0
        for k, name in enumerate(self.INSTRUMENTS):
            p = expit(self.model.logits[name][points][..., None] + shift + z) @ GH[1]  # [point, item]
            total += float((lam * mix[:, k]) @ p.mean(axis=1))
        return total / float(lam.sum())

    def _instrument_mix(self, points: np.ndarray) -> np.ndarray:
        kiosk = np.where(self.kiosk[points], KIOSK_SHARE, 0.0)
        papi = (1 - kiosk) * np.where(self.commune[points], PAPI_SHARE, 0.0)
        return np.stack([kiosk, 1 - kiosk - papi, papi], axis=1)

    def simulate(self, rng: np.random.Generator, points: np.ndarray | None = None, shift: float = 0.0,
                 days: slice = slice(None)) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per agency × working day: responses, Σ score, Σ score² (score: a response's share satisfied)."""
        points = np.arange(len(self.sp_agency)) if points is None else points
        lam = self.lam[points][:, days]
        n_sp, n_days = lam.shape
        n = rng.poisson(lam)
        sp = np.repeat(np.repeat(points, n_days), n.ravel())
        local = np.repeat(np.repeat(np.arange(n_sp), n_days), n.ravel())
        day = np.repeat(np.tile(np.arange(n_days), n_sp), n.ravel())
        u = rng.random(len(sp))
        instrument = np.where(self.kiosk[sp] & (u < KIOSK_SHARE), 0,
                              np.where(self.commune[sp] & (rng.random(len(sp)) < PAPI_SHARE), 2, 1))
        counter_day = SD_COUNTER_DAY * rng.normal(size=(n_sp, n_days))
        shared = SD_RESPONDENT * rng.normal(size=len(sp)) + counter_day[local, day] + shift
        score = np.empty(len(sp))
        for k, name in enumerate(self.INSTRUMENTS):
            rows = np.nonzero(instrument == k)[0]
            p = expit(self.model.logits[name][sp[rows]] + shared[rows, None])
            score[rows] = (rng.random(p.shape) < p).mean(axis=1)
        cell = self.sp_agency[sp] * n_days + day
        size = len(self.agencies) * n_days

        def per_agency(w: np.ndarray | None) -> np.ndarray:
            return np.bincount(cell, w, size).reshape(len(self.agencies), n_days)

        return per_agency(None), per_agency(score), per_agency(score * score)


GH = (lambda nodes, weights: (nodes, weights / weights.sum()))(*np.polynomial.hermite_e.hermegauss(40))
UNIT_BASELINE = 250  # working days of history, as the pages use (survey/results/integrity.py BASELINE_DAYS)


def _baseline(n: np.ndarray, total: np.ndarray, sumsq: np.ndarray) -> Baseline | None:
    ok = n > 0
    if n.sum() < 30:
        return None  # the pages draw no chart either
    return Baseline.from_days(n[ok], total[ok], sumsq[ok], len(n))


def alarms(n: np.ndarray, total: np.ndarray, base: Baseline) -> int:
    """False alarms over the days given, the chart restarted at 0 after each (as a reviewer would)."""
    start, count = 0, 0
    while start < len(n):
        first = drop_chart(n[start:], total[start:], base).first_signal
        if first is None:
            break
        count += 1
        start += first + 1
    return count


def unit_false_alarms(responses: int, reps: int, seed: int, agency_reps: int) -> None:
    """Alarms per year of in-control charts of units of several agencies and (in the first `agency_reps`
    years: each agency's limit is calibrated afresh, the costly part) of the agencies, same data."""
    city = UnitCity(responses)
    units = city.several()
    b = UNIT_BASELINE
    rows: list[tuple[str, str, float, float, float, int]] = []
    for r in range(reps):
        n, total, sumsq = city.simulate(np.random.default_rng([seed, 5, r]))
        series = [("agency", a, [i]) for i, a in enumerate(city.agencies) if r < agency_reps]
        series += [("unit", u, a) for u, a in units.items()]
        for kind, code, members in series:
            cn, ct, cs = n[members].sum(axis=0), total[members].sum(axis=0), sumsq[members].sum(axis=0)
            base = _baseline(cn[:b], ct[:b], cs[:b])
            if base is None:
                continue
            rows.append((kind, code, float(cn[b:b + 250].mean()), base.day_sd, calibrated_factor(base),
                         alarms(cn[b:b + 250], ct[b:b + 250], base)))
    table = pd.DataFrame(rows, columns=["kind", "code", "per_day", "day_sd", "c", "alarms"])
    table["volume"] = pd.cut(table["per_day"], [0, 10, 20, 40, 100, 1e9],
                             labels=["<10", "10-20", "20-40", "40-100", ">100"], right=False)
    print(f"5. In-control charts, {responses:,} demo responses / 24 months, {reps} simulated years "
          f"({agency_reps} for agencies): false alarms "
          "per year (chart restarted after each; ARL0 250 working days ≈ 1 a year), share of years with one")
    print("   kind     volume/day  years  alarms/year (± 2 SE)  years alarmed  mean day SD  mean c")
    for (kind, vol), part in table.groupby(["kind", "volume"], observed=True):
        se = float(part["alarms"].std(ddof=1)) / math.sqrt(len(part)) if len(part) > 1 else float("nan")
        print(f"   {kind:<8} {vol:>10}  {len(part):>5}  {part['alarms'].mean():6.2f} ± {2 * se:4.2f}         "
              f"{(part['alarms'] > 0).mean():6.1%}  {part['day_sd'].mean():11.3f}  {part['c'].mean():6.3f}")
    for kind, part in table.groupby("kind"):
        se = float(part["alarms"].std(ddof=1)) / math.sqrt(len(part))
        print(f"   {kind:<8} {'all':>10}  {len(part):>5}  {part['alarms'].mean():6.2f} ± {2 * se:4.2f}         "
              f"{(part['alarms'] > 0).mean():6.1%}")
    for code, part in table[table["kind"] == "unit"].groupby("code"):
        print(f"   unit {code:<6} {part['per_day'].mean():7.0f}/day  {len(part):>3} years  "
              f"{part['alarms'].mean():5.2f} alarms/year  c {part['c'].mean():.3f}  day SD {part['day_sd'].mean():.3f}")
    sys.stdout.flush()


def unit_drops(responses: int, reps: int, seed: int, horizon: int = 120) -> None:
    """Working days until each unit's chart flags its index falling from 85% to 75% (90% quantile, median)."""
    city = UnitCity(responses)
    b = UNIT_BASELINE
    print(f"   drop 85% -> 75% of each unit's index ({reps} runs per unit): unit  volume/day  q90  median")
    for code, members in city.several().items():
        points = np.nonzero(np.isin(city.sp_agency, members))[0]
        before = brentq(lambda s, pts=points: city.share(pts, s) - 0.85, -8, 8)
        after = brentq(lambda s, pts=points: city.share(pts, s) - 0.75, -8, 8)
        delays, volume = [], []
        for r in range(reps):
            rng = np.random.default_rng([seed, 6, r])
            n, total, sumsq = (x.sum(axis=0) for x in city.simulate(rng, points, before, slice(0, b)))
            base = _baseline(n, total, sumsq)
            if base is None:
                continue
            n1, t1, _s = (x.sum(axis=0) for x in city.simulate(rng, points, after, slice(b, b + horizon)))
            first = drop_chart(n1, t1, base).first_signal
            delays.append(horizon + 1 if first is None else first + 1)
            volume.append(base.per_day)
        arr = np.array(delays)
        print(f"   {'':38}{code:<5} {np.mean(volume):10.0f}  {np.quantile(arr, 0.9, method='higher'):3.0f}  "
              f"{np.median(arr):6.0f}", flush=True)


def _tree_input(city: UnitCity, root: str | None = None) -> tuple[list[str], list[int], list[int]]:
    """pool_tree's nodes for the units (below `root`, itself included) and their agencies: (unit codes, agency
    indices, parent index per node: the units first, then the agencies)."""
    units = [u for u in city.units if root is None or u == root or _under(city, u, root)]
    agencies = sorted({a for u in units for a in city.units[u]})
    at = {u: i for i, u in enumerate(units)}
    parent = [at.get(city.parent[u], -1) if u != root else -1 for u in units]  # type: ignore[arg-type]
    return units, agencies, parent + [at[city.direct[a]] for a in agencies]


def _under(city: UnitCity, unit: str, root: str) -> bool:
    up = city.parent[unit]
    while up is not None:
        if up == root:
            return True
        up = city.parent[up]
    return False


def _on_calendar(city: UnitCity, arrays: tuple[np.ndarray, ...], first_day: int,
                 last_day: int) -> tuple[list[date], list[np.ndarray], int]:
    """Per-agency working-day arrays (columns: working days first_day…last_day − 1 of the city) spread over the
    calendar days from the first day of the first one's month (weekends 0), as `daily_scores` + reindex give
    them; and the calendar index of each working day."""
    start = city.days[first_day].replace(day=1)
    cal = [start + timedelta(days=i) for i in range((city.days[last_day - 1] - start).days + 1)]
    at = np.array([(d - start).days for d in city.days[first_day:last_day]])
    out = []
    for a in arrays:
        full = np.zeros((a.shape[0], len(cal)))
        full[:, at] = a
        out.append(full)
    return cal, out, int(at[0])


def _unit_points(city: UnitCity, cal: list[date], n: np.ndarray, n_min: int,
                 root: str | None = None) -> dict[str, dict[str, list]]:
    """Each unit's points, pooled alone (`pool_days`) and across the tree (`pool_tree`)."""
    units, agencies, parent = _tree_input(city, root)
    counts = np.zeros((len(parent), len(cal)))
    counts[len(units):] = n[agencies]
    tree = pool_tree(cal, counts, parent, n_min)
    return {"alone": {u: pool_days(cal, n[city.units[u]].sum(axis=0), n_min) for u in units},
            "tree": {u: tree[i] for i, u in enumerate(units)}}


def unit_pooled(responses: int, reps: int, drop_reps: int, seed: int, n_min: int) -> None:
    """Part 5 as the pages chart: in-control runs alarmed within 250 working days and days to flag a drop of a
    unit's index from 85% to 75%, each unit's points pooled alone and across the tree, same data."""
    city = UnitCity(responses)
    units = city.several()
    b = UNIT_BASELINE
    rows = []
    for r in range(reps):
        sims = city.simulate(np.random.default_rng([seed, 5, r]))
        cal, (n, total, sumsq), _ = _on_calendar(city, tuple(x[:, :2 * b] for x in sims), 0, 2 * b)
        base_start, chart_start = (city.days[0] - cal[0]).days, (city.days[b] - cal[0]).days
        pooled = _unit_points(city, cal, n, n_min)
        for code, members in units.items():
            for rule, points in pooled.items():
                res = pooled_drop_chart(cal, n[members].sum(axis=0), total[members].sum(axis=0),
                                        sumsq[members].sum(axis=0), n_min, base_start, chart_start,
                                        points=points[code])
                if res is not None:
                    rows.append(("in control", rule, code, float(n[members].sum() / (2 * b)), res.days_per_point,
                                 float(res.first_signal is not None)))
    horizon = 120
    for code, members in units.items():
        sps = np.nonzero(np.isin(city.sp_agency, members))[0]
        before = brentq(lambda s, pts=sps: city.share(pts, s) - 0.85, -8, 8)
        after = brentq(lambda s, pts=sps: city.share(pts, s) - 0.75, -8, 8)
        for r in range(drop_reps):
            rng = np.random.default_rng([seed, 6, r])
            offset = int(rng.integers(0, 22))  # the drop falls on any working day of its month
            one = city.simulate(rng, sps, before, slice(offset, offset + b))
            two = city.simulate(rng, sps, after, slice(offset + b, offset + b + horizon))
            joined = tuple(np.concatenate([x, y], axis=1) for x, y in zip(one, two, strict=True))
            cal, (n, total, sumsq), base_start = _on_calendar(city, joined, offset, offset + b + horizon)
            chart_start = (city.days[offset + b] - cal[0]).days
            working = np.array([d.weekday() < 5 for d in cal])
            for rule, points in _unit_points(city, cal, n, n_min, code).items():
                res = pooled_drop_chart(cal, n[members].sum(axis=0), total[members].sum(axis=0),
                                        sumsq[members].sum(axis=0), n_min, base_start, chart_start,
                                        points=points[code])
                if res is None:
                    continue
                days = horizon + 1 if res.first_signal is None else \
                    int(working[chart_start:res.points[res.first_signal].known + 1].sum())
                rows.append(("drop", rule, code, float(n[members].sum() / (b + horizon)), res.days_per_point,
                             float(days)))
    table = pd.DataFrame(rows, columns=["kind", "rule", "code", "per_day", "k", "value"])
    print(f"5. Units of several agencies, {responses:,} demo responses / 24 months, points pooled to n_min {n_min}: "
          f"{reps} simulated years in control (alarmed within 250 working days; 63% = ARL0 250), {drop_reps} drops "
          "85% -> 75% per unit (working days to the day the signalling point is given, q90 / median)")
    print("   unit   volume/day | alone: days/point  alarmed  q90  median | tree: days/point  alarmed  q90  median")
    for code in units:
        cells = []
        for rule in ("alone", "tree"):
            ic = table[(table["code"] == code) & (table["rule"] == rule) & (table["kind"] == "in control")]
            dr = table[(table["code"] == code) & (table["rule"] == rule) & (table["kind"] == "drop")]["value"]
            q90 = np.quantile(dr, 0.9, method="higher") if len(dr) else float("nan")
            cells.append(f"{ic['k'].mean():16.1f}  {ic['value'].mean():7.0%}  {q90:3.0f}  "
                         f"{dr.median() if len(dr) else float('nan'):6.0f}")
        vol = table[table["code"] == code]["per_day"].mean()
        print(f"   {code:<6} {vol:10.0f} | {cells[0]} | {cells[1]}", flush=True)
    for rule in ("alone", "tree"):
        ic = table[(table["rule"] == rule) & (table["kind"] == "in control")]["value"]
        p = float(ic.mean())
        arl = -250 / math.log(1 - p) if 0 < p < 1 else float("nan")
        print(f"   all units, {rule}: alarmed within 250 days {p:.1%} ± {2 * math.sqrt(p * (1 - p) / len(ic)):.1%} "
              f"({len(ic)} unit-years; ARL0 ≈ {arl:.0f} working days if geometric)")


if __name__ == "__main__":
    main()
