"""Response rates: responses ÷ citizens served, per group (agency, unit, service point), AAPOR-style.

A low rate warns that self-selection may bias a figure; a rate above 100% cannot happen honestly (more
responses than dossiers handled) and is itself a flag.  Only cells (service point × month) with a recorded
volume enter a rate: a response from a month without a volume has no denominator.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

RATE_COLUMNS = ("responses", "responses_with_volume", "served", "rate", "over", "cells_over")


def response_rates(cells: pd.DataFrame, by: list[str] | tuple[str, ...] = ()) -> pd.DataFrame:
    """Rates per group of `by` columns (none: one row for everything).

    cells: one row per service point × month with `responses` (counted responses, integer) and `served`
    (dossiers handled, NaN where no volume is recorded), plus the `by` columns.  Returns one row per group
    with RATE_COLUMNS: `served` NaN and `rate` NaN when the group has no volume; `over` is True when the
    rate exceeds 1 or responses came in a month whose volume is 0; `cells_over` counts the service
    point-months with more responses than dossiers.
    """
    by = list(by)
    frame = cells.copy()
    if frame.empty:
        return pd.DataFrame(columns=[*by, *RATE_COLUMNS])
    has = frame["served"].notna()
    frame["_rv"] = np.where(has, frame["responses"], 0)
    frame["_served"] = frame["served"].where(has, 0.0)
    frame["_has"] = has.astype(int)
    frame["_over"] = (has & (frame["responses"] > frame["served"].fillna(np.inf))).astype(int)
    keys = by if by else [np.zeros(len(frame), dtype=int)]
    g = frame.groupby(keys, sort=True, dropna=False)
    out = pd.DataFrame({
        "responses": g["responses"].sum().astype(int),
        "responses_with_volume": g["_rv"].sum().astype(int),
        "served": g["_served"].sum().astype(float),
        "has": g["_has"].sum(),
        "cells_over": g["_over"].sum().astype(int),
    })
    out.loc[out["has"] == 0, "served"] = np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = out["responses_with_volume"] / out["served"]
    out["rate"] = rate.where(out["served"] > 0)
    out["over"] = (out["rate"] > 1) | ((out["served"] == 0) & (out["responses_with_volume"] > 0))
    out = out.drop(columns="has").reset_index()
    if not by:
        out = out.drop(columns=[c for c in out.columns if c not in RATE_COLUMNS])
    return out[[*by, *RATE_COLUMNS]]
