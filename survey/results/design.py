"""Which sampling design the published intervals assume, and the respondent-level moments it needs.

Two designs (documented for users in docs/methodology-design.md; HAILONG_DESIGN chooses, default below):

- ``counters`` (default): every service point (one-stop counter) is surveyed, so counters are STRATA — a
  census, not a sample of counters — and the respondents at a counter are the sampled units.  In R:
  ``svydesign(ids=~1, strata=~service_point, weights=~w)``.  Variances come from the within-counter
  spread of answers (`moment_tally`), df = respondents − counters.
- ``clusters``: methodology §3 as first written — strata = the units one level below the city, clusters =
  service points (``svydesign(ids=~service_point, strata=~district)``).  It treats counters as a random
  sample of counters; with the 1–3 counters a district has, df = 1–2, so its intervals swing between
  absurdly wide and absurdly narrow (demo: 91,05%–91,37% with n = 387 at df = 1).

The figures of both designs are computed by `analysis` only; this module picks the design and turns
`moment_tally` rows into `analysis.totals.UnitMoments` for the ``counters`` design.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import func, select

from analysis.totals import UNIT_VARS, ClusterTotals, UnitMoments
from survey.respond import moments as stored
from survey.respond.models import MomentTally, ResponseTally
from survey.results.cache import month_chunks, per_request
from survey.results.selection import Selection, tally_filters

DESIGNS = ("counters", "clusters")
DEFAULT_DESIGN = "counters"
PERIOD_DOMAINS = ("month", "quarter", "year")

MT = MomentTally.__table__
RT = ResponseTally.__table__


def current_design(design: str | None = None) -> str:
    """The design asked for, else the app's HAILONG_DESIGN, else DEFAULT_DESIGN."""
    if design is None:
        try:
            from flask import current_app

            design = str(current_app.config.get("HAILONG_DESIGN") or DEFAULT_DESIGN)
        except RuntimeError:
            design = DEFAULT_DESIGN
    if design not in DESIGNS:
        raise ValueError(f"unknown design {design!r} (HAILONG_DESIGN: {' or '.join(DESIGNS)})")
    return design


def respondents_per_point(session: Any, sel: Selection) -> dict[int, int]:
    """Respondents per service point in the whole design (any channel, any agency): the stratum sizes n_h."""
    from survey.results.totals import month_versions

    whole = replace(sel.whole(), channels=())

    def query(periods: list[Any]) -> pd.DataFrame:
        rows = session.execute(select(RT.c.period, RT.c.service_point_id, func.sum(RT.c.count))
                               .where(*tally_filters(session, RT, whole), RT.c.period.in_(periods))
                               .group_by(RT.c.period, RT.c.service_point_id)).all()
        return pd.DataFrame(rows, columns=["period", "service_point_id", "n"])

    key = ("respondents", replace(whole, period_from=None, period_to=None).key())
    frame = per_request(("respondents", whole.key()),
                        lambda: month_chunks(session, key, month_versions(session, sel), query))
    if frame.empty:
        return {}
    return {int(k): int(v) for k, v in frame.groupby("service_point_id")["n"].sum().items()}


def moment_cells(session: Any, sel: Selection, *, by_channel: bool) -> pd.DataFrame:
    """moment_tally of the selection (domain filters in SQL), decoded: one row per questionnaire version ×
    service point × month [× channel] with `tri`, the summed upper triangle (int64 array).

    Cached month by month (survey/results/cache.py:month_chunks): a new response re-reads only its month,
    and the decoding — the costly part — is done once per month, not per request.
    """
    from survey.results.totals import frame_of, month_versions

    keys = ["questionnaire_version_id", "service_point_id", "period", *(["channel"] if by_channel else [])]

    def query(periods: list[Any]) -> pd.DataFrame:
        rows = session.execute(select(MT.c.questionnaire_version_id, MT.c.service_point_id, MT.c.period,
                                      MT.c.channel, MT.c.gram)
                               .where(*tally_filters(session, MT, sel), MT.c.period.in_(periods))).all()
        if not rows:
            return pd.DataFrame(columns=[*keys, "tri"])
        raw = frame_of(rows, ["questionnaire_version_id", "service_point_id", "period", "channel", "gram"])
        parts = []
        for _version, group in raw.groupby("questionnaire_version_id", sort=True):
            tri = stored.triangles(list(group["gram"]))  # one width per version: one buffer
            codes, uniq = pd.MultiIndex.from_frame(group[keys]).factorize()
            order = np.argsort(codes, kind="stable")  # cells of a key are adjacent: one reduceat
            starts = np.flatnonzero(np.r_[True, np.diff(codes[order]) != 0])
            summed = np.add.reduceat(tri[order], starts, axis=0, dtype=np.int64)
            part = pd.DataFrame(list(uniq), columns=keys)
            cells = np.empty(len(part), dtype=object)
            cells[:] = list(summed)
            part["tri"] = cells
            parts.append(part)
        return pd.concat(parts, ignore_index=True)

    key = ("moments", replace(sel, period_from=None, period_to=None).key(), by_channel)
    versions = month_versions(session, sel)
    # also once per request when the results cache is off: a page builds totals several times
    return per_request(("moment-cells", key, tuple(sorted(versions.items()))),
                       lambda: month_chunks(session, key, versions, query))


def _tri_index(p: int) -> np.ndarray:
    """Position of (i, j), i ≤ j, in the packed upper triangle of a P×P matrix."""
    rows, cols = stored._triu(p)
    pos = np.full((p, p), -1, dtype=np.int64)
    pos[rows, cols] = np.arange(rows.size)
    return pos


def moment_item_stats(session: Any, sel: Selection, inst: Any, *, by_channel: bool) -> pd.DataFrame | None:
    """Per service point × month [× channel] × scored item: n, sat, sv — read off the Gram diagonals
    (Σ answered², Σ satisfied², Σ value·answered), so no page aggregates `answer_tally`'s value rows.

    None when a selected version counts other levels as satisfied than the analysed definition (its stored
    `satisfied` column would differ): the caller then sums `answer_tally` instead.
    """
    from survey.instruments.service import questionnaire_for

    items = tuple(inst.spec.items)
    cells = moment_cells(session, sel, by_channel=by_channel)
    cols = ["service_point_id", "period", *(["channel"] if by_channel else []), "item_id", "n", "sat", "sv"]
    parts = []
    k = len(UNIT_VARS)
    for version, group in cells.groupby("questionnaire_version_id", sort=True):
        q, item_ids = questionnaire_for(session, int(version))
        own = stored.spec_of(q)
        codes = [c for c in items if c in own.items and c in item_ids]
        if any(own.items[c].satisfied != inst.spec.items[c].satisfied for c in codes):
            return None
        order = list(own.items)
        pos = _tri_index(k * len(order))
        j = np.array([order.index(c) for c in codes], dtype=np.int64)
        picks = np.concatenate([pos[k * j + 2, k * j + 2], pos[k * j, k * j], pos[k * j + 1, k * j + 2]])
        vals = np.stack([t[picks] for t in group["tri"]]) if len(group) else np.zeros((0, picks.size))
        m = len(codes)
        out = pd.DataFrame({c: np.repeat(group[c].to_numpy(), m) for c in cols[:-4]})
        out["item_id"] = np.tile(np.array([item_ids[c] for c in codes], dtype=np.int64), len(group))
        out["n"] = vals[:, :m].reshape(-1)
        out["sat"] = vals[:, m: 2 * m].reshape(-1)
        out["sv"] = vals[:, 2 * m:].reshape(-1)
        parts.append(out[out["n"] > 0])
    if not parts:
        return pd.DataFrame(columns=cols)
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0].reset_index(drop=True)


def _variable_map(session: Any, version_id: int, items: tuple[str, ...]) -> tuple[int, np.ndarray]:
    """(P of the version's stored Gram, index of each selected variable in it; −1 where the version lacks it)."""
    from survey.instruments.service import questionnaire_for

    q, _ = questionnaire_for(session, version_id)
    own = list(stored.spec_of(q).items)
    k = len(UNIT_VARS)
    idx = np.full(k * len(items), -1, dtype=np.int64)
    for i, code in enumerate(items):
        if code in own:
            j = own.index(code)
            idx[k * i: k * i + k] = np.arange(k * j, k * j + k)
    return k * len(own), idx


def with_unit_moments(session: Any, sel: Selection, totals: ClusterTotals, dom: tuple[str, ...],
                      weights: pd.Series | None, period_label: Any) -> ClusterTotals:
    """`totals` (strata = clusters = service point codes) with the respondent-level moments of each row.

    weights: w per (service_point_id, period) for volume weighting (constant within the cell, so a cell's
    Σw²·u·uᵀ = w²·G), or None.  period_label(date, kind) labels period domains like the totals do.
    """
    from survey.results.tree import placements

    items = totals.items
    p = len(UNIT_VARS) * len(items)
    places = placements(session)
    period_cols = [c for c in dom if c in PERIOD_DOMAINS]
    by_channel = "channel" in dom
    rows = moment_cells(session, sel, by_channel=by_channel)
    sums: dict[tuple[Any, ...], np.ndarray] = {}
    for version, group in rows.groupby("questionnaire_version_id", sort=True):
        sp = group["service_point_id"].to_numpy()
        per = group["period"].to_numpy()
        labels = {d: tuple(period_label(d, c) for c in period_cols) for d in set(per)}
        keys = pd.DataFrame({"sp": [places[int(i)].service_point for i in sp]})
        for j, col in enumerate(period_cols):
            keys[col] = [labels[d][j] for d in per]
        if by_channel:
            keys["channel"] = group["channel"].to_numpy()
        codes, uniq = pd.MultiIndex.from_frame(keys).factorize()
        tri = np.stack(list(group["tri"])).astype(np.float64)
        if weights is not None:  # w constant within a service point × month: Σ w²·u·uᵀ = w²·G per cell
            w = weights.reindex(pd.MultiIndex.from_arrays([sp, per])).to_numpy()
            tri *= (np.where(np.isnan(w), 1.0, w) ** 2)[:, None]
        order = np.argsort(codes, kind="stable")
        starts = np.flatnonzero(np.r_[True, np.diff(codes[order]) != 0])
        summed = np.add.reduceat(tri[order], starts, axis=0)
        width, idx = _variable_map(session, int(version), items)
        r, c = stored._triu(width)
        full = np.zeros((len(summed), width, width))
        full[:, r, c] = summed
        full[:, c, r] = summed
        ok = idx >= 0
        mapped = np.zeros((len(summed), p, p))
        mapped[:, ok[:, None] & ok[None, :]] = full[:, idx[ok]][:, :, idx[ok]].reshape(len(summed), -1)
        for k, key in enumerate(uniq):
            key = key if isinstance(key, tuple) else (key,)
            sums[key] = sums[key] + mapped[k] if key in sums else mapped[k]
    clusters = totals.clusters["cluster"].to_numpy()
    cell_cols = [*period_cols, *(["channel"] if by_channel else [])]
    cells = totals.cells[cell_cols].to_numpy() if cell_cols else np.empty((len(totals.cells), 0))
    zero = np.zeros((p, p))
    gram = np.stack([sums.get((clusters[c], *cells[j]), zero)
                     for c, j in zip(totals.row_cluster, totals.row_cell, strict=True)]) \
        if len(totals.row_cluster) else np.zeros((0, p, p))
    counts = respondents_per_point(session, sel)
    by_code = {places[i].service_point: n for i, n in counts.items() if i in places}
    n_h = np.array([by_code.get(label, 0) for label in totals.strata], dtype=np.int64)
    return replace(totals, unit=UnitMoments(n_h, gram), clustered=False)
