"""Benchmark (not a test): 1,000 Rao–Wu bootstrap replicates for the ranks of 40 agencies (goal ≤ 5 s).

    .venv/bin/python benchmarks/ranks_bench.py                 # 1 M respondents, 1,000 replicates
    .venv/bin/python benchmarks/ranks_bench.py --respondents 200000 --replicates 2000

Uses the seeded data of benchmarks/analysis_bench.py (40 agencies, 9 districts = strata, 200 service
points = clusters, weights, ~3% missing, 22 items in 5 elements).  Reads the file once into cluster
totals, then times, in process (best of --repeat): `rank_table` for the overall index by agency
(bootstrap + ranks + funnel), and bootstrap SEs/percentile CIs of all 50 measures by agency; then
the whole process `python -m analysis ranks … --by agency`.  The bootstrap works on cluster totals,
so its cost depends on clusters × domains × replicates, not on the number of respondents.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from analysis_bench import generate, questionnaire, timed

from analysis.bootstrap import bootstrap_intervals
from analysis.cli import load_spec
from analysis.data import DesignColumns, read_totals
from analysis.ranks import rank_table


def best(fn, repeat: int) -> tuple[float, float]:
    """(best wall seconds, its CPU seconds) over `repeat` calls."""
    runs = []
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        runs.append((time.perf_counter() - w0, time.process_time() - c0))
    return min(runs)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--respondents", type=int, default=1_000_000)
    ap.add_argument("--replicates", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/hailong-bench"))
    args = ap.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    data = args.workdir / f"bench-{args.respondents}.parquet"
    if not data.exists():
        generate(args.respondents, data)
    qfile = questionnaire(args.workdir / "bench-v1.json")
    spec = load_spec(str(qfile))
    design = DesignColumns(by=("agency",), weights="weight", strata="district", cluster="service_point")
    t0 = time.perf_counter()
    totals = read_totals(data, spec, design)
    read_s = time.perf_counter() - t0
    overall = next(m for m in spec.measures if m.kind == "overall")
    B = args.replicates

    table = rank_table(totals, overall, ("agency",), replicates=B, seed=1, n_min=30)
    ranked = int((~table["suppressed"]).sum())
    rank_wall, rank_cpu = best(lambda: rank_table(totals, overall, ("agency",), replicates=B, seed=1), args.repeat)
    all_wall, all_cpu = best(lambda: bootstrap_intervals(totals, spec.measures, by=("agency",), replicates=B,
                                                          seed=1), args.repeat)
    cmd = [sys.executable, "-m", "analysis", "ranks", str(data), "--questionnaire", str(qfile), "--by", "agency",
           "--weights", "weight", "--strata", "district", "--cluster", "service_point", "--replicates", str(B),
           "--output", str(args.workdir / "ranks.csv")]
    proc_wall, proc_cpu, proc_rss, rc = timed(cmd)
    if rc:
        print(f"`python -m analysis ranks` failed with status {rc}", file=sys.stderr)
        return rc
    print(f"\n{args.respondents:,} respondents, {totals.n_clusters} clusters, {totals.n_strata} strata, "
          f"{ranked} agencies ranked, B = {B} (file → cluster totals {read_s:.2f} s)\n")
    print("| step | wall s | CPU s | goal |")
    print("|---|---|---|---|")
    print(f"| rank_table: {B} replicates, ranks of 40 agencies (overall index) | {rank_wall:.2f} | "
          f"{rank_cpu:.2f} | ≤ 5 s |")
    print(f"| bootstrap SE + percentile CI, all {len(spec.measures)} measures × 40 agencies | {all_wall:.2f} | "
          f"{all_cpu:.2f} | |")
    print(f"| whole process `python -m analysis ranks --by agency` (peak {proc_rss:.0f} MB) | {proc_wall:.2f} | "
          f"{proc_cpu:.2f} | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
