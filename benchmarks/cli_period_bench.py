"""The analysis CLI by month with strata split by period (`DesignColumns.period_strata`) against the whole-span
strata: process CPU, wall and peak RSS of reading and estimating a 1 M-respondent file by agency × month.

    nice -n 10 prlimit --as=10000000000 .venv/bin/python benchmarks/cli_period_bench.py split|whole

The file (analysis_bench.py's 1 M respondents, 200 service points, plus a month column over 12 months) is made
once in /tmp/hailong-bench-period.  Figures in benchmarks/README.md, "Analysis CLI by a period".
"""

from __future__ import annotations

import resource
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).parent))
import analysis_bench as ab

from analysis.cli import indices_table, load_spec
from analysis.data import DesignColumns, read_totals

WORK = Path("/tmp/hailong-bench-period")


def main() -> int:
    split = sys.argv[1:] == ["split"]
    WORK.mkdir(exist_ok=True)
    path, q = WORK / "b1m.parquet", ab.questionnaire(WORK / "bench-v1.json")
    if not path.exists():
        ab.generate(1_000_000, WORK / "raw.parquet")
        t = pq.read_table(WORK / "raw.parquet")
        months = np.array([f"2026-{m:02d}" for m in range(1, 13)], dtype=object)
        pq.write_table(t.append_column("month", pa.array(months[np.random.default_rng(1).integers(0, 12, len(t))])),
                       path)
    spec = load_spec(str(q))
    r0, w0 = resource.getrusage(resource.RUSAGE_SELF), time.time()
    totals = read_totals(path, spec, DesignColumns(by=("agency", "month"), weights="weight", strata="service_point",
                                                    period_strata=split), unit_level=True)
    table = indices_table(spec, totals, ("agency", "month"), "taylor")
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime
    print(f"{'split' if split else 'whole'}: {totals.n_strata} strata, {len(table)} rows, CPU {cpu:.1f} s, "
          f"wall {time.time() - w0:.1f} s, peak RSS {r1.ru_maxrss // 1024} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
