"""Internal consistency of an element's items: Cronbach's alpha (methodology §5).

An element index averages its items, which is only meaningful if the items measure one thing;
alpha is the customary check (≥ 0.7 usually read as acceptable). Computed on complete cases — the
respondents who gave a level for every item of the element — because alpha's variance decomposition
needs the same people behind every item. "No opinion" (stored 0, exported empty) counts as missing.
The standardized alpha (from the mean inter-item correlation) is reported too: it is what alpha would
be if the items had equal variances, useful when items use different scales.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from questionnaires.index_spec import IndexSpec

__all__ = ["AlphaResult", "cronbach_alpha", "element_alphas"]


@dataclass(frozen=True)
class AlphaResult:
    """alpha/standardized are NaN only when `note` says why (too few cases, no variance)."""

    alpha: float
    standardized: float
    n: int
    k: int
    note: str = ""


def _complete_cases(items: pd.DataFrame) -> np.ndarray:
    arr = items.apply(pd.to_numeric, errors="raise").to_numpy(dtype=float)
    arr = np.where(arr == 0, np.nan, arr)
    return arr[~np.isnan(arr).any(axis=1)]


def cronbach_alpha(items: pd.DataFrame) -> AlphaResult:
    """α = k/(k−1)·(1 − Σ var(item)/var(sum)); standardized = k·r̄/(1 + (k−1)·r̄)."""
    k = items.shape[1]
    if k < 2:
        raise ValueError(f"Cronbach's alpha needs at least 2 items, got {k}")
    x = _complete_cases(items)
    n = x.shape[0]
    if n < 2:
        return AlphaResult(np.nan, np.nan, n, k, f"only {n} complete case(s)")
    item_var = x.var(axis=0, ddof=1)
    total_var = x.sum(axis=1).var(ddof=1)
    if total_var == 0:
        return AlphaResult(np.nan, np.nan, n, k, "no variance in the summed score")
    alpha = k / (k - 1) * (1 - item_var.sum() / total_var)
    if np.any(item_var == 0):
        return AlphaResult(float(alpha), np.nan, n, k, "an item has no variance: no standardized alpha")
    corr = np.corrcoef(x, rowvar=False)
    r_bar = (corr.sum() - k) / (k * (k - 1))
    standardized = k * r_bar / (1 + (k - 1) * r_bar)
    return AlphaResult(float(alpha), float(standardized), n, k)


def element_alphas(data: pd.DataFrame, spec: IndexSpec,
                   elements: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per element of the index: `element, k, n, alpha, standardized, note`.

    The element's items are those its satisfaction ratios use, on their level values (not the
    top-2-box indicator, which would throw away most of the information). Elements with a single
    item get a row with a note instead of an error, so a report can list every element.
    """
    rows = []
    for m in spec.measures:
        if m.kind != "element" or (elements is not None and m.code not in elements):
            continue
        codes = list(dict.fromkeys(k.item for k in m.ratios))
        missing = [c for c in codes if c not in data.columns]
        if missing:
            raise KeyError(f"column {missing[0]!r} of element {m.code} is not in the data")
        if len(codes) < 2:
            rows.append({"element": m.code, "k": len(codes), "n": int(data[codes].notna().all(axis=1).sum()),
                         "alpha": np.nan, "standardized": np.nan, "note": "single item"})
            continue
        r = cronbach_alpha(data[codes])
        rows.append({"element": m.code, "k": r.k, "n": r.n, "alpha": r.alpha,
                     "standardized": r.standardized, "note": r.note})
    return pd.DataFrame(rows, columns=["element", "k", "n", "alpha", "standardized", "note"])
