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


def _decoded_months(session: Any, sel: Selection, periods: list[Any], *,
                    by_channel: bool) -> list[tuple[int, pd.DataFrame, np.ndarray]]:
    """moment_tally cells of `periods` (domain filters in SQL), decoded: per questionnaire version, the keys
    (service_point_id, period[, channel]) and the summed upper triangles (keys × entries, int64).

    Read once per request however many consumers need the same months (survey/results/cache.py:per_request);
    each consumer caches its own processed result month by month (month_chunks), so in steady state only
    the month that just received a response is read and decoded again.
    """
    from survey.results.totals import frame_of

    def read() -> list[tuple[int, pd.DataFrame, np.ndarray]]:
        rows = session.execute(select(MT.c.questionnaire_version_id, MT.c.service_point_id, MT.c.period,
                                      MT.c.channel, MT.c.gram)
                               .where(*tally_filters(session, MT, sel), MT.c.period.in_(periods))).all()
        if not rows:
            return []
        raw = frame_of(rows, ["questionnaire_version_id", "service_point_id", "period", "channel", "gram"])
        keys = ["service_point_id", "period", *(["channel"] if by_channel else [])]
        out = []
        for version, group in raw.groupby("questionnaire_version_id", sort=True):
            tri = stored.triangles(list(group["gram"]))  # one width per version: one buffer
            codes, uniq = pd.MultiIndex.from_frame(group[keys]).factorize()
            order = np.argsort(codes, kind="stable")  # cells of a key are adjacent: one reduceat
            starts = np.flatnonzero(np.r_[True, np.diff(codes[order]) != 0])
            summed = np.add.reduceat(tri[order], starts, axis=0, dtype=np.int64)
            out.append((int(version), pd.DataFrame(list(uniq), columns=keys), summed))
        return out

    return per_request(("moment-months", sel.key(), tuple(periods), by_channel), read)


def _month_cached(session: Any, sel: Selection, key: Any, query: Any) -> pd.DataFrame:
    """month_chunks over the selection's months, memoised for the request (pages build totals several times)."""
    from survey.results.totals import month_versions

    versions = month_versions(session, sel)
    full = (key, replace(sel, period_from=None, period_to=None).key())
    return per_request(("moment-chunks", full, tuple(sorted(versions.items()))),
                       lambda: month_chunks(session, full, versions, query))


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
    k = len(UNIT_VARS)
    plans: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for version in sel.questionnaire_version_ids:
        q, item_ids = questionnaire_for(session, int(version))
        own = stored.spec_of(q)
        codes = [c for c in items if c in own.items and c in item_ids]
        if any(own.items[c].satisfied != inst.spec.items[c].satisfied for c in codes):
            return None
        order = list(own.items)
        pos = _tri_index(k * len(order))
        j = np.array([order.index(c) for c in codes], dtype=np.int64)
        picks = np.concatenate([pos[k * j + 2, k * j + 2], pos[k * j, k * j], pos[k * j + 1, k * j + 2]])
        plans[int(version)] = (picks, np.array([item_ids[c] for c in codes], dtype=np.int64))
    cols = ["service_point_id", "period", *(["channel"] if by_channel else []), "item_id", "n", "sat", "sv"]

    def query(periods: list[Any]) -> pd.DataFrame:
        parts = []
        for version, keys, tri in _decoded_months(session, sel, periods, by_channel=by_channel):
            picks, ids = plans[version]
            m = len(ids)
            vals = tri[:, picks]
            out = pd.DataFrame({c: np.repeat(keys[c].to_numpy(), m) for c in cols[:-4]})
            out["item_id"] = np.tile(ids, len(keys))
            out["n"] = vals[:, :m].reshape(-1)
            out["sat"] = vals[:, m: 2 * m].reshape(-1)
            out["sv"] = vals[:, 2 * m:].reshape(-1)
            parts.append(out[out["n"] > 0])
        if not parts:
            return pd.DataFrame(columns=cols)
        return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0].reset_index(drop=True)

    return _month_cached(session, sel, ("moment-itemstats", inst.record.id, by_channel), query)


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


def _triangle_map(session: Any, version_id: int, items: tuple[str, ...]) -> np.ndarray:
    """For each entry of the analysed items' packed triangle, its position in the version's stored
    triangle (−1 where the version lacks the item)."""
    from survey.results.cache import per_request

    def compute() -> np.ndarray:
        width, idx = _variable_map(session, version_id, items)
        pos = _tri_index(width)
        r, c = stored._triu(len(idx))
        a, b = idx[r], idx[c]
        ok = (a >= 0) & (b >= 0)
        src = np.full(r.size, -1, dtype=np.int64)
        src[ok] = pos[np.minimum(a[ok], b[ok]), np.maximum(a[ok], b[ok])]
        return src

    return per_request(("triangle-map", version_id, items), compute)


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
    cell_cols = ["sp", *period_cols, *(["channel"] if by_channel else [])]

    def query(periods: list[Any]) -> pd.DataFrame:
        """Per month: the Gram per (service point, period labels[, channel]), weighted and mapped onto the
        analysed items — what the request then only sums over months."""
        parts = []
        for version, cells, tri in _decoded_months(session, sel, periods, by_channel=by_channel):
            sp = cells["service_point_id"].to_numpy()
            per = cells["period"].to_numpy()
            keys = pd.DataFrame({"sp": sp, "period": per})  # ids: codes are looked up per request (renames)
            labels = {d: tuple(period_label(d, c) for c in period_cols) for d in set(per)}
            for j, col in enumerate(period_cols):
                keys[col] = [labels[d][j] for d in per]
            if by_channel:
                keys["channel"] = cells["channel"].to_numpy()
            src = _triangle_map(session, version, items)
            vec = np.where(src >= 0, tri[:, np.maximum(src, 0)], 0)  # the analysed items' triangle
            if weights is not None:  # w constant within a service point × month: Σ w²·u·uᵀ = w²·G per cell
                w = weights.reindex(pd.MultiIndex.from_arrays([sp, per])).to_numpy()
                vec = vec * (np.where(np.isnan(w), 1.0, w) ** 2)[:, None]
            else:  # integer counts of one month: int32 keeps the month cache small (8.8 KB per SIPAS cell)
                vec = vec.astype(np.int32)
            g = np.empty(len(vec), dtype=object)
            g[:] = list(vec)
            keys["g"] = g
            parts.append(keys)
        if not parts:
            return pd.DataFrame(columns=[*cell_cols, "period", "g"])
        return pd.concat(parts, ignore_index=True)

    if weights is None:
        rows = _month_cached(session, sel, ("moment-grams", items, tuple(period_cols), by_channel), query)
    else:  # volume weights depend on the whole period range (their fallback ratio): not cached by month
        from survey.results.totals import month_versions

        rows = query(sorted(month_versions(session, sel)))
    sums: dict[tuple[Any, ...], np.ndarray] = {}
    key_arrays = [rows[c].to_numpy() for c in cell_cols]
    tri_sums: dict[tuple[Any, ...], np.ndarray] = {}
    for i, g in enumerate(rows["g"].to_numpy()):
        key = (places[int(key_arrays[0][i])].service_point, *(a[i] for a in key_arrays[1:]))
        acc = tri_sums.get(key)
        tri_sums[key] = g.astype(np.float64) if acc is None else acc + g
    for key, tri in tri_sums.items():
        sums[key] = stored.symmetric(tri, p)
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
