"""Funnel-plot control limits for unit indices against their effective sample size.

Spiegelhalter (Stat Med 2005, "Funnel plots for comparing institutional performance"): a unit is
compared with the target θ₀ through limits θ₀ ± z·√(θ₀(1−θ₀)/n_eff), which narrow as the unit's
information grows, so small units are not flagged for noise and large ones are not excused. We use
the normal approximation on n_eff (the design-effect-adjusted sample size), clipped to [0, 1] because
the index is a proportion. Two-sided levels 95% (z ≈ 1.96) and 99.8% (z ≈ 3.09) are the usual
"warning" and "alarm" lines.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.stats import norm

__all__ = ["LEVELS", "design_n_eff", "funnel_flags", "funnel_limits"]

LEVELS: tuple[float, ...] = (0.95, 0.998)


def _z(level: float) -> float:
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    return float(norm.ppf(0.5 + level / 2))


def _label(level: float) -> str:
    return f"{level * 100:g}"


def design_n_eff(estimate: Sequence[float] | np.ndarray, se: Sequence[float] | np.ndarray,
                 fallback: Sequence[float] | np.ndarray) -> np.ndarray:
    """The effective number of responses under the design, p(1−p)/V: the simple random sample that would
    give the design's variance V (Korn & Graubard 1998; R `svyciprop(method="beta")` uses the same n*).

    Kish's (Σw)²/Σw² only counts unequal weights, so under the `clusters` design it ignores that answers
    at one service point move together and funnel limits came out too narrow.  Where V is 0 or missing, or
    p ∈ {0, 1} (no information on V), `fallback` (Kish's n_eff) is used.
    """
    p = np.asarray(estimate, dtype=float)
    s = np.asarray(se, dtype=float)
    fb = np.asarray(fallback, dtype=float)
    ok = np.isfinite(p) & np.isfinite(s) & (s > 0) & (p > 0) & (p < 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        n = np.where(ok, p * (1 - p) / np.where(ok, s * s, 1.0), fb)
    return n


def funnel_limits(theta0: float, n_eff: Sequence[float] | np.ndarray | float,
                  levels: Sequence[float] = LEVELS) -> pd.DataFrame:
    """Lower/upper limits for each n_eff: columns `n_eff`, `lower_95`, `upper_95`, `lower_99.8`, …

    n_eff ≤ 0 or missing gives missing limits (no information: the unit cannot be placed).
    """
    if not 0 <= theta0 <= 1 or np.isnan(theta0):
        raise ValueError(f"theta0 must be a proportion in [0, 1], got {theta0}")
    n = np.atleast_1d(np.asarray(n_eff, dtype=float))
    valid = np.isfinite(n) & (n > 0)
    safe = np.where(valid, n, 1.0)
    out = {"n_eff": n}
    half_unit = np.sqrt(theta0 * (1 - theta0) / safe)
    for level in levels:
        half = _z(level) * half_unit
        lab = _label(level)
        out[f"lower_{lab}"] = np.where(valid, np.clip(theta0 - half, 0.0, 1.0), np.nan)
        out[f"upper_{lab}"] = np.where(valid, np.clip(theta0 + half, 0.0, 1.0), np.nan)
    return pd.DataFrame(out)


def funnel_flags(estimates: Sequence[float] | np.ndarray, n_eff: Sequence[float] | np.ndarray,
                 theta0: float, levels: Sequence[float] = LEVELS) -> pd.DataFrame:
    """Limits plus a `flag` per unit: `above_<L>` / `below_<L>` for the widest level L it crosses,
    `within` otherwise, `unknown` when the estimate or n_eff is missing.

    A unit exactly on a limit is `within` (the limits are the edge of the acceptable region).
    """
    est = np.asarray(estimates, dtype=float)
    table = funnel_limits(theta0, n_eff, levels)
    if est.shape != (len(table),):
        raise ValueError(f"estimates ({est.size}) and n_eff ({len(table)}) differ in length")
    table.insert(0, "estimate", est)
    flag = np.where(np.isfinite(est) & np.isfinite(table[f"lower_{_label(levels[0])}"]),
                    "within", "unknown").astype(object)
    for level in sorted(levels):  # widest level last, so it wins
        lab = _label(level)
        flag = np.where(est > table[f"upper_{lab}"].to_numpy(), f"above_{lab}", flag)
        flag = np.where(est < table[f"lower_{lab}"].to_numpy(), f"below_{lab}", flag)
    table["flag"] = flag
    return table
