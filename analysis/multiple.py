"""Multiple-comparison adjustments for many units tested at once (methodology §4).

Holm controls the family-wise error ("this agency differs from the city mean" for 40 agencies at
once); Benjamini–Hochberg controls the false discovery rate, which suits screening many period-to-
period changes where a few false alarms are acceptable. Both follow R's `p.adjust`: missing p-values
stay missing and do not count towards the number of tests.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

__all__ = ["benjamini_hochberg", "holm", "p_adjust"]


def _as_pvalues(p: Sequence[float] | np.ndarray) -> np.ndarray:
    arr = np.asarray(p, dtype=float)
    if arr.ndim != 1:
        raise ValueError(f"p-values must be one-dimensional, got shape {arr.shape}")
    bad = np.count_nonzero((arr < 0) | (arr > 1))
    if bad:
        raise ValueError(f"p-values must lie in [0, 1]: {bad} value(s) outside")
    return arr


def holm(p: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm step-down adjusted p-values: max over j ≤ i of (m − j + 1)·p_(j), capped at 1."""
    arr = _as_pvalues(p)
    out = np.full(arr.shape, np.nan)
    ok = ~np.isnan(arr)
    q = arr[ok]
    m = q.size
    if m == 0:
        return out
    order = np.argsort(q, kind="mergesort")
    stepped = (m - np.arange(m)) * q[order]
    adj = np.minimum(np.maximum.accumulate(stepped), 1.0)
    res = np.empty(m)
    res[order] = adj
    out[ok] = res
    return out


def benjamini_hochberg(p: Sequence[float] | np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg step-up adjusted p-values: min over j ≥ i of m/j·p_(j), capped at 1."""
    arr = _as_pvalues(p)
    out = np.full(arr.shape, np.nan)
    ok = ~np.isnan(arr)
    q = arr[ok]
    m = q.size
    if m == 0:
        return out
    order = np.argsort(q, kind="mergesort")
    scaled = m / np.arange(1, m + 1) * q[order]
    adj = np.minimum(np.minimum.accumulate(scaled[::-1])[::-1], 1.0)
    res = np.empty(m)
    res[order] = adj
    out[ok] = res
    return out


def p_adjust(p: Sequence[float] | np.ndarray, method: str) -> np.ndarray:
    """Dispatch by name, with R's names: `holm`, `BH` (alias `fdr`), `none`."""
    methods: dict[str, Callable[[Sequence[float] | np.ndarray], np.ndarray]] = {
        "holm": holm, "bh": benjamini_hochberg, "fdr": benjamini_hochberg, "none": lambda x: _as_pvalues(x).copy()}
    try:
        fn = methods[method.lower()]
    except KeyError:
        raise ValueError(f"unknown adjustment {method!r}; use one of holm, BH, none") from None
    return fn(p)
