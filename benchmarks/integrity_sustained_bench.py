"""Sustained stuffing, measured (docs/integrity.md, "rise"): python benchmarks/integrity_sustained_bench.py

Prints, on the honest demo model (survey/demo/model.py, 24 months, `--responses`):
1. false flags per service point-year, every working day of 2022 scanned (`--what honest`), and the rise
   p-value's distribution on the honest source-days;
2. (`--what uniform|mix`) at each of the 29 kiosk points an episode of `--weeks` weeks of working days starting
   on a random working day of March–October 2022: every day `--lo`–`--hi` responses over the opening hours,
   either every item at the level below the best (`uniform`) or each item best with probability `--best`,
   else the level below, drawn afresh per response (`mix`: no one-level response, no repeated vector); the
   share of the episode's days flagged per week, and of the 10 working days after it (honest again).
Each with the scan as it is and with the rise signal left out (`SIGNALS` without "rise": exactly the scan
before it, Bonferroni over 7).  Figures go to benchmarks/README.md and docs/integrity.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import analysis.integrity as integrity
from survey.demo.cantho import structure
from survey.demo.gaming import _open_minute, frame_from_simulated, vector_keys, working_days
from survey.demo.model import DemoModel

WITH = integrity.SIGNALS
WITHOUT = tuple(s for s in WITH if s != "rise")


def episodes(model: DemoModel, rng: np.random.Generator, args: argparse.Namespace
             ) -> tuple[list[pd.DataFrame], list[tuple[str, list[date], list[date]]]]:
    """Stuffed rows and (service point, episode days, 10 working days after) per kiosk point."""
    items = model.scored_items("counter-quick")
    best = np.array([max(it.scale.values) for it in items if it.scale is not None])
    starts = working_days(date(2022, 3, 1), date(2022, 10, 31))
    parts, eps = [], []
    for sp in (sp for sp in model.service_points if sp.kiosk):
        d0 = starts[int(rng.integers(len(starts)))]
        days = working_days(d0, d0 + timedelta(days=7 * args.weeks + 6))[:5 * args.weeks]
        after = working_days(days[-1] + timedelta(days=1), days[-1] + timedelta(days=20))[:10]
        eps.append((sp.code, days, after))
        for day in days:
            k = int(rng.integers(args.lo, args.hi + 1))
            if args.what == "mix":
                vals = best[None, :] - (rng.random((k, len(best))) >= args.best)
            else:
                vals = np.tile(best - 1, (k, 1))
            base = datetime(day.year, day.month, day.day)
            local = sorted(base + timedelta(minutes=_open_minute(rng)) for _ in range(k))
            parts.append(pd.DataFrame({
                "service_point": sp.code, "source": f"kiosk:{sp.kiosk}", "local": pd.to_datetime(local),
                "answered": len(best), "top": (vals == best).sum(axis=1), "sat": len(best),
                "uniform": (vals == vals[:, :1]).all(axis=1),
                "vector": vector_keys("counter-quick", vals.astype(np.int16)), "stuffed": True}))
    return parts, eps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--responses", type=int, default=100_000, help="demo responses per 24 months")
    ap.add_argument("--what", choices=("honest", "uniform", "mix"), default="honest")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--weeks", type=int, default=4)
    ap.add_argument("--lo", type=int, default=15)
    ap.add_argument("--hi", type=int, default=30)
    ap.add_argument("--best", type=float, default=0.5, help="mix: probability of the best level per item")
    args = ap.parse_args()
    t0, c0 = time.time(), time.process_time()
    model = DemoModel(structure("2022"))
    frame = frame_from_simulated(model, model.simulate(args.responses))
    for label, signals in (("without rise", WITHOUT), ("with rise", WITH)):
        integrity.SIGNALS = signals
        if args.what == "honest":
            res = integrity.scan(frame, working_days(date(2022, 1, 1), date(2022, 12, 31)))
            flagged = res[res["flagged"]]
            print(f"{label:>13}: {args.responses:,} responses, {res['n'].mean():.1f} per active point-day, "
                  f"{len(flagged)} false flags = {len(flagged) / len(model.service_points):.3f} per service point-year "
                  f"(signals {sorted({s for x in flagged['signals'] for s in x})})")
            if "rise" in signals:
                p = np.array([s["p_rise"] for cell in res["sources"] for s in cell])
                print(f"{'':15}rise p on {len(p):,} honest source-days: P(p <= 0.1) {np.mean(p <= 0.1):.2%}, "
                      f"P(p <= 0.01) {np.mean(p <= 0.01):.3%}, P(p <= 0.001) {np.mean(p <= 0.001):.4%}")
            continue
        parts, eps = episodes(model, np.random.default_rng(args.seed), args)
        data = pd.concat([frame, *parts], ignore_index=True)
        days = sorted({d for _, ds, after in eps for d in ds + after})
        cells = integrity.scan(data, days).set_index(["service_point", "day"])

        def flagged(sp: str, d: date, cells: pd.DataFrame = cells) -> bool:
            return (sp, d) in cells.index and bool(cells.loc[(sp, d), "flagged"])

        weeks = np.array([[flagged(sp, d) for d in ds] for sp, ds, _ in eps], dtype=float)
        after = np.mean([flagged(sp, d) for sp, _, aft in eps for d in aft])
        per_week = " / ".join(f"{weeks[:, i:i + 5].mean():.0%}" for i in range(0, weeks.shape[1], 5))
        print(f"{label:>13}: {args.what} {args.lo}-{args.hi} a day, {len(eps)} kiosk points, {args.responses:,}: "
              f"first day {weeks[:, 0].mean():.0%}, days flagged per week {per_week}; "
              f"10 days after {after:.1%}")
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"done in {time.time() - t0:.0f} s wall, {time.process_time() - c0:.0f} s CPU (load average {load})")


if __name__ == "__main__":
    main()
