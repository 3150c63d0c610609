"""Integrity and early warning, measured (issue 16 §4): python benchmarks/integrity_bench.py [--quick]

Prints
1. false flags per service point-year on honest data (the demo model, a year of working days scanned by
   analysis.integrity.scan), at the demo's volume and at a few times it;
2. per stuffing pattern (survey/demo/gaming.py), episodes of `--size` responses injected one per
   service point into the honest data: detection rate on the day itself and median days to detection;
3. the early-warning curve: days until the chart (analysis.control.drop_chart, fed by daily counts and
   sums as the database returns them, baseline estimated from 120 working days of history) flags a drop
   of every answer's satisfied probability from 85% to 75%, 90% quantile and median, against daily
   volume; also the in-control false-alarm run length.  "share" charts a yes/no answer per response
   (the issue's reference case: spc gives 10 days at 20/day, 16 at 10/day); "index" charts each
   response's share of satisfied answers over the 6 counter-quick items.  Responses carry the demo
   model's respondent and counter-day effects; the baseline estimates the day effect (Baseline.from_days);
4. the same 90% quantile by exact Markov chains for the best charts of binomial data: what is possible.
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
    cusum_limit,
    cusum_rl_quantile,
    discrete_crit,
    drop_chart,
    ewma_crit,
    ewma_rl_quantile,
    ewma_rl_quantile_discrete,
)
from analysis.integrity import ScanInput, scan
from survey.demo.cantho import structure
from survey.demo.gaming import PATTERNS, episode_frame, frame_from_simulated, make_episode, working_days
from survey.demo.model import SD_COUNTER_DAY, SD_RESPONDENT, DemoModel

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
    eligible = [i for i, sp in enumerate(model.service_points) if pattern != "kiosk_burst" or sp.kiosk]
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
               p1: float = 0.75, history: int = 250, horizon: int = 120) -> list[tuple[float, float, float, float]]:
    """(volume, 90% quantile, median of days to detection, share of in-control runs alarmed within 250 days).

    Responses as the demo model makes them: a respondent effect (SD_RESPONDENT, shared by the response's
    items) and a counter-day effect (SD_COUNTER_DAY) on the logit scale; the marginal share of satisfied
    answers is p0 before and p1 after the drop.
    """
    rng = np.random.default_rng(seed)
    items = 1 if kind == "share" else 6
    out = []
    for v in volumes:
        delays, early = [], 0
        for _ in range(reps):
            def days_of(p: float, n_days: int, v: float = v) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
                n = rng.poisson(v, n_days)
                day = np.repeat(np.arange(n_days), n)
                eta = (_location(p, SD_RESPONDENT) + SD_RESPONDENT * rng.normal(size=len(day))
                       + SD_COUNTER_DAY * rng.normal(size=n_days)[day])
                s = rng.binomial(items, expit(eta)) / items
                return n, np.bincount(day, s, n_days), np.bincount(day, s * s, n_days)

            hn, ht, hs = days_of(p0, history)
            base = Baseline.from_days(hn, ht, hs, history)
            n, t, _ = days_of(p1, horizon)
            res = drop_chart(n, t, base)
            delays.append(res.first_signal + 1 if res.first_signal is not None else horizon + 1)
            n0, t0, _ = days_of(p0, 250)
            if drop_chart(n0, t0, base).first_signal is not None:
                early += 1
        arr = np.array(delays)
        out.append((v, float(np.quantile(arr, 0.9, method="higher")), float(np.median(arr)), early / reps))
    return out


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
    args = ap.parse_args()
    t0, c0 = time.time(), time.process_time()
    vols = [float(v) for v in args.volumes.split(",")]
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    reps = args.runs or (150 if args.quick else 400)
    if args.drops_only:
        early_warning(reps, args.seed, vols, kinds, not args.no_chains)
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
    early_warning(reps, args.seed, vols, kinds, not args.no_chains)
    _done(t0, c0)


def _done(t0: float, c0: float) -> None:
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"done in {time.time() - t0:.0f} s wall, {time.process_time() - c0:.0f} s CPU (load average {load})")


def early_warning(reps: int, seed: int, vols: list[float], kinds: list[str], chains: bool = True) -> None:
    print(f"3. Early warning, drop 85% -> 75% (ARL0 250 working days by calibration), days to signal, {reps} runs")
    for kind in kinds:
        print(f"   {kind}: volume/day  q90  median  in-control runs alarmed within 250 days "
              "(± 2 SE; ARL0 if geometric)")
        for v, q90, med, early in drop_curve(vols, reps, seed, kind):
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


if __name__ == "__main__":
    main()
