"""Benchmark (not a test): `python -m analysis indices` on 1 M (and optionally 10 M) respondents × 22 items.

    .venv/bin/python benchmarks/analysis_bench.py                    # 1 M, plus R survey if installed
    .venv/bin/python benchmarks/analysis_bench.py --sizes 1000000 10000000 --no-r

Generates a seeded file (40 agencies, 9 districts = strata, 200 service points = clusters, weights,
~3% missing answers) as Parquet in --workdir, then times the whole process (wall time and peak RSS from
/usr/bin/time -v, or resource.getrusage as a fallback) for all items, item means, elements and the
overall index by agency and by district with Taylor CIs (plus by agency with no design options, the
unclustered path); and R survey's svyby on the same data (from
a CSV copy, R has no Parquet reader here) when Rscript is available.  Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
ELEMENT_SIZES = (4, 5, 6, 3, 4)  # 22 criteria, SIPAS 2017 split
N_AGENCIES, N_DISTRICTS, N_POINTS = 40, 9, 200
CHUNK = 1_000_000


def questionnaire(path: Path) -> Path:
    """A 22-item, 5-element questionnaire file (the shape of SIPAS 2017)."""
    levels = [{"value": v, "label": {"vi": f"Mức {v}", "en": f"Level {v}"}} for v in range(1, 6)]
    sections, elements, k = [], [], 0
    for e, size in enumerate(ELEMENT_SIZES, start=1):
        codes = [f"Q{k + i + 1:02d}" for i in range(size)]
        k += size
        title = {"vi": f"Yếu tố {e}", "en": f"Element {e}"}
        items = [{"code": c, "type": "scale", "scale": "sat5", "text": {"vi": c, "en": c}} for c in codes]
        sections.append({"code": f"E{e}", "title": title, "items": items})
        elements.append({"code": f"E{e}", "title": title, "items": codes})
    q = {
        "id": "bench", "version": 1, "title": {"vi": "Đo hiệu năng", "en": "Benchmark"},
        "description": {"vi": "Dữ liệu sinh ngẫu nhiên", "en": "Generated data"}, "basis": "benchmark",
        "scales": {"sat5": {"levels": levels, "satisfied": [4, 5]}}, "sections": sections,
        "index": {"method": "top2box", "elements": elements, "overall": {"combine": "mean"}},
    }  # fmt: skip
    path.write_text(json.dumps(q, ensure_ascii=False), encoding="utf-8")
    return path


def generate(n: int, path: Path, seed: int = 2026) -> None:
    """Seeded respondents written in row groups of CHUNK rows (memory stays flat at any n)."""
    rng = np.random.default_rng(seed)
    sp_district = np.sort(rng.integers(0, N_DISTRICTS, N_POINTS))
    sp_district[:N_DISTRICTS] = np.arange(N_DISTRICTS)  # every district has service points
    sp_agency = rng.integers(0, N_AGENCIES, N_POINTS)
    sp_agency[:N_AGENCIES] = np.arange(N_AGENCIES)
    sp_effect = rng.normal(0, 0.4, N_POINTS)
    sp_names = pa.array([f"SP{i:03d}" for i in range(N_POINTS)])
    ag_names = pa.array([f"AG{i:02d}" for i in range(N_AGENCIES)])
    di_names = pa.array([f"D{i}" for i in range(N_DISTRICTS)])
    writer = None
    try:
        for start in range(0, n, CHUNK):
            m = min(CHUNK, n - start)
            sp = rng.integers(0, N_POINTS, m).astype(np.int32)
            cols = {
                "response_id": pa.array(np.arange(start, start + m, dtype=np.int64)),
                "district": pa.DictionaryArray.from_arrays(pa.array(sp_district[sp].astype(np.int32)), di_names),
                "agency": pa.DictionaryArray.from_arrays(pa.array(sp_agency[sp].astype(np.int32)), ag_names),
                "service_point": pa.DictionaryArray.from_arrays(pa.array(sp), sp_names),
                "weight": pa.array(np.round(rng.lognormal(0, 0.4, m), 3)),
            }
            base = sp_effect[sp] + rng.normal(0, 0.5, m)
            for i in range(sum(ELEMENT_SIZES)):
                v = np.clip(np.rint(3.4 + base + rng.normal(0, 0.9, m)), 1, 5).astype(np.int8)
                cols[f"Q{i + 1:02d}"] = pa.array(v, mask=rng.random(m) < 0.03)
            table = pa.table(cols)
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema)
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()


def timed(cmd: list[str]) -> tuple[float, float, float, int]:
    """(wall seconds, CPU seconds user+sys, peak RSS MB, exit status) of a whole process.

    CPU time is reported too because wall time on a shared machine mostly measures the other load.
    """
    gnu_time = shutil.which("time") or ("/usr/bin/time" if Path("/usr/bin/time").exists() else None)
    if gnu_time:
        proc = subprocess.run([gnu_time, "-v", *cmd], capture_output=True, text=True, check=False)
        wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", proc.stderr)
        rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
        cpu = sum(float(m) for m in re.findall(r"(?:User|System) time \(seconds\): ([\d.]+)", proc.stderr))
        h, mnt, sec = (float(x) if x else 0.0 for x in wall.groups())
        if proc.returncode:
            sys.stderr.write(proc.stderr[-2000:])
        if proc.stdout.strip():
            print("   ", proc.stdout.strip(), flush=True)
        return h * 3600 + mnt * 60 + sec, cpu, int(rss.group(1)) / 1024, proc.returncode
    t0 = time.perf_counter()
    rc = subprocess.run(cmd, check=False).returncode
    wall = time.perf_counter() - t0
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, rc


R_SCRIPT = r"""
suppressMessages({library(survey); library(data.table)})
args <- commandArgs(TRUE); by <- args[2]
t0 <- proc.time()[["elapsed"]]
d <- as.data.frame(fread(args[1]))
items <- grep("^Q[0-9]+$", names(d), value = TRUE)
for (q in items) { d[[paste0("s_", q)]] <- as.numeric(!is.na(d[[q]]) & d[[q]] >= 4)
                   d[[paste0("a_", q)]] <- as.numeric(!is.na(d[[q]])) }
des <- svydesign(ids = ~service_point, strata = ~district, weights = ~weight, data = d)
t1 <- proc.time()[["elapsed"]]
f <- as.formula(paste("~", paste(c(paste0("s_", items), paste0("a_", items)), collapse = "+")))
r <- svyby(f, as.formula(paste0("~", by)), des, svytotal)  # covmat = TRUE needs n × 44·D doubles
t2 <- proc.time()[["elapsed"]]
cat(sprintf("R read+design %.1f s, svyby totals (44 variables, %d domains) %.1f s\n", t1 - t0, nrow(r), t2 - t1))
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000_000])
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/hailong-bench"))
    ap.add_argument("--no-r", action="store_true", help="skip R survey even when Rscript exists")
    ap.add_argument("--repeat", type=int, default=1, help="runs per case; the best is reported")
    args = ap.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    qfile = questionnaire(args.workdir / "bench-v1.json")
    rows = []
    for n in args.sizes:
        data = args.workdir / f"bench_{n}.parquet"
        if not data.exists():
            t0 = time.perf_counter()
            generate(n, data)
            print(f"generated {n:,} respondents in {time.perf_counter() - t0:.1f} s → {data}", flush=True)
        design = ["--weights", "weight", "--strata", "district", "--cluster", "service_point"]
        for by, opts in (("agency", design), ("district", design), ("agency, no design", [])):
            cmd = [sys.executable, "-m", "analysis", "indices", str(data), "--questionnaire", str(qfile),
                   "--by", by.split(",")[0], *opts, "--ci", "taylor",
                   "--output", str(args.workdir / f"out_{n}_{by.split(',')[0]}.csv")]  # fmt: skip
            best = min((timed(cmd) for _ in range(args.repeat)), key=lambda r: r[0])
            rows.append(("analysis", n, by, *best))
            print(f"analysis  n={n:>10,} by={by:<8} {best[0]:6.2f} s wall {best[1]:6.2f} s CPU {best[2]:7.0f} MB"
                  f" (exit {best[3]})", flush=True)  # fmt: skip
        if not args.no_r and shutil.which("Rscript") and n <= 1_000_000:
            csv = args.workdir / f"bench_{n}.csv"
            if not csv.exists():
                pq.read_table(data).to_pandas().to_csv(csv, index=False)
            script = args.workdir / "bench.R"
            script.write_text(R_SCRIPT, encoding="utf-8")
            for by in ("agency", "district"):
                # capped at 6 GB of address space and 15 minutes, so R cannot take the machine down
                r_cmd = f"ulimit -v 6000000; exec timeout 900 Rscript {script} {csv} {by}"
                wall, cpu, rss, rc = timed(["sh", "-c", r_cmd])
                rows.append(("R survey", n, by, wall, cpu, rss, rc))
                print(f"R survey  n={n:>10,} by={by:<8} {wall:6.2f} s wall {cpu:6.2f} s CPU {rss:7.0f} MB"
                      f" (exit {rc})", flush=True)  # fmt: skip
    print("\n| tool | respondents | by | wall time (s) | CPU user+sys (s) | peak RSS (MB) |")
    print("|---|---|---|---|---|---|")
    for tool, n, by, wall, cpu, rss, rc in rows:
        note = "" if rc == 0 else f" (exit {rc})"
        print(f"| {tool} | {n:,} | {by} | {wall:.2f}{note} | {cpu:.2f} | {rss:.0f} |")
    print(f"\nmachine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
