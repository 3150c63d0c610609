"""Per-cluster sufficient statistics: the only thing every estimate in `analysis` needs.

Every published figure is an affine combination of ratios Σw·y / Σw·a (docs/contracts.md §2).  Its
point estimate, Taylor variance and bootstrap replicates depend on the data only through, for every
(stratum, cluster, domain cell) group and every scored item:

    n        unweighted number of answers            Σ a
    sw       weighted answers (ratio denominator)    Σ w·a
    sw2      squared weights of answers (for n_eff)  Σ w²·a
    sw_sat   weighted satisfied answers              Σ w·s
    sw_value weighted answer values                  Σ w·y·a

so `ClusterTotals` holds exactly these, built either from respondent rows (`totals_from_responses`)
or from a long table a database GROUP BY returns (`totals_from_frame`, docs/contracts.md §5).  Both end
in `ClusterTotals.from_wide`, which is why they agree to floating-point identity.

Domains are never estimated by subsetting (methodology §3): a cluster with no respondent in a domain
keeps its place in its stratum with zero totals, so n_h always counts the clusters of the whole design.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, cast

import numpy as np
import pandas as pd

from questionnaires.index_spec import IndexSpec, ItemSpec, RatioKey

#: Per-item statistics, in the order of the wide arrays (see module docstring).
ITEM_STATS: tuple[str, ...] = ("n", "sw", "sw2", "sw_sat", "sw_value")

#: Columns of the long totals table (docs/contracts.md §5), before the domain columns are inserted.
KEY_COLUMNS: tuple[str, ...] = ("stratum", "cluster")


#: per item, the respondent variables whose squared-weight cross-moments `UnitMoments` keeps
UNIT_VARS: tuple[str, ...] = ("sat", "value", "answered")


@dataclass(frozen=True, eq=False)
class UnitMoments:
    """Second moments for a design whose clusters are the respondents (no cluster column).

    Keeping one totals row per respondent would make memory grow with n.  Instead each (stratum, cell)
    row keeps G = Σ_r w_r²·u_r·u_rᵀ, u_r = (sat, value, answered) of every item (P = 3·items, order
    item-major as UNIT_VARS): Σ_r z_r² of any linearised measure is then a quadratic form gᵀGg.
    `n_h` = respondents per stratum (all of them: the clusters of the design).
    `row_n` (optional) = respondents per (stratum, cell) row, those without a scored answer included: with
    it, the degrees of freedom of a domain are R's `degf` of the domain (respondents − strata in it).

    Or, instead of `gram` (None), `cell_gram`: per domain cell d, Ĝ_d = Σ_h c_h·G_hd with c_h =
    `stratum_scale(n_h)` (`cell_gram_sums`).  Every variance needs the Gram matrices only through
    Σ_h c_h·gᵀG_hd·g = gᵀĜ_dg (g is the same for all rows of a cell, and a respondent lies in one cell),
    so the estimates are the same while memory and work grow with cells, not with strata × cells.
    """

    n_h: np.ndarray
    gram: np.ndarray | None  # rows × P × P, aligned with ClusterTotals rows; None with cell_gram
    row_n: np.ndarray | None = None  # rows, aligned with ClusterTotals rows
    cell_gram: np.ndarray | None = None  # cells × P × P, aligned with ClusterTotals cells

    def __post_init__(self) -> None:
        if (self.gram is None) == (self.cell_gram is None):
            raise ValueError("UnitMoments needs exactly one of gram (per row) and cell_gram (per cell)")

    @property
    def width(self) -> int:
        """P, the number of respondent variables (3 per item)."""
        moments = self.gram if self.gram is not None else self.cell_gram
        assert moments is not None
        return int(moments.shape[1])


def stratum_scale(n_h: np.ndarray) -> np.ndarray:
    """c_h = n_h/(n_h−1), the with-replacement factor of the stratified variance; 1 for n_h ≤ 1 (a lonely
    stratum, R survey's "adjust": its Σ z² centred at the grand mean 0, unscaled)."""
    n = np.asarray(n_h, dtype=np.float64)
    lonely = n <= 1
    return np.where(lonely, 1.0, n / np.where(lonely, 2.0, n - 1.0))


def cell_gram_sums(tri: np.ndarray, row_source: np.ndarray, row_n_h: np.ndarray, row_cell: np.ndarray,
                   n_cells: int) -> np.ndarray:
    """cells × P × P: Ĝ_d = Σ_h c_h·G_hd (`UnitMoments.cell_gram`) from packed Gram triangles.

    `tri`: sources × P(P+1)/2, upper triangles in `np.triu_indices(P)` order (as `moment_tally` stores them);
    per totals row, `row_source` (its triangle; −1 = none: no moments), `row_n_h` (n_h of its stratum) and
    `row_cell`.  One sparse product over the rows: no P × P matrix per row or per stratum is formed.
    """
    from scipy import sparse  # only here: the CLI's Taylor path does not pay for the import

    tri = np.asarray(tri)
    entries = tri.shape[1] if tri.ndim == 2 else 0
    p = round(float(np.sqrt(8 * entries + 1) - 1) / 2)
    if p * (p + 1) // 2 != entries:
        raise ValueError(f"a packed triangle has P(P+1)/2 entries, not {entries}")
    src = np.asarray(row_source, dtype=np.int64)
    use = src >= 0
    weight = stratum_scale(np.asarray(row_n_h)[use])
    mix = sparse.csr_matrix((weight, (np.asarray(row_cell, dtype=np.int64)[use], src[use])),
                            shape=(n_cells, len(tri)))
    packed = np.asarray(mix @ np.asarray(tri, dtype=np.float64))  # cells × entries
    return unpack_cell_grams(packed)


def add_cell_grams(acc: np.ndarray, tri: np.ndarray, row_n_h: np.ndarray, row_cell: np.ndarray,
                   chunk: int = 4096) -> None:
    """acc (cells × P(P+1)/2, float64) += Σ_rows c_h·tri_row into each row's cell: `cell_gram_sums` fed one
    month (or any part of the data) at a time.  Ĝ_d is linear in the Gram entries and c_h depends only on the
    stratum's n_h over the whole period, so summing the parts gives the same Ĝ_d (up to the order of the float
    additions) while a caller holds one part at a time; rows are converted to float64 `chunk` at a time."""
    add_cell_grams_many([(acc, row_n_h, row_cell)], tri, chunk)


def add_cell_grams_many(targets: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]], tri: np.ndarray,
                        chunk: int = 4096) -> None:
    """`add_cell_grams` for several accumulators (acc, row_n_h, row_cell) over the same rows `tri`: each chunk
    of rows is converted to float64 once for all of them (the same sums, added in the same order, as one
    `add_cell_grams` call per accumulator)."""
    from scipy import sparse

    parts = [(acc, stratum_scale(np.asarray(n_h)), np.asarray(cell, dtype=np.int64)) for acc, n_h, cell in targets]
    rows = len(tri)
    for lo in range(0, rows, chunk):
        hi = min(lo + chunk, rows)
        block = np.asarray(tri[lo:hi], dtype=np.float64)
        for acc, weight, cells in parts:
            mix = sparse.csr_matrix((weight[lo:hi], (cells[lo:hi], np.arange(hi - lo))), shape=(len(acc), hi - lo))
            acc += mix @ block


def unpack_cell_grams(packed: np.ndarray) -> np.ndarray:
    """cells × P × P symmetric matrices from cells × P(P+1)/2 packed upper triangles (`np.triu_indices`)."""
    entries = packed.shape[1]
    p = round(float(np.sqrt(8 * entries + 1) - 1) / 2)
    if p * (p + 1) // 2 != entries:
        raise ValueError(f"a packed triangle has P(P+1)/2 entries, not {entries}")
    r, c = np.triu_indices(p)
    out = np.zeros((len(packed), p, p))
    out[:, r, c] = packed
    out[:, c, r] = packed
    return out


@dataclass(frozen=True, eq=False)
class ClusterTotals:
    """Sufficient statistics per (cluster, domain cell) row, plus the design's cluster list.

    Attributes
    ----------
    items: scored item codes, the column order of `stats`.
    domain_columns: the columns whose cross-classification defines the domain cells (finest level;
        any coarser domain, and the whole population, is obtained with `collapse`).
    strata: stratum labels (index = stratum code).
    clusters: DataFrame (stratum, cluster) of every cluster of the design, row i = cluster code i.
    cluster_stratum: stratum code of each cluster (int64, length = number of clusters).
    cells: DataFrame with one row per domain cell (columns = domain_columns), row j = cell code j.
    row_cluster, row_cell: cluster and cell code of each row; (cluster, cell) pairs are unique and
        rows are sorted by (cluster, cell).
    stats: float64 array rows × items × 5, the statistics of ITEM_STATS.
    weighted, clustered: whether the data had non-unit weights / clusters of more than one respondent;
        together with the number of strata they decide whether simple-random-sample intervals apply.
    unit: None, or the respondent-level moments of an unclustered design; then there is one pseudo
        cluster per stratum (rows = (stratum, cell)), n_clusters counts respondents, and only
        `estimate` (not replicates or cluster scores) is available.
    """

    items: tuple[str, ...]
    domain_columns: tuple[str, ...]
    strata: pd.Index
    clusters: pd.DataFrame
    cluster_stratum: np.ndarray
    cells: pd.DataFrame
    row_cluster: np.ndarray
    row_cell: np.ndarray
    stats: np.ndarray
    weighted: bool
    clustered: bool
    unit: UnitMoments | None = None

    # ----------------------------------------------------------------- shape
    @property
    def n_clusters(self) -> int:
        return int(self.unit.n_h.sum()) if self.unit is not None else len(self.clusters)

    @property
    def n_strata(self) -> int:
        return len(self.strata)

    @property
    def is_srs(self) -> bool:
        """True when the data are an unweighted, unclustered, unstratified sample."""
        return not self.weighted and not self.clustered and self.n_strata == 1

    def stratum_sizes(self) -> np.ndarray:
        """n_h: number of clusters of each stratum in the whole design."""
        if self.unit is not None:
            return self.unit.n_h
        return np.bincount(self.cluster_stratum, minlength=self.n_strata)


    def ratio_parts(self, ratios: Sequence[RatioKey]) -> tuple[np.ndarray, np.ndarray]:
        """(numerator, denominator) arrays rows × len(ratios): Σw·y and Σw·a per row.

        A ratio on an item the totals do not contain (nobody answered it anywhere) has zero totals.
        """
        pos = {code: i for i, code in enumerate(self.items)}
        rows = len(self.row_cluster)
        num = np.zeros((rows, len(ratios)))
        den = np.zeros((rows, len(ratios)))
        for j, key in enumerate(ratios):
            i = pos.get(key.item)
            if i is None:
                continue
            num[:, j] = self.stats[:, i, 3 if key.kind == "sat" else 4]
            den[:, j] = self.stats[:, i, 1]
        return num, den

    def ratio_stat(self, ratios: Sequence[RatioKey], stat: str) -> np.ndarray:
        """rows × len(ratios) array of one per-item statistic (e.g. `n`, `sw2`) for each ratio's item."""
        pos = {code: i for i, code in enumerate(self.items)}
        k = ITEM_STATS.index(stat)
        out = np.zeros((len(self.row_cluster), len(ratios)))
        for j, key in enumerate(ratios):
            i = pos.get(key.item)
            if i is not None:
                out[:, j] = self.stats[:, i, k]
        return out

    # ----------------------------------------------------------------- domains
    def collapse(self, by: Sequence[str] = ()) -> ClusterTotals:
        """Totals with cells defined by `by` (a subset of domain_columns); `()` = whole population.

        Rows sharing (cluster, new cell) are summed in row order, so the result depends only on this
        object, never on how it was built.
        """
        by = tuple(by)
        unknown = [c for c in by if c not in self.domain_columns]
        if unknown:
            raise KeyError(f"domain column(s) not in the totals: {', '.join(unknown)}")
        if by == self.domain_columns:
            return self
        if by:
            sub = self.cells[list(by)]
            cell_code, new_cells = _factorize_frame(sub)
            new_cells.columns = list(by)
        else:
            cell_code = np.zeros(len(self.cells), dtype=np.int64)
            new_cells = pd.DataFrame(index=pd.RangeIndex(1))
        n_cells = len(new_cells)
        key = self.row_cluster * n_cells + cell_code[self.row_cell]
        uniq, inverse = np.unique(key, return_inverse=True)
        stats = _group_sum(inverse, self.stats, len(uniq))
        unit = None
        if self.unit is not None:
            row_n = None if self.unit.row_n is None else np.bincount(
                inverse.reshape(-1), weights=self.unit.row_n, minlength=len(uniq))
            if self.unit.gram is not None:
                unit = UnitMoments(self.unit.n_h, _group_sum(inverse, self.unit.gram, len(uniq)), row_n)
            else:  # Ĝ of a coarser cell = the sum of its finer cells' (c_h is per stratum)
                assert self.unit.cell_gram is not None
                unit = UnitMoments(self.unit.n_h, None, row_n,
                                   cell_gram=_group_sum(cell_code, self.unit.cell_gram, n_cells))
        return ClusterTotals(
            items=self.items,
            domain_columns=by,
            strata=self.strata,
            clusters=self.clusters,
            cluster_stratum=self.cluster_stratum,
            cells=new_cells,
            row_cluster=uniq // n_cells,
            row_cell=uniq % n_cells,
            stats=stats,
            weighted=self.weighted,
            clustered=self.clustered,
            unit=unit,
        )

    def with_cell_moments(self) -> ClusterTotals:
        """The same totals with the Gram matrices pre-summed per cell (`UnitMoments.cell_gram`): smaller,
        and every estimate equal up to rounding (the web app builds this form directly, `cell_gram_sums`)."""
        if self.unit is None or self.unit.gram is None:
            return self
        p = self.unit.width
        r, c = np.triu_indices(p)
        n_h = self.unit.n_h[self.cluster_stratum[self.row_cluster]]
        cell_gram = cell_gram_sums(self.unit.gram[:, r, c], np.arange(len(self.row_cluster)), n_h,
                                   self.row_cell, len(self.cells))
        return replace(self, unit=UnitMoments(self.unit.n_h, None, self.unit.row_n, cell_gram=cell_gram))

    # ----------------------------------------------------------------- long table (contracts §5)
    def to_frame(self) -> pd.DataFrame:
        """The long totals table of docs/contracts.md §5: one row per (cluster, domain cell, item).

        Rows whose item has no answer (n = 0) are left out, as a GROUP BY over answers would.
        """
        if self.unit is not None:
            raise ValueError("totals of an unclustered design kept as moments have no per-cluster table")
        rows = len(self.row_cluster)
        n_items = len(self.items)
        rr = np.repeat(np.arange(rows), n_items)
        ii = np.tile(np.arange(n_items), rows)
        flat = self.stats.reshape(rows * n_items, len(ITEM_STATS))
        keep = flat[:, 0] > 0
        rr, ii, flat = rr[keep], ii[keep], flat[keep]
        clusters = self.clusters.iloc[self.row_cluster[rr]].reset_index(drop=True)
        out = pd.DataFrame({"stratum": clusters["stratum"], "cluster": clusters["cluster"]})
        cells = self.cells.iloc[self.row_cell[rr]].reset_index(drop=True)
        for col in self.domain_columns:
            out[col] = cells[col]
        out["item"] = np.asarray(self.items, dtype=object)[ii]
        for k, stat in enumerate(ITEM_STATS):
            out[stat] = flat[:, k]
        out["n"] = out["n"].astype(np.int64)
        return out

    # ----------------------------------------------------------------- construction
    @classmethod
    def from_wide(
        cls,
        keys: pd.DataFrame,
        stats: np.ndarray,
        items: Sequence[str],
        domain_columns: Sequence[str],
        *,
        design: pd.DataFrame | None = None,
        weighted: bool | None = None,
        unit_gram: np.ndarray | None = None,
        unit_counts: dict[Any, Any] | None = None,
        unit_row_counts: np.ndarray | None = None,
    ) -> ClusterTotals:
        """Build from group keys (stratum, cluster, domain columns…) and their rows × items × 5 stats.

        Unit-level mode (`UnitMoments`): `unit_gram` (keys × P × P) and `unit_counts` (stratum label →
        respondents), with the stratum label as the cluster of every key; optionally `unit_row_counts`
        (respondents of each key row, answered or not) for R's degrees of freedom of a domain.

        Keys need not be unique or sorted: duplicate groups are summed (in row order).
        `design` optionally lists every (stratum, cluster) of the design, so that clusters without
        any answer still count in n_h.  `weighted=None` infers it (any Σw·a ≠ Σa).
        """
        domain_columns = tuple(domain_columns)
        stats = np.asarray(stats, dtype=np.float64)
        if design is not None:
            all_clusters = pd.concat([keys[list(KEY_COLUMNS)], design[list(KEY_COLUMNS)]], ignore_index=True)
        else:
            all_clusters = keys[list(KEY_COLUMNS)]
        cl_code_all, clusters = _factorize_frame(all_clusters)
        clusters.columns = list(KEY_COLUMNS)
        cl_code = cl_code_all[: len(keys)]
        st_code, strata_frame = _factorize_frame(clusters[["stratum"]])
        strata = pd.Index(strata_frame["stratum"], name="stratum")
        if domain_columns:
            cell_code, cells = _factorize_frame(keys[list(domain_columns)])
            cells.columns = list(domain_columns)
        else:
            cell_code = np.zeros(len(keys), dtype=np.int64)
            cells = pd.DataFrame(index=pd.RangeIndex(1))
        return cls._assemble(
            stats, items, domain_columns, clusters, cl_code, strata, st_code, cells, cell_code,
            weighted=weighted, unit_gram=unit_gram, unit_counts=unit_counts, unit_row_counts=unit_row_counts,
        )  # fmt: skip

    @classmethod
    def _assemble(
        cls,
        stats: np.ndarray,
        items: Sequence[str],
        domain_columns: tuple[str, ...],
        clusters: pd.DataFrame,
        cl_code: np.ndarray,
        strata: pd.Index,
        st_code: np.ndarray,
        cells: pd.DataFrame,
        cell_code: np.ndarray,
        *,
        weighted: bool | None,
        unit_gram: np.ndarray | None,
        unit_counts: dict[Any, Any] | None,
        unit_row_counts: np.ndarray | None = None,
    ) -> ClusterTotals:
        """The part of `from_wide` after the keys are coded: cluster and cell code of every key row."""
        n_cells = max(len(cells), 1)
        key = cl_code * n_cells + cell_code
        uniq, inverse = np.unique(key, return_inverse=True)
        summed = _group_sum(inverse, stats, len(uniq))
        gram = None if unit_gram is None else _group_sum(inverse, np.asarray(unit_gram, np.float64), len(uniq))
        row_n = None if unit_row_counts is None else np.bincount(
            inverse.reshape(-1), weights=np.asarray(unit_row_counts, np.float64), minlength=len(uniq))
        # rows without any answer carry no information (the cluster stays in the design list); dropping
        # them makes respondent-level and GROUP BY totals (which never have such rows) identical
        informative = summed.reshape(len(uniq), summed.shape[1] * summed.shape[2]).any(axis=1)
        uniq, summed = uniq[informative], summed[informative]
        gram = gram[informative] if gram is not None else None
        row_n = row_n[informative] if row_n is not None else None
        row_cluster, row_cell = uniq // n_cells, uniq % n_cells
        if domain_columns:  # likewise a domain cell nobody answered in (a GROUP BY cannot list it)
            used, row_cell = np.unique(row_cell, return_inverse=True)
            row_cell = row_cell.reshape(-1)
            cells = cells.iloc[used].reset_index(drop=True)
        n = summed[:, :, 0]
        if weighted is None:
            weighted = bool(np.any(summed[:, :, 1] != n) or np.any(summed[:, :, 2] != n))
        # clustered = some cluster holds more than one answer to an item (over all its cells)
        per_cluster = _group_sum(row_cluster, n, len(clusters)) if len(uniq) else n
        clustered = bool(np.any(per_cluster > 1))
        unit = None
        if unit_counts is not None:
            n_h = np.array([unit_counts.get(label, 0) for label in strata], dtype=np.int64)
            p = len(UNIT_VARS) * len(tuple(items))
            unit = UnitMoments(n_h, gram if gram is not None else np.zeros((len(uniq), p, p)), row_n)
            clustered = False
        return cls(
            items=tuple(items),
            domain_columns=domain_columns,
            strata=strata,
            clusters=clusters,
            cluster_stratum=st_code,
            cells=cells,
            row_cluster=row_cluster,
            row_cell=row_cell,
            stats=summed,
            weighted=weighted,
            clustered=clustered,
            unit=unit,
        )


# --------------------------------------------------------------------------- builders
def totals_from_frame(
    frame: pd.DataFrame,
    spec: IndexSpec | Iterable[str],
    domain_columns: Sequence[str] = (),
    *,
    design: pd.DataFrame | None = None,
    weighted: bool | None = None,
) -> ClusterTotals:
    """Build totals from the long table of docs/contracts.md §5 (what the web app's GROUP BY returns).

    `frame` columns: stratum, cluster, the domain columns, item, n, sw, sw2, sw_sat, sw_value.
    Items of the spec absent from the frame get zero totals; items not in the spec are ignored.
    """
    items = tuple(spec.items) if isinstance(spec, IndexSpec) else tuple(spec)
    domain_columns = tuple(domain_columns)
    needed = [*KEY_COLUMNS, *domain_columns, "item", *ITEM_STATS]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise KeyError(f"totals table lacks column(s): {', '.join(missing)}")
    group_cols = [*KEY_COLUMNS, *domain_columns]
    fast = _totals_from_plain_frame(frame, items, group_cols, design, weighted)
    if fast is not None:
        return fast
    frame = frame[frame["item"].isin(items)]
    if len(frame):
        g_code, keys = _factorize_frame(frame[group_cols])
    else:
        g_code, keys = np.zeros(0, dtype=np.int64), pd.DataFrame(columns=group_cols)
    keys.columns = group_cols
    item_code = pd.Categorical(frame["item"], categories=list(items)).codes.astype(np.int64)
    stats = np.zeros((len(keys), len(items), len(ITEM_STATS)))
    values = frame[list(ITEM_STATS)].to_numpy(dtype=np.float64)
    np.add.at(stats, (g_code, item_code), values)
    return ClusterTotals.from_wide(keys, stats, items, domain_columns, design=design, weighted=weighted)


def _plain_column(values: pd.Series) -> bool:
    """Strings or numbers without missing values: factorizing their numpy values sorts as pandas does."""
    dtype = values.dtype
    plain = isinstance(dtype, pd.StringDtype) or (isinstance(dtype, np.dtype) and dtype.kind in "iub")
    return plain and not values.hasnans


def _totals_from_plain_frame(
    frame: pd.DataFrame,
    items: tuple[str, ...],
    group_cols: list[str],
    design: pd.DataFrame | None,
    weighted: bool | None,
) -> ClusterTotals | None:
    """`totals_from_frame` on codes instead of intermediate frames (the per-request cost is pandas overhead).

    Every column is factorized once, on the whole frame; rows of other items are dropped from the codes
    only.  The result equals the general path (same sorted labels, same summation order); None when a
    column is not plain (`_plain_column`), the design's labels differ in type, or no row is left.
    """
    if len(set(items)) != len(items) or not all(_plain_column(frame[c]) for c in group_cols):
        return None
    if design is not None and not all(
        _plain_column(design[c]) and design[c].dtype == frame[c].dtype for c in KEY_COLUMNS
    ):
        return None
    item_rows, item_labels = pd.factorize(frame["item"])
    pos = {code: i for i, code in enumerate(items)}
    lut = np.array([pos.get(label, -1) for label in item_labels] + [-1], dtype=np.int64)
    item_code = lut[item_rows]  # NaN item: code −1 → lut[−1] = −1
    keep = item_code >= 0
    if not keep.any():
        return None
    every = bool(keep.all())
    codes, uniques = [], []
    for col in group_cols:
        c, u = pd.factorize(frame[col], sort=True, use_na_sentinel=False)
        codes.append(c.astype(np.int64) if every else c[keep].astype(np.int64))
        uniques.append(np.asarray(u, dtype=object) if u.dtype == object else np.asarray(u))
    g_code, parts = _combine_codes(codes, uniques)
    values = np.column_stack([frame[c].to_numpy(dtype=np.float64) for c in ITEM_STATS])
    cell = g_code * len(items) + (item_code if every else item_code[keep])  # (group, item), rows in order
    stats = _group_sum(cell, values if every else values[keep], len(parts[0]) * len(items))
    stats = stats.reshape(len(parts[0]), len(items), len(ITEM_STATS))

    # clusters: the groups' (stratum, cluster) and the design's, labels factorized jointly per column
    key_codes, labels = [], []
    for k, col in enumerate(KEY_COLUMNS):
        if design is None:
            key_codes.append(parts[k])
            labels.append(uniques[k])
            continue
        joint, u = pd.factorize(np.concatenate([uniques[k], design[col].to_numpy()]), sort=True, use_na_sentinel=False)  # type: ignore[assignment]
        joint = joint.astype(np.int64)
        key_codes.append(np.concatenate([joint[: len(uniques[k])][parts[k]], joint[len(uniques[k]) :]]))
        labels.append(np.asarray(u, dtype=object) if u.dtype == object else np.asarray(u))
    cl_code_all, cl_parts = _combine_codes(key_codes, labels)
    clusters = pd.DataFrame({col: labels[k][cl_parts[k]] for k, col in enumerate(KEY_COLUMNS)})
    st_used, st_code = np.unique(cl_parts[0], return_inverse=True)
    strata_frame = pd.DataFrame({"stratum": labels[0][st_used]})
    strata = pd.Index(strata_frame["stratum"], name="stratum")
    domain_columns = tuple(group_cols[len(KEY_COLUMNS) :])
    if domain_columns:
        d = range(len(KEY_COLUMNS), len(group_cols))
        cell_code, cell_parts = _combine_codes([parts[k] for k in d], [uniques[k] for k in d])
        cells = pd.DataFrame({group_cols[k]: uniques[k][cell_parts[j]] for j, k in enumerate(d)})
    else:
        cell_code = np.zeros(len(parts[0]), dtype=np.int64)
        cells = pd.DataFrame(index=pd.RangeIndex(1))
    return ClusterTotals._assemble(
        stats, items, domain_columns, clusters, cl_code_all[: len(parts[0])], strata,
        st_code.reshape(-1).astype(np.int64), cells, cell_code, weighted=weighted, unit_gram=None, unit_counts=None,
    )  # fmt: skip


def level_table(item: ItemSpec) -> np.ndarray:
    """Boolean lookup: lut[v] is True when v is a level of the item's scale or 0 (no opinion)."""
    lut = np.zeros(max(item.values) + 1, dtype=bool)
    lut[list(item.values)] = True
    lut[0] = True
    return lut


def level_codes(values: np.ndarray, lut: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(codes, invalid): answers as small integers, 0 = not answered (NaN, empty or 0 = no opinion).

    `invalid` marks values that are not a level of the scale (including non-integers); their code is 0.
    """
    v = np.asarray(values)
    if v.dtype.itemsize == 1 and v.dtype.kind in "iub":  # the usual Parquet int8 column: one lookup
        u = v.view(np.uint8)
        table = np.zeros(256, dtype=bool)
        table[: min(len(lut), 128)] = lut[:128]
        ok = table[u]
        return np.where(ok, u, 0).astype(np.int64), ~ok
    if v.dtype.kind in "iub":
        vi = v.astype(np.int64, copy=False)
        inside = (vi >= 0) & (vi < len(lut))
        ok = inside & lut[np.where(inside, vi, 0)]
        return np.where(ok, vi, 0), ~ok
    v = v.astype(np.float64, copy=False)
    missing = np.isnan(v)
    inside = ~missing & (v >= 0) & (v < len(lut))
    vi = np.where(inside, v, 0).astype(np.int64)
    ok = inside & (vi == v) & lut[vi]
    return np.where(ok, vi, 0), ~ok & ~missing


def group_stats(
    codes: np.ndarray,
    n_groups: int,
    answers: dict[str, np.ndarray],
    spec: IndexSpec,
    weights: np.ndarray | None,
) -> np.ndarray:
    """groups × items × 5 sufficient statistics of respondent rows with group codes `codes`.

    `answers[item]` holds level codes (`level_codes`: 0 = not answered).  One weighted histogram of
    levels per group (3 bincounts per item) gives all five statistics: the levels are few, the
    respondents many.
    """
    items = tuple(spec.items)
    out = np.zeros((n_groups, len(items), len(ITEM_STATS)))
    w2 = weights * weights if weights is not None else None
    for i, code in enumerate(items):
        it = spec.items[code]
        k = max(it.values) + 1
        key = codes * k + answers[code]
        cnt = np.bincount(key, minlength=n_groups * k).reshape(n_groups, k)[:, 1:].astype(np.float64)
        if weights is None:
            hw = hw2 = cnt
        else:
            hw = np.bincount(key, weights=weights, minlength=n_groups * k).reshape(n_groups, k)[:, 1:]  # type: ignore[assignment]
            hw2 = np.bincount(key, weights=w2, minlength=n_groups * k).reshape(n_groups, k)[:, 1:]  # type: ignore[assignment]
        levels = np.arange(1, k, dtype=np.float64)
        sat = np.isin(np.arange(1, k), list(it.satisfied))
        out[:, i, 0] = cnt.sum(axis=1)
        out[:, i, 1] = hw.sum(axis=1)
        out[:, i, 2] = hw2.sum(axis=1)
        out[:, i, 3] = hw[:, sat].sum(axis=1)
        out[:, i, 4] = hw @ levels
    return out


def unit_gram(
    codes: np.ndarray,
    n_groups: int,
    answers: dict[str, np.ndarray],
    spec: IndexSpec,
    weights: np.ndarray | None,
) -> np.ndarray:
    """groups × P × P: Σ w²·u·uᵀ per group, u = (sat, value, answered) per item (`UnitMoments`)."""
    items = tuple(spec.items)
    p = len(UNIT_VARS) * len(items)
    u = np.empty((len(codes), p))
    for i, code in enumerate(items):
        it = spec.items[code]
        lv = answers[code]
        sat_lut = np.zeros(max(it.values) + 1)
        sat_lut[list(it.satisfied)] = 1.0
        u[:, 3 * i] = sat_lut[lv]
        u[:, 3 * i + 1] = lv
        u[:, 3 * i + 2] = lv > 0
    w2 = weights * weights if weights is not None else None
    order = np.argsort(codes, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(codes, minlength=n_groups))])
    out = np.zeros((n_groups, p, p))
    with _one_blas_thread():
        for g in range(n_groups):
            rows = order[bounds[g] : bounds[g + 1]]
            if len(rows):
                ug = u[rows]
                out[g] = (ug * w2[rows, None]).T @ ug if w2 is not None else ug.T @ ug
    return out


_BLAS: list[Any] = []  # [ThreadpoolController or None], found once per process


def _one_blas_thread() -> contextlib.AbstractContextManager[object]:
    """Single-threaded BLAS for the Gram products: multi-threaded OpenBLAS spin-waits, and on a busy
    2-core machine made them 40× slower (measured); one thread is as fast when the machine is idle.

    The libraries are looked up once per process: `threadpool_limits()` re-reads /proc/self/maps on every
    call (~2 ms, more than a one-respondent Gram product costs), a kept controller only sets the count.
    """
    if not _BLAS:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:  # optional: only speed depends on it
            _BLAS.append(None)
        else:
            _BLAS.append(ThreadpoolController())
    controller = _BLAS[0]
    if controller is None:
        return contextlib.nullcontext()
    blas = controller.select(user_api="blas")
    if all(lib["num_threads"] == 1 for lib in blas.info()):  # e.g. a serving process (survey/__init__.py)
        return contextlib.nullcontext()
    return cast(contextlib.AbstractContextManager[object], blas.limit(limits=1))


def respondent_keys(
    data: pd.DataFrame,
    domain_columns: Sequence[str],
    *,
    strata: str | None = None,
    cluster: str | None = None,
    row_offset: int = 0,
) -> pd.DataFrame:
    """(stratum, cluster, domain columns…) per respondent: the grouping keys of the totals.

    No cluster column → each respondent is its own cluster (its row number, offset by `row_offset`
    when reading in batches); no strata column → one stratum.
    """
    keys = pd.DataFrame(index=data.index)
    keys["stratum"] = data[strata].to_numpy() if strata else np.zeros(len(data), dtype=np.int64)
    if cluster:
        keys["cluster"] = data[cluster].to_numpy()
    else:
        keys["cluster"] = np.arange(row_offset, row_offset + len(data), dtype=np.int64)
    for col in domain_columns:
        keys[col] = data[col].to_numpy()
    return keys.reset_index(drop=True)


def totals_from_responses(
    data: pd.DataFrame,
    spec: IndexSpec,
    domain_columns: Sequence[str] = (),
    *,
    weights: str | None = None,
    strata: str | None = None,
    cluster: str | None = None,
    unit_level: bool = False,
) -> ClusterTotals:
    """Build totals from respondent rows in the exchange format (docs/contracts.md §3).

    Item columns are numeric with NaN (or 0 = no opinion) for unanswered; values outside the scale
    raise ValueError.  Weights must be positive (`analysis.data.read_totals` checks files fully).
    Domain columns are used as they are (derive period labels with `analysis.data.period_codes`).
    `unit_level=True` without `cluster` keeps `UnitMoments` (rows per (stratum, cell), as
    `read_totals(..., unit_level=True)`); the estimates equal those of respondent clusters.
    """
    domain_columns = tuple(domain_columns)
    unit = unit_level and not cluster
    keys = respondent_keys(data, domain_columns, strata=strata, cluster=cluster)
    if unit:  # one pseudo cluster per stratum; respondents are counted apart
        keys["cluster"] = keys["stratum"]
    codes, groups = _factorize_frame(keys)
    groups.columns = list(keys.columns)
    answers = {}
    for code, item in spec.items.items():
        values = data[code].to_numpy(dtype=np.float64, na_value=np.nan)
        answers[code], invalid = level_codes(values, level_table(item))
        if invalid.any():
            raise ValueError(f"column {code!r}: values outside the scale ({int(invalid.sum())} rows)")
    w = data[weights].to_numpy(dtype=np.float64) if weights else None
    stats = group_stats(codes, len(groups), answers, spec, w)
    if unit:
        counts = keys["stratum"].value_counts(sort=False)
        return ClusterTotals.from_wide(
            groups, stats, tuple(spec.items), domain_columns, weighted=None if weights else False,
            unit_gram=unit_gram(codes, len(groups), answers, spec, w), unit_counts=counts.to_dict(),
            unit_row_counts=np.bincount(codes, minlength=len(groups)),
        )  # fmt: skip
    return ClusterTotals.from_wide(
        groups, stats, tuple(spec.items), domain_columns, weighted=None if weights else False
    )


# --------------------------------------------------------------------------- helpers
def _factorize_frame(frame: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    """Integer code per row for the combination of the frame's columns, and the distinct combinations.

    Combinations are sorted by their values (NaN last), so codes do not depend on row order.
    """
    if frame.shape[1] == 0:
        return np.zeros(len(frame), dtype=np.int64), pd.DataFrame(index=pd.RangeIndex(1))
    codes_list = []
    uniques_list = []
    for col in frame.columns:
        c, u = pd.factorize(frame[col], sort=True, use_na_sentinel=False)
        codes_list.append(c.astype(np.int64))
        uniques_list.append(np.asarray(u, dtype=object) if u.dtype == object else np.asarray(u))
    inverse, parts = _combine_codes(codes_list, uniques_list)
    out = pd.DataFrame({col: uniques_list[k][parts[k]] for k, col in enumerate(frame.columns)})
    return inverse, out


def _combine_codes(codes_list: list[np.ndarray], uniques_list: list[np.ndarray]) -> tuple[np.ndarray, list[Any]]:
    """Code of each row's combination of per-column codes (into sorted labels), and per column the code
    of every distinct combination; combinations are in lexicographic order of the codes."""
    sizes = [max(len(u), 1) for u in uniques_list]
    combined = np.ravel_multi_index(codes_list, sizes) if len(codes_list) > 1 else codes_list[0]
    uniq, inverse = np.unique(combined, return_inverse=True)
    parts = list(np.unravel_index(uniq, sizes)) if len(codes_list) > 1 else [uniq]
    return inverse.astype(np.int64).reshape(-1), parts


def _group_sum(codes: np.ndarray, values: np.ndarray, n_groups: int) -> np.ndarray:
    """Sum the leading axis of `values` by group code, in row order (same result for any caller).

    Each group's sum is ((0 + v_first) + v_second) + …, the order of `np.bincount`, so results do not
    depend on the path taken.  Wide values (e.g. the P × P Gram matrices) with few rows per group are
    added one rank-within-group at a time (one vectorised step per rank); small arrays by one bincount
    over (group, column) bins, large narrow ones column by column.
    """
    shape = values.shape
    k = int(np.prod(shape[1:], dtype=np.int64))
    codes = np.asarray(codes, dtype=np.int64)
    flat = values.reshape(shape[0], k)
    if len(codes) == 0:
        return np.zeros((n_groups, *shape[1:]))
    if len(codes) * k <= 4096:  # tiny: np.add.at has the least overhead (and the same order)
        out = np.zeros((n_groups, k))
        np.add.at(out, codes, flat)
        return out.reshape((n_groups, *shape[1:]))
    if k > 64:  # decide by the largest group; a narrow array is always cheaper column by column
        order = np.argsort(codes, kind="stable")
        sorted_codes = codes[order]
        starts = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]])
        sizes = np.diff(np.r_[starts, len(codes)])
    if k <= 64 and len(codes) * k <= 1 << 22:  # small: one bincount over (group, column) bins, rows in order
        bins = (codes[:, None] * k + np.arange(k)).reshape(-1)
        out = np.bincount(bins, weights=flat.reshape(-1), minlength=n_groups * k)  # type: ignore[assignment]
        return out.reshape((n_groups, *shape[1:]))
    if k <= 64 or sizes.max() >= k:  # large and narrow, or many rows per group: column by column
        out = np.zeros((n_groups, k))
        for j in range(k):
            out[:, j] = np.bincount(codes, weights=flat[:, j], minlength=n_groups)
        return out.reshape((n_groups, *shape[1:]))
    first = order[starts]
    # rank 0: 0 + v, i.e. v with −0.0 made +0.0 (as bincount); one copy, none when rows are the groups
    if np.array_equal(first, np.arange(len(flat))):
        acc = np.add(flat, 0.0, dtype=np.float64)
    else:
        acc = flat[first].astype(np.float64, copy=False)
        acc += 0.0
    for rank in range(1, int(sizes.max())):
        if sizes.min() > rank:
            acc += flat[order[starts + rank]]
        else:
            sel = np.flatnonzero(sizes > rank)
            acc[sel] += flat[order[starts[sel] + rank]]
    if len(starts) == n_groups:  # every group present: codes are 0 … n_groups − 1
        return acc.reshape((n_groups, *shape[1:]))  # type: ignore[no-any-return]
    out = np.zeros((n_groups, k))
    out[sorted_codes[starts]] = acc
    return out.reshape((n_groups, *shape[1:]))
