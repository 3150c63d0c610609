"""Micro-benchmark (not a test): the `analysis` calls a dashboard page makes, on captured real inputs.

    .venv/bin/python benchmarks/analysis_micro.py                      # captures in /tmp/p, best of 7
    .venv/bin/python benchmarks/analysis_micro.py --captures DIR --repeat 15
    .venv/bin/python benchmarks/analysis_micro.py --save-ref ref.pkl   # keep every output …
    .venv/bin/python benchmarks/analysis_micro.py --check-ref ref.pkl  # … and compare after a change

Captures are pickles written from the live pages (`cap_<tag>_<n>_<kind>.pkl`):
- `tff`: ("totals_from_frame", (frame, spec, domain), kwargs): times `totals_from_frame`;
- `wum` / `ct`: (name, ClusterTotals, domain): totals carrying `UnitMoments`.  Times `estimate` by the
  domain, `collapse(())` + `estimate` (the whole), and the compare page's contrast "unit − whole"
  (`survey/results/indices.py:_compare`) for the first cell of the domain's first column; for the
  overall index, `rank_replicates` (500 draws) when the domain is one column, and `screen_changes`
  between the last two periods when it is (unit, period).  Their measures come from the spec of the
  nearest preceding `tff` capture with the same tag.
Prints one row per capture (best wall ms of each call).  `--check-ref` fails (exit 1) when any output
differs from the saved one by more than 1e-12 relative (frames and labels must be equal).
"""

from __future__ import annotations

import argparse
import pickle
import re
import sys
import time
from collections.abc import Callable
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import pandas as pd

from analysis.compare import screen_changes
from analysis.estimate import contrast_estimates, estimate
from analysis.ranks import rank_replicates

INEXACT: list[str] = []  # arrays within tolerance but not bit-identical (filled by `differences`)
CAPTURE = re.compile(r"cap_(?P<tag>[a-z]+)_(?P<n>\d+)_(?P<kind>tff|wum|ct)\.pkl$")


def best_ms(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """(best wall milliseconds over `repeat` calls, the last call's result)."""
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best * 1000.0, out


def load_captures(directory: Path) -> list[tuple[str, int, str, Any]]:
    """(tag, number, kind, payload) of every capture, in (tag, number) order."""
    found = []
    for path in directory.glob("cap_*.pkl"):
        m = CAPTURE.match(path.name)
        if m:
            with path.open("rb") as fh:
                found.append((m["tag"], int(m["n"]), m["kind"], pickle.load(fh)))
    return sorted(found, key=lambda c: (c[0], c[1]))


def contrast_unit_whole(totals: Any, measures: Any, col: str) -> Any:
    """The compare page's contrast: first cell of `col` against the whole population."""
    cells = totals.collapse((col,)).cells[col].to_numpy()
    masks = np.vstack([cells == cells[0], np.ones(len(cells), dtype=bool)])
    return contrast_estimates(totals, measures, (col,), masks, np.array([[1.0, -1.0]]))


def overall(measures: Any) -> Any:
    """The measure with the most terms (the overall index): what the ranking pages rank by default."""
    return max(measures, key=lambda m: len(m.terms))


def run(captures: list[tuple[str, int, str, Any]], repeat: int) -> tuple[list[list[str]], dict[str, Any]]:
    rows, outputs, spec_of = [], {}, {}
    for tag, n, kind, payload in captures:
        name = f"{tag}_{n}_{kind}"
        if kind == "tff":
            from analysis.totals import totals_from_frame

            frame, spec, dom = payload[1]
            spec_of[tag] = spec
            ms, out = best_ms(lambda: totals_from_frame(frame, spec, dom, **payload[2]), repeat)  # noqa: B023
            outputs[name] = out
            rows.append([name, f"{len(frame)} rows, by {':'.join(dom) or 'whole'}", f"{ms:.2f}", "", "", "", "", ""])
            continue
        totals, dom = payload[1], payload[2]
        dom = (dom,) if isinstance(dom, str) else tuple(dom or ())
        measures = spec_of[tag].measures
        ms_est, out_est = best_ms(lambda: estimate(totals, measures, dom), repeat)  # noqa: B023
        ms_all, out_all = best_ms(lambda: estimate(totals.collapse(()), measures, ()), repeat)  # noqa: B023
        outputs[name] = (out_est, out_all)
        ms_con = ""
        if dom:
            ms, out_con = best_ms(lambda: contrast_unit_whole(totals, measures, dom[0]), repeat)  # noqa: B023
            outputs[name] += (out_con,)
            ms_con = f"{ms:.2f}"
        ms_rank = ms_change = ""
        if len(dom) == 1:  # the Home Affairs ranks: 500 normal draws (unit-level totals) per unit
            ms, out = best_ms(lambda: rank_replicates(totals, overall(measures), dom, replicates=500, seed=20240601),  # noqa: B023
                              repeat)
            outputs[name] += (out,)
            ms_rank = f"{ms:.2f}"
        if len(dom) == 2:  # the change since the previous period (second column = the period)
            periods = sorted(set(totals.cells[dom[1]]))
            ms, out = best_ms(lambda: screen_changes(totals, [overall(measures)], dom[0], dom[1], periods[-2],  # noqa: B023
                                                     periods[-1]), repeat)  # noqa: B023
            outputs[name] += (out,)
            ms_change = f"{ms:.2f}"
        shape = f"{totals.stats.shape[0]} rows × {totals.stats.shape[1]} items, by {':'.join(dom) or 'whole'}"
        rows.append([name, shape, "", f"{ms_est:.2f}", f"{ms_all:.2f}", ms_con, ms_rank, ms_change])
    return rows, outputs


def differences(a: Any, b: Any, where: str = "") -> list[str]:
    """Places where two outputs differ (arrays beyond 1e-12 relative, anything else unequal)."""
    if is_dataclass(a) and type(a) is type(b):
        return [d for f in fields(a) for d in differences(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")]
    if isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in differences(x, y, f"{where}[{i}]")]
    if isinstance(a, pd.DataFrame | pd.Index):
        ok = type(a) is type(b) and a.equals(b) and str(getattr(a, "dtypes", getattr(a, "dtype", None))) == str(
            getattr(b, "dtypes", getattr(b, "dtype", None)))
        if isinstance(a, pd.DataFrame) and ok:
            ok = list(a.columns) == list(b.columns) and a.index.equals(b.index)
        return [] if ok else [f"{where}: frames differ"]
    if isinstance(a, np.ndarray):
        if not isinstance(b, np.ndarray) or a.shape != b.shape or a.dtype != b.dtype:
            got = f"{getattr(b, 'shape', None)} {getattr(b, 'dtype', None)}"
            return [f"{where}: shape/dtype {got} vs {a.shape} {a.dtype}"]
        if a.dtype.kind in "fc":
            same_nan = np.array_equal(np.isnan(a), np.isnan(b))
            fa, fb = np.nan_to_num(a), np.nan_to_num(b)
            ok = same_nan and bool(np.all(np.abs(fa - fb) <= 1e-12 * np.maximum(np.abs(fa), np.abs(fb))))
        else:
            ok = np.array_equal(a, b)
        if ok and not (np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")):
            INEXACT.append(where)
        return [] if ok else [f"{where}: values differ"]
    return [] if a == b else [f"{where}: {a!r} != {b!r}"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--captures", type=Path, default=Path("/tmp/p"))
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--save-ref", type=Path)
    ap.add_argument("--check-ref", type=Path)
    args = ap.parse_args(argv)
    captures = load_captures(args.captures) if args.captures.is_dir() else []
    if not captures:
        print(f"no captures (cap_*_tff/wum/ct.pkl) in {args.captures}: nothing to time")
        return 0
    rows, outputs = run(captures, args.repeat)
    head = ["capture", "shape", "totals_from_frame", "estimate(by)", "collapse+estimate", "contrast", "ranks",
            "changes"]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    print(f"best of {args.repeat}, ms")
    for r in [head, *rows]:
        print("  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))))
    sums = [f"{sum(float(r[i]) for r in rows if r[i]):.2f}".rjust(w) for i, w in enumerate(widths) if i >= 2]
    print("sum".ljust(widths[0] + widths[1] + 2), "  ".join(sums))
    if args.save_ref:
        with args.save_ref.open("wb") as fh:
            pickle.dump(outputs, fh)
        print(f"outputs saved to {args.save_ref}")
    if args.check_ref:
        with args.check_ref.open("rb") as fh:
            ref = pickle.load(fh)
        bad = [d for k in ref for d in differences(ref[k], outputs.get(k), k)]
        print("\n".join(bad) if bad else f"all outputs equal to {args.check_ref} (1e-12 relative)")
        print(f"arrays not bit-identical (within 1e-12): {len(INEXACT)} {INEXACT[:5]}")
        return 1 if bad else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
