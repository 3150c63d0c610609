"""Totals of the counters design built in one pass over months, one month decoded at a time.

Why: a national SIPAS page (10,011 service points, strata of the counters design) held every month of the
period decoded at once — per-request month cells, per-service-point sums and one running total of Gram
triangles per period range (≈ 285 MB each at 1 M responses): 11 GB for one request.  What the estimator
needs from the Gram matrices is only Ĝ_d = Σ_h c_h·G_hd per domain cell (analysis.totals.UnitMoments,
`cell_gram`), with c_h from n_h — the service point's respondents over the whole period, known from
`response_tally` before any cell is read.  Ĝ_d is linear in the cells, so it is summed month by month
(`analysis.totals.add_cell_grams`); the item statistics (n, satisfied, Σ value) are integer sums off the
Gram diagonals.  So a request holds one month's cells plus per-cell accumulators (34 provinces × 3,570
entries), never per-service-point Gram data of several months.

Several totals of one page (the comparison, the whole, the change over two periods, the trend's periods) are
built in the same pass: a page `plan`s them, and the first one a request computes computes every planned one
with the same questionnaire, reading each month once.  Results cached by survey.results.cache are not
recomputed: the pass only runs when `cluster_totals` is actually asked (a miss).

A live request (new responses in the newest month) reads no month at all: a range ending in the newest month
keeps its integer sums over ALL its months with that month's watermark (`_Open`), and only the service points
whose cells changed since are read (month_cells.month_delta) and their rows set to closed months + newest month;
a period-split totals (the change) takes its newest period from the range over those months (`_feed_newest`).

Only the counters design without volume weights takes this path (survey/results/totals.py); the figures are
the same as the per-point path's (`design.with_unit_moments`) up to the order of float additions
(tests/results/test_month_pass.py compares both to 1e-12).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from analysis.totals import (
    UNIT_VARS,
    ClusterTotals,
    UnitMoments,
    add_cell_grams,
    add_cell_grams_many,
    unpack_cell_grams,
)
from survey.results import closed_months
from survey.results.cache import per_request
from survey.results.month_cells import MonthDelta, Watermark, month_cells, month_delta, sum_sorted
from survey.results.selection import Selection, allowed_service_points

PERIOD_DOMAINS = ("month", "quarter", "year")


@dataclass
class _Base:
    """The sums over an accumulator's closed months — all but its newest (survey/results/closed_months.py):
    taken from the kept ones (`loaded`: those months are not read) or kept once the pass has added them."""

    key: tuple[Any, ...]
    months: frozenset[date]
    last: date
    loaded: bool = False


@dataclass
class _Range:
    """What needs without period or channel columns in their domain share when they have the same months,
    service points and channels (a page's comparison, whole and protection levels): their item statistics
    and each service point's Gram sums over the months (int64, exact) — each row of a month converted once,
    not once per need; each need sums the points into its own cells at the end (`_finish`)."""

    allowed: np.ndarray | None
    channels: tuple[str, ...]
    stats: list[pd.DataFrame] = field(default_factory=list)
    points: dict[int, int] = field(default_factory=dict)  # service point id → row of `sums`
    sums: np.ndarray | None = None
    base: _Base | None = None
    open_key: tuple[Any, ...] | None = None  # where its _Open is kept
    mark: Watermark | None = None  # its newest month as read by this pass: an _Open is kept after it
    updated: bool = False  # its sums came from a kept _Open and the newest month's changed cells: no month read
    open: _Open | None = None  # the kept _Open it was updated from (its finished totals, `_finish_again`)
    version: int = 0  # of that _Open once updated (another thread may update it further once put back)


@dataclass
class _Open:
    """A range's sums over ALL its months, the newest one as of a watermark: a live request replaces the rows
    of the service points whose cells changed since (month_cells.month_delta) instead of reading the month."""

    month: date
    mark: Watermark
    points: dict[int, int]
    sums: np.ndarray  # int32 when it fits (as a kept base), rows by `points`
    stats: pd.DataFrame  # summed per service point × item
    version: int = 0  # raised by every delta applied
    history: list[tuple[int, np.ndarray]] = field(default_factory=list)  # (version, service points it changed)
    # totals finished from these sums (`_finish`): need key → (version, tree revision, design points, totals)
    finished: dict[tuple[Any, ...], tuple[int, int, np.ndarray, ClusterTotals]] = field(default_factory=dict)

    def changed_since(self, version: int, now: int) -> np.ndarray | None:
        """The service points whose rows changed after `version` up to `now`; None when not known any more."""
        steps = [points for v, points in list(self.history) if version < v <= now]
        if len(steps) != now - version:
            return None
        return np.unique(np.concatenate(steps)) if steps else np.zeros(0, dtype=np.int64)


@dataclass
class _Need:
    """One totals to build: its selection and domain, and what the pass accumulates for it."""

    sel: Selection
    dom: tuple[str, ...]
    months: set[date] = field(default_factory=set)
    allowed: np.ndarray | None = None
    split: str | None = None  # the period column that splits the strata (design.period_stratum)
    n_h: dict[Any, int] = field(default_factory=dict)  # by service point id, or (id, period label) when split
    place_key: dict[int, tuple[Any, ...]] = field(default_factory=dict)
    stats: list[pd.DataFrame] = field(default_factory=list)
    cell_index: dict[tuple[Any, ...], int] = field(default_factory=dict)
    gram: np.ndarray | None = None
    shared: _Range | None = None
    base: _Base | None = None
    # a period-split need's newest period, taken from the range over its months (`_feed_newest`)
    feed: _Range | None = None
    fed: frozenset[date] = frozenset()

    @property
    def by_channel(self) -> bool:
        return "channel" in self.dom

    @property
    def period_cols(self) -> list[str]:
        return [c for c in self.dom if c in PERIOD_DOMAINS]

    @property
    def place_cols(self) -> list[str]:
        return [c for c in self.dom if c != "channel" and c not in PERIOD_DOMAINS]


def _key(sel: Selection, dom: tuple[str, ...]) -> tuple[Any, ...]:
    return (sel.key(), dom)  # the selection's versions define the instrument (survey.results.totals.instrument)


def plan(sel_doms: list[tuple[Selection, tuple[str, ...]]]) -> None:
    """Announce totals this request will ask for (counters design, no weights): the first one computed
    computes them all in one pass over their months.  A planned totals never asked for costs only its share
    of that pass."""
    planned: dict[tuple[Any, ...], tuple[Selection, tuple[str, ...]]] = per_request(("month-pass-plan",), dict)
    for sel, dom in sel_doms:
        planned.setdefault(_key(sel, dom), (sel, dom))


def counters_totals(session: Session, sel: Selection, dom: tuple[str, ...], inst: Any) -> ClusterTotals | None:
    """The counters design's totals of (sel, dom) with per-cell Ĝ; None when a selected version counts other
    levels as satisfied than the analysed definition (the caller then takes the answer_tally path)."""
    done: dict[tuple[Any, ...], ClusterTotals | None] = per_request(("month-pass-done",), dict)
    key = _key(sel, dom)
    if key not in done:
        kept = _kept(session, sel, dom)
        if kept is not None:  # its months did not change since it was built (survey/results/closed_months.py)
            done[key] = kept[0]
            return kept[0]
        planned: dict[tuple[Any, ...], tuple[Selection, tuple[str, ...]]] = per_request(("month-pass-plan",), dict)
        wanted = {key: (sel, dom)}
        for other, (s, d) in planned.items():
            if other not in done and s.questionnaire_version_ids == sel.questionnaire_version_ids:
                found = _kept(session, s, d)
                if found is not None:
                    done[other] = found[0]
                else:
                    wanted.setdefault(other, (s, d))
        built = _one_pass(session, inst, wanted)
        for other, totals in built.items():
            s, d = wanted[other]
            closed_months.put(_kept_key(session, s, d), (totals,))
        done.update(built)
    return done[key]


def _kept_key(session: Session, sel: Selection, dom: tuple[str, ...]) -> tuple[Any, ...]:
    from survey.results.totals import month_versions

    return ("totals", _key(sel, dom), closed_months.data_key(session, month_versions(session, sel)))


def _kept(session: Session, sel: Selection, dom: tuple[str, ...]) -> tuple[ClusterTotals | None] | None:
    """(the totals) built earlier from the same months (same versions), or None."""
    found: tuple[ClusterTotals | None] | None = closed_months.get(_kept_key(session, sel, dom))
    return found


def _one_pass(session: Session, inst: Any, wanted: dict[tuple[Any, ...], tuple[Selection, tuple[str, ...]]]
              ) -> dict[tuple[Any, ...], ClusterTotals | None]:
    from survey.results.design import _triangle_map, period_stratum, respondents_per_point, respondents_per_stratum
    from survey.results.design import item_plans as design_item_plans
    from survey.results.totals import month_versions, period_label
    from survey.results.tree import placement_frame, placements

    first = next(iter(wanted.values()))[0]
    item_plans = design_item_plans(session, first, inst)
    if item_plans is None:
        return dict.fromkeys(wanted)
    places = placements(session)
    needs: dict[tuple[Any, ...], _Need] = {}
    ranges: dict[tuple[Any, ...], _Range] = {}
    counts: dict[date, int] = {}
    for key, (sel, dom) in wanted.items():
        need = _Need(sel, dom)
        versions = month_versions(session, sel)
        need.months = set(versions)
        counts.update(versions)  # the same month's count is the same for every selection (whole city, any channel)
        sps = allowed_service_points(session, sel)
        need.allowed = None if sps is None else np.asarray(sps, dtype=np.int64)
        need.split = period_stratum(dom)
        if need.split is None:
            need.n_h = respondents_per_point(session, sel)
        else:  # strata = service point × period (design.period_stratum): n_h of the point in the period
            need.n_h = respondents_per_stratum(session, sel, need.split, period_label)
        frame = placement_frame(places, sorted(places), need.place_cols)
        need.place_key = dict(zip(frame.index.tolist(), frame.itertuples(index=False, name=None), strict=True))
        if need.split is None and not need.by_channel:
            group = (tuple(sorted(need.months)), None if need.allowed is None else need.allowed.tobytes(),
                     sel.channels)
            need.shared = ranges.setdefault(group, _Range(need.allowed, sel.channels))
        needs[key] = need
    for need in needs.values():
        if need.shared is None and need.split is not None and not need.by_channel and need.months:
            # its newest period is what a range over those months sums per service point: the comparison's
            # own range on a page, so a live request reads no month for the change either
            newest = period_label(max(need.months), need.split)
            need.fed = frozenset(m for m in need.months if period_label(m, need.split) == newest)
            group = (tuple(sorted(need.fed)), None if need.allowed is None else need.allowed.tobytes(),
                     need.sel.channels)
            need.feed = ranges.setdefault(group, _Range(need.allowed, need.sel.channels))
    items = tuple(inst.spec.items)
    versions_sel = first.questionnaire_version_ids
    ident = ("base", versions_sel, inst.record.id)
    # the month receiving responses (of the questionnaire, any period): only ranges ending in it keep sums.  Not
    # the newest month of this pass: a trend's pass of older quarters kept the third quarter's sums, which
    # evicted the current range's from the budget (1 M: the first live request read six months again)
    everything = month_versions(session, replace(first, period_from=None, period_to=None))
    current = max(everything) if everything else None
    for group, shared in ranges.items():
        if group[0] and max(group[0]) != current:
            shared.base = _range_base(session, (*ident, group), set(group[0]), counts, shared, keep=False)
        elif not _open_range(session, (*ident, group), set(group[0]), counts, shared, versions_sel, items,
                           item_plans):
            shared.base = _range_base(session, (*ident, group), set(group[0]), counts, shared)
    for key, need in needs.items():
        if need.shared is None and need.split is not None:
            need.base = _split_base(session, (*ident, key), need, counts, period_label)

    def wants(month: date, months: Any, base: _Base | None, fed: frozenset[date] = frozenset()) -> bool:
        return (month in months and month not in fed
                and not (base is not None and base.loaded and month in base.months))

    to_read = [m for m in sorted(set().union(*(n.months for n in needs.values())))
               if any(wants(m, group[0], shared.base) for group, shared in ranges.items() if not shared.updated)
               or any(n.shared is None and wants(m, n.months, n.base, n.fed) for n in needs.values())]
    for month in to_read:
        takers = [shared for group, shared in ranges.items()
                  if not shared.updated and wants(month, group[0], shared.base)]
        takers_need = [n for n in needs.values() if n.shared is None and wants(month, n.months, n.base, n.fed)]
        # one month only (a live request whose other months are kept): kept for the request, so that the
        # protection's item counts (survey/results/node_counts.py) do not decode it again
        blocks = month_cells(session, versions_sel, counts, [month], remember=len(to_read) == 1).get(month, {})
        for version, block in sorted(blocks.items()):
            src = _triangle_map(session, version, items)
            src_or_none = None if len(src) == block.tri.shape[1] and bool((src == np.arange(len(src))).all()) else src
            for shared in takers:
                _add_range_month(shared, block, item_plans[version], src_or_none)
            for need in takers_need:
                _add_month(need, block, month, item_plans[version], src_or_none, period_label)
        for shared in takers:
            if shared.open_key is not None and month == max(shared.open_key[-2][0]):
                shared.mark = Watermark.of(blocks)
        del blocks
        for shared in takers:
            if shared.base is not None and shared.base.last == month:
                _keep_range_base(shared)
        for need in takers_need:
            if need.base is not None and need.base.last == month:
                _keep_split_base(need, period_label)
    for group, shared in ranges.items():
        _shared_grams(shared, [n for n in needs.values() if n.shared is shared])
        _keep_open(shared, max(group[0]) if group[0] else None)
    for need in needs.values():
        if need.feed is not None:
            _feed_newest(need, need.feed, period_label)
    return {key: _finish(session, inst, need, places, key) for key, need in needs.items()}


_STAT_KEYS = ["service_point_id", "item_id"]


def _range_base(session: Session, ident: tuple[Any, ...], months: set[date], counts: dict[date, int],
                shared: _Range, keep: bool = True) -> _Base | None:
    """A range's closed months (all but its newest): their kept sums put into `shared`, or a _Base to keep
    (keep=False: a range that does not end in the current month — its finished totals are kept, its base is
    not worth the memory)."""
    if len(months) < 2:
        return None
    closed = frozenset(months - {max(months)})
    base, kept = _base(session, ident, closed, counts)
    if kept is not None:
        points, sums, stats = kept
        shared.points, shared.sums = _restore(points, sums, np.int64)
        shared.stats = [stats]
    return base if keep or base.loaded else None


def _base(session: Session, ident: tuple[Any, ...], closed: frozenset[date], counts: dict[date, int]
          ) -> tuple[_Base, Any]:
    """The _Base of `closed` months and what closed_months keeps for them (None: not kept yet)."""
    base = _Base((*ident, closed_months.data_key(session, {m: counts[m] for m in closed})), closed, max(closed))
    kept = closed_months.get(base.key)
    base.loaded = kept is not None
    return base, kept


def _restore(index: dict[Any, int], rows: np.ndarray, dtype: Any) -> tuple[dict[Any, int], np.ndarray]:
    """A kept (key → row, rows) as a pass's own copy with room for a few more rows (grown if a month adds more)."""
    out = np.zeros((len(index) + 64, rows.shape[1]), dtype=dtype)
    out[: len(index)] = rows
    return dict(index), out


def _open_range(session: Session, ident: tuple[Any, ...], months: set[date], counts: dict[date, int],
                shared: _Range, versions: tuple[int, ...], items: tuple[str, ...],
                item_plans: dict[int, tuple[np.ndarray, np.ndarray]]) -> bool:
    """The range's sums from its kept _Open with the newest month's changed service points replaced: True
    when that worked (no month is read for it), else False (the pass reads its months; an _Open is kept
    after).  Exact: integer sums, a point's row = its closed months' sums (the kept base) + its cells of the
    newest month as they are now."""
    if not months:
        return False
    newest = max(months)
    closed = {m: counts[m] for m in months if m != newest}
    shared.open_key = ("open", *ident, closed_months.data_key(session, closed))
    found = closed_months.take(shared.open_key)  # taken: another thread cannot change it meanwhile
    if not isinstance(found, _Open) or found.month != newest:
        return False
    op = found
    if op.mark.count != counts.get(newest, 0):
        base: tuple[dict[int, int], np.ndarray | None, pd.DataFrame | None] = ({}, None, None)
        if closed:
            kept = closed_months.get((*ident, closed_months.data_key(session, closed)))
            if kept is None:
                return False
            base = kept
        delta = month_delta(session, versions, newest, op.mark)
        if delta is None:
            return False
        _apply_delta(session, op, delta, base, shared, items, item_plans)
    shared.points, shared.sums, shared.stats = op.points, op.sums, [op.stats]
    shared.updated = True
    shared.mark = op.mark
    shared.open, shared.version = op, op.version
    return True


def _apply_delta(session: Session, op: _Open, delta: MonthDelta,
                 base: tuple[dict[int, int], np.ndarray | None, pd.DataFrame | None], shared: _Range,
                 items: tuple[str, ...], item_plans: dict[int, tuple[np.ndarray, np.ndarray]]) -> None:
    """`op` with the rows of delta's service points = base + their newest-month cells now (in place)."""
    from survey.results.design import _triangle_map

    width = op.sums.shape[1]
    month_rows: dict[int, np.ndarray] = {}
    stat_frames: list[pd.DataFrame] = []
    for version, block in sorted(delta.blocks.items()):
        rows = _rows(block, shared.allowed, shared.channels)
        if not len(rows):
            continue
        sp = block.sp[rows]
        stat_frames.append(_stat_frame(block, rows, {"service_point_id": sp}, item_plans[version]))
        order = np.argsort(sp, kind="stable")
        points, sums = sum_sorted(sp[order], block.tri[rows[order]])
        src = _triangle_map(session, version, items)
        if not (len(src) == sums.shape[1] and bool((src == np.arange(len(src))).all())):
            sums = np.where(src >= 0, sums[:, np.maximum(src, 0)], 0)
        for p, row in zip(points.tolist(), sums, strict=True):
            month_rows[p] = month_rows[p] + row if p in month_rows else row.astype(np.int64)
    base_points, base_sums, base_stats = base
    changed = delta.points.tolist()
    for p in changed:
        row = np.zeros(width, dtype=np.int64)
        if p in base_points and base_sums is not None:
            row += base_sums[base_points[p]]
        if p in month_rows:
            row += month_rows[p]
        at = op.points.get(p)
        if at is None:
            if p not in month_rows and p not in base_points:
                continue  # no cell of the range: not a row, as in a build from the months
            at = op.points[p] = len(op.points)
            if at >= len(op.sums):
                grown = np.zeros((max(2 * len(op.sums), 64), width), dtype=op.sums.dtype)
                grown[: len(op.sums)] = op.sums
                op.sums = grown
        if op.sums.dtype != np.int64 and (int(row.max(initial=0)) >= 2**31 or int(row.min(initial=0)) < -(2**31)):
            op.sums = op.sums.astype(np.int64)
        op.sums[at] = row
    # item statistics: the changed points' rows = base + their month, in place (the order of a build kept)
    parts = [f for f in (*stat_frames, None if base_stats is None else
                         base_stats[base_stats["service_point_id"].isin(changed)]) if f is not None]
    fresh = _summed_stats(parts, _STAT_KEYS)
    stats = op.stats
    mine = stats["service_point_id"].isin(changed).to_numpy()
    at_row = {k: i for i, k in zip(np.flatnonzero(mine).tolist(),
                                   stats.loc[mine, _STAT_KEYS].itertuples(index=False, name=None), strict=True)}
    values = stats[["n", "sat", "sv"]].to_numpy(dtype=np.int64, copy=True)
    values[mine] = 0
    extra = []
    for k, n, sat, sv in zip(fresh[_STAT_KEYS].itertuples(index=False, name=None), fresh["n"].tolist(),
                             fresh["sat"].tolist(), fresh["sv"].tolist(), strict=True):
        i = at_row.get(k)
        if i is None:
            extra.append((*k, n, sat, sv))
        else:
            values[i] = (n, sat, sv)
    stats = stats[_STAT_KEYS].copy()
    stats[["n", "sat", "sv"]] = values
    if extra:
        stats = pd.concat([stats, pd.DataFrame(extra, columns=[*_STAT_KEYS, "n", "sat", "sv"])], ignore_index=True)
    op.stats = stats
    op.mark = delta.after
    op.version += 1
    op.history = [*op.history[-15:], (op.version, np.asarray(delta.points, dtype=np.int64))]


def _keep_open(shared: _Range, newest: date | None) -> None:
    """Keep the range's sums over all its months as an _Open (int32 when they fit, as a base)."""
    if shared.open_key is None or newest is None or shared.mark is None:
        return
    if shared.sums is None:
        points: dict[int, int] = {}
        sums = np.zeros((0, 0), dtype=np.int32)
    else:
        points = shared.points
        sums = shared.sums[: len(points)]
        if not shared.updated:
            small = len(sums) == 0 or (int(sums.max()) < 2**31 and int(sums.min()) >= -(2**31))
            sums = sums.astype(np.int32 if small else np.int64)
    stats = _summed_stats(shared.stats, _STAT_KEYS)
    op = _Open(newest, shared.mark, dict(points) if not shared.updated else points, sums, stats)
    if shared.open is not None:  # the same sums, updated: its history and the totals finished from it go on
        op.version, op.history, op.finished = shared.open.version, shared.open.history, shared.open.finished
    else:  # built from the months: the totals finished now are kept with it (`_finish`)
        shared.open, shared.version = op, op.version
    finished = sum(_totals_nbytes(t) for *_, t in tuple(op.finished.values()))  # (another thread may add one)
    closed_months.put(shared.open_key, op, int(sums.nbytes) + closed_months.nbytes(stats) + 100 * len(points)
                      + 50 * len(shared.mark.per_point) + finished)


def _keep_range_base(shared: _Range) -> None:
    """Keep the range's sums over its closed months (int32 when they fit: half the memory, same integers)."""
    assert shared.base is not None and not shared.base.loaded
    if shared.sums is None:
        return
    sums = shared.sums[: len(shared.points)]
    small = len(sums) == 0 or (int(sums.max()) < 2**31 and int(sums.min()) >= -(2**31))
    stats = _summed_stats(shared.stats, _STAT_KEYS)
    shared.stats = [stats]
    kept = sums.astype(np.int32 if small else np.int64)  # a copy: the pass goes on adding to `sums`
    closed_months.put(shared.base.key, (dict(shared.points), kept, stats),
                      int(kept.nbytes) + closed_months.nbytes(stats) + 100 * len(shared.points))


def _split_base(session: Session, ident: tuple[Any, ...], need: _Need, counts: dict[date, int],
                period_label: Any) -> _Base | None:
    """A need whose strata are split by period: the months of its periods before the newest one (their cells
    and strata are not touched by later months), their kept cells put into `need`, or a _Base to keep."""
    if not need.months:
        return None
    assert need.split is not None
    newest = period_label(max(need.months), need.split)
    closed = frozenset(m for m in need.months if period_label(m, need.split) != newest)
    if not closed:
        return None
    base, kept = _base(session, ident, closed, counts)
    if kept is not None:
        cell_index, gram, stats = kept
        need.cell_index, need.gram = _restore(cell_index, gram, np.float64)
        need.stats = [stats]
    return base


def _keep_split_base(need: _Need, period_label: Any) -> None:
    """Keep the cells and item statistics of a period-split need's closed periods.  The statistics are summed
    per period, not per month (each month stands for the first month of its period): long_totals sums a
    period's months anyway, and three months of national rows were 0.8 M rows to group on every live request."""
    assert need.base is not None and not need.base.loaded
    if need.gram is None:
        return
    cols = ["service_point_id", *(["period"] if need.period_cols else []),
            *(["channel"] if need.by_channel else []), "item_id"]
    frames = need.stats
    if need.period_cols:
        first: dict[tuple[str, ...], date] = {}
        for m in sorted(need.base.months):
            first.setdefault(tuple(period_label(m, c) for c in need.period_cols), m)
        canon = {m: first[tuple(period_label(m, c) for c in need.period_cols)] for m in need.base.months}
        frames = [f.assign(period=f["period"].map(canon)) for f in frames]
    stats = _summed_stats(frames, cols)
    need.stats = [stats]
    gram = need.gram[: len(need.cell_index)].copy()
    closed_months.put(need.base.key, (dict(need.cell_index), gram, stats),
                      int(gram.nbytes) + closed_months.nbytes(stats) + 200 * len(need.cell_index))


def _summed_stats(frames: list[pd.DataFrame], cols: list[str]) -> pd.DataFrame:
    """The item statistics of several months as one frame per key (integer sums: exact in any order)."""
    if not frames:
        return pd.DataFrame(columns=[*cols, "n", "sat", "sv"])
    return pd.concat(frames, ignore_index=True).groupby(cols, sort=False, as_index=False)[["n", "sat", "sv"]].sum()


def _add_month(need: _Need, block: Any, month: date, item_plan: tuple[np.ndarray, np.ndarray],
               src: np.ndarray | None, period_label: Any) -> None:
    """One month's cells of one version into a need's item statistics and per-cell Ĝ."""
    rows = _rows(block, need.allowed, need.sel.channels)
    if not len(rows):
        return
    sp = block.sp[rows]
    channel = block.channel[rows]
    keys = {"service_point_id": sp}
    if need.period_cols:
        keys["period"] = np.full(len(sp), month, dtype=object)
    if need.by_channel:
        keys["channel"] = channel
    need.stats.append(_stat_frame(block, rows, keys, item_plan))
    # Ĝ: each row (a cell of one service point, month, channel) into its domain cell, weighted by c_h
    labels = tuple(period_label(month, c) for c in need.period_cols)
    cell = np.empty(len(sp), dtype=np.int64)
    for i, (s, ch) in enumerate(zip(sp.tolist(), channel.tolist(), strict=True)):
        k = (*need.place_key[s], *labels, *((ch,) if need.by_channel else ()))
        cell[i] = need.cell_index.setdefault(k, len(need.cell_index))
    tri = block.tri[rows]
    if src is not None:  # another version: its entries mapped onto the analysed items' triangle
        tri = np.where(src >= 0, tri[:, np.maximum(src, 0)], 0)
    if need.gram is None:
        need.gram = np.zeros((max(len(need.cell_index), 8), tri.shape[1]))
    if len(need.cell_index) > len(need.gram):
        grown = np.zeros((2 * len(need.cell_index), need.gram.shape[1]))
        grown[: len(need.gram)] = need.gram
        need.gram = grown
    if need.split is None:
        n_h = np.array([need.n_h.get(s, 0) for s in sp.tolist()], dtype=np.int64)
    else:
        label = period_label(month, need.split)
        n_h = np.array([need.n_h.get((s, label), 0) for s in sp.tolist()], dtype=np.int64)
    add_cell_grams(need.gram, tri, n_h, cell)


def _rows(block: Any, allowed: np.ndarray | None, channels: tuple[str, ...]) -> np.ndarray:
    """The block's cells in a selection: its service points and channels, with respondents."""
    from survey.results.design import selected_cells

    return np.flatnonzero(selected_cells(block, allowed, channels))


def _stat_frame(block: Any, rows: np.ndarray, keys: dict[str, np.ndarray],
                item_plan: tuple[np.ndarray, np.ndarray]) -> pd.DataFrame:
    """n, sat, sv per key × scored item of the rows (off the Gram diagonals), summed per key."""
    picks, ids = item_plan
    m = len(ids)
    vals = np.asarray(block.tri[rows][:, picks], dtype=np.int64)
    stats = pd.DataFrame({c: np.repeat(v, m) for c, v in keys.items()})
    stats["item_id"] = np.tile(ids, len(rows))
    for block_no, name in enumerate(("n", "sat", "sv")):
        stats[name] = vals[:, block_no * m: (block_no + 1) * m].reshape(-1)
    return stats.groupby([*keys, "item_id"], sort=False, as_index=False)[["n", "sat", "sv"]].sum()


def _add_range_month(shared: _Range, block: Any, item_plan: tuple[np.ndarray, np.ndarray],
                     src: np.ndarray | None) -> None:
    """One month's cells of one version into a range's item statistics and per-point Gram sums."""
    rows = _rows(block, shared.allowed, shared.channels)
    if not len(rows):
        return
    sp = block.sp[rows]
    shared.stats.append(_stat_frame(block, rows, {"service_point_id": sp}, item_plan))
    order = np.argsort(sp, kind="stable")
    points, sums = sum_sorted(sp[order], block.tri[rows[order]])
    if src is not None:  # another version: its entries mapped onto the analysed items' triangle
        sums = np.where(src >= 0, sums[:, np.maximum(src, 0)], 0)
    at = np.array([shared.points.setdefault(int(p), len(shared.points)) for p in points.tolist()], dtype=np.int64)
    if shared.sums is None:
        shared.sums = np.zeros((max(len(shared.points), 64), sums.shape[1]), dtype=np.int64)
    if len(shared.points) > len(shared.sums):
        grown = np.zeros((2 * len(shared.points), shared.sums.shape[1]), dtype=np.int64)
        grown[: len(shared.sums)] = shared.sums
        shared.sums = grown
    shared.sums[at] += sums


def _shared_grams(shared: _Range, needs: list[_Need]) -> None:
    """The per-cell Ĝ of the needs of one range from its per-point sums: each point into its cell, weighted by
    c_h — every chunk of the sums converted to float64 once for all of them (analysis.add_cell_grams_many)."""
    if shared.sums is None or not shared.points or not needs:
        return
    sp = list(shared.points)
    targets = []
    for need in needs:
        cell = np.array([need.cell_index.setdefault(need.place_key[s], len(need.cell_index)) for s in sp],
                        dtype=np.int64)
        need.gram = np.zeros((len(need.cell_index), shared.sums.shape[1]))
        targets.append((need.gram, np.array([need.n_h.get(s, 0) for s in sp], dtype=np.int64), cell))
    add_cell_grams_many(targets, shared.sums[: len(sp)])


def _feed_newest(need: _Need, shared: _Range, period_label: Any) -> None:
    """A period-split need's newest period from the range over its months: each service point's sums into its
    (place, period) cell weighted by c_h of (point, period), and the item statistics with that period."""
    if shared.sums is None or not shared.points:
        return
    month = min(need.fed)
    labels = tuple(period_label(month, c) for c in need.period_cols)
    split = period_label(month, need.split)
    sp = list(shared.points)
    cell = np.array([need.cell_index.setdefault((*need.place_key[s], *labels), len(need.cell_index)) for s in sp],
                    dtype=np.int64)
    width = shared.sums.shape[1]
    if need.gram is None or len(need.gram) < len(need.cell_index):
        grown = np.zeros((len(need.cell_index), width))
        if need.gram is not None:
            grown[: len(need.gram)] = need.gram
        need.gram = grown
    n_h = np.array([need.n_h.get((s, split), 0) for s in sp], dtype=np.int64)
    add_cell_grams_many([(need.gram, n_h, cell)], shared.sums[: len(sp)])
    for frame in shared.stats:
        need.stats.append(frame.assign(period=month)[["service_point_id", "period", "item_id", "n", "sat", "sv"]])


def _finish(session: Session, inst: Any, need: _Need, places: Any, key: tuple[Any, ...]) -> ClusterTotals:
    """The need's totals (analysis.totals_from_frame over its item statistics) with UnitMoments(cell_gram)."""
    from analysis.totals import totals_from_frame
    from survey.results.totals import design_frames, design_points, long_totals
    from survey.results.tree import tree_revision

    shared = need.shared
    if shared is not None:
        need.stats = shared.stats  # its Ĝ: _shared_grams, with the range's other needs
    # kept with the range's _Open (no period strata): the rows of the service points changed since replaced
    revision = tree_revision(session)
    kept = shared.open if shared is not None and need.split is None else None
    again = None
    if kept is not None and shared is not None and revision is not None:
        design = np.asarray(design_points(session, need.sel), dtype=np.int64)
        again = (kept, shared.version, revision, design)
        totals = _finish_again(session, inst, need, places, kept.finished.get(key), kept.changed_since,
                               shared.version, revision, design)
    else:
        totals = None
    if totals is None:
        rows = _need_rows(need, None)
        frame, points = design_frames(session, need.sel, long_totals(session, need.sel, inst, need.dom, "none",
                                                                     rows=rows), need.split, "counters")
        totals = _with_moments(session, need, places, totals_from_frame(frame, inst.spec, need.dom, design=points,
                                                                         weighted=False))
    need.stats = []
    if again is not None:
        op, version, revision, design = again
        op.finished[key] = (version, revision, design, totals)
    return totals


def _need_rows(need: _Need, only: np.ndarray | None) -> pd.DataFrame:
    """The need's item statistics per (service point[, period][, channel], item) with answers; `only`: of those
    service points alone."""
    cols = ["service_point_id", *(["period"] if need.period_cols else []),
            *(["channel"] if need.by_channel else []), "item_id"]
    frames = need.stats if only is None else [f[f["service_point_id"].isin(only)] for f in need.stats]
    if not frames:
        return pd.DataFrame(columns=[*cols, "n", "sat", "sv"])
    rows = pd.concat(frames, ignore_index=True).groupby(cols, sort=False, as_index=False)[["n", "sat", "sv"]].sum()
    return rows[rows["n"] > 0].reset_index(drop=True)


def _finish_again(session: Session, inst: Any, need: _Need, places: Any,
                  before: tuple[int, int, np.ndarray, ClusterTotals] | None, changed_since: Any, now: int,
                  revision: int, design: np.ndarray) -> ClusterTotals | None:
    """A live request's totals from the same need's totals finished at an earlier version of the kept sums: the
    rows of the service points changed since replaced, the rest as they were; None when that is not exact.

    WHY (1 M national SIPAS comparison: `_finish` was 40% of a live request, rebuilding 10,011 service points'
    rows to change a few): without period strata a totals row is one (service point, domain cell) — stratum and
    cluster = the service point — and its statistics are that point's integer sums (float64 of integers, one
    addend each), so a point's rows depend on its own item statistics alone.  When the tree (placements) and
    the design's service points are the same and the changed points have exactly the rows they had (same
    (cluster, cell) pairs), only their statistics, n_h and respondents per row differ; Ĝ is summed again in
    full (`_shared_grams`).  Anything else (a point's first answers, a new cell, a tree edit, a point in or out
    of the design): None, the totals are built from scratch (tests/results/test_month_pass_again.py compares
    both on random data)."""
    from analysis.totals import totals_from_frame
    from survey.results.design import _row_respondents
    from survey.results.totals import design_frames, long_totals, period_label

    if before is None:
        return None
    version, revision_before, design_before, old = before
    changed = changed_since(version, now)
    if changed is None or revision_before != revision or not np.array_equal(design, design_before):
        return None
    rows = _need_rows(need, changed)
    frame, _points = design_frames(session, need.sel, long_totals(session, need.sel, inst, need.dom, "none",
                                                                  rows=rows), None, "counters")
    at = _rows_of(old, _codes(places, changed))
    if old.unit is None or (len(frame) == 0) != (len(at) == 0):
        return None  # no moments kept, or the changed points' rows appeared or vanished
    if not len(frame):  # the changed points have no answers, before and now: only n_h and Ĝ differ
        return _with_moments(session, need, places, old, old.unit.row_n)
    new = totals_from_frame(frame, inst.spec, need.dom, design=None, weighted=False)
    if new.items != old.items or len(at) != len(new.row_cluster):
        return None
    old_keys = _row_keys(old, at)
    new_keys = _row_keys(new, np.arange(len(new.row_cluster)))
    where = {k: i for i, k in enumerate(old_keys)}
    order = np.array([where.get(k, -1) for k in new_keys], dtype=np.int64)
    if len(where) != len(old_keys) or (order < 0).any() or len(set(order.tolist())) != len(order):
        return None
    stats = old.stats.copy()
    stats[at[order]] = new.stats
    row_n = None
    if old.unit.row_n is not None:
        row_n = old.unit.row_n.copy()
        row_n[at[order]] = _row_respondents(session, need.sel, new, need.period_cols, need.by_channel, places,
                                            period_label, points=changed)
    return _with_moments(session, need, places, replace(old, stats=stats), row_n)


def _codes(places: Any, points: np.ndarray) -> set[Any]:
    return {places[int(p)].service_point for p in points.tolist() if int(p) in places}


def _rows_of(totals: ClusterTotals, codes: set[Any]) -> np.ndarray:
    """The totals rows whose cluster is one of these service point codes."""
    labels = totals.clusters["cluster"].to_numpy()
    mine = np.array([label in codes for label in labels.tolist()], dtype=bool)
    return np.flatnonzero(mine[totals.row_cluster])


def _row_keys(totals: ClusterTotals, rows: np.ndarray) -> list[tuple[Any, ...]]:
    """(stratum, cluster, cell columns…) of totals rows, as labels (codes differ between two totals)."""
    clusters = totals.clusters.iloc[totals.row_cluster[rows]]
    cells = totals.cells.iloc[totals.row_cell[rows]]
    return list(zip(clusters["stratum"].tolist(), clusters["cluster"].tolist(),
                    *(cells[c].tolist() for c in totals.cells.columns), strict=True))


def _totals_nbytes(totals: ClusterTotals) -> int:
    unit = totals.unit
    extra = 0 if unit is None else sum(int(a.nbytes) for a in (unit.n_h, unit.row_n, unit.cell_gram)
                                       if a is not None)
    return int(totals.stats.nbytes + totals.row_cluster.nbytes + totals.row_cell.nbytes) + extra + 200 * len(
        totals.clusters)


def _with_moments(session: Session, need: _Need, places: Any, totals: ClusterTotals,
                  row_n: np.ndarray | None = None) -> ClusterTotals:
    """`totals` with the need's UnitMoments: n_h per stratum, respondents per row (`row_n`, or counted), Ĝ per
    cell."""
    from survey.results.design import _row_respondents, by_period
    from survey.results.totals import period_label

    p = len(UNIT_VARS) * len(totals.items)
    packed = np.zeros((len(totals.cells), p * (p + 1) // 2))
    if need.gram is not None and len(totals.cells):
        cells = totals.cells[list(need.dom)].itertuples(index=False, name=None) if need.dom else [()] * len(
            totals.cells)
        at = np.array([need.cell_index.get(tuple(c), -1) for c in cells], dtype=np.int64)
        packed[at >= 0] = need.gram[at[at >= 0]]
    if need.split is None:
        by_code = {places[i].service_point: n for i, n in need.n_h.items() if i in places}
    else:
        by_code = {by_period(places[i].service_point, label): n for (i, label), n in need.n_h.items() if i in places}
    n_h = np.array([by_code.get(label, 0) for label in totals.strata], dtype=np.int64)
    if row_n is None:
        row_n = _row_respondents(session, need.sel, totals, need.period_cols, need.by_channel, places, period_label)
    return replace(totals, unit=UnitMoments(n_h, None, row_n, cell_gram=unpack_cell_grams(packed)), clustered=False)
