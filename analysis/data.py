"""Reading and validating analysis exchange files (docs/contracts.md §3), streamed into cluster totals.

A file is read in batches (Parquet row batches through pyarrow, CSV chunks through pandas); each batch
is validated and reduced to per-(stratum, cluster, domain) sufficient statistics at once, so memory
does not grow with the number of respondents, only with the number of groups.  Problems are counted
over the whole file and reported as ONE line naming the column and the number of offending rows
(`DataError`), before anything is written.

Period domains `month` (2022-07), `quarter` (2022-Q3) and `year` (2022) are derived from
`submitted_at` in Asia/Ho_Chi_Minh time when the file has no column of that name.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.design import by_period, period_split
from analysis.totals import (
    ITEM_STATS,
    KEY_COLUMNS,
    ClusterTotals,
    group_stats,
    level_codes,
    level_table,
    unit_gram,
)
from questionnaires.index_spec import IndexSpec

PERIOD_COLUMNS: tuple[str, ...] = ("month", "quarter", "year")
LOCAL_TZ = "Asia/Ho_Chi_Minh"
BATCH_ROWS = 1 << 17


class DataError(ValueError):
    """An invalid exchange file: `str(err)` is the one-line message for the user."""

    def __init__(self, column: str, rows: int | None, problem: str):
        self.column, self.rows, self.problem = column, rows, problem
        count = "" if rows is None else f" ({rows} row{'s' if rows != 1 else ''})"
        super().__init__(f"column {column!r}: {problem}{count}")


@dataclass(frozen=True)
class DesignColumns:
    """Which columns of the file define weights, strata, clusters and domains (all optional)."""

    by: tuple[str, ...] = ()
    weights: str | None = None
    strata: str | None = None
    cluster: str | None = None
    #: strata = stratum × period when `by` has a period column (analysis.design.period_split): every period is
    #: then estimated as in its own design, as the web app's figures are.  The CLI asks for it; off by default so
    #: that a file read here gives the totals `totals_from_responses` gives for the same rows and columns
    period_strata: bool = False


# --------------------------------------------------------------------------- reading
def file_columns(path: str | Path) -> list[str]:
    """Column names of a .csv or .parquet exchange file, without reading its rows."""
    path = Path(path)
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        return list(pq.ParquetFile(path).schema_arrow.names)
    if path.suffix.lower() == ".csv":
        return list(pd.read_csv(path, nrows=0, encoding="utf-8-sig").columns)
    raise DataError(str(path), None, "unsupported file type (use .csv or .parquet)")


def iter_batches(path: str | Path, columns: Sequence[str], batch_rows: int = BATCH_ROWS) -> Iterator[dict[str, Any]]:
    """Yield batches as dicts column → pandas Series or pyarrow Array (Parquet keeps Arrow arrays)."""
    path = Path(path)
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(path)
        # single-threaded decoding: as fast on 2 cores, and steadier when the machine is busy
        for batch in pf.iter_batches(batch_size=batch_rows, columns=list(columns), use_threads=False):
            yield {name: batch.column(i) for i, name in enumerate(batch.schema.names)}
    else:
        reader = pd.read_csv(
            path, usecols=list(columns), chunksize=batch_rows, encoding="utf-8-sig", dtype=str, keep_default_na=False
        )
        for chunk in reader:
            yield {c: chunk[c] for c in columns}


# --------------------------------------------------------------------------- column decoding
def _to_float(col: Any) -> tuple[np.ndarray, np.ndarray]:
    """(values as float64 with NaN for empty, mask of non-empty cells that are not numbers)."""
    if isinstance(col, pd.Series):
        s = col
        if pd.api.types.is_numeric_dtype(s.dtype):
            v = s.to_numpy(dtype=np.float64, na_value=np.nan)
            return v, np.zeros(len(v), dtype=bool)
        empty = s.isna() | (s.astype(str).str.strip() == "")
        num = pd.to_numeric(s.where(~empty), errors="coerce").to_numpy(dtype=np.float64)
        bad = np.isnan(num) & ~empty.to_numpy()
        return num, bad
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = col
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type) or pa.types.is_boolean(arr.type):
        v = pc.cast(arr, pa.float64()).to_numpy(zero_copy_only=False)
        return np.asarray(v, dtype=np.float64), np.zeros(len(v), dtype=bool)
    s = pd.Series(arr.to_pandas(), dtype=object)
    return _to_float(s)


def _item_codes(col: Any, lut: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Level codes (0 = not answered) and invalid mask; integer Arrow columns skip the float round trip."""
    if not isinstance(col, pd.Series):
        import pyarrow as pa

        if pa.types.is_integer(col.type):
            return level_codes(col.fill_null(0).to_numpy(zero_copy_only=False), lut)
    v, bad = _to_float(col)
    codes, invalid = level_codes(v, lut)
    return codes, invalid | bad


class _Encoder:
    """Global integer codes for a key column across batches (labels kept in first-seen order)."""

    def __init__(self) -> None:
        self.index: dict[object, int] = {}
        self.labels: list[object] = []

    def encode(self, col: Any) -> tuple[np.ndarray, np.ndarray]:
        """(codes, null mask); nulls and empty strings get the code of label None."""
        if isinstance(col, pd.Series):
            s = col if pd.api.types.is_numeric_dtype(col.dtype) else col.where(col.astype(str).str.strip() != "")
            local, uniques_index = pd.factorize(s, use_na_sentinel=True)
            uniques = list(uniques_index)
        else:
            import pyarrow as pa

            arr = col if pa.types.is_dictionary(col.type) else col.dictionary_encode()
            idx = arr.indices.fill_null(-1) if arr.null_count else arr.indices
            local = np.asarray(idx.to_numpy(zero_copy_only=False), dtype=np.int64)
            uniques = arr.dictionary.to_pylist()
            uniques = [None if (isinstance(u, str) and not u.strip()) else u for u in uniques]
        null = local < 0
        mapping = np.empty(len(uniques) + 1, dtype=np.int64)
        for j, u in enumerate([*uniques, None]):
            key = None if u is None or (isinstance(u, float) and np.isnan(u)) else u
            code = self.index.get(key)
            if code is None:
                code = self.index[key] = len(self.labels)
                self.labels.append(key)
            mapping[j] = code
        codes = mapping[np.where(null, len(uniques), local)]
        null = null | np.isin(codes, [self.index[None]]) if None in self.index else null
        return codes, null


# --------------------------------------------------------------------------- periods
def period_codes(submitted_at: Any, kind: str) -> np.ndarray:
    """Period labels (object array) of ISO-8601 timestamps, in Asia/Ho_Chi_Minh local time."""
    s = submitted_at if isinstance(submitted_at, pd.Series) else pd.Series(submitted_at.to_pandas())
    ts = pd.to_datetime(s, utc=True, format="ISO8601", errors="coerce").dt.tz_convert(LOCAL_TZ)
    year = ts.dt.year.to_numpy(dtype=np.float64)
    sub = ts.dt.month.to_numpy(dtype=np.float64) if kind == "month" else ts.dt.quarter.to_numpy(np.float64)
    key = year * 100 + (sub if kind != "year" else 0)
    out = np.empty(len(key), dtype=object)
    for k in np.unique(key[~np.isnan(key)]):
        y, m = int(k // 100), int(k % 100)
        label = f"{y}" if kind == "year" else (f"{y}-{m:02d}" if kind == "month" else f"{y}-Q{m}")
        out[key == k] = label
    out[np.isnan(key)] = None
    return out


def _dense_unique(keys: np.ndarray, space: int) -> tuple[np.ndarray, np.ndarray]:
    """np.unique(keys, return_inverse=True) without sorting when the key space is small."""
    if space > 4 * len(keys) + (1 << 16):
        uniq, inverse = np.unique(keys, return_inverse=True)
        return uniq, inverse.reshape(-1)
    present = np.bincount(keys, minlength=space) > 0
    uniq = np.flatnonzero(present)
    position = np.cumsum(present) - 1
    return uniq, position[keys]


# --------------------------------------------------------------------------- streaming totals
@dataclass
class _Problems:
    counts: dict[tuple[str, str], int] = field(default_factory=dict)

    def add(self, column: str, problem: str, rows: int) -> None:
        if rows:
            self.counts[(column, problem)] = self.counts.get((column, problem), 0) + int(rows)

    def raise_first(self) -> None:
        if self.counts:
            (column, problem), rows = next(iter(self.counts.items()))
            raise DataError(column, rows, problem)


class _MergedGroups:
    """Unit-level totals summed per group key across batches as they are read.

    With service points as strata every batch holds nearly every (service point, domain) group, so
    keeping each batch's P × P Gram matrices (56 KB per group for SIPAS) grew with batches × groups: a
    national export (10,020 service points, 131,072 rows per batch) held 565 MB per batch and needed
    10.4 GB at 1 M respondents.  Merged here, memory grows with the groups only.  Each group's sum is
    taken batch by batch in file order — the order in which `ClusterTotals.from_wide` adds duplicate
    keys — and keys keep their first-seen order, so the totals are the same, bit for bit.
    """

    def __init__(self) -> None:
        self.index: dict[tuple[int, ...], int] = {}
        self.rows = 0
        self._keys: np.ndarray | None = None
        self._stats: np.ndarray | None = None
        self._gram: np.ndarray | None = None
        self._n: np.ndarray | None = None

    def add(self, keys: np.ndarray, stats: np.ndarray, gram: np.ndarray, n: np.ndarray) -> None:
        at = np.empty(len(keys), dtype=np.int64)
        for i, key in enumerate(map(tuple, keys.tolist())):
            row = self.index.get(key)
            if row is None:
                row = self.index[key] = len(self.index)
            at[i] = row
        if self._keys is None or len(self.index) > len(self._keys):
            self._grow(len(self.index), keys, stats, gram)
        assert self._keys is not None and self._stats is not None and self._gram is not None and self._n is not None
        self._keys[at] = keys
        self._stats[at] += stats  # `at` has no repeats: a batch lists each group once
        self._gram[at] += gram
        self._n[at] += n
        self.rows = len(self.index)

    def _grow(self, need: int, keys: np.ndarray, stats: np.ndarray, gram: np.ndarray) -> None:
        size = max(need, 2 * (0 if self._keys is None else len(self._keys)))
        old = 0 if self._keys is None else self.rows
        parts = {"_keys": (keys.shape[1:], np.int64), "_stats": (stats.shape[1:], np.float64),
                 "_gram": (gram.shape[1:], np.float64), "_n": ((), np.int64)}
        for name, (shape, dtype) in parts.items():
            fresh = np.zeros((size, *shape), dtype=dtype)
            current = getattr(self, name)
            if current is not None:
                fresh[:old] = current[:old]
            setattr(self, name, fresh)

    def result(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(keys, stats, Gram matrices, respondents) of the groups seen, in first-seen order."""
        assert self._keys is not None and self._stats is not None and self._gram is not None and self._n is not None
        return self._keys[: self.rows], self._stats[: self.rows], self._gram[: self.rows], self._n[: self.rows]


def _split_labels(pairs: list[object], strata: np.ndarray | None, periods: list[object]) -> np.ndarray:
    """Labels of the strata × period codes (`_Encoder` labels of (stratum code << 32) + period code): the
    stratum's label (empty without a strata column) and the period's, joined by `analysis.design.by_period`."""
    out = np.empty(len(pairs) + 1, dtype=object)
    for code, pair in enumerate(pairs):
        if pair is None:
            out[code] = None
            continue
        stratum, period = divmod(int(pair), 1 << 32)  # type: ignore[call-overload]
        label = "" if strata is None else strata[stratum]
        out[code] = by_period("" if label is None else str(label), "" if periods[period] is None else
                              str(periods[period]))
    out[-1] = None
    return out


def required_columns(spec: IndexSpec, design: DesignColumns, available: Collection[str]) -> list[str]:
    """Columns to read; raises DataError for the first missing one (0 rows: the column is absent)."""
    available = set(available)
    cols: list[str] = []
    for col in design.by:
        if col in available:
            cols.append(col)
        elif col in PERIOD_COLUMNS and "submitted_at" in available:
            cols.append("submitted_at")
        else:
            raise DataError(col, None, "missing from the file (domain column)")
    for col, role in ((design.weights, "weights"), (design.strata, "strata"), (design.cluster, "cluster")):  # type: ignore[assignment]
        if col:
            if col not in available:
                raise DataError(col, None, f"missing from the file ({role} column)")
            cols.append(col)
    for code in spec.items:
        if code not in available:
            raise DataError(code, None, f"missing from the file (item of {spec.questionnaire} v{spec.version})")
        cols.append(code)
    if "questionnaire" in available:
        cols.append("questionnaire")
    return list(dict.fromkeys(cols))


def read_totals(
    path: str | Path,
    spec: IndexSpec,
    design: DesignColumns,
    *,
    batch_rows: int = BATCH_ROWS,
    unit_level: bool = False,
) -> ClusterTotals:
    """Stream a file into ClusterTotals keyed by (stratum, cluster, *design.by), validating every row.

    Raises DataError (one line: column and number of offending rows) for a missing column, answers
    outside the item's scale (0 = no opinion is accepted and counts as not answered), missing or
    non-positive weights, missing strata/cluster values, or rows of another questionnaire.

    `unit_level=True` with no cluster column keeps `UnitMoments` (rows per (stratum, domain), memory
    flat in n) instead of one totals row per respondent; only `estimate` can use such totals.
    """
    unit = unit_level and not design.cluster
    unit_counts: dict[int, int] = {}
    merged = _MergedGroups()  # unit mode: one row per group over the whole file, not per group and batch
    cols = required_columns(spec, design, file_columns(path))
    problems = _Problems()
    key_names = [*KEY_COLUMNS, *design.by]
    encoders = {name: _Encoder() for name in key_names}
    split = period_split(design.by) if design.period_strata else None
    split_pairs = _Encoder()  # (stratum code << 32) + period code → the split stratum's code
    group_keys: list[np.ndarray] = []
    group_stat: list[np.ndarray] = []
    items = tuple(spec.items)
    luts = {code: level_table(it) for code, it in spec.items.items()}
    offset = 0
    any_rows = False
    for batch in iter_batches(path, cols, batch_rows):
        n = len(next(iter(batch.values())))
        any_rows = any_rows or n > 0
        if "questionnaire" in batch:
            _, qnull = _Encoder().encode(batch["questionnaire"])
            # a different instrument in the same file cannot be scored with this index definition
            q = batch["questionnaire"]
            qv = q.to_numpy() if isinstance(q, pd.Series) else np.asarray(q.to_pylist(), dtype=object)
            problems.add("questionnaire", f"rows of another questionnaire than {spec.questionnaire}",
                         int(np.sum((qv != spec.questionnaire) & ~qnull)))  # fmt: skip
        codes = []
        if design.strata:
            c, null = encoders["stratum"].encode(batch[design.strata])
            problems.add(design.strata, "missing stratum", int(null.sum()))
        else:
            c = np.zeros(n, dtype=np.int64)
        codes.append(c)
        if design.cluster:
            c, null = encoders["cluster"].encode(batch[design.cluster])
            problems.add(design.cluster, "missing cluster", int(null.sum()))
        elif unit:
            c = codes[0]  # one pseudo cluster per stratum; the respondents are counted apart
        else:
            c = np.arange(offset, offset + n, dtype=np.int64)
        codes.append(c)
        for col in design.by:
            if col in batch:
                c, _ = encoders[col].encode(batch[col])
            else:
                c, _ = encoders[col].encode(pd.Series(period_codes(batch["submitted_at"], col), dtype=object))
            codes.append(c)
        if split is not None:  # stratum × period: one pair code per (stratum code, period code)
            codes[0], _ = split_pairs.encode(pd.Series((codes[0] << 32) + codes[2 + design.by.index(split)]))
            if unit:
                codes[1] = codes[0]
        w = None
        if design.weights:
            w, bad = _to_float(batch[design.weights])
            problems.add(design.weights, "missing, non-numeric or non-positive weight",
                         int(np.sum(bad | ~(w > 0) | ~np.isfinite(w))))  # fmt: skip
        answers = {}
        for code in items:
            answers[code], invalid = _item_codes(batch[code], luts[code])
            it = spec.items[code]
            problems.add(code, f"values outside the scale {it.min}–{it.max} (0 = no opinion)", int(invalid.sum()))
        offset += n
        if problems.counts:
            continue  # keep counting problems over the whole file, skip the arithmetic
        sizes = [max(len(encoders[k].labels), 1) for k in key_names]
        if split is not None:
            sizes[0] = max(len(split_pairs.labels), 1)
        if not design.cluster:
            sizes[1] = sizes[0] if unit else offset
        combined = np.ravel_multi_index(codes, sizes)
        uniq, inverse = _dense_unique(combined, int(np.prod(sizes, dtype=np.float64)))
        batch_keys = np.stack(np.unravel_index(uniq, sizes), axis=1)
        batch_stats = group_stats(inverse.reshape(-1), len(uniq), answers, spec, w)
        if unit:
            merged.add(batch_keys, batch_stats, unit_gram(inverse.reshape(-1), len(uniq), answers, spec, w),
                       np.bincount(inverse.reshape(-1), minlength=len(uniq)))
            for unit_code, count in enumerate(np.bincount(codes[0])):
                unit_counts[unit_code] = unit_counts.get(unit_code, 0) + int(count)
        else:
            group_keys.append(batch_keys)
            group_stat.append(batch_stats)
    problems.raise_first()
    unit_gram_rows = unit_respondents = None
    if unit and merged.rows:
        merged_keys, merged_stats, unit_gram_rows, unit_respondents = merged.result()
        group_keys, group_stat = [merged_keys], [merged_stats]
    if not any_rows or not group_keys:
        raise DataError(str(path), 0, "no responses in the file")
    key_codes = group_keys[0] if len(group_keys) == 1 else np.concatenate(group_keys)
    stats = group_stat[0] if len(group_stat) == 1 else np.concatenate(group_stat)
    keys = pd.DataFrame(index=pd.RangeIndex(len(key_codes)))
    stratum_labels = np.asarray([*encoders["stratum"].labels, None], dtype=object) if design.strata else None
    if split is not None:
        stratum_labels = _split_labels(split_pairs.labels, stratum_labels, encoders[split].labels)
    for j, name in enumerate(key_names):
        if name == "cluster" and unit:
            keys[name] = keys["stratum"]
        elif name == "cluster" and not design.cluster:
            keys[name] = key_codes[:, j]
        elif name == "stratum" and stratum_labels is not None:
            keys[name] = stratum_labels[key_codes[:, j]]
        elif name == "stratum" and not design.strata:
            keys[name] = np.zeros(len(key_codes), dtype=np.int64)
        else:
            labels = np.asarray([*encoders[name].labels, None], dtype=object)
            keys[name] = labels[key_codes[:, j]]
    if unit:
        label = (lambda c: stratum_labels[c]) if stratum_labels is not None else (lambda c: 0)
        counts = {label(c): k for c, k in unit_counts.items()}
        return ClusterTotals.from_wide(
            keys, stats, items, design.by, weighted=None if design.weights else False,
            unit_gram=unit_gram_rows, unit_counts=counts, unit_row_counts=unit_respondents,
        )  # fmt: skip
    return ClusterTotals.from_wide(keys, stats, items, design.by, weighted=None if design.weights else False)


__all__ = [
    "ITEM_STATS",
    "PERIOD_COLUMNS",
    "DataError",
    "DesignColumns",
    "file_columns",
    "iter_batches",
    "period_codes",
    "read_totals",
    "required_columns",
]
