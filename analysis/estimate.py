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
respondents: (#clusters with an answer) − (#strata among them); under the unit-level design with
respondent counts per row (`UnitMoments.row_n`), R's `degf` of the domain itself — every respondent of
the domain − its strata — which is what `svyby(…, svyciprop)` uses.

When every respondent is a cluster and the totals keep `UnitMoments` instead of one row per
respondent, Σ_c z_c² comes from the respondent-level cross-moments (`_unit_variance`): same formula.

Everything works on `ClusterTotals.collapse(by)` rows, a few thousand at most, with group sums over those rows,
so cost does not grow with the number of respondents.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.totals import ClusterTotals, _group_sum, stratum_scale
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
        return np.sqrt(self.variance)  # type: ignore[no-any-return]


class _Indicator:
    """Group-membership matrix (groups × rows) that only knows how to sum rows: `ind @ x`.

    Sums run in row order (`analysis.totals._group_sum`, the order of np.add.at), so results are
    deterministic; it avoids importing scipy.sparse (a quarter of the CLI's start-up) for matrices of a
    few thousand rows.
    """

    def __init__(self, codes: np.ndarray, n_groups: int):
        self.codes = np.asarray(codes, dtype=np.int64)
        self.n_groups = n_groups

    def __matmul__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        return _group_sum(self.codes, x, self.n_groups)

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


def _measure_matrix(measures: tuple[Measure, ...]) -> tuple[tuple[RatioKey, ...], np.ndarray, np.ndarray]:
    """(ratios, coef M × R, const M) of measures; read-only arrays."""
    ratios = tuple(sorted({k for m in measures for k, _ in m.terms}))
    pos = {k: j for j, k in enumerate(ratios)}
    coef = np.zeros((len(measures), len(ratios)))
    for i, m in enumerate(measures):
        for k, c in m.terms:
            coef[i, pos[k]] += c
    const = np.array([m.const for m in measures], dtype=np.float64)
    coef.flags.writeable = const.flags.writeable = False
    return ratios, coef, const


# every request estimates the same few measure lists: sorting their ratios is worth remembering
_cached_measure_matrix = functools.lru_cache(maxsize=64)(_measure_matrix)


def _layout(totals: ClusterTotals, measures: Sequence[Measure]) -> _Layout:
    measures = tuple(measures)
    try:
        ratios, coef, const = _cached_measure_matrix(measures)
    except TypeError:  # a measure that cannot be hashed (e.g. terms in a list)
        ratios, coef, const = _measure_matrix(measures)
    num, den = totals.ratio_parts(ratios)
    n_cells = len(totals.cells)
    cell_ind = _Indicator(totals.row_cell, n_cells)
    row_hd = totals.cluster_stratum[totals.row_cluster] * n_cells + totals.row_cell
    hd_ind = _Indicator(row_hd, totals.n_strata * n_cells)
    return _Layout(ratios, coef, const, num, den, cell_ind, hd_ind, row_hd)


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
    return np.einsum("h,hdk->dk", scale, ss)  # type: ignore[no-any-return]


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
    return scale @ ss  # type: ignore[no-any-return]


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
    # strata per cell: over the (stratum, cell) pairs present only (a dense strata × cells array
    # would not fit when both are many, e.g. every counter a stratum and months × channels as cells)
    pairs, inverse = np.unique(lay.row_hd, return_inverse=True)
    per_pair = np.zeros((len(pairs), len(measures)))
    np.add.at(per_pair, inverse.reshape(-1), has.astype(np.float64))
    n_st = np.zeros((len(t.cells), len(measures)), dtype=np.int64)
    np.add.at(n_st, pairs % len(t.cells), (per_pair > 0).astype(np.int64))
    df = n_cl - n_st
    if t.unit is not None and t.unit.row_n is not None:  # R's degf of the domain: respondents − strata in it
        df = np.broadcast_to(_domain_degf(t)[:, None], df.shape)
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
    g_num, g_den, _, _ = _gradients(lay, lay.cell_ind @ lay.num, lay.cell_ind @ lay.den)
    g_cells = _unit_gradients(t, lay, g_num, g_den)  # cells × M × P
    if t.unit.gram is None:  # Ĝ per cell: Σ_h c_h·Σ z² of the cell is one quadratic form
        assert t.unit.cell_gram is not None
        quad = np.einsum("dmp,dmp->dm", np.matmul(g_cells, t.unit.cell_gram), g_cells)
        quad = np.where(answered, quad, 0.0)
        return _unit_stratum_variance(t, z, None, t.row_cell, len(t.cells), quad=quad)
    g_rows = g_cells[t.row_cell]  # rows × M × P
    q = np.einsum("rmp,rmp->rm", np.matmul(g_rows, t.unit.gram), g_rows)  # Σ z² per row
    q = np.where(answered[t.row_cell], q, 0.0)
    return _unit_stratum_variance(t, z, q, t.row_cell, len(t.cells))

@dataclass(frozen=True, eq=False)
class ContrastEstimates:
    """Linear contrasts of domain estimates (rows K) for every measure (columns M), in one design.

    estimate: Σ_q C[k, q]·estimate_q; NaN where a domain with a nonzero coefficient has no answer.
    variance: Taylor variance of the contrast (its score is the same combination of the domains'
        scores, so shared clusters/strata carry the covariance); NaN where the estimate is NaN.
    n_clusters, df: clusters (respondents in unit mode) with an answer in any domain of the contrast,
        and df = n_clusters − strata among them (as `estimate` for one domain).
    """

    estimate: np.ndarray
    variance: np.ndarray
    n_clusters: np.ndarray
    df: np.ndarray
    answered: np.ndarray


def contrast_estimates(
    totals: ClusterTotals,
    measures: Sequence[Measure],
    by: Sequence[str],
    domains: np.ndarray,
    coefficients: np.ndarray,
) -> ContrastEstimates:
    """Estimate, Taylor variance and df of contrasts Σ_q C[k, q]·θ_q of domain estimates θ_q.

    `domains` (Q × D booleans) defines each domain as a union of the cells of `totals.collapse(by)`
    (a row of ones = the whole population); `coefficients` is K × Q.  Works for cluster totals and for
    unit-level moments (`UnitMoments`): within a (stratum, cell) row a respondent's score of contrast
    k is gᵀu_r with g = Σ_q C[k, q]·[cell ∈ q]·g_q, so Σ_r z_r² = gᵀGg and V follows from the
    stratum sums (`_unit_stratum_variance`).  Cost grows with the domains each cell belongs to, not
    with Q, so "every domain against the whole" is one call.
    """
    measures = tuple(measures)
    t = totals.collapse(by)
    lay = _layout(t, measures)
    masks = np.asarray(domains, dtype=bool)
    coef = np.asarray(coefficients, dtype=np.float64)
    n_cells = len(t.cells)
    if masks.ndim != 2 or masks.shape[1] != n_cells or coef.ndim != 2 or coef.shape[1] != masks.shape[0]:
        raise ValueError(f"domains must be Q × {n_cells} (cells of {':'.join(by) or 'the whole'}), "
                         "coefficients K × Q")
    m_f = masks.astype(np.float64)
    y = m_f @ np.asarray(lay.cell_ind @ lay.num)  # Q × R
    a = m_f @ np.asarray(lay.cell_ind @ lay.den)
    g_num, g_den, est_q, answered_q = _gradients(lay, y, a)
    involved = coef != 0  # K × Q
    answered = ~((involved.astype(np.int64) @ (~answered_q).astype(np.int64)) > 0)  # K × M
    est = np.where(answered, coef @ np.where(answered_q, est_q, 0.0), np.nan)

    # the domains each cell belongs to (only those some contrast uses), first `width[d]` columns
    member = masks & involved.any(axis=0)[:, None]  # Q × D
    cell_width = member.sum(axis=0)
    members = np.zeros((n_cells, max(int(cell_width.max(initial=0)), 1)), dtype=np.int64)
    d_idx, q_idx = np.nonzero(member.T)  # grouped by cell, domains in order
    members[d_idx, np.arange(len(d_idx)) - (np.cumsum(cell_width) - cell_width)[d_idx]] = q_idx
    row_width = cell_width[t.row_cell]
    active = np.flatnonzero(row_width > 0)  # rows some contrast uses
    n_k, n_m = coef.shape[0], len(measures)
    z = np.empty((len(active), n_k, n_m))  # rows × K × M
    row_gram = t.unit.gram if t.unit is not None else None  # None: cluster totals, or Ĝ per cell
    q = np.empty_like(z) if row_gram is not None else None
    g_unit = _unit_gradients(t, lay, g_num, g_den) if t.unit is not None else None  # Q × M × P
    # rows are processed in groups of equal membership count: no padding domain to multiply through
    for w in np.unique(row_width[active]):
        sel = np.flatnonzero(row_width[active] == w)
        rows_w = active[sel]
        row_members = members[t.row_cell[rows_w], :w]  # rows × W
        c_rows = coef[:, row_members].transpose(1, 0, 2)  # rows × K × W
        gn, gd = g_num[row_members], g_den[row_members]  # rows × W × M × R
        num, den = lay.num[rows_w], lay.den[rows_w]
        z_dom = np.einsum("rwmk,rk->rwm", gn, num) + np.einsum("rwmk,rk->rwm", gd, den)
        z[sel] = np.einsum("rcw,rwm->rcm", c_rows, z_dom)
        if q is not None and row_gram is not None and g_unit is not None:
            g = g_unit[row_members]  # rows × W × M × P
            flat = g.reshape(len(rows_w), w * n_m, g.shape[-1])
            hg = np.matmul(flat, row_gram[rows_w]).reshape(g.shape)  # G is symmetric: gᵀG = (Gg)ᵀ
            forms = np.einsum("rwmp,rvmp->rwvm", g, hg)  # rows × W × W × M
            q[sel] = np.einsum("rcw,rcv,rwvm->rcm", c_rows, c_rows, forms)

    if t.unit is None:
        zc = np.zeros((len(t.clusters), n_k * n_m))
        np.add.at(zc, t.row_cluster[active], z.reshape(len(z), n_k * n_m))
        var = cluster_variance(zc, t.cluster_stratum, t.n_strata).reshape(n_k, n_m)
    else:
        quad = None
        if q is None:  # Ĝ per cell: the rows of a cell share their contrast gradients
            assert g_unit is not None and t.unit.cell_gram is not None
            quad = _cell_quadratic(t.unit.cell_gram, g_unit, members, cell_width, coef)[None]
        var = _unit_stratum_variance(t, z, q, np.zeros(len(z), dtype=np.int64), 1, rows=active, quad=quad)[0]
    var = np.where(answered, np.maximum(var, 0.0), np.nan)

    # df: clusters (respondents) answering the measure in any domain of the contrast − their strata
    union = ((np.abs(coef) @ m_f) > 0)  # K × D
    counts = t.ratio_stat(lay.ratios, "n")
    uses = lay.coef != 0
    has = ((counts > 0).astype(np.int64) @ uses.T.astype(np.int64)) > 0  # rows × M
    present = union[:, t.row_cell[active]].T[:, :, None] & has[active, None, :]  # rows × K × M
    per_stratum = _group_rows(t.cluster_stratum[t.row_cluster[active]], t.n_strata, present)
    if t.unit is None:
        n_cl = (_group_rows(t.row_cluster[active], len(t.clusters), present) > 0).sum(axis=0)
    else:  # respondents answering (at least the measure's most answered item), as `estimate`
        cnt = union.astype(np.float64) @ np.asarray(lay.cell_ind @ counts)  # K × R
        n_cl = -_min_over_terms(-cnt, uses)
    n_cl = n_cl.astype(np.int64)
    df = n_cl - (per_stratum > 0).sum(axis=0)
    if t.unit is not None and t.unit.row_n is not None:  # R's degf of the union of the contrast's domains
        df = np.broadcast_to(_domain_degf(t, union)[:, None], df.shape)
    return ContrastEstimates(est, var, n_cl, df.astype(np.int64), answered)


def _cell_quadratic(cell_gram: np.ndarray, g_unit: np.ndarray, members: np.ndarray, cell_width: np.ndarray,
                    coef: np.ndarray) -> np.ndarray:
    """K × M: Σ_d g_kdᵀĜ_dg_kd, g_kd = Σ_q C[k, q]·g_q over the domains q the cell d belongs to
    (`members`, first `cell_width[d]` columns; g_unit Q × M × P): a contrast's Σ_h c_h·Σ z² from Ĝ."""
    n_k, n_m = coef.shape[0], g_unit.shape[1]
    out = np.zeros((n_k, n_m))
    for w in np.unique(cell_width[cell_width > 0]):
        cells = np.flatnonzero(cell_width == w)
        cell_members = members[cells, :w]  # cells × W
        c_cells = coef[:, cell_members].transpose(1, 0, 2)  # cells × K × W
        g = g_unit[cell_members]  # cells × W × M × P
        hg = np.matmul(g.reshape(len(cells), w * n_m, g.shape[-1]), cell_gram[cells]).reshape(g.shape)
        forms = np.einsum("dwmp,dvmp->dwvm", g, hg)  # cells × W × W × M
        out += np.einsum("dkw,dkv,dwvm->km", c_cells, c_cells, forms)
    return out


def _domain_degf(t: ClusterTotals, domains: np.ndarray | None = None) -> np.ndarray:
    """R's `degf` of each domain under the unit-level design: respondents in the domain (answered or
    not) − strata with a respondent in it.  `domains` (K × cells booleans) are unions of cells; None = each
    cell on its own (rows are distinct (stratum, cell) pairs then, so counting rows counts strata)."""
    assert t.unit is not None and t.unit.row_n is not None
    row_n = t.unit.row_n
    present = (row_n > 0).astype(np.float64)
    if domains is None:
        n_cells = len(t.cells)
        respondents = np.bincount(t.row_cell, weights=row_n, minlength=n_cells)
        strata = np.bincount(t.row_cell, weights=present, minlength=n_cells)
        return np.rint(respondents - strata).astype(np.int64)  # type: ignore[no-any-return]
    from scipy import sparse

    inside = sparse.csr_matrix(np.asarray(domains, dtype=np.float64))[:, t.row_cell]  # K × rows
    respondents = inside @ row_n
    stratum_of_row = sparse.csr_matrix(
        (present, (np.arange(len(row_n)), t.cluster_stratum[t.row_cluster])), shape=(len(row_n), t.n_strata))
    strata = np.asarray(((inside @ stratum_of_row) > 0).sum(axis=1)).reshape(-1)  # type: ignore[operator]
    return np.rint(respondents).astype(np.int64) - strata  # type: ignore[no-any-return]


def _group_rows(codes: np.ndarray, n_groups: int, x: np.ndarray) -> np.ndarray:
    """Sum the leading axis of x by group code: one sparse product (np.add.at is slow on rows × K × M)."""
    from scipy import sparse  # only here: the CLI's Taylor path does not pay for the import

    ind = sparse.csr_matrix((np.ones(len(codes)), (codes, np.arange(len(codes)))), shape=(n_groups, len(codes)))
    flat = x.reshape(len(codes), int(np.prod(x.shape[1:], dtype=np.int64))).astype(np.float64)
    return np.asarray(ind @ flat).reshape(n_groups, *x.shape[1:])


def _gradients(
    lay: _Layout, y: np.ndarray, a: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Linearisation of every measure in domains with ratio totals y, a (Q × R).

    Returns (g_num, g_den, estimate, answered): a row's score is g_num·num_row + g_den·den_row
    (Q × M × R each, zero where the measure is not estimable), estimate and answered are Q × M.
    """
    ok = a > 0
    safe_a = np.where(ok, a, 1.0)
    r = np.where(ok, y / safe_a, 0.0)
    uses = lay.coef != 0
    answered = ~(((~ok).astype(np.int64) @ uses.T.astype(np.int64)) > 0)
    est = np.where(answered, lay.const[None, :] + r @ lay.coef.T, np.nan)
    # nonzero only where the measure uses the ratio: computed there alone, with the same operations
    mi, ri = np.nonzero(lay.coef)
    g_num = np.zeros((len(a), *lay.coef.shape))
    g_den = np.zeros_like(g_num)
    g_num[:, mi, ri] = lay.coef[mi, ri][None, :] / safe_a[:, ri] * ok[:, ri] * answered[:, mi]
    g_den[:, mi, ri] = -g_num[:, mi, ri] * r[:, ri]
    return g_num, g_den, est, answered


def _unit_gradients(t: ClusterTotals, lay: _Layout, g_num: np.ndarray, g_den: np.ndarray) -> np.ndarray:
    """Ratio-space gradients (… × R) placed on the respondent variables u (… × P) of `UnitMoments`."""
    assert t.unit is not None
    p = t.unit.width
    pos = {code: i for i, code in enumerate(t.items)}
    # a ratio's numerator has its own position; ratios of one item share the answered position.  Only
    # the (measure, ratio) pairs a measure uses are nonzero, so they are placed alone: the sums a 0/1
    # placement matmul would form (at most two nonzero terms, sat and mean of one item, meet at a
    # position, and their order cannot matter)
    lead = g_num.shape[:-2]
    out = np.zeros((*lead, g_num.shape[-2], p))
    mi, ri = np.nonzero(lay.coef)
    item = np.array([pos.get(lay.ratios[k].item, -1) for k in ri], dtype=np.int64)
    kind = np.array([0 if lay.ratios[k].kind == "sat" else 1 for k in ri], dtype=np.int64)
    mi, ri, item, kind = mi[item >= 0], ri[item >= 0], item[item >= 0], kind[item >= 0]
    out[..., mi, 3 * item + kind] = g_num[..., mi, ri]  # one ratio per (item, kind): distinct positions
    den = mi * p + 3 * item + 2
    first = np.zeros(len(den), dtype=bool)
    first[np.unique(den, return_index=True)[1]] = True  # np.nonzero is row-major: ratio order kept
    out[..., mi[first], 3 * item[first] + 2] = g_den[..., mi[first], ri[first]]
    if not first.all():
        out[..., mi[~first], 3 * item[~first] + 2] += g_den[..., mi[~first], ri[~first]]
    return out


def _unit_stratum_variance(
    t: ClusterTotals, z: np.ndarray, q: np.ndarray | None, groups: np.ndarray, n_groups: int,
    rows: np.ndarray | None = None, quad: np.ndarray | None = None,
) -> np.ndarray:
    """V = Σ_h n_h/(n_h−1)·(Σ z² − (Σ z)²/n_h) per group, from per-row Σ_r z_r (`z`) and Σ_r z_r² (`q`).

    Rows are (stratum, cell) rows of unit-level totals; rows with the same group code are summed
    within their stratum first (a contrast spans several cells of a stratum).  n_h = 1: Σ z², the
    "adjust" rule (centred at the grand mean 0, scale 1), as R survey.  `rows`: the totals rows
    that z and q describe (default all; rows left out have zero scores).  With `quad` (groups × …,
    Σ_h c_h·Σ z² already summed over strata from `UnitMoments.cell_gram`) instead of q, V = quad −
    Σ_h c_h·(Σ z)²/n_h over the strata that are not lonely.
    """
    assert t.unit is not None
    stratum = t.cluster_stratum[t.row_cluster if rows is None else t.row_cluster[rows]]
    # sums over the (stratum, group) pairs present only: strata × groups can be huge and sparse
    pairs, inverse = np.unique(stratum * n_groups + groups, return_inverse=True)
    inverse = inverse.reshape(-1)
    s1 = _group_sum(inverse, np.asarray(z, dtype=np.float64), len(pairs))
    n_h = t.unit.n_h.astype(np.float64)[pairs // n_groups]
    lonely = n_h <= 1
    extra = (1,) * (z.ndim - 1)
    scale = stratum_scale(n_h).reshape(-1, *extra)
    centring = np.where(lonely.reshape(-1, *extra), 0.0, s1 * s1 / np.where(lonely, 1.0, n_h).reshape(-1, *extra))
    if q is None:
        assert quad is not None
        return quad - _group_sum(pairs % n_groups, scale * centring, n_groups)  # type: ignore[no-any-return]
    s2 = _group_sum(inverse, np.asarray(q, dtype=np.float64), len(pairs))
    return _group_sum(pairs % n_groups, scale * (s2 - centring), n_groups)


def _min_over_terms(per_ratio: np.ndarray, uses: np.ndarray) -> np.ndarray:
    """D × M: minimum of a per-ratio quantity (D × R) over each measure's ratios (uses: M × R)."""
    # (a minimum per measure over its own ratios' columns: no D × M × R temporary)
    measure, ratio = np.nonzero(uses)  # row-major: grouped by measure
    out = np.full((per_ratio.shape[0], uses.shape[0]), np.inf)
    if len(measure):
        starts = np.flatnonzero(np.r_[True, measure[1:] != measure[:-1]])
        out[:, measure[starts]] = np.minimum.reduceat(per_ratio[:, ratio], starts, axis=1)
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
