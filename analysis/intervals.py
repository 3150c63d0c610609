"""Confidence intervals (methodology §3), vectorised over arrays; every undefined case returns NaN
bounds that the result table turns into a documented `reason`, never a silent NaN.

- `wilson`, `clopper_pearson`: one proportion from a simple random sample (x successes of n).  Both
  accept a non-integer "effective" x and n, which is how they are used under a design.
- `t_interval`: estimate ± t_{df}·se, the Taylor interval for every measure (df ≤ 0 → undefined).
- `logit_interval`: logit(p) ± t_{df}·se/(p(1−p)), back-transformed; R `svyciprop(method="xlogit")`
  (and `"logit"` up to svyglm's convergence tolerance).  Undefined at p ∈ {0, 1}.
- `korn_graubard`: Clopper–Pearson on n_eff = p(1−p)/V, multiplied by (t_{n−1}/t_{df})²; R
  `svyciprop(method="beta")`.  Where V = 0 (p ∈ {0, 1}) R returns NaN; here n_eff falls back to n,
  i.e. the exact Clopper–Pearson interval of the answers, the conservative choice.
"""

from __future__ import annotations

from types import ModuleType

import numpy as np


def _special() -> ModuleType:
    """scipy.special, imported on first use (not scipy.stats): a third of the CLI's start-up otherwise."""
    from scipy import special

    return special


def _arr(x: object) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def wilson(x: object, n: object, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for x successes out of n (n ≤ 0 → NaN)."""
    x, n = np.broadcast_arrays(_arr(x), _arr(n))
    z = _special().ndtri(0.5 + level / 2)
    ok = n > 0
    nn = np.where(ok, n, 1.0)
    p = x / nn
    centre = (p + z * z / (2 * nn)) / (1 + z * z / nn)
    half = z * np.sqrt(np.maximum(p * (1 - p) / nn + z * z / (4 * nn * nn), 0.0)) / (1 + z * z / nn)
    lo = np.clip(centre - half, 0.0, 1.0)
    hi = np.clip(centre + half, 0.0, 1.0)
    # exact ends: the formula gives 0 and 1 up to rounding at p = 0 and p = 1
    lo = np.where(x <= 0, 0.0, lo)
    hi = np.where(x >= n, 1.0, hi)
    return np.where(ok, lo, np.nan), np.where(ok, hi, np.nan)


def clopper_pearson(x: object, n: object, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Exact (beta) interval; x and n may be non-integer effective counts (n ≤ 0 → NaN)."""
    x, n = np.broadcast_arrays(_arr(x), _arr(n))
    alpha = 1 - level
    ok = n > 0
    x = np.clip(x, 0.0, np.where(ok, n, 0.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        lo = np.where(x > 0, _special().betaincinv(np.where(x > 0, x, 1.0), n - x + 1, alpha / 2), 0.0)  # type: ignore[call-overload, operator]
        hi = np.where(x < n, _special().betaincinv(x + 1, np.where(x < n, n - x, 1.0), 1 - alpha / 2), 1.0)  # type: ignore[operator]
    return np.where(ok, lo, np.nan), np.where(ok, hi, np.nan)


def t_quantile(df: object, level: float = 0.95) -> np.ndarray:
    """Two-sided t quantile for `level`; NaN where df ≤ 0, normal quantile where df is infinite."""
    df = _arr(df)
    ok = df > 0
    with np.errstate(invalid="ignore"):
        q = _special().stdtrit(np.where(ok, df, 1.0), 0.5 + level / 2)
    return np.where(ok, q, np.nan)


def t_interval(
    estimate: object, se: object, df: object, level: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """estimate ± t_{df}·se; undefined (NaN) where df ≤ 0."""
    est, se = _arr(estimate), _arr(se)
    q = t_quantile(df, level)
    return est - q * se, est + q * se


def logit_interval(p: object, se: object, df: object, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Logit-transformed t interval; NaN at p ∈ {0, 1}, se = 0 or df ≤ 0."""
    p, se = _arr(p), _arr(se)
    ok = (p > 0) & (p < 1) & (se > 0)
    pp = np.where(ok, p, 0.5)
    centre = np.log(pp / (1 - pp))
    half = t_quantile(df, level) * se / (pp * (1 - pp))
    lo = 1 / (1 + np.exp(-(centre - half)))
    hi = 1 / (1 + np.exp(-(centre + half)))
    return np.where(ok, lo, np.nan), np.where(ok, hi, np.nan)


def korn_graubard(
    p: object, variance: object, n: object, df: object, level: float = 0.95
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Korn–Graubard interval; returns (low, high, n_eff used).

    n_eff = p(1−p)/V·(t_{n−1}/t_{df})² as R svyciprop(method="beta"); where V = 0 or p ∈ {0,1}, n_eff = n
    (no design information: exact Clopper–Pearson).  df ≤ 0 → NaN.
    """
    p, var, n, df = np.broadcast_arrays(_arr(p), _arr(variance), _arr(n), _arr(df))
    informative = (var > 0) & (p > 0) & (p < 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        n_eff = np.where(informative, p * (1 - p) / np.where(var > 0, var, 1.0), n)
        ratio = t_quantile(n - 1, level) / t_quantile(df, level)
    n_eff = np.where(informative, n_eff * ratio * ratio, n_eff)
    lo, hi = clopper_pearson(p * n_eff, n_eff, level)
    bad = ~(df > 0)
    return np.where(bad, np.nan, lo), np.where(bad, np.nan, hi), n_eff
