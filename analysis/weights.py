"""Post-stratification weights from service volume, and optional raking (methodology §5).

Kiosk and QR respondents select themselves, so a busy counter with few responses is under-
represented. Post-stratifying to service volume gives each response in cell c (service point ×
month) the weight w = N_c / n_c, N_c = dossiers handled there that month, n_c = responses: weighted
totals then reproduce the volume of every covered cell.

Decisions (documented because they change published figures):
- a cell with responses but no volume row, or volume 0, is an **error**: a weight cannot be made up
  and silently dropping responses would bias the index;
- a cell with volume but no responses cannot be represented; its volume is **not** redistributed to
  other cells (that would be a modelling assumption). Such cells are reported in `uncovered`, with
  the share of total volume covered, so the gap is visible next to the figures;
- months are calendar months in Vietnam time (Asia/Ho_Chi_Minh), as agencies count dossiers, not UTC.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np
import pandas as pd

__all__ = ["LOCAL_TZ", "PostStratification", "WeightingError", "month_of", "poststratify", "rake"]

LOCAL_TZ = "Asia/Ho_Chi_Minh"


class WeightingError(ValueError):
    """Data that cannot be weighted; the message names the column and the offending row count."""


@dataclass(frozen=True)
class PostStratification:
    """weights: aligned with the responses' index. cells: one row per covered cell with N, n and
    the weight. uncovered: cells with volume but no responses (N only). coverage: covered / total N."""

    weights: pd.Series
    cells: pd.DataFrame
    uncovered: pd.DataFrame
    coverage: float


def month_of(submitted_at: pd.Series, tz: str = LOCAL_TZ) -> pd.Series:
    """'YYYY-MM' of each timestamp in local time (naive timestamps are taken as UTC)."""
    ts = pd.to_datetime(submitted_at, utc=True, format="ISO8601")
    return ts.dt.tz_convert(tz).dt.strftime("%Y-%m")


def _normalise_month(col: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(col) or isinstance(col.dtype, pd.PeriodDtype):
        return cast(pd.Series, col.dt.strftime("%Y-%m"))
    return col.astype(str).str.slice(0, 7)


def _require(frame: pd.DataFrame, cols: Sequence[str], what: str) -> None:
    for c in cols:
        if c not in frame.columns:
            raise WeightingError(f"column {c!r}: missing from the {what}")


def _cell_keys(responses: pd.DataFrame, cells: Sequence[str]) -> pd.DataFrame:
    keys = pd.DataFrame(index=responses.index)
    for c in cells:
        if c == "month" and c not in responses.columns:
            _require(responses, ["submitted_at"], "responses")
            keys[c] = month_of(responses["submitted_at"])
            continue
        _require(responses, [c], "responses")
        keys[c] = _normalise_month(responses[c]) if c == "month" else responses[c].astype("string")
        empty = int(keys[c].isna().sum() + (keys[c] == "").sum())
        if empty:
            raise WeightingError(f"column {c!r}: {empty} rows empty, cannot place them in a cell")
    return keys


def poststratify(responses: pd.DataFrame, volumes: pd.DataFrame, *,
                 cells: Sequence[str] = ("service_point", "month"),
                 volume: str = "dossiers") -> PostStratification:
    """Weights w = N_c/n_c for each response; `volumes` has one row per cell with its `volume`.

    A `month` cell column is derived from `submitted_at` when the responses lack it.
    """
    cells = list(cells)
    keys = _cell_keys(responses, cells)
    _require(volumes, [*cells, volume], "volume table")
    vol = volumes[[*cells, volume]].copy()
    for c in cells:
        vol[c] = _normalise_month(vol[c]) if c == "month" else vol[c].astype("string")
    n_vol = pd.to_numeric(vol[volume], errors="coerce")
    bad = int((n_vol.isna() | (n_vol < 0) | ~np.isfinite(n_vol.fillna(0))).sum())
    if bad:
        raise WeightingError(
            f"column {volume!r}: {bad} rows missing, non-numeric or negative in the volume table")
    vol[volume] = n_vol.astype(float)
    dup = int(vol.duplicated(cells).sum())
    if dup:
        raise WeightingError(
            f"column {volume!r}: {dup} rows repeat a cell ({' × '.join(cells)}) in the volume table")

    counts = keys.value_counts(sort=False).rename("n").reset_index()
    merged = counts.merge(vol, on=cells, how="left", validate="one_to_one")
    no_vol = merged[volume].isna()
    if no_vol.any():
        ex = merged.loc[no_vol, cells].iloc[0].tolist()
        rows = int(merged.loc[no_vol, "n"].sum())
        raise WeightingError(
            f"column {volume!r}: {rows} rows (responses) in {int(no_vol.sum())} "
            f"cell(s) have no service volume, e.g. {' '.join(map(str, ex))}")
    zero = merged[volume] == 0
    if zero.any():
        ex = merged.loc[zero, cells].iloc[0].tolist()
        raise WeightingError(
            f"column {volume!r}: {int(merged.loc[zero, 'n'].sum())} rows (responses) in {int(zero.sum())} "
            f"cell(s) whose service volume is 0, e.g. {' '.join(map(str, ex))}")
    merged = merged.rename(columns={volume: "N"})
    merged["weight"] = merged["N"] / merged["n"]

    w = keys.merge(merged[[*cells, "weight"]], on=cells, how="left")["weight"].to_numpy()
    weights = pd.Series(w, index=responses.index, name="weight")

    covered = vol.merge(counts[cells], on=cells, how="left", indicator=True)
    uncovered = covered.loc[(covered["_merge"] == "left_only") & (covered[volume] > 0), [*cells, volume]]
    uncovered = uncovered.rename(columns={volume: "N"}).reset_index(drop=True)
    total = float(vol[volume].sum())
    coverage = float(merged["N"].sum() / total) if total > 0 else float("nan")
    return PostStratification(weights, merged[[*cells, "N", "n", "weight"]], uncovered, coverage)


def rake(data: pd.DataFrame, margins: Mapping[str, Mapping[object, float]],
         weights: pd.Series | np.ndarray | None = None, *, max_iter: int = 100,
         tol: float = 1e-10) -> pd.Series:
    """Iterative proportional fitting: adjust `weights` until weighted counts match every margin.

    `margins` maps a column to {level: population total}. Every level present in the data needs a
    positive target and every positive target needs respondents; all margins must share one grand
    total. Raises if the margins do not converge within `max_iter` sweeps (relative change < tol).
    """
    if not margins:
        raise WeightingError("rake needs at least one margin")
    w = np.ones(len(data)) if weights is None else np.asarray(weights, dtype=float).copy()
    if w.shape != (len(data),):
        raise WeightingError(f"column 'weight': {w.size} weights for {len(data)} rows")
    nonpos = int(np.count_nonzero(~(w > 0)))
    if nonpos:
        raise WeightingError(f"column 'weight': {nonpos} rows not positive")
    codes: list[tuple[np.ndarray, np.ndarray]] = []
    totals = []
    for col, target in margins.items():
        _require(data, [col], "data")
        levels = pd.Index(list(target.keys()))
        idx = levels.get_indexer(data[col])  # type: ignore[arg-type]  # any array-like works
        unknown = int(np.count_nonzero(idx < 0))
        if unknown:
            raise WeightingError(f"column {col!r}: {unknown} rows have a level with no population margin")
        t = np.array([float(target[k]) for k in levels])
        if np.any(~np.isfinite(t)) or np.any(t < 0):
            raise WeightingError(f"column {col!r}: margin totals must be non-negative numbers")
        present = np.bincount(idx, minlength=len(levels)) > 0
        empty = int(np.count_nonzero(~present & (t > 0)))
        if empty:
            raise WeightingError(f"column {col!r}: {empty} margin level(s) with a positive total but no rows")
        zero_rows = int(np.count_nonzero(t[idx] == 0))
        if zero_rows:
            raise WeightingError(f"column {col!r}: {zero_rows} rows in a level whose margin total is 0")
        codes.append((idx, t))
        totals.append(t.sum())
    if not np.allclose(totals, totals[0], rtol=1e-6):
        shown = ", ".join(f"{x:g}" for x in totals)
        raise WeightingError(f"margins disagree on the population total: {shown}")
    for _ in range(max_iter):
        before = w.copy()
        for idx, t in codes:
            current = np.bincount(idx, weights=w, minlength=len(t))
            w *= (t / current)[idx]
        if np.max(np.abs(w - before) / before) < tol:
            return pd.Series(w, index=data.index, name="weight")
    raise WeightingError(f"raking did not converge in {max_iter} iterations (margins may be incompatible)")
