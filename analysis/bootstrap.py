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
from typing import cast

import numpy as np
import pandas as pd

from analysis.estimate import estimate, linearised_scores, replicate_estimates
from analysis.result import UNIT_KINDS, result_table
from analysis.totals import ClusterTotals
from questionnaires.index_spec import IndexSpec, Measure

__all__ = [
    "BOOTSTRAP_METHOD",
    "DEFAULT_REPLICATES",
    "bootstrap_intervals",
    "bootstrap_replicates",
    "bootstrap_results",
    "normal_replicates",
    "rao_wu_multipliers",
    "replicate_summary",
]

DEFAULT_REPLICATES = 1000
#: how replicates were made, as `analysis.ranks.rank_table` reports it in `rank_method`
BOOTSTRAP_METHOD = "bootstrap (Rao–Wu)"
#: replicates × (cluster, cell) rows held in memory at once; bounds memory for respondent-level
#: "clusters" (no cluster column) at the cost of a loop over blocks of replicates
_BLOCK_CELLS = 20_000_000


def rao_wu_multipliers(cluster_stratum: np.ndarray, replicates: int, seed: int | None = None, *,
                       start: int = 0) -> np.ndarray:
    """Weight multipliers, array replicates × clusters (cluster order of `cluster_stratum`).

    In each replicate the multipliers of a stratum's n_h ≥ 2 clusters sum to n_h exactly.  Replicate
    b draws from its own stream (SeedSequence(seed) child number `start` + b), so replicate b is the
    same whatever B is and however the replicates are split into blocks.
    """
    if replicates < 1:
        raise ValueError(f"need at least 1 replicate, got {replicates}")
    entropy = np.random.SeedSequence(seed).entropy
    strata = np.asarray(cluster_stratum, dtype=np.int64)
    order = np.argsort(strata, kind="mergesort")
    counts = np.bincount(strata) if strata.size else np.zeros(0, dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    groups = []  # strata of equal size are drawn together: (n_h, their clusters, how many strata)
    for n_h in np.unique(counts[counts >= 2]):
        which = np.flatnonzero(counts == n_h)
        cols = order[starts[which][:, None] + np.arange(n_h)[None, :]].ravel()
        offsets = (np.arange(which.size) * n_h)[:, None]
        groups.append((int(n_h), cols, offsets))
    out = np.ones((replicates, strata.size))
    for b in range(replicates):
        gen = np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=(start + b,)))
        for n_h, cols, offsets in groups:
            # n_h − 1 uniform draws among the stratum's n_h clusters, counted
            idx = gen.integers(0, n_h, size=(offsets.size, n_h - 1)) + offsets
            out[b, cols] = np.bincount(idx.ravel(), minlength=cols.size) * (n_h / (n_h - 1.0))
    return out


def bootstrap_replicates(totals: ClusterTotals, measures: Sequence[Measure], by: Sequence[str] = (),
                         replicates: int = DEFAULT_REPLICATES, seed: int | None = 1) -> np.ndarray:
    """Replicate estimates, array replicates × cells × measures (cells in `estimate()` order).

    Works through blocks of replicates so that multipliers and per-row products stay within
    `_BLOCK_CELLS` numbers (respondent-level clusters would otherwise need B × n of them).
    """
    if replicates < 2:
        raise ValueError(f"the bootstrap needs at least 2 replicates, got {replicates}")
    measures = tuple(measures)
    if seed is None:  # one entropy for all blocks, so blocks are parts of one bootstrap
        seed = int(cast(int, np.random.SeedSequence().entropy))
    rows = len(totals.collapse(by).row_cluster)
    block = max(1, _BLOCK_CELLS // max(rows, totals.n_clusters, 1))
    parts = []
    for b0 in range(0, replicates, block):
        mult = rao_wu_multipliers(totals.cluster_stratum, min(block, replicates - b0), seed, start=b0)
        parts.append(replicate_estimates(totals, measures, mult, by))
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


def normal_replicates(totals: ClusterTotals, measure: Measure, by: Sequence[str],
                      replicates: int = DEFAULT_REPLICATES, seed: int | None = 1, *,
                      domains: np.ndarray | None = None) -> tuple[np.ndarray, str]:
    """Replicate estimates (replicates × cells) of one measure by domain from its Taylor normal law,
    for unit-level totals (respondents as the sampled units), where there are no clusters to resample.

    Draws on the logit scale for a measure on 0–1 (SE by the delta method, se/(p(1−p))), on its own
    scale otherwise; a domain at p ∈ {0, 1} keeps its estimate.  Domains (cells of `by`) partition the
    respondents, so two domains' scores only meet through the strata they share: Cov(a, b) =
    −Σ_h n_h/(n_h−1)·z_ha·z_hb/n_h (0 for a one-respondent stratum, "adjust").  When every stratum
    answering the measure lies in one domain among those drawn (a service point belongs to one agency
    and to one unit) the covariance is diagonal and draws are independent: that is the usual case,
    reported as "independent units"; otherwise the draws use the full covariance ("correlated units").
    `domains` (booleans, default every estimable cell) selects the domains drawn; the others are NaN.
    Replicate b uses SeedSequence(seed) child b, as `rao_wu_multipliers`.  Returns (replicates, method).
    """
    if totals.unit is None:
        raise ValueError("normal replicates are for unit-level totals; cluster totals use bootstrap_replicates")
    if replicates < 2:
        raise ValueError(f"need at least 2 replicates, got {replicates}")
    t = totals.collapse(tuple(by))
    assert t.unit is not None
    est = estimate(t, (measure,), tuple(by))
    p, var = est.estimate[:, 0], est.variance[:, 0]
    use = np.isfinite(p) & np.isfinite(var)
    if domains is not None:
        use &= np.asarray(domains, dtype=bool)
    # strata whose answering rows lie in two drawn domains make the draws dependent (rows of unit
    # totals are unique (stratum, cell) pairs)
    h = t.cluster_stratum[t.row_cluster]
    answering = t.ratio_stat(sorted({k for k, _ in measure.terms}), "n").sum(axis=1) > 0
    in_use = answering & use[t.row_cell]
    spans = np.bincount(h[in_use], minlength=t.n_strata) > 1
    independent = not spans.any()
    cov = None  # independent draws need the variances only (D × D would not fit for many domains)
    if not independent:  # off-diagonal terms come from the spanning strata only
        z, _, _ = linearised_scores(t, (measure,))
        shared = spans[h] & in_use
        strata, row_h = np.unique(h[shared], return_inverse=True)
        col = np.cumsum(use) - 1  # cell → column among the drawn domains
        s1 = np.zeros((len(strata), int(use.sum())))
        np.add.at(s1, (row_h.reshape(-1), col[t.row_cell[shared]]), z[shared, 0])
        n_h = t.unit.n_h[strata].astype(np.float64)
        weight = np.where(n_h > 1, 1.0 / np.where(n_h > 1, n_h - 1.0, 1.0), 0.0)
        off = -(s1.T * weight) @ s1
        np.fill_diagonal(off, var[use])
        cov = off
    centre = p[use]
    logit = measure.kind in UNIT_KINDS
    inner = (centre > 0) & (centre < 1) if logit else np.ones(centre.size, dtype=bool)
    d = np.ones(centre.size)
    if logit:
        pp = np.where(inner, centre, 0.5)
        d = np.where(inner, 1.0 / (pp * (1 - pp)), 0.0)
        centre = np.where(inner, np.log(pp / (1 - pp)), centre)
    if seed is None:
        seed = int(cast(int, np.random.SeedSequence().entropy))
    entropy = np.random.SeedSequence(seed).entropy
    eps = np.stack([np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=(b,)))
                    .standard_normal(centre.size) for b in range(replicates)])
    if cov is None:
        draws = centre[None, :] + eps * (d * np.sqrt(np.maximum(var[use], 0.0)))[None, :]
    else:
        w, v = np.linalg.eigh(cov * d[:, None] * d[None, :])
        draws = centre[None, :] + eps @ (v * np.sqrt(np.maximum(w, 0.0))).T
    if logit:
        draws = np.where(inner[None, :], 1.0 / (1.0 + np.exp(-draws)), centre[None, :])
    out = np.full((replicates, len(t.cells)), np.nan)
    out[:, use] = draws
    scale = "normal (logit)" if logit else "normal"
    return out, f"{scale}, {'independent' if independent else 'correlated'} units"
