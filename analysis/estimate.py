"""Point estimates and Taylor-linearisation variances of affine combinations of ratios, by domain.

Methodology §3.  For a ratio R_k = Y_k / A_k in domain d, the linearised score of a (cluster, cell)
row inside d is z = (Y_row − R_k·A_row) / A_k, and 0 outside d (domains by zeroing, never by
subsetting).  A measure const + Σ coef_k·R_k has score Σ coef_k·z_k.  With z_hc the cluster totals
in stratum h of the WHOLE design (n_h clusters, absent clusters counting as 0):

    V = Σ_h n_h/(n_h−1) · Σ_c (z_hc − z̄_h)²      (n_h ≥ 2)
    V_h = Σ_c z_hc²                               (n_h = 1, "lonely" stratum)

The lonely-stratum rule is R survey's options(survey.lonely.psu = "adjust"): the single cluster is
centred at the grand mean of the scores, which is 0 for a linearised estimating function, and scaled
by 1.  Degrees of freedom, as R's `degf` on the design restricted to the domain's answering
respondents: (#clusters with an answer) − (#strata among them).

When every respondent is a cluster and the totals keep `UnitMoments` instead of one row per
respondent, Σ_c z_c² comes from the respondent-level cross-moments (`_unit_variance`): same formula.

Everything works on `ClusterTotals.collapse(by)` rows, a few thousand at most, with group sums over those rows,
so cost does not grow with the number of respondents.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.totals import ClusterTotals
from questionnaires.index_spec import Measure, RatioKey


@dataclass(frozen=True, eq=False)
class DomainEstimates:
    """Estimates of `measures` (columns) in each domain cell of `by` (rows): arrays D × M.

    estimate: const + Σ coef·ratio; NaN where `answered[d, m]` is False (some ratio of the measure
        has no answer in the domain — the result table reports it as suppressed, never silently).
    variance: Taylor variance (0 ≤ V); NaN where the estimate is NaN.
    n: answers behind the measure = min over its ratios of the unweighted answered count.
    n_eff: Kish effective size of the same ratio, (Σw·a)² / Σw²·a (= n when unweighted).
    n_clusters, df: clusters with an answer in the domain, and df = n_clusters − strata among them.
    """

    by: tuple[str, ...]
    cells: pd.DataFrame
    measures: tuple[Measure, ...]
    estimate: np.ndarray
    variance: np.ndarray
    n: np.ndarray
    n_eff: np.ndarray
    n_clusters: np.ndarray
    df: np.ndarray
    answered: np.ndarray
    is_srs: bool

    @property
    def se(self) -> np.ndarray:
        return np.sqrt(self.variance)


class _Indicator:
    """Group-membership matrix (groups × rows) that only knows how to sum rows: `ind @ x`.

    np.add.at sums in row order, so results are deterministic; it avoids importing scipy.sparse
    (a quarter of the CLI's start-up) for matrices of a few thousand rows.
    """

    def __init__(self, codes: np.ndarray, n_groups: int):
        self.codes = np.asarray(codes, dtype=np.int64)
        self.n_groups = n_groups

    def __matmul__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        out = np.zeros((self.n_groups, *x.shape[1:]))
        np.add.at(out, self.codes, x)
        return out

    def counts(self) -> np.ndarray:
        return np.bincount(self.codes, minlength=self.n_groups).astype(np.float64)


@dataclass(frozen=True, eq=False)
class _Layout:
    """Sparse indicators and coefficient matrix shared by the estimators of one collapsed totals."""

    ratios: tuple[RatioKey, ...]
    coef: np.ndarray  # M × R
    const: np.ndarray  # M
    num: np.ndarray  # rows × R
    den: np.ndarray  # rows × R
    cell_ind: _Indicator  # D × rows
    hd_ind: _Indicator  # (H·D) × rows
    row_hd: np.ndarray  # rows


def _layout(totals: ClusterTotals, measures: Sequence[Measure]) -> _Layout:
    ratios = tuple(sorted({k for m in measures for k, _ in m.terms}))
    pos = {k: j for j, k in enumerate(ratios)}
    coef = np.zeros((len(measures), len(ratios)))
    for i, m in enumerate(measures):
        for k, c in m.terms:
            coef[i, pos[k]] += c
    const = np.array([m.const for m in measures], dtype=np.float64)
    num, den = totals.ratio_parts(ratios)
    n_cells = len(totals.cells)
    cell_ind = _Indicator(totals.row_cell, n_cells)
    row_hd = totals.cluster_stratum[totals.row_cluster] * n_cells + totals.row_cell
    hd_ind = _Indicator(row_hd, totals.n_strata * n_cells)
    return _Layout(ratios, coef, const, num, den, cell_ind, hd_ind, row_hd)


def ratio_estimates(totals: ClusterTotals, ratios: Sequence[RatioKey]) -> tuple[np.ndarray, np.ndarray]:
    """(R, A): ratio estimates and weighted denominators per cell, arrays D × len(ratios).

    R is NaN where A = 0 (nobody in the cell answered the item).
    """
    num, den = totals.ratio_parts(ratios)
    ind = _Indicator(totals.row_cell, len(totals.cells))
    y = np.asarray(ind @ num)
    a = np.asarray(ind @ den)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(a > 0, y / np.where(a > 0, a, 1.0), np.nan)
    return r, a


def linearised_scores(
    totals: ClusterTotals, measures: Sequence[Measure]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Taylor scores of every measure per (cluster, cell) row of `totals`.

    Returns (z rows × M, estimate D × M, answered D × M).  Scores of a measure not estimable in a
    cell are 0 (and `answered` is False there).  Sum z over a cluster's rows of one cell to get z_c.
    """
    lay = _layout(totals, measures)
    return _scores(totals, lay)


def _scores(totals: ClusterTotals, lay: _Layout) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    y = np.asarray(lay.cell_ind @ lay.num)
    a = np.asarray(lay.cell_ind @ lay.den)
    ok_ratio = a > 0
    safe_a = np.where(ok_ratio, a, 1.0)
    r = np.where(ok_ratio, y / safe_a, 0.0)
    uses = lay.coef != 0  # M × R
    answered = ~((~ok_ratio).astype(np.int64) @ uses.T.astype(np.int64)).astype(bool)  # D × M
    estimate = lay.const[None, :] + r @ lay.coef.T
    estimate = np.where(answered, estimate, np.nan)
    cell = totals.row_cell
    e = (lay.num - r[cell] * lay.den) / safe_a[cell]
    e = np.where(ok_ratio[cell], e, 0.0)
    z = e @ lay.coef.T
    z = np.where(answered[cell], z, 0.0)
    return z, estimate, answered


def taylor_variance_rows(totals: ClusterTotals, z: np.ndarray) -> np.ndarray:
    """Taylor variance per cell of scores z (rows × K) given per (cluster, cell) row: array D × K.

    Implements the stratified between-cluster formula of the module docstring, every cluster of the
    design counting in n_h (rows absent from a cell are zero scores).
    """
    n_cells = len(totals.cells)
    n_strata = totals.n_strata
    row_hd = totals.cluster_stratum[totals.row_cluster] * n_cells + totals.row_cell
    hd_ind = _Indicator(row_hd, n_strata * n_cells)
    return _variance(totals, z, hd_ind, row_hd)


def _variance(
    totals: ClusterTotals, z: np.ndarray, hd_ind: _Indicator, row_hd: np.ndarray
) -> np.ndarray:
    n_cells = len(totals.cells)
    n_strata = totals.n_strata
    n_h = totals.stratum_sizes().astype(np.float64)  # H
    k = z.shape[1]
    s1 = np.asarray(hd_ind @ z).reshape(n_strata, n_cells, k)
    present = hd_ind.counts().reshape(n_strata, n_cells)  # clusters with a row
    mean = s1 / n_h[:, None, None]
    resid = z - mean.reshape(n_strata * n_cells, k)[row_hd]
    ss = np.asarray(hd_ind @ (resid * resid)).reshape(n_strata, n_cells, k)
    ss = ss + (n_h[:, None] - present)[:, :, None] * mean * mean  # absent clusters: z = 0
    lonely = n_h == 1
    scale = np.where(lonely, 1.0, n_h / np.where(lonely, 1.0, n_h - 1.0))
    # lonely stratum ("adjust"): Σ z² (centred at the grand mean 0, scale 1), as R survey
    ss = np.where(lonely[:, None, None], (s1 * s1), ss)
    return np.einsum("h,hdk->dk", scale, ss)


def cluster_variance(z_cluster: np.ndarray, cluster_stratum: np.ndarray, n_strata: int) -> np.ndarray:
    """Taylor variance of per-cluster score totals z_cluster (clusters × K): array K.

    For contrasts (differences of domains, unit vs whole): build z_c as the same contrast of the
    domains' cluster scores (`domain_cluster_scores`) and pass it here.
    """
    z = np.asarray(z_cluster, dtype=np.float64)
    if z.ndim == 1:
        z = z[:, None]
    n_h = np.bincount(cluster_stratum, minlength=n_strata).astype(np.float64)
    ind = _Indicator(cluster_stratum, n_strata)
    mean = np.asarray(ind @ z) / n_h[:, None]
    resid = z - mean[cluster_stratum]
    ss = np.asarray(ind @ (resid * resid))
    lonely = n_h == 1
    ss = np.where(lonely[:, None], np.asarray(ind @ (z * z)), ss)
    scale = np.where(lonely, 1.0, n_h / np.where(lonely, 1.0, n_h - 1.0))
    return scale @ ss


def domain_cluster_scores(totals: ClusterTotals, measures: Sequence[Measure]) -> np.ndarray:
    """Dense per-cluster Taylor scores, array clusters × D × M (zero where a cluster is not in a cell).

    `cluster_variance(scores[:, d, :], …)` reproduces `estimate(...).variance[d]`; a contrast such as
    scores[:, a, :] − scores[:, b, :] gives the variance of a difference with its covariance.
    """
    if totals.unit is not None:
        raise ValueError("cluster scores need cluster totals; build them without unit-level moments")
    z, _, _ = linearised_scores(totals, measures)
    out = np.zeros((totals.n_clusters, len(totals.cells), len(measures)))
    np.add.at(out, (totals.row_cluster, totals.row_cell), z)
    return out


def estimate(
    totals: ClusterTotals, measures: Sequence[Measure], by: Sequence[str] = ()
) -> DomainEstimates:
    """Estimates, Taylor variances, n, n_eff and df of every measure in every cell of `by`.

    `by=()` is the whole population; several columns are cross-classified.  `totals` must hold the
    `by` columns among its domain columns (it is collapsed here).
    """
    measures = tuple(measures)
    t = totals.collapse(by)
    lay = _layout(t, measures)
    z, est, answered = _scores(t, lay)
    var = _variance(t, z, lay.hd_ind, lay.row_hd) if t.unit is None else _unit_variance(t, lay, z, answered)
    var = np.where(answered, np.maximum(var, 0.0), np.nan)

    counts = t.ratio_stat(lay.ratios, "n")
    sw2 = t.ratio_stat(lay.ratios, "sw2")
    cnt = np.asarray(lay.cell_ind @ counts)  # D × R
    a = np.asarray(lay.cell_ind @ lay.den)
    b = np.asarray(lay.cell_ind @ sw2)
    with np.errstate(invalid="ignore", divide="ignore"):
        kish = np.where(b > 0, a * a / np.where(b > 0, b, 1.0), 0.0)
    uses = lay.coef != 0
    n = _min_over_terms(cnt, uses)
    n_eff = _min_over_terms(kish, uses)

    # clusters / strata in which the measure has at least one answer in the cell
    has = ((counts > 0).astype(np.int64) @ uses.T.astype(np.int64)) > 0  # rows × M
    n_cl = np.asarray(lay.cell_ind @ has.astype(np.float64)).astype(np.int64)
    if t.unit is not None:  # respondents are the clusters: those answering (at least the largest item)
        n_cl = -_min_over_terms(-cnt, uses).astype(np.int64)
    per_hd = np.asarray(lay.hd_ind @ has.astype(np.float64)).reshape(t.n_strata, len(t.cells), len(measures))
    n_st = (per_hd > 0).sum(axis=0)
    df = n_cl - n_st
    return DomainEstimates(
        by=tuple(by),
        cells=t.cells,
        measures=measures,
        estimate=est,
        variance=var,
        n=n.astype(np.int64),
        n_eff=n_eff,
        n_clusters=n_cl,
        df=df.astype(np.int64),
        answered=answered,
        is_srs=t.is_srs,
    )


def _unit_variance(t: ClusterTotals, lay: _Layout, z: np.ndarray, answered: np.ndarray) -> np.ndarray:
    """Taylor variance when every respondent is a cluster, from `UnitMoments` (no respondent rows).

    Rows are (stratum, cell) pairs.  The score of respondent r in cell d is w_r·gᵀu_r with g holding
    coef/A at the item's sat or value position and −coef·R/A at its answered position, so
    Σ_r z_r² = gᵀ G g per row, Σ_r z_r = the row's z, and with n_h respondents in stratum h
    V = Σ_h n_h/(n_h−1) (Σ z² − (Σ z)²/n_h)   (n_h = 1: Σ z², the "adjust" rule).
    """
    assert t.unit is not None
    n_cells = len(t.cells)
    n_r = len(lay.ratios)
    p = t.unit.gram.shape[1]
    pos = {code: i for i, code in enumerate(t.items)}
    place_num = np.zeros((n_r, p))
    place_den = np.zeros((n_r, p))
    for k, key in enumerate(lay.ratios):
        i = pos.get(key.item)
        if i is not None:
            place_num[k, 3 * i + (0 if key.kind == "sat" else 1)] = 1.0
            place_den[k, 3 * i + 2] = 1.0
    y = lay.cell_ind @ lay.num
    a = lay.cell_ind @ lay.den
    ok = a > 0
    safe_a = np.where(ok, a, 1.0)
    r = np.where(ok, y / safe_a, 0.0)
    c_num = lay.coef[None, :, :] / safe_a[:, None, :] * ok[:, None, :]  # D × M × R
    c_den = -c_num * r[:, None, :]
    g = c_num @ place_num + c_den @ place_den  # D × M × P
    g_rows = g[t.row_cell]  # rows × M × P
    q = np.einsum("rmp,rmp->rm", np.matmul(g_rows, t.unit.gram), g_rows)  # Σ z² per row
    q = np.where(answered[t.row_cell], q, 0.0)
    n_h = t.unit.n_h.astype(np.float64)
    h = t.cluster_stratum[t.row_cluster]
    n_row = n_h[h]
    lonely = n_row <= 1
    ss = np.where(lonely[:, None], q, q - z * z / np.where(lonely, 1.0, n_row)[:, None])
    scale = np.where(lonely, 1.0, n_row / np.where(lonely, 2.0, n_row - 1.0))
    out = np.zeros((n_cells, z.shape[1]))
    np.add.at(out, t.row_cell, scale[:, None] * ss)
    return out


def _min_over_terms(per_ratio: np.ndarray, uses: np.ndarray) -> np.ndarray:
    """D × M: minimum of a per-ratio quantity (D × R) over each measure's ratios (uses: M × R)."""
    big = np.where(uses[None, :, :], per_ratio[:, None, :], np.inf)
    out = big.min(axis=2)
    return np.where(np.isfinite(out), out, 0.0)


def replicate_estimates(
    totals: ClusterTotals, measures: Sequence[Measure], multipliers: np.ndarray, by: Sequence[str] = ()
) -> np.ndarray:
    """Point estimates under many replicate weightings at once: array B × D × M.

    `multipliers` is B × clusters (cluster order of `totals.clusters`): replicate b multiplies every
    weight in cluster c by multipliers[b, c] (Rao–Wu bootstrap, jackknife, …).  Computed with two
    sparse-dense matrix products, no Python loop over replicates.  Cells where a ratio's replicate
    denominator is 0 give NaN.
    """
    measures = tuple(measures)
    if totals.unit is not None:
        raise ValueError("replicates need cluster totals; build them without unit-level moments")
    t = totals.collapse(by)
    lay = _layout(t, measures)
    mult = np.asarray(multipliers, dtype=np.float64)
    if mult.ndim != 2 or mult.shape[1] != t.n_clusters:
        raise ValueError(f"multipliers must be B × {t.n_clusters} (clusters)")
    from scipy import sparse  # only here: the CLI's Taylor path does not pay for the import

    rows = len(t.row_cluster)
    n_cells = len(t.cells)
    n_r = len(lay.ratios)
    # X[row, cell*R + k] = value[row, k] on the row's cell: one product gives all cells at once
    col = (t.row_cell[:, None] * n_r + np.arange(n_r)[None, :]).ravel()
    row = np.repeat(np.arange(rows), n_r)
    shape = (rows, n_cells * n_r)
    x_num = sparse.csr_matrix((lay.num.ravel(), (row, col)), shape=shape)
    x_den = sparse.csr_matrix((lay.den.ravel(), (row, col)), shape=shape)
    per_row = mult[:, t.row_cluster]  # B × rows
    y = np.asarray((x_num.T @ per_row.T).T).reshape(-1, n_cells, n_r)
    a = np.asarray((x_den.T @ per_row.T).T).reshape(-1, n_cells, n_r)
    ok = a > 0
    r = np.where(ok, y / np.where(ok, a, 1.0), 0.0)
    est = lay.const[None, None, :] + r @ lay.coef.T
    bad = ((~ok).astype(np.float64) @ (lay.coef != 0).T.astype(np.float64)) > 0
    return np.where(bad, np.nan, est)
