"""Every `moment_tally` cell of one month, kept decoded in memory and refreshed cell by cell.

A SIPAS cell's Gram triangle is 8.8 KB; the month that is receiving responses holds ≈ 770 such cells over
the city (6.8 MB).  Re-reading and decoding all of them after every new response cost ≈ 150–200 ms per
page at 1 M responses.  Instead each process keeps the month's cells and, when the month's respondent count
has changed, re-reads only the cells whose `last_response_id` is above the highest one it holds.

Why that is exact: a response raises its cell's `last_response_id` in the transaction that stores it.  A
response whose id is lower than one already seen but which commits later (ids are drawn before commit) is
not re-read — but then the cells' respondents no longer add up to the month's count in `response_tally`
(updated in the same transaction), which is read AFTER the cells: the refreshed sum can only fall short of
it.  Any mismatch means a full read of the month.  Tallies are otherwise only rewritten by
`rebuild_tallies`, which recomputes the same sums, and by quarantine decisions
(survey/respond/quarantine.py), which REMOVE responses: a removal and an addition could leave the count
unchanged, so every decision raises the tally revision and a month read under another revision is read
again in full.

The cache holds whole-city cells per (questionnaire versions, month); callers filter service points and
channels in NumPy.  Memory is bounded: HAILONG_MONTH_CELLS_MB (BUDGET) per process.  Every array a kept month
holds is counted when it is added — the per-point sums (`Block.by_point`) too, which are computed after the
month is stored — and months are dropped (oldest month first, `_evict`) until the count is within the budget,
so `held_bytes()` never exceeds it; a month larger than the whole budget is used by its request, not kept.

What a memory-mapped triangle array (read from a month file, survey/results/month_files.py) costs: nothing
private.  Its pages are clean, file-backed and shared through the operating system's page cache by every
worker of the machine; the kernel drops them under pressure and reads them again from the file.  Counting
them as this process's memory would evict months for memory the process does not own, and charge each
worker for the same pages.  Only the arrays decoded into the process (cell keys, counts, channel strings, a
refreshed month's copied triangles, per-point sums) are counted.
"""

from __future__ import annotations

import mmap
import sys
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from threading import Lock
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from survey.respond import moments as stored
from survey.respond.models import MomentTally, ResponseTally
from survey.results import month_files
from survey.results.cache import STATS, per_request, tally_revision
from survey.results.cache import enabled as results_cache_enabled

MT = MomentTally.__table__
RT = ResponseTally.__table__
BUDGET = 96 * 2**20

_months: OrderedDict[tuple[Any, ...], MonthCells] = OrderedDict()
_lock = Lock()


@dataclass(frozen=True)
class Block:
    """The cells of one questionnaire version in one month (arrays are never modified once built)."""

    sp: np.ndarray  # service_point_id, int64
    channel: np.ndarray  # object (str)
    respondents: np.ndarray  # int64
    last: np.ndarray  # last_response_id, int64
    tri: np.ndarray  # cells × packed upper-triangle entries, int32
    memo: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def nbytes(self) -> int:
        """Private bytes this block holds (module docstring: mapped triangles cost none)."""
        fixed = self.memo.get("fixed")
        if fixed is None:  # the arrays never change: measured once
            strings = {id(c): c for c in self.channel.tolist()}.values()
            fixed = self.memo["fixed"] = (sum(_private(a) for a in (self.sp, self.respondents, self.last, self.tri))
                                          + int(self.channel.nbytes) + sum(sys.getsizeof(c) for c in strings))
        points = self.memo.get("points")
        return int(fixed) + (int(points[0].nbytes + points[1].nbytes) if points else 0)

    def by_point(self) -> tuple[np.ndarray, np.ndarray]:
        """(service point ids, int64 triangles summed over channels): what pages without a channel domain
        need; computed once per block (and carried over cell by cell by `_merge`)."""
        hit = self.memo.get("points")
        if hit is None:
            if len(self.sp) and bool((self.sp[1:] >= self.sp[:-1]).all()):  # as read: no gather needed
                sp, tri = self.sp, self.tri
            else:
                order = np.argsort(self.sp, kind="stable")
                sp, tri = self.sp[order], self.tri[order]
            computed = sum_sorted(sp, tri)
            with _lock:  # counted as it is added: a kept month grows by its sums
                hit = self.memo.setdefault("points", computed)
                _evict()
        return hit


def _private(a: np.ndarray) -> int:
    """a.nbytes, or 0 for a view of a memory-mapped file (module docstring)."""
    base: Any = a
    while base is not None:
        if isinstance(base, mmap.mmap):
            return 0
        base = getattr(base, "base", None)
    return int(a.nbytes)


@dataclass(frozen=True)
class MonthCells:
    """Cells of one month for a set of questionnaire versions, as of a respondent count."""

    respondents: int
    blocks: dict[int, Block]
    revision: int = 0  # survey/results/cache.py:tally_revision when read: removals force a full read

    @property
    def last(self) -> int:
        return max((int(b.last.max()) for b in self.blocks.values() if len(b.last)), default=0)

    @property
    def nbytes(self) -> int:
        return sum(b.nbytes for b in self.blocks.values())


def sum_sorted(keys: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(unique keys, int64 row sums per key) of rows sorted by key.  A key has a few rows (one per channel):
    adding the k-th row of every key in one vectorised pass is 3–4× faster than `np.add.reduceat` along
    axis 0, which walks the wide rows one segment at a time."""
    if not len(keys):
        return keys[:0], np.zeros((0, rows.shape[1]), dtype=np.int64)
    new = np.r_[True, keys[1:] != keys[:-1]]
    starts = np.flatnonzero(new)
    codes = np.cumsum(new) - 1
    rank = np.arange(len(keys)) - starts[codes]
    out = rows[starts].astype(np.int64)
    for k in range(1, int(rank.max()) + 1):
        at = rank == k
        out[codes[at]] += rows[at]
    return keys[starts], out


def _blocks(rows: Sequence[Any]) -> dict[int, Block]:
    """Rows (version, sp, channel, respondents, last, gram) → one Block per version."""
    by_version: dict[int, list[Any]] = {}
    for row in rows:
        by_version.setdefault(int(row[0]), []).append(row)
    out = {}
    for version, group in by_version.items():
        channel = np.empty(len(group), dtype=object)
        channel[:] = [r[2] for r in group]
        out[version] = Block(np.array([r[1] for r in group], dtype=np.int64), channel,
                             np.array([r[3] for r in group], dtype=np.int64),
                             np.array([r[4] or 0 for r in group], dtype=np.int64),
                             stored.triangles([bytes(r[5]) for r in group]))  # read-only, as a mapped one
    return out


def _merge(old: dict[int, Block], fresh: dict[int, Block]) -> dict[int, Block]:
    """`old` with the re-read cells replaced (or added); copies, never mutates `old`."""
    out = dict(old)
    for version, new in fresh.items():
        base = old.get(version)
        if base is None or len(base.sp) == 0:
            out[version] = new
            continue
        if base.tri.shape[1] != new.tri.shape[1]:  # the version's width cannot change: read it all again
            raise LookupError("moment cell width changed")
        index = {(int(s), c): i for i, (s, c) in enumerate(zip(base.sp, base.channel, strict=True))}
        at = np.array([index.get((int(s), c), -1) for s, c in zip(new.sp, new.channel, strict=True)], dtype=np.int64)
        known, added = at >= 0, at < 0
        sp, channel = base.sp, base.channel
        respondents, last, tri = base.respondents.copy(), base.last.copy(), base.tri.copy()
        respondents[at[known]] = new.respondents[known]
        last[at[known]] = new.last[known]
        tri[at[known]] = new.tri[known]
        if added.any():
            sp = np.concatenate([sp, new.sp[added]])
            channel = np.concatenate([channel, new.channel[added]])
            respondents = np.concatenate([respondents, new.respondents[added]])
            last = np.concatenate([last, new.last[added]])
            tri = np.concatenate([tri, new.tri[added]])
        block = Block(sp, channel, respondents, last, tri)
        if "points" in base.memo:
            block.memo["points"] = _points_after(base, new, at)
        out[version] = block
    return out


def _points_after(base: Block, new: Block, at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`base.by_point()` after the re-read cells `new` (at: their rows in base, −1 = new cell), by
    difference: exact integer arithmetic on the few service points that changed."""
    points, sums = base.by_point()
    row = {int(p): i for i, p in enumerate(points)}
    sums = sums.copy()
    extra_points: list[int] = []
    extra: list[np.ndarray] = []
    for i, sp in enumerate(new.sp.tolist()):
        delta = new.tri[i].astype(np.int64)
        if at[i] >= 0:
            delta = delta - base.tri[at[i]]
        j = row.get(sp)
        if j is None:
            row[sp] = len(points) + len(extra_points)
            extra_points.append(sp)
            extra.append(delta)
        elif j < len(points):
            sums[j] += delta
        else:
            extra[j - len(points)] += delta
    if extra_points:
        points = np.concatenate([points, np.array(extra_points, dtype=np.int64)])
        sums = np.vstack([sums, np.stack(extra)])
    return points, sums


def _total(blocks: dict[int, Block]) -> int:
    return int(sum(int(b.respondents.sum()) for b in blocks.values()))


def _columns() -> list[Any]:
    return [MT.c.questionnaire_version_id, MT.c.service_point_id, MT.c.channel, MT.c.respondents,
            MT.c.last_response_id, MT.c.gram]


def _budget() -> int:
    """HAILONG_MONTH_CELLS_MB (app config) or BUDGET: the month cells' memory bound per process."""
    try:
        from flask import current_app

        mb = current_app.config.get("HAILONG_MONTH_CELLS_MB")
    except RuntimeError:  # outside an app
        mb = None
    return int(mb) * 2**20 if mb else BUDGET


def held_bytes() -> int:
    """Bytes of the month cells kept now (for /metrics)."""
    with _lock:
        return sum(m.nbytes for m in _months.values())


def _store(key: tuple[Any, ...], cells: MonthCells) -> None:
    """Keep a month, within the budget (_evict)."""
    with _lock:
        _months[key] = cells
        _months.move_to_end(key)
        _evict(key)


def _evict(newest: tuple[Any, ...] | None = None) -> None:
    """Under the lock (held by the caller): over the budget, drop the OLDEST months first — new responses go
    to the current month, so that is the one worth refreshing (an old month that changes, e.g. by a paper
    import, is read again); among months of the same date the least recently used.  `newest` goes last, and
    goes too when it alone exceeds the budget."""
    total = sum(m.nbytes for m in _months.values())
    budget = _budget()
    while total > budget and _months:
        others = [k for k in _months if k != newest]
        victim = min(others, key=lambda k: k[2]) if others else next(iter(_months))
        total -= _months.pop(victim).nbytes


def month_cells(session: Session, versions: tuple[int, ...], counts: dict[date, int],
                months: list[date], *, remember: bool = True) -> dict[date, dict[int, Block]]:
    """The whole-city cells of `months` for questionnaire `versions`, per month → version → Block.

    counts: each month's respondents in `response_tally` for these versions (survey/results/totals.py:
    month_versions): a cached month whose cells add up to it is current.
    remember=False: the months are not kept for the rest of the request (a caller that takes one month at a
    time, survey/results/month_pass.py: a whole-country SIPAS month is ≈ 0.2–0.4 GB decoded); months within
    the process budget are still kept as usual.
    """
    url = str(session.get_bind().engine.url)
    enabled = results_cache_enabled()
    revision = tally_revision(session)  # before the cells: a removal committed after it is seen next time
    # within one request every consumer sees the same cells, read at most once (also when not kept)
    seen: dict[tuple[Any, ...], dict[int, Block]] = per_request(("month-cells",), dict)
    out: dict[date, dict[int, Block]] = {}
    full: list[date] = []
    absent: list[date] = []  # in no memory: maybe on disk (survey/results/month_files.py)
    for month in months:
        key = (url, versions, month)
        if key in seen:
            out[month] = seen[key]
            continue
        with _lock:
            hit = _months.get(key) if enabled else None
            if hit is not None:
                _months.move_to_end(key)
        if hit is None or hit.revision != revision:
            absent.append(month)
        elif hit.respondents == counts.get(month, 0):
            out[month] = hit.blocks
            STATS["month_cells", "hit"] += 1
        else:
            STATS["month_cells", "refresh"] += 1
            fresh = _refresh(session, versions, month, hit)
            if fresh is None:
                full.append(month)
            else:
                out[month] = fresh.blocks
                _store(key, fresh)
                files = _files(session)
                if files is not None:  # the current month: written again at most every REWRITE_AFTER s
                    month_files.save(*files, versions, month, fresh.revision, fresh.blocks,
                                     only_if_older=month_files.REWRITE_AFTER)
    files = _files(session) if enabled and absent else None
    if files is not None:
        folder, identity = files
        prints = month_files.fingerprints(session, versions, absent)
        for month in absent:
            blocks = month_files.load(folder, identity, versions, month, revision, prints.get(month))
            if blocks is None:
                full.append(month)
                STATS["month_cells", "miss"] += 1
            else:
                out[month] = blocks
                STATS["month_cells", "disk"] += 1
                _store((url, versions, month), MonthCells(_total(blocks), blocks, revision))
    else:
        full.extend(absent)
        STATS["month_cells", "miss"] += len(absent)
    for month in full:
        # one month per query: a whole-country SIPAS month is ≈ 400 MB of Gram bytes, so the undecoded rows
        # of twelve months at once (and their joined copy) were most of a national request's memory
        rows = session.execute(select(*_columns())  # by service point: Block.by_point needs no sort
                               .where(MT.c.questionnaire_version_id.in_(versions), MT.c.period == month)
                               .order_by(MT.c.service_point_id)).all()
        blocks = _blocks(rows)
        del rows
        out[month] = blocks
        if enabled:
            _store((url, versions, month), MonthCells(_total(blocks), blocks, revision))
            if files is None and month_files.directory() is not None:
                files = _files(session)
            if files is not None:
                month_files.save(*files, versions, month, revision, blocks)
    if remember:
        for month, blocks in out.items():
            seen[(url, versions, month)] = blocks
    return out


def _files(session: Session) -> tuple[Path, str] | None:
    """(folder, database identity) of the month files, or None when they are off (month_files.py)."""
    folder = month_files.directory()
    if folder is None:
        return None
    identity = per_request(("month-files-identity", str(session.get_bind().engine.url)),
                           lambda: month_files.database_identity(session))
    return None if identity is None else (folder, identity)


def _refresh(session: Session, versions: tuple[int, ...], month: date, hit: MonthCells) -> MonthCells | None:
    """The cached month with the cells changed since it was read; None when that cannot be proven complete."""
    rows = session.execute(select(*_columns()).where(MT.c.questionnaire_version_id.in_(versions),
                                                     MT.c.period == month,
                                                     MT.c.last_response_id > hit.last)).all()
    try:
        blocks = _merge(hit.blocks, _blocks(rows))
    except LookupError:
        return None
    # read AFTER the cells: a later count can only be higher, so equality proves nothing was missed
    count = session.execute(select(func.coalesce(func.sum(RT.c.count), 0))
                            .where(RT.c.questionnaire_version_id.in_(versions), RT.c.period == month)).scalar_one()
    total = _total(blocks)
    return MonthCells(total, blocks, hit.revision) if total == int(count) else None


@dataclass(frozen=True)
class Watermark:
    """What a consumer of one month's cells built its sums from (for `month_delta`): the highest
    `last_response_id` of the cells read, the month's respondents then (whole city, these versions), and each
    service point's respondents in the month (every channel)."""

    last: int
    count: int
    per_point: dict[int, int]

    @classmethod
    def of(cls, blocks: dict[int, Block]) -> Watermark:
        per_point: dict[int, int] = {}
        for block in blocks.values():
            for sp, n in zip(block.sp.tolist(), block.respondents.tolist(), strict=True):
                per_point[sp] = per_point.get(sp, 0) + n
        last = max((int(b.last.max()) for b in blocks.values() if len(b.last)), default=0)
        return cls(last, sum(per_point.values()), per_point)


@dataclass(frozen=True)
class MonthDelta:
    """Every cell (whole city, every channel) of the service points with a cell changed in a month since a
    watermark, and the watermark after them."""

    points: np.ndarray  # the changed service points, sorted
    blocks: dict[int, Block]
    after: Watermark


def month_delta(session: Session, versions: tuple[int, ...], month: date, since: Watermark) -> MonthDelta | None:
    """The cells of `month` that changed since `since` — all cells of their service points — or None when
    the change cannot be proven complete (then the caller reads the month in full).

    WHY: a live national request decoded the whole newest month (≈ 15–30 k SIPAS cells, 0.2–0.4 GB) for two
    new responses.  Proof as in `_refresh`: a stored response raises its cell's `last_response_id` and the
    month's `response_tally` count in one transaction; the respondents after the re-read (the watermark's per
    point, with the changed points' replaced) must equal the count read AFTER the cells — a response with a
    lower id committed later is missed only if the count then falls short of it.  A removal (quarantine)
    raises the tally revision, which callers key their sums on."""
    changed = (select(MT.c.service_point_id).where(MT.c.questionnaire_version_id.in_(versions), MT.c.period == month,
                                                   MT.c.last_response_id > since.last)
               .scalar_subquery())
    key = ("month-delta", str(session.get_bind().engine.url), versions, month, since.last)

    def read() -> dict[int, Block]:
        rows = session.execute(select(*_columns()).where(MT.c.questionnaire_version_id.in_(versions),
                                                         MT.c.period == month, MT.c.service_point_id.in_(changed))
                               .order_by(MT.c.service_point_id)).all()
        return _blocks(rows)

    blocks = per_request(key, read)  # several consumers of one request share the read
    after = Watermark.of(blocks)
    per_point = dict(since.per_point)
    for sp in {int(p) for b in blocks.values() for p in b.sp.tolist()}:
        per_point.pop(sp, None)
    per_point.update(after.per_point)
    total = sum(per_point.values())
    count = per_request((*key, "count"), lambda: int(session.execute(
        select(func.coalesce(func.sum(RT.c.count), 0))
        .where(RT.c.questionnaire_version_id.in_(versions), RT.c.period == month)).scalar_one()))
    if total != count:
        return None
    points = np.unique(np.concatenate([b.sp for b in blocks.values()])) if blocks else np.zeros(0, dtype=np.int64)
    return MonthDelta(points, blocks, Watermark(max(since.last, after.last), total, per_point))


def clear() -> None:
    with _lock:
        _months.clear()
    from survey.results import closed_months

    closed_months.clear()  # what was built from the months goes with them (cache.clear() clears both)
