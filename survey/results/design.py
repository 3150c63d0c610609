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
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from analysis.design import by_period
from analysis.design import period_split as period_stratum  # one rule: strata = stratum x period (the CLI too)
from analysis.totals import UNIT_VARS, ClusterTotals, UnitMoments, cell_gram_sums
from survey.config import DESIGNS
from survey.respond import moments as stored
from survey.respond.models import MomentTally, ResponseTally
from survey.results.cache import month_chunks, month_sums, per_request
from survey.results.month_cells import Block, month_cells, sum_sorted
from survey.results.selection import Selection, allowed_service_points, tally_filters

DEFAULT_DESIGN = DESIGNS[0]  # the designs and their check live in survey/config.py
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


def period_strata(session: Session, sel: Selection, frame: pd.DataFrame, split: str, period_label: Any,
                  design: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(frame, design points) with the strata split by the periods of column `split` (`period_stratum`).

    counters: stratum = service point × period, the cluster stays the service point (the unit-level moments
    are looked up by it).  clusters: stratum = unit below the city × period and cluster = service point ×
    period (a counter in two quarters is a cluster of each quarter's design).  The design points are the
    (service point, period) pairs with a response in the whole design, as each period's own design lists
    the service points with a response in that period."""
    from survey.results.tree import placements

    places = placements(session)
    pairs = respondents_per_stratum(session, sel, split, period_label)
    ids = [sp for sp, _ in pairs if sp in places]
    labels = pd.Series([label for sp, label in pairs if sp in places], dtype=object)
    codes = pd.Series([places[i].service_point for i in ids], dtype=object)
    frame = frame.copy()
    period = frame[split].astype(object)
    if design == "clusters":
        points = pd.DataFrame({"stratum": by_period(pd.Series([places[i].stratum for i in ids], dtype=object),
                                                    labels),
                               "cluster": by_period(codes, labels)})
        frame["stratum"] = by_period(frame["stratum"].astype(object), period)
        frame["cluster"] = by_period(frame["cluster"].astype(object), period)
    else:
        points = pd.DataFrame({"stratum": by_period(codes, labels), "cluster": codes})
        frame["stratum"] = by_period(frame["cluster"].astype(object), period)
    return frame, points


def stratum_sizes(session: Session, sel: Selection, dom: tuple[str, ...], period_label: Any) -> dict[Any, int]:
    """n_h of the counters design, by service point id — or by (service point id, period label) when the
    strata are split by period (`period_stratum`)."""
    split = period_stratum(dom)
    if split is None:
        return respondents_per_point(session, sel)
    return respondents_per_stratum(session, sel, split, period_label)


def sizes_by_label(places: Any, sizes: dict[Any, int]) -> dict[Any, int]:
    """`stratum_sizes` keyed by the strata labels of the counters design (`design_strata`)."""
    return {(by_period(places[k[0]].service_point, k[1]) if isinstance(k, tuple) else places[k].service_point): n
            for k, n in sizes.items() if (k[0] if isinstance(k, tuple) else k) in places}


def _respondent_months(session: Session, sel: Selection) -> pd.DataFrame:
    """Respondents per (month, service point id) in the whole design (any channel, any agency)."""
    from survey.results.totals import month_versions

    whole = replace(sel.whole(), channels=())

    def query(periods: list[Any]) -> pd.DataFrame:
        rows = session.execute(select(RT.c.period, RT.c.service_point_id, func.sum(RT.c.count))
                               .where(*tally_filters(session, RT, whole), RT.c.period.in_(periods))
                               .group_by(RT.c.period, RT.c.service_point_id)).all()
        return pd.DataFrame(rows, columns=["period", "service_point_id", "n"])

    key = ("respondents", replace(whole, period_from=None, period_to=None).key())
    return per_request(("respondents", whole.key()),
                       lambda: month_chunks(session, key, month_versions(session, sel), query))


def respondents_per_point(session: Session, sel: Selection) -> dict[int, int]:
    """Respondents per service point in the whole design (any channel, any agency): the stratum sizes n_h."""
    frame = _respondent_months(session, sel)
    if frame.empty:
        return {}
    sums = frame.groupby("service_point_id")["n"].sum()
    return {int(k): int(v) for k, v in zip(sums.index.to_numpy(), sums.to_numpy(), strict=True)}


def respondents_per_stratum(session: Session, sel: Selection, split: str, period_label: Any) -> dict[tuple[int, str],
                                                                                                        int]:
    """Respondents per (service point id, period label of `split`) with any: n_h of the strata split by period."""
    frame = _respondent_months(session, sel)
    if frame.empty:
        return {}
    frame = frame[frame["n"] > 0]
    labels = {p: period_label(p, split) for p in frame["period"].unique()}
    sums = frame.groupby([frame["service_point_id"].astype(np.int64), frame["period"].map(labels)],
                         sort=True)["n"].sum()
    points, periods = (sums.index.get_level_values(i).to_numpy() for i in (0, 1))
    return {(int(sp), str(label)): int(n) for sp, label, n in zip(points, periods, sums.to_numpy(), strict=True)}


def respondents_per_cell(session: Session, sel: Selection) -> pd.DataFrame:
    """Respondents of the selection (answered or not) per (period, service point id, channel): how many
    sampled units each (stratum, domain cell) row holds, for R's degrees of freedom of a domain."""
    from survey.results.totals import month_versions

    def query(periods: list[Any]) -> pd.DataFrame:
        rows = session.execute(select(RT.c.period, RT.c.service_point_id, RT.c.channel, func.sum(RT.c.count))
                               .where(*tally_filters(session, RT, sel), RT.c.period.in_(periods))
                               .group_by(RT.c.period, RT.c.service_point_id, RT.c.channel)).all()
        return pd.DataFrame(rows, columns=["period", "service_point_id", "channel", "n"])

    key = ("respondents-cells", replace(sel, period_from=None, period_to=None).key())
    return per_request(("respondents-cells", sel.key()),
                       lambda: month_chunks(session, key, month_versions(session, sel), query))


def _row_respondents(session: Session, sel: Selection, totals: ClusterTotals, period_cols: list[str],
                     by_channel: bool, places: Any, period_label: Any, points: np.ndarray | None = None) -> np.ndarray:
    """Respondents per totals row ((service point, cell) pairs of the counters design).

    Column-wise (a national year is ≈ 460,000 (month, service point, channel) rows): labels are computed per
    distinct service point and month, the counts summed per key and looked up for every totals row at once.
    `points`: only these service points' respondents are counted (the rows of `totals` are theirs).
    """
    frame = respondents_per_cell(session, sel)
    if points is not None:
        frame = frame[frame["service_point_id"].isin(points)]
    cell_cols = [*period_cols, *(["channel"] if by_channel else [])]
    out = np.zeros(len(totals.row_cluster))
    if frame.empty or not len(out):
        return out
    sp_ids, sp_at = np.unique(frame["service_point_id"].to_numpy(dtype=np.int64), return_inverse=True)
    code_of = np.array([places[int(i)].service_point if int(i) in places else None for i in sp_ids], dtype=object)
    known = code_of[sp_at.reshape(-1)] != None  # noqa: E711 (elementwise: service points no longer placed)
    keys = pd.DataFrame({"sp": code_of[sp_at.reshape(-1)]})
    periods, period_at = np.unique(frame["period"].to_numpy(), return_inverse=True)
    for col in period_cols:
        keys[col] = np.array([period_label(p, col) for p in periods], dtype=object)[period_at.reshape(-1)]
    if by_channel:
        keys["channel"] = frame["channel"].to_numpy()
    counts = pd.Series(frame["n"].to_numpy(dtype=np.float64)[known]).groupby(
        [keys[c].to_numpy()[known] for c in keys.columns], sort=False).sum()
    clusters = totals.clusters["cluster"].to_numpy()[totals.row_cluster]
    cells = [totals.cells[c].to_numpy()[totals.row_cell] for c in cell_cols]
    wanted = pd.MultiIndex.from_arrays([clusters, *cells]) if cell_cols else pd.Index(clusters)
    at = (counts.index if cell_cols else counts.index.get_level_values(0)).get_indexer(wanted)
    out[at >= 0] = counts.to_numpy()[at[at >= 0]]
    return out


def _decoded_months(session: Session, sel: Selection, periods: list[Any], *,
                    by_channel: bool) -> list[tuple[int, Any, pd.DataFrame, np.ndarray]]:
    """moment_tally cells of `periods` in the selection (its service points and channels), decoded: per
    questionnaire version and month, the keys (service_point_id, period[, channel]) and the summed upper
    triangles (keys × entries, int64) — month by month, never concatenated: a whole-country SIPAS month is
    10,000 service points × 3,570 entries, and twelve of them in one more array were gigabytes per request.

    The cells come from survey/results/month_cells.py (whole-city months kept decoded and refreshed cell by
    cell); read once per request however many consumers need the same months, and each consumer caches
    its processed result month by month (month_chunks), so in steady state only the month that just
    received a response is processed again.  Without channels or a service point filter the triangles are
    the month's own per-point sums (`Block.by_point`), not copies.
    """
    from survey.results.totals import month_versions

    def read() -> list[tuple[int, Any, pd.DataFrame, np.ndarray]]:
        cells = month_cells(session, sel.questionnaire_version_ids, month_versions(session, sel), list(periods))
        allowed = _allowed(session, sel)
        keys_cols = ["service_point_id", "period", *(["channel"] if by_channel else [])]
        out = []
        for month in periods:
            for version, block in sorted(cells.get(month, {}).items()):
                reduced = _reduce(block, month, allowed, sel.channels, by_channel)
                if reduced is not None:
                    out.append((version, month, reduced[0][keys_cols], reduced[1]))
        return sorted(out, key=lambda part: part[0])  # by version, months in order (a stable sort)

    return per_request(("moment-months", sel.key(), tuple(periods), by_channel), read)


def _allowed(session: Session, sel: Selection) -> np.ndarray | None:
    sps = per_request(("allowed-points", sel.key()), lambda: allowed_service_points(session, sel))
    return None if sps is None else np.asarray(sps, dtype=np.int64)


def selected_cells(block: Block, allowed: np.ndarray | None, channels: tuple[str, ...]) -> np.ndarray:
    """Mask of a month block's cells inside a selection (its service points and channels) that hold
    respondents — the one rule for this reader and the one-pass month reader (month_pass)."""
    keep = block.respondents > 0
    if allowed is not None:
        keep &= np.isin(block.sp, allowed)
    if channels:
        wanted = set(channels)
        keep &= np.fromiter((c in wanted for c in block.channel), dtype=bool, count=len(block.channel))
    return keep


def _reduce(block: Block, month: Any, allowed: np.ndarray | None, channels: tuple[str, ...],
            by_channel: bool) -> tuple[pd.DataFrame, np.ndarray] | None:
    """One month's cells of one version restricted to the selection, summed per service point unless
    channels are kept apart: (keys, int64 triangles)."""
    if not by_channel and not channels:  # summed over channels once per month version (Block.by_point)
        points, sums = block.by_point()
        if allowed is not None:
            inside = np.isin(points, allowed)
            points, sums = points[inside], sums[inside]
        if not len(points):
            return None
        period = np.empty(len(points), dtype=object)
        period[:] = [month] * len(points)
        return pd.DataFrame({"service_point_id": points, "period": period}), sums
    keep = selected_cells(block, allowed, channels)
    if not keep.any():
        return None
    sp, tri = block.sp[keep], block.tri[keep]
    if by_channel:
        period = np.empty(len(sp), dtype=object)
        period[:] = [month] * len(sp)
        return pd.DataFrame({"service_point_id": sp, "period": period, "channel": block.channel[keep]}), \
            tri.astype(np.int64)
    order = np.argsort(sp, kind="stable")
    points, sums = sum_sorted(sp[order], tri[order])
    period = np.empty(len(points), dtype=object)
    period[:] = [month] * len(points)
    return pd.DataFrame({"service_point_id": points, "period": period}), sums


def _month_cached(session: Session, sel: Selection, key: Any, query: Any) -> pd.DataFrame:
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


def item_plans(session: Session, sel: Selection, inst: Any) -> dict[int, tuple[np.ndarray, np.ndarray]] | None:
    """Per selected version: (positions of the scored items' Σ answered², Σ satisfied², Σ value·answered in the
    stored Gram triangle, their item ids) — what reading item statistics off the month cells needs (here and in
    the one-pass month reader); None when a version counts other levels as satisfied than the analysed
    definition (its stored `satisfied` column would differ)."""
    from survey.questionnaire_versions.service import questionnaire_for

    k = len(UNIT_VARS)
    out: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for version in sel.questionnaire_version_ids:
        q, item_ids = questionnaire_for(session, int(version))
        own = stored.spec_of(q)
        codes = [c for c in inst.spec.items if c in own.items and c in item_ids]
        if any(own.items[c].satisfied != inst.spec.items[c].satisfied for c in codes):
            return None
        order = list(own.items)
        pos = _tri_index(k * len(order))
        j = np.array([order.index(c) for c in codes], dtype=np.int64)
        picks = np.concatenate([pos[k * j + 2, k * j + 2], pos[k * j, k * j], pos[k * j + 1, k * j + 2]])
        out[int(version)] = (picks, np.array([item_ids[c] for c in codes], dtype=np.int64))
    return out


def moment_item_stats(session: Session, sel: Selection, inst: Any, *, by_channel: bool,
                      by_period: bool = True) -> pd.DataFrame | None:
    """Per service point [× month] [× channel] × scored item: n, sat, sv — read off the Gram diagonals
    (Σ answered², Σ satisfied², Σ value·answered), so no page aggregates `answer_tally`'s value rows.
    Without months, the sums over months are a running total (cache.month_sums): a new response costs
    one month's cells, not a new sum over the year.

    None when a selected version counts other levels as satisfied than the analysed definition (its stored
    `satisfied` column would differ): the caller then sums `answer_tally` instead.
    """
    plans = item_plans(session, sel, inst)
    if plans is None:
        return None
    cols = ["service_point_id", "period", *(["channel"] if by_channel else []), "item_id", "n", "sat", "sv"]

    def query(periods: list[Any]) -> pd.DataFrame:
        parts = []
        for version, _, keys, tri in _decoded_months(session, sel, periods, by_channel=by_channel):
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

    if by_period:
        return _month_cached(session, sel, ("moment-itemstats", inst.record.id, by_channel), query)
    from survey.results.totals import month_versions

    key_cols = ["service_point_id", *(["channel"] if by_channel else [])]
    versions = month_versions(session, sel)
    frames = []
    for version in sorted(plans):
        picks, ids = plans[version]

        def wide(periods: list[Any], version: int = version, picks: np.ndarray = picks) -> dict[Any, Any]:
            out = {m: (pd.DataFrame(columns=key_cols), np.zeros((0, len(picks)), dtype=np.int64)) for m in periods}
            for v, month, keys, tri in _decoded_months(session, sel, periods, by_channel=by_channel):
                if v == version:
                    out[month] = (keys[key_cols].reset_index(drop=True), tri[:, picks])
            return out

        full = (("moment-itemsums", inst.record.id, version, by_channel),
                replace(sel, period_from=None, period_to=None).key())
        keys, total = per_request((full, tuple(sorted(versions.items()))),
                                  partial(month_sums, session, full, versions, wide))
        if not len(total):
            continue
        width = len(ids)
        out = pd.DataFrame({c: np.repeat(keys[c].to_numpy(), width) for c in key_cols})
        out["item_id"] = np.tile(ids, len(keys))
        for block, name in enumerate(("n", "sat", "sv")):
            out[name] = total[:, block * width: (block + 1) * width].reshape(-1).astype(np.int64)
        frames.append(out[out["n"] > 0])
    if not frames:
        return pd.DataFrame(columns=[*key_cols, "item_id", "n", "sat", "sv"])
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0].reset_index(drop=True)


def _variable_map(session: Session, version_id: int, items: tuple[str, ...]) -> tuple[int, np.ndarray]:
    """(P of the version's stored Gram, index of each selected variable in it; −1 where the version lacks it)."""
    from survey.questionnaire_versions.service import questionnaire_for

    q, _ = questionnaire_for(session, version_id)
    own = list(stored.spec_of(q).items)
    k = len(UNIT_VARS)
    idx = np.full(k * len(items), -1, dtype=np.int64)
    for i, code in enumerate(items):
        if code in own:
            j = own.index(code)
            idx[k * i: k * i + k] = np.arange(k * j, k * j + k)
    return k * len(own), idx


def _triangle_map(session: Session, version_id: int, items: tuple[str, ...]) -> np.ndarray:
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


def with_unit_moments(session: Session, sel: Selection, totals: ClusterTotals, dom: tuple[str, ...],
                      weights: pd.Series | None, period_label: Any) -> ClusterTotals:
    """`totals` (strata = clusters = service point codes) with the respondent-level moments of each row.

    weights: w per (service_point_id, period) for volume weighting (constant within the cell, so a cell's
    Σw²·u·uᵀ = w²·G), or None.  period_label(date, kind) labels period domains like the totals do.
    """
    from survey.results.totals import month_versions
    from survey.results.tree import placements

    items = totals.items
    p = len(UNIT_VARS) * len(items)
    places = placements(session)
    period_cols = [c for c in dom if c in PERIOD_DOMAINS]
    by_channel = "channel" in dom
    key_cols = ["sp", *period_cols, *(["channel"] if by_channel else [])]

    def query(periods: list[Any]) -> dict[Any, tuple[pd.DataFrame, np.ndarray]]:
        """Per month: (keys, Grams) per (service point id, period labels[, channel]), each key once, weighted
        and mapped onto the analysed items — what a request then only adds up over months."""
        out: dict[Any, list[tuple[pd.DataFrame, np.ndarray]]] = {m: [] for m in periods}
        for version, month, cells, tri in _decoded_months(session, sel, periods, by_channel=by_channel):
            src = _triangle_map(session, version, items)
            if len(src) == tri.shape[1] and bool((src == np.arange(len(src))).all()):
                vec = tri  # the analysed version itself: its triangle as stored
            else:  # another version: map its entries onto the analysed items' triangle (0 where it lacks one)
                vec = np.where(src >= 0, tri[:, np.maximum(src, 0)], 0)
            per = cells["period"].to_numpy()
            sp = cells["service_point_id"].to_numpy()
            if weights is not None:  # w constant within a service point × month: Σ w²·u·uᵀ = w²·G per cell
                w = weights.reindex(pd.MultiIndex.from_arrays([sp, per])).to_numpy()
                vec = vec * (np.where(np.isnan(w), 1.0, w) ** 2)[:, None]
            else:  # integer counts of one month: int32 keeps the month cache small (8.8 KB per SIPAS cell)
                vec = vec.astype(np.int32)
            keys = pd.DataFrame({"sp": sp})
            for col in period_cols:
                keys[col] = period_label(month, col)
            if by_channel:
                keys["channel"] = cells["channel"].to_numpy()
            out[month].append((keys, vec))
        return {month: _unique_keys(parts, key_cols, p) for month, parts in out.items()}

    versions = month_versions(session, sel)
    if weights is None:  # integer counts: a running total over months (cache.month_sums)
        full = (("moment-grams", items, tuple(period_cols), by_channel), replace(sel, period_from=None,
                                                                                  period_to=None).key())
        keys, sums = per_request(("moment-grams", full, tuple(sorted(versions.items()))),
                                 lambda: month_sums(session, full, versions, query))
    else:  # volume weights depend on the whole period range (their fallback ratio): not cached by month
        parts = query(sorted(versions))
        keys = pd.concat([parts[m][0] for m in sorted(parts) if len(parts[m][1])] or [pd.DataFrame()],
                         ignore_index=True)
        sums = np.concatenate([parts[m][1] for m in sorted(parts) if len(parts[m][1])] or
                              [np.zeros((0, p * (p + 1) // 2))]).astype(np.float64)
    clusters = totals.clusters["cluster"].to_numpy()
    cell_cols = [*period_cols, *(["channel"] if by_channel else [])]
    cells = totals.cells[cell_cols].to_numpy() if cell_cols else np.empty((len(totals.cells), 0))
    if len(sums):  # one row per key; the weighted path may repeat a key across months: summed here
        codes = np.array([places[int(i)].service_point for i in keys["sp"].to_numpy()], dtype=object)
        group, uniq = pd.MultiIndex.from_arrays([codes, *(keys[c].to_numpy() for c in cell_cols)]).factorize()
        if len(uniq) == len(group):  # running totals: every key once, in the order of `uniq`
            order = np.empty(len(group), dtype=np.int64)
            order[group] = np.arange(len(group))
        else:
            acc = np.zeros((len(uniq), sums.shape[1]))
            srt = np.argsort(group, kind="stable")
            starts = np.flatnonzero(np.r_[True, np.diff(group[srt]) != 0])
            acc[group[srt][starts]] = np.add.reduceat(sums[srt], starts, axis=0)
            sums, order = acc, np.arange(len(uniq))
        lookup = {(k if isinstance(k, tuple) else (k,)): int(order[i]) for i, k in enumerate(uniq)}
    else:
        sums, lookup = np.zeros((0, p * (p + 1) // 2)), {}
    row = np.array([lookup.get((clusters[c], *cells[j]), -1)  # −1: a row without moments (none answered)
                    for c, j in zip(totals.row_cluster, totals.row_cell, strict=True)], dtype=np.int64)
    by_code = sizes_by_label(places, stratum_sizes(session, sel, dom, period_label))
    n_h = np.array([by_code.get(label, 0) for label in totals.strata], dtype=np.int64)
    row_n = _row_respondents(session, sel, totals, period_cols, by_channel, places, period_label)
    # Ĝ per cell (Σ_h c_h·G_hd, analysis.totals.cell_gram_sums): one P × P matrix per domain cell instead of
    # one per service point and cell — a national page has 10,011 service points and 34 provinces
    cell_gram = cell_gram_sums(sums, row, n_h[totals.cluster_stratum[totals.row_cluster]], totals.row_cell,
                               len(totals.cells))
    return replace(totals, unit=UnitMoments(n_h, None, row_n, cell_gram=cell_gram), clustered=False)


def _unique_keys(parts: list[tuple[pd.DataFrame, np.ndarray]], key_cols: list[str],
                 p: int) -> tuple[pd.DataFrame, np.ndarray]:
    """One month's (keys, Grams) of every version with each key once (versions sharing a key are summed)."""
    if not parts:
        return pd.DataFrame(columns=key_cols), np.zeros((0, p * (p + 1) // 2), dtype=np.int32)
    keys = pd.concat([k for k, _ in parts], ignore_index=True) if len(parts) > 1 else parts[0][0]
    mat = np.concatenate([m for _, m in parts]) if len(parts) > 1 else parts[0][1]
    keys = keys[key_cols].reset_index(drop=True)
    if not keys.duplicated().any():
        return keys, mat
    group, uniq = pd.MultiIndex.from_frame(keys).factorize()
    summed = np.zeros((len(uniq), mat.shape[1]), dtype=np.float64 if mat.dtype.kind == "f" else np.int64)
    np.add.at(summed, group, mat)
    if mat.dtype.kind != "f":
        summed = summed.astype(np.int32)
    return pd.DataFrame(list(uniq), columns=key_cols), summed

