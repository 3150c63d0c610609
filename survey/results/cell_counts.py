"""Answers per item in every cell of organisation × time × channel: what the protection of small groups over
periods and channels (survey/results/protection.py, analysis.disclosure.product_suppression) is decided on.

WHY: a figure is published for a node of the tree (city, unit, agency, service point) over a period (a quarter or
a month; longer ranges are sums of those) through a channel (all, or one).  Each cell's n of a measure is the
least answered count of the measure's items (analysis.estimate; survey/results/node_counts.py), and an item's
count is a plain sum over service points, months and channels — so one GROUP BY of the answer counts by
(service point, month, channel, item) gives every cell by summing along the three hierarchies.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date
from threading import Lock
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from survey.respond.models import CHANNELS, AnswerTally

ALL_CHANNELS = "*"
Node = tuple[str, str]


def month_label(d: date) -> str:
    return f"{d.year}-{d.month:02d}"


def time_parents(months: list[date]) -> dict[str, str | None]:
    """month → quarter (labels as the pages' periods: 2022-11, 2022-Q4).  Years and "every month so far" are no
    nodes: a figure over them is shown only when every quarter (or month) it is made of is, so it adds nothing
    (survey/results/protection.py:time_pieces).  As nodes they would hide a large year or a whole year's quarter
    whenever the newest, unfinished period is small (every month so far minus last year is this year)."""
    parent: dict[str, str | None] = {}
    for d in months:
        quarter = f"{d.year}-Q{(d.month - 1) // 3 + 1}"
        parent[quarter] = None
        parent[month_label(d)] = quarter
    return parent


def channel_parents() -> dict[str, str | None]:
    return {ALL_CHANNELS: None, **{c: ALL_CHANNELS for c in CHANNELS}}


@dataclass(frozen=True)
class CellCounts:
    """counts[org, time, channel, item]: answers; the three axes' node labels, and the items' codes."""

    org: list[Node]
    time: list[str]
    channel: list[str]
    items: list[str]
    counts: np.ndarray
    time_parent: dict[str, str | None]
    months: list[date]  # the months with answers, oldest first


def cell_counts(session: Session, version_ids: tuple[int, ...], spec_items: dict[int, str],
                org_of_point: dict[int, list[Node]], org: list[Node]) -> CellCounts:
    """Answers per item in every (org node, time node, channel node) cell of these questionnaire versions.

    `spec_items`: item id → scored item code; `org_of_point`: service point id → the org nodes it counts in
    (its own node and every ancestor); `org`: every org node, in the order the decision uses."""
    t = AnswerTally.__table__.c
    rows = session.execute(
        select(t.service_point_id, t.period, t.channel, t.item_id, func.sum(t.count))
        .where(t.questionnaire_version_id.in_(version_ids), t.value > 0, t.item_id.in_(list(spec_items)))
        .group_by(t.service_point_id, t.period, t.channel, t.item_id)).all()
    months = sorted({r[1] for r in rows})
    time_parent = time_parents(months)
    time = list(time_parent)
    channel = list(channel_parents())
    items = sorted(set(spec_items.values()))
    o_ix = {k: i for i, k in enumerate(org)}
    t_ix = {k: i for i, k in enumerate(time)}
    c_ix = {k: i for i, k in enumerate(channel)}
    i_ix = {k: i for i, k in enumerate(items)}
    counts = np.zeros((len(org), len(time), len(channel), len(items)), dtype=np.int64)
    if not rows:
        return CellCounts(org, time, channel, items, counts, time_parent, months)
    # leaves (service point, month, channel, item), each added to every node above it along the three axes at
    # once: one scatter-add of rows × (org ancestors) × (month, quarter) × (channel, all channels)
    month_of = {d: t_ix[month_label(d)] for d in months}
    sp = np.array([r[0] for r in rows], dtype=np.int64)
    month = np.array([month_of[r[1]] for r in rows], dtype=np.int64)
    ch = np.array([c_ix.get(str(r[2]), -1) for r in rows], dtype=np.int64)
    item = np.array([i_ix[spec_items[int(r[3])]] for r in rows], dtype=np.int64)
    k = np.array([int(r[4]) for r in rows], dtype=np.int64)
    quarter = np.array([t_ix[p] if (p := time_parent[label]) is not None else -1 for label in time],
                       dtype=np.int64)[month]
    depth = max((len(v) for v in org_of_point.values()), default=0)
    points = sorted(set(sp.tolist()))
    up = np.full((len(points), max(depth, 1)), -1, dtype=np.int64)  # each point's org nodes, padded with -1
    for row, point in enumerate(points):
        nodes = [o_ix[n] for n in org_of_point.get(point, []) if n in o_ix]
        up[row, :len(nodes)] = nodes
    orgs = up[np.searchsorted(np.asarray(points, dtype=np.int64), sp)]  # rows × depth
    keep = ch >= 0
    all_ch = c_ix[ALL_CHANNELS]
    for o in orgs.T:
        ok = keep & (o >= 0)
        for when in (month, quarter):
            for c in (ch, np.full_like(ch, all_ch)):
                sel = ok & (when >= 0)
                np.add.at(counts, (o[sel], when[sel], c[sel], item[sel]), k[sel])
    return CellCounts(org, time, channel, items, counts, time_parent, months)


# --------------------------------------------------------------------------- kept across requests (live pages)
# A live national request (two new responses) ran `cell_counts` again over every answer_tally row of the
# questionnaire (one GROUP BY, a Python row each, a scatter-add into a 17,000 nodes × 16 periods × 5 channels ×
# items array) and then every measure's n over that whole array: ≈ 5 of 8 s of a live request on the 30 k national
# tree (benchmarks/README.md, "session 12").  What the protection reads of them is each measure's n and answers per
# (org node, time node, channel node), and a new response changes those only in the org nodes above its service
# point, at its month, that month's quarter and "so far".
#
# So each questionnaire's answers are kept per process as one dense array per month (service point × channel ×
# item, int32: ≈ 5 MB a national month) with the month's watermark (month_cells.Watermark: what the array was read
# from), and each measure's (n, answers) arrays with them.  A live request reads the months whose response count
# changed: only the answer rows of the service points whose moment cells changed (month_cells.month_delta, the
# same proof of completeness as the month pass), replaces their rows, and recomputes n and answers of the org nodes
# above them at the changed months, their quarters and "so far" — from the kept months' rows, as integers, so
# exactly what a build from scratch gives (tests/results/test_protection_kept.py).


@dataclass
class _Month:
    mark: Any  # month_cells.Watermark of the moment cells read BEFORE the answer rows (self-correcting: below)
    dense: np.ndarray  # service point row × channel (CHANNELS) × item column: answers, int32 (never mutated)
    rows: bool  # the month has answer rows (the time axis of `cell_counts` lists exactly such months)


@dataclass
class _Kept:
    org: list[Node]
    org_of_point: dict[int, list[Node]]
    revision: int
    points: np.ndarray  # service point ids, sorted: the dense arrays' rows
    agg: Any  # scipy CSR org node × point row: 1 where the point counts in the node
    items: list[str]
    item_col: dict[int, int]
    months: dict[date, _Month]
    measures: dict[tuple[tuple[str, ...], date], tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    axes: CellCounts | None = None  # org/time/channel axes of the current months (counts: empty)
    generation: int = 0  # raised by every refresh that changed a count
    history: list[tuple[int, np.ndarray]] = field(default_factory=list)  # (generation, org rows it changed)


_kept: OrderedDict[tuple[Any, ...], _Kept] = OrderedDict()
_kept_lock = Lock()
#: questionnaires (version sets) kept per process: ≈ 60 MB of months + 12 MB per measure each, nationally
KEPT = 4


def clear_kept() -> None:
    with _kept_lock:
        _kept.clear()


class LiveCells:
    """The kept answers of one questionnaire, refreshed for this request (`live_cells`): the axes of
    `cell_counts` and each measure's (n, answers) per [org, time + SO_FAR, channel], equal to
    `protection._measure_counts(cell_counts(...), items, quarter)`."""

    def __init__(self, kept: _Kept, changed: dict[date, np.ndarray] | None) -> None:
        self._kept = kept
        assert kept.axes is not None
        self.axes = kept.axes
        self.changed = changed  # month → org rows whose counts changed in this refresh; None: all (rebuilt)

    def measure(self, items: list[str], quarter: date) -> tuple[np.ndarray, np.ndarray, int]:
        """(n, answers, the generation of the kept counts they are of)."""
        key = (tuple(items), quarter)
        with _kept_lock:
            hit = self._kept.measures.get(key)
            if hit is None:
                hit = self._kept.measures[key] = _full_measure(self._kept, items, quarter)
            return hit[0], hit[1], self._kept.generation

    def rows_since(self, generation: int, now: int) -> np.ndarray | None:
        """The org rows whose counts changed after `generation` up to `now`; None when not known (too old, or
        the time axis was rebuilt)."""
        with _kept_lock:
            history = list(self._kept.history)
        if generation == now:
            return np.zeros(0, dtype=np.int64)
        steps = [rows for g, rows in history if generation < g <= now]
        if len(steps) != now - generation:
            return None
        return np.unique(np.concatenate(steps))


def live_cells(session: Session, version_ids: tuple[int, ...], spec_items: dict[int, str],
               org_of_point: dict[int, list[Node]], org: list[Node]) -> LiveCells:
    """The answers of `version_ids` kept per process and brought up to date (see above): a live request reads only
    the answer rows of the service points whose cells changed since the kept months were read."""
    from survey.results.cache import enabled, tally_revision
    from survey.results.selection import Selection
    from survey.results.totals import month_versions

    url = str(session.get_bind().engine.url)
    key = (url, version_ids, tuple(sorted(spec_items.items())))
    revision = tally_revision(session)
    counts = month_versions(session, Selection(questionnaire_version_ids=version_ids))
    if not enabled():  # the results cache off: nothing kept, every request from scratch
        return LiveCells(_new_kept(session, version_ids, spec_items, org_of_point, org, revision, counts), None)
    with _kept_lock:
        kept = _kept.get(key)
        if kept is not None:
            _kept.move_to_end(key)
        if kept is not None and kept.org_of_point is not org_of_point and kept.org_of_point == org_of_point:
            kept.org_of_point = org_of_point  # the same tree built again (its caches were cleared)
        if kept is not None and (kept.revision != revision or kept.org_of_point is not org_of_point
                                 or kept.org != org or set(kept.months) - set(counts)):
            kept = None  # removals (quarantine), a tree edit: from scratch
        if kept is None:
            kept = _new_kept(session, version_ids, spec_items, org_of_point, org, revision, counts)
            _kept[key] = kept
            while len(_kept) > KEPT:
                _kept.popitem(last=False)
            return LiveCells(kept, None)
        changed = _refresh(session, kept, version_ids, spec_items, counts)
        return LiveCells(kept, changed)


def _new_kept(session: Session, version_ids: tuple[int, ...], spec_items: dict[int, str],
              org_of_point: dict[int, list[Node]], org: list[Node], revision: int, counts: dict[date, int]) -> _Kept:
    from scipy import sparse

    points = np.array(sorted(org_of_point), dtype=np.int64)
    o_ix = {k: i for i, k in enumerate(org)}
    rows: list[int] = []
    cols: list[int] = []
    for col, point in enumerate(points.tolist()):
        for node in org_of_point[point]:
            if node in o_ix:
                rows.append(o_ix[node])
                cols.append(col)
    agg = sparse.csr_matrix((np.ones(len(rows), dtype=np.int64), (rows, cols)), shape=(len(org), len(points)))
    items = sorted(set(spec_items.values()))
    item_col = {iid: items.index(code) for iid, code in spec_items.items()}
    kept = _Kept(org, org_of_point, revision, points, agg, items, item_col, {})
    marks = _marks(session, version_ids, None)  # BEFORE the answer rows (see `_refresh`)
    for month in sorted(set(counts) | set(marks)):
        mark = marks.get(month) or _empty_mark()
        has_rows, dense = _read_answers(session, kept, version_ids, spec_items, month, None)
        kept.months[month] = _Month(mark, dense, has_rows)
    kept.axes = _axes(kept)
    return kept


def _empty_mark() -> Any:
    from survey.results.month_cells import Watermark

    return Watermark(0, 0, {})


def _marks(session: Session, version_ids: tuple[int, ...], month: date | None) -> dict[date, Any]:
    """Each month's watermark of the moment cells (month_cells.Watermark), from their counts alone (no Grams)."""
    from survey.respond.models import MomentTally
    from survey.results.month_cells import Watermark

    t = MomentTally.__table__.c
    q = (select(t.period, t.service_point_id, func.sum(t.respondents), func.max(t.last_response_id))
         .where(t.questionnaire_version_id.in_(version_ids)).group_by(t.period, t.service_point_id))
    if month is not None:
        q = q.where(t.period == month)
    per: dict[date, tuple[int, dict[int, int]]] = {}
    for period, sp, n, last in session.execute(q).all():
        top, points = per.setdefault(period, (0, {}))
        points[int(sp)] = int(n)
        per[period] = (max(top, int(last or 0)), points)
    return {m: Watermark(top, sum(points.values()), points) for m, (top, points) in per.items()}


def _read_answers(session: Session, kept: _Kept, version_ids: tuple[int, ...], spec_items: dict[int, str],
                  month: date, only: list[int] | None) -> tuple[bool, np.ndarray]:
    """(the month has answer rows, answers per service point row × channel × item) of `month`; `only`: those
    service points' rows alone (the others zero)."""
    t = AnswerTally.__table__.c
    q = (select(t.service_point_id, t.channel, t.item_id, func.sum(t.count))
         .where(t.questionnaire_version_id.in_(version_ids), t.period == month, t.value > 0,
                t.item_id.in_(list(spec_items)))
         .group_by(t.service_point_id, t.channel, t.item_id))
    if only is not None:
        q = q.where(t.service_point_id.in_(only))
    rows = session.execute(q).all()
    dense = np.zeros((len(kept.points), len(CHANNELS), len(kept.items)), dtype=np.int32)
    if not rows:
        return False, dense
    sp, ch, item, k = (list(col) for col in zip(*rows, strict=True))
    sp_a = np.asarray(sp, dtype=np.int64)
    at = np.searchsorted(kept.points, sp_a)
    at_ok = at < len(kept.points)
    ok = at_ok.copy()
    ok[at_ok] = kept.points[at[at_ok]] == sp_a[at_ok]  # a service point outside the tree counts nowhere
    c_of = {c: i for i, c in enumerate(CHANNELS)}
    ch_a = np.array([c_of.get(str(c), -1) for c in ch], dtype=np.int64)
    item_a = np.array([kept.item_col[int(i)] for i in item], dtype=np.int64)
    ok &= ch_a >= 0
    np.add.at(dense, (at[ok], ch_a[ok], item_a[ok]), np.asarray(k, dtype=np.int64)[ok].astype(np.int32))
    return True, dense


def _axes(kept: _Kept) -> CellCounts:
    months = sorted(m for m, km in kept.months.items() if km.rows)
    time_parent = time_parents(months)
    channel = list(channel_parents())
    empty = np.zeros((len(kept.org), len(time_parent), len(channel), 0), dtype=np.int64)
    return CellCounts(kept.org, list(time_parent), channel, kept.items, empty, time_parent, months)


def _refresh(session: Session, kept: _Kept, version_ids: tuple[int, ...], spec_items: dict[int, str],
             counts: dict[date, int]) -> dict[date, np.ndarray]:
    """Under the lock: bring the changed months up to date; month → the org rows whose counts changed.

    Why reading the cells' watermark BEFORE the answer rows is exact: a response committed in between is in the
    answers and not in the watermark; next time either its cell's `last_response_id` is above the watermark (its
    service point is read again) or its month's count exceeds the watermark's respondents (`month_delta` finds
    the sum short: the month is read in full) — it is never counted twice or lost."""
    from survey.results.month_cells import month_delta

    changed: dict[date, np.ndarray] = {}
    axes_before = [m for m, km in kept.months.items() if km.rows]
    for month, count in sorted(counts.items()):
        km = kept.months.get(month)
        if km is not None and km.mark.count == count:
            continue
        delta = None if km is None else month_delta(session, version_ids, month, km.mark)
        if delta is None or km is None:
            mark = _marks(session, version_ids, month).get(month) or _empty_mark()
            has_rows, dense = _read_answers(session, kept, version_ids, spec_items, month, None)
        else:
            mark = delta.after
            points = delta.points.tolist()
            has_rows, fresh = _read_answers(session, kept, version_ids, spec_items, month, points)
            has_rows = has_rows or km.rows
            dense = km.dense.copy()
            at = np.searchsorted(kept.points, delta.points)
            inside = at < len(kept.points)
            inside[inside] = kept.points[at[inside]] == delta.points[inside]
            dense[at[inside]] = fresh[at[inside]]
        old = km.dense if km is not None else np.zeros_like(dense)
        moved = np.flatnonzero((dense != old).any(axis=(1, 2)))
        kept.months[month] = _Month(mark, dense, has_rows)
        if len(moved):
            changed[month] = np.unique(kept.agg[:, moved].nonzero()[0])
    if [m for m, km in kept.months.items() if km.rows] != axes_before:
        kept.axes = _axes(kept)  # a month with its first answers: a new time axis, every measure again
        kept.measures.clear()
        kept.generation += 1
        kept.history.clear()
        return changed
    if changed:
        kept.generation += 1
        kept.history = [*kept.history[-63:], (kept.generation, np.unique(np.concatenate(list(changed.values()))))]
    per_item: dict[tuple[date, tuple[date, ...]], np.ndarray] = {}  # the same for every measure: summed once
    for key, (n, answers) in list(kept.measures.items()):
        kept.measures[key] = _update_measure(kept, list(key[0]), key[1], n, answers, changed, per_item)
    return changed


def _node_counts(kept: _Kept, rows: np.ndarray | None, months: list[date]) -> np.ndarray:
    """Answers per item of org `rows` (None: every node) summed over `months`: rows × channel node (all channels
    first, as `channel_parents`) × item, int64."""
    agg = kept.agg if rows is None else kept.agg[rows]
    out = np.zeros((agg.shape[0], len(CHANNELS) * len(kept.items)), dtype=np.int64)
    for month in months:
        out += agg @ kept.months[month].dense.reshape(len(kept.points), -1)
    per = out.reshape(agg.shape[0], len(CHANNELS), len(kept.items))
    return np.concatenate([per.sum(axis=1, keepdims=True), per], axis=1)


def _n_answers(per: np.ndarray, items: list[str], names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """A measure's (n, answers) from per-item answers (last axis): protection._measure_counts's rule."""
    cols = [names.index(i) for i in items if i in names]
    sub = per[..., cols]
    n = sub.min(axis=-1) if cols and len(cols) == len(items) else np.zeros(sub.shape[:-1], dtype=np.int64)
    return n, sub.sum(axis=-1)


def _targets(axes: CellCounts, month: date, quarter: date) -> list[tuple[int, list[date]]]:
    """The time columns (the month, its quarter, and SO_FAR when the month is complete) a month's answers count
    in, each with the months it sums."""
    time = axes.time
    label = month_label(month)
    out = [(time.index(label), [month])]
    q = axes.time_parent[label]
    if q is not None:
        out.append((time.index(q), [m for m in axes.months if axes.time_parent[month_label(m)] == q]))
    if month < quarter:
        out.append((len(time), [m for m in axes.months if m < quarter]))
    return out


def _compact(n: np.ndarray, answers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(n, answers) as kept: int32 when they fit (counts; half the bytes), and one array for both when they are
    equal — a single item's n IS its answers.  A national SIPAS overall index keeps its 22 items' and its own
    (n, answers): 23 × 25 MB as two int64 arrays each, 22 × 6 + 12 MB so (benchmarks/README.md, session 14)."""
    def small(a: np.ndarray) -> np.ndarray:
        fits = a.size == 0 or (int(a.max()) < 2**31 and int(a.min()) >= -(2**31))
        return a.astype(np.int32) if fits and a.dtype != np.int32 else a

    n = small(n)
    return (n, n) if np.array_equal(n, answers) else (n, small(answers))


def _full_measure(kept: _Kept, items: list[str], quarter: date) -> tuple[np.ndarray, np.ndarray]:
    assert kept.axes is not None
    axes = kept.axes
    shape = (len(axes.org), len(axes.time) + 1, len(axes.channel))
    n, answers = np.zeros(shape, dtype=np.int64), np.zeros(shape, dtype=np.int64)
    per_month = {m: _node_counts(kept, None, [m]) for m in axes.months}
    done: np.ndarray | None = None
    sums: dict[int, np.ndarray] = {}
    for month, per in per_month.items():
        label = month_label(month)
        t = axes.time.index(label)
        n[:, t], answers[:, t] = _n_answers(per, items, kept.items)
        q = axes.time_parent[label]
        if q is not None:
            tq = axes.time.index(q)
            sums[tq] = per.copy() if tq not in sums else sums[tq] + per
        if month < quarter:
            done = per.copy() if done is None else done + per
    for tq, per in sums.items():
        n[:, tq], answers[:, tq] = _n_answers(per, items, kept.items)
    if done is not None:
        n[:, -1], answers[:, -1] = _n_answers(done, items, kept.items)
    return _compact(n, answers)


def _update_measure(kept: _Kept, items: list[str], quarter: date, n: np.ndarray, answers: np.ndarray,
                    changed: dict[date, np.ndarray], per_item: dict[tuple[date, tuple[date, ...]], np.ndarray]
                    ) -> tuple[np.ndarray, np.ndarray]:
    """(n, answers) with the changed org rows recomputed at the changed months' time columns (new arrays: the
    old ones may be in use by another request).  `per_item`: the changed rows' answers per item, by (changed
    month, months summed) — shared by every measure of the refresh (SIPAS: 23 measures, one sum each)."""
    assert kept.axes is not None
    if not changed:
        return n, answers
    shared = answers is n
    n = n.copy()
    answers = n if shared else answers.copy()
    for month, rows in changed.items():
        if month not in kept.axes.months:
            continue
        for t, months in _targets(kept.axes, month, quarter):
            at = (month, tuple(months))
            if at not in per_item:
                per_item[at] = _node_counts(kept, rows, months)
            got_n, got_answers = _n_answers(per_item[at], items, kept.items)
            if (shared and not np.array_equal(got_n, got_answers)) or (
                    int(got_answers.max(initial=0)) >= 2**31 and np.int32 in (n.dtype, answers.dtype)):  # n ≤ answers
                return _full_measure(kept, items, quarter)  # kept as one array, or past int32: built again
            if not shared:
                answers[rows, t] = got_answers
            n[rows, t] = got_n
    return n, answers
