"""Rao–Wu rescaled bootstrap of clusters within strata (methodology §3), on cluster totals.

Replicate b draws m_h = n_h − 1 clusters with replacement in every stratum h (n_h clusters) and
multiplies every weight of cluster c by  n_h/(n_h − 1) · r_bc,  r_bc = times c was drawn (Rao & Wu
1988; Rao, Wu & Yue 1992 with m_h = n_h − 1, which makes the rescaling factor 1 and the multipliers
non-negative).  For a linear statistic this reproduces the Taylor between-cluster variance in
expectation, and it works unchanged for every nonlinear measure (ratios, composites, ranks).

Conventions (documented because they change published figures):
- replicate estimates come from `analysis.estimate.replicate_estimates`, i.e. from per-cluster
  totals only, with every cluster of the design in its stratum (domains are never subsetted);
- a stratum with a single cluster cannot be resampled: its multiplier is 1 in every replicate, so it
  adds no variance (the Taylor "adjust" rule has no bootstrap analogue; say so when it matters);
- SE = standard deviation of the replicates around their mean (divisor B − 1, as R `svrepdesign`
  with mse = FALSE); the interval is the percentile interval read at order statistic (B + 1)·α
  (Davison & Hinkley 1997, §5.2; numpy "weibull", R quantile type 6), interpolating between
  neighbours.  R's default type 7 reads (B − 1)·α + 1, which sits inside the tails: with B = 200 its
  95% interval covers about one point less (seen in tests/analysis/test_coverage.py);
- a domain whose replicate denominator is 0 (none of its clusters drawn) gives an undefined replicate;
  SE and interval use the defined replicates, and are undefined if fewer than 2 remain;
- multipliers depend only on the design's clusters and the seed, so the same seed gives the same
  replicates for the whole population and for every domain breakdown.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from analysis.estimate import estimate, replicate_estimates
from analysis.result import result_table
from analysis.totals import ClusterTotals
from questionnaires.index_spec import IndexSpec, Measure

__all__ = [
    "DEFAULT_REPLICATES",
    "bootstrap_intervals",
    "bootstrap_replicates",
    "bootstrap_results",
    "rao_wu_multipliers",
    "replicate_summary",
]

DEFAULT_REPLICATES = 1000
#: replicates × (cluster, cell) rows held in memory at once; bounds memory for respondent-level
#: "clusters" (no cluster column) at the cost of a loop over blocks of replicates
_BLOCK_CELLS = 20_000_000


def rao_wu_multipliers(cluster_stratum: np.ndarray, replicates: int,
                       rng: np.random.Generator | int | None) -> np.ndarray:
    """Weight multipliers, array replicates × clusters (cluster order of `cluster_stratum`).

    In each replicate the multipliers of a stratum's n_h ≥ 2 clusters sum to n_h exactly.
    """
    if replicates < 2:
        raise ValueError(f"the bootstrap needs at least 2 replicates, got {replicates}")
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    strata = np.asarray(cluster_stratum, dtype=np.int64)
    out = np.ones((replicates, strata.size))
    order = np.argsort(strata, kind="mergesort")
    counts = np.bincount(strata)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    # strata of equal size are drawn together: n_h − 1 uniform draws among n_h clusters, counted;
    # in blocks of replicates so the draws stay within a few million integers
    for n_h in np.unique(counts[counts >= 2]):
        which = np.flatnonzero(counts == n_h)
        cols = order[starts[which][:, None] + np.arange(n_h)[None, :]].ravel()  # strata × n_h clusters
        cells = which.size * n_h
        step = max(1, 4_000_000 // (which.size * (n_h - 1)))
        for b0 in range(0, replicates, step):
            b = min(step, replicates - b0)
            idx = gen.integers(0, n_h, size=(b, which.size, n_h - 1))
            idx += (np.arange(b * which.size) * n_h).reshape(b, which.size, 1)
            drawn = np.bincount(idx.ravel(), minlength=b * cells).reshape(b, cells)
            out[b0:b0 + b, cols] = drawn * (n_h / (n_h - 1.0))
    return out


def bootstrap_replicates(totals: ClusterTotals, measures: Sequence[Measure], by: Sequence[str] = (),
                         replicates: int = DEFAULT_REPLICATES, seed: int | None = 1) -> np.ndarray:
    """Replicate estimates, array replicates × cells × measures (cells in `estimate()` order)."""
    measures = tuple(measures)
    mult = rao_wu_multipliers(totals.cluster_stratum, replicates, seed)
    rows = len(totals.collapse(by).row_cluster)
    block = max(1, _BLOCK_CELLS // max(rows, 1))
    parts = [replicate_estimates(totals, measures, mult[i:i + block], by)
             for i in range(0, replicates, block)]
    return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=0)


def replicate_summary(reps: np.ndarray, level: float = 0.95) -> dict[str, np.ndarray]:
    """{"se", "ci_low", "ci_high", "defined"} over the first axis, ignoring undefined replicates."""
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    reps = np.asarray(reps, dtype=np.float64)
    finite = np.isfinite(reps)
    count = finite.sum(axis=0)
    enough = count >= 2
    safe = np.where(finite, reps, np.nan)
    # all-NaN slices are masked out below; fill them so nan-reductions do not warn
    safe = np.where(enough[None, ...], safe, 0.0)
    alpha = (1 - level) / 2
    with np.errstate(invalid="ignore"):
        se = np.nanstd(safe, axis=0, ddof=1)
        lo, hi = np.nanquantile(safe, [alpha, 1 - alpha], axis=0, method="weibull")
    nan = np.nan
    return {"se": np.where(enough, se, nan), "ci_low": np.where(enough, lo, nan),
            "ci_high": np.where(enough, hi, nan), "defined": count / reps.shape[0]}


def bootstrap_intervals(totals: ClusterTotals, measures: Sequence[Measure], *, by: Sequence[str] = (),
                        replicates: int = DEFAULT_REPLICATES, seed: int | None = 1,
                        level: float = 0.95) -> dict[str, np.ndarray]:
    """Bootstrap SE and percentile interval per cell × measure: what `result_table(ci='bootstrap')`
    and the CLI's `--ci bootstrap` take."""
    reps = bootstrap_replicates(totals, measures, by, replicates, seed)
    return replicate_summary(reps, level)


def bootstrap_results(totals: ClusterTotals, spec: IndexSpec, by: Sequence[str] = (),
                      B: int = DEFAULT_REPLICATES, seed: int | None = 1, *, level: float = 0.95,
                      n_min: int | None = None, max_halfwidth: float = 0.10) -> pd.DataFrame:
    """The standard result table (analysis.result.COLUMNS) with bootstrap SEs and percentile CIs
    for every measure of `spec` in every domain of `by`."""
    est = estimate(totals, spec.measures, by)
    boot = bootstrap_intervals(totals, spec.measures, by=by, replicates=B, seed=seed, level=level)
    return result_table(est, "bootstrap", level=level, n_min=spec.n_min if n_min is None else n_min,
                        max_halfwidth=max_halfwidth, bootstrap=boot)
