"""Feeds analysis.integrity and analysis.control from the database; keeps the integrity flags.

Why here: the statistics are pure (analysis/), pages must not read SQL themselves.  One row per
response comes from a GROUP BY over its answers (answered / best-level / satisfied counts; no
respondent data), for the scanned days and the history before them.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import BigInteger, and_, case, cast, func, or_, select
from sqlalchemy.orm import Session

from analysis.control import Point, pool_tree, pooled_drop_chart
from analysis.integrity import (
    READ_DAYS,
    UNIFORM_MIN_ITEMS,
    OpeningHours,
    ScanInput,
    arrival_profile,
    late_out_of_order,
    scan,
)
from survey.database import utcnow
from survey.i18n import LOCAL_TZ
from survey.org.models import Agency, ServicePoint, ServiceVolume, Unit
from survey.questionnaire_versions.service import questionnaire_for
from survey.respond.models import Answer, Response
from survey.results.integrity_models import CONFIRMED, DISMISSED, OPEN, IntegrityFlag

CHART_DAYS = 60  # working days drawn on the chart
BASELINE_DAYS = 250  # working days before them that set the in-control level (about a year)
LATE_WINDOW_DAYS = 31  # kiosks may deliver up to 31 days late


def _local_bounds(first: date, last: date) -> tuple[datetime, datetime]:
    lo = datetime(first.year, first.month, first.day, tzinfo=LOCAL_TZ).astimezone(UTC)
    hi = datetime(last.year, last.month, last.day, tzinfo=LOCAL_TZ) + timedelta(days=1)
    return lo, hi.astimezone(UTC)


def _item_levels(session: Session, version_ids: list[int]) -> tuple[dict[int, list[int]], dict[tuple[int, ...],
                                                                                            list[int]], list[int]]:
    """Scale items of the versions grouped by best level and by satisfied levels; all scale item ids."""
    by_top: dict[int, list[int]] = defaultdict(list)
    by_sat: dict[tuple[int, ...], list[int]] = defaultdict(list)
    scale_ids: list[int] = []
    for vid in version_ids:
        q, ids = questionnaire_for(session, vid)
        for it in q.items():
            if it.type != "scale" or it.scale is None or it.code not in ids:
                continue
            iid = ids[it.code]
            by_top[max(it.scale.values)].append(iid)
            by_sat[tuple(sorted(it.scale.satisfied))].append(iid)
            scale_ids.append(iid)
    return by_top, by_sat, scale_ids


def _item_weight(item_id: int) -> int:
    """A fixed pseudo-random weight in [1, 2^31) for an item (the answer-vector key of `response_frame`)."""
    digest = hashlib.blake2b(str(item_id).encode(), digest_size=4, person=b"hailong-vector").digest()
    return int.from_bytes(digest, "big") % (2**31 - 1) + 1


def response_frame(session: Session, first: date, last: date, agency_ids: list[int] | None = None,
                   counted_only: bool = False, version_ids: tuple[int, ...] | None = None) -> pd.DataFrame:
    """Responses submitted on local days first…last (of the questionnaire versions `version_ids`, None: any),
    one row each.

    The scan sees counted, held and late responses (late: received for a published period, awaiting a
    revision — a flood into a published month must be flagged too), not those already excluded after
    review; the early-warning chart (`counted_only`) sees what the figures count.
    """
    lo, hi = _local_bounds(first, last)
    scope = [Response.submitted_at >= lo, Response.submitted_at < hi,
             Response.review_status.is_(None) if counted_only
             else or_(Response.review_status.is_(None), Response.review_status.in_(("held", "late")))]
    if agency_ids is not None:
        scope.append(Response.agency_id.in_(agency_ids or [-1]))
    if version_ids is not None:
        scope.append(Response.questionnaire_version_id.in_(version_ids or (-1,)))
    found = list(session.scalars(select(Response.questionnaire_version_id).where(*scope).distinct()))
    cols = ["response_id", "service_point", "agency_id", "version", "source", "local", "received",
            "after_publication", "answered", "top", "sat", "uniform", "vector"]
    if not found:
        return pd.DataFrame(columns=cols)
    by_top, by_sat, scale_ids = _item_levels(session, found)
    zero = 0
    answered = case((and_(Answer.item_id.in_(scale_ids or [-1]), Answer.value > 0), 1), else_=zero)
    top = case(*[(and_(Answer.item_id.in_(ids), Answer.value == lvl), 1) for lvl, ids in by_top.items()],
               else_=zero) if by_top else None
    sat = case(*[(and_(Answer.item_id.in_(ids), Answer.value.in_(levels)), 1) for levels, ids in by_sat.items()],
               else_=zero) if by_sat else None
    given = case((and_(Answer.item_id.in_(scale_ids or [-1]), Answer.value > 0), Answer.value), else_=None)
    # the answer vector as one number: Σ level × a random 31-bit weight per item (from a hash of its id; an
    # arithmetic weight such as id·A mod P lets vectors collide whose level differences cancel out)
    weight = case({iid: _item_weight(iid) for iid in scale_ids}, value=Answer.item_id, else_=0) if scale_ids else 0
    weighted = case((and_(Answer.item_id.in_(scale_ids or [-1]), Answer.value > 0),
                     cast(Answer.value, BigInteger) * weight), else_=None)
    stmt = (select(Response.id, Response.service_point_id, Response.agency_id, Response.questionnaire_version_id,
                   Response.kiosk_id, Response.channel, Response.submitted_at, Response.received_at,
                   Response.review_status,
                   func.coalesce(func.sum(answered), 0),
                   func.coalesce(func.sum(top), 0) if top is not None else func.count(None),
                   func.coalesce(func.sum(sat), 0) if sat is not None else func.count(None),
                   func.min(given), func.max(given), func.sum(weighted))
            .outerjoin(Answer, Answer.response_id == Response.id).where(*scope)
            .group_by(Response.id, Response.service_point_id, Response.agency_id,
                      Response.questionnaire_version_id, Response.kiosk_id, Response.channel, Response.submitted_at,
                      Response.received_at, Response.review_status))
    rows = session.execute(stmt).all()
    if not rows:
        return pd.DataFrame(columns=cols)
    frame = pd.DataFrame(rows, columns=["response_id", "service_point", "agency_id", "version", "kiosk_id", "channel",
                                        "submitted_at", "received_at", "review_status", "answered", "top", "sat",
                                        "lowest", "highest", "vector_sum"])
    frame["source"] = [f"kiosk:{int(k)}" if ch == "kiosk" and pd.notna(k) else str(ch)
                       for k, ch in zip(frame["kiosk_id"], frame["channel"], strict=True)]
    ts = pd.to_datetime(frame["submitted_at"], utc=True)
    frame["local"] = ts.dt.tz_convert(str(LOCAL_TZ)).dt.tz_localize(None)
    received = pd.to_datetime(frame["received_at"], utc=True)
    frame["received"] = received.dt.tz_convert(str(LOCAL_TZ)).dt.tz_localize(None)
    frame["after_publication"] = frame["review_status"] == "late"
    for c in ("answered", "top", "sat"):
        frame[c] = frame[c].astype(int)
    # every answered scale item at one same level (any level): the uniform signal
    frame["uniform"] = (frame["answered"] >= UNIFORM_MIN_ITEMS) & (frame["lowest"] == frame["highest"])
    frame["vector"] = [None if pd.isna(x) else f"{v}:{int(x)}" for v, x in zip(frame["version"], frame["vector_sum"],
                                                                                strict=True)]
    return frame[cols]


def scan_input(session: Session, first: date, last: date) -> ScanInput:
    """Service volumes of the months touched and every service point's opening hours."""
    months = {date(first.year, first.month, 1), date(last.year, last.month, 1)}
    vols: dict[tuple[object, date], int] = {(sp, period): int(n) for sp, period, n in session.execute(
        select(ServiceVolume.service_point_id, ServiceVolume.period, ServiceVolume.dossiers)
        .where(ServiceVolume.period.in_(sorted(months))))}
    hours: dict[object, OpeningHours] = {}
    for sp_id, text in session.execute(select(ServicePoint.id, ServicePoint.opening_hours)
                                       .where(ServicePoint.opening_hours.is_not(None))):
        try:
            hours[sp_id] = OpeningHours.parse(text)
        except ValueError:
            continue  # an unreadable setting falls back to office hours (the admin form validates it)
    return ScanInput(volumes=vols, hours=hours)


def set_opening_hours(session: Session, sp: ServicePoint, text: str | None) -> bool:
    """Store a service point's opening hours (empty: office hours), audited when they change.

    Raises ValueError for text `OpeningHours.parse` cannot read (forms and the CLI check first)."""
    from survey.audit import record

    OpeningHours.parse(text)
    value = " ".join((text or "").split()) or None  # any run of spaces (a pasted no-break space) → one ASCII space
    before = sp.opening_hours
    if value == before:
        return False
    sp.opening_hours = value
    record(session, "service_point.opening_hours", "service_point", sp.code, before={"opening_hours": before},
           after={"opening_hours": value})
    return True


def _suspects(day_rows: pd.DataFrame, cell: pd.Series, inp: ScanInput) -> list[int]:
    """The responses a confirmation would exclude: the flagged source's suspect responses that day."""
    part = day_rows[day_rows["source"] == cell["source"]]
    if cell["overrun"]:
        return sorted(int(i) for i in part["response_id"])
    minutes = (part["local"].dt.hour * 60 + part["local"].dt.minute + part["local"].dt.second / 60).to_numpy()
    keep = np.zeros(len(part), dtype=bool)
    signals = set(cell["signals"])
    if "burst" in signals:
        t = np.sort(minutes)
        w = float(cell["burst_window"])
        ends = np.searchsorted(t, t + w, side="left")
        i = int(np.argmax(ends - np.arange(len(t))))
        keep |= (minutes >= t[i]) & (minutes < t[i] + w)
    if signals & {"straight", "jump"}:
        keep |= ((part["answered"] >= 2) & (part["top"] == part["answered"])).to_numpy()
    if "uniform" in signals:
        keep |= part["uniform"].to_numpy(dtype=bool)
    if "repeat" in signals:  # the day's most frequent answer vector (of responses with ≥ 3 answered items)
        vectors = part["vector"].where(part["answered"] >= UNIFORM_MIN_ITEMS)
        if vectors.notna().any():
            keep |= (vectors == vectors.value_counts().index[0]).to_numpy()
    if "rise" in signals:  # every answered scale item (≥ 3) satisfied
        keep |= ((part["answered"] >= UNIFORM_MIN_ITEMS) & (part["sat"] == part["answered"])).to_numpy()
    if "late" in signals:
        keep |= part["late_suspect"].to_numpy(dtype=bool)
    if "hours" in signals:
        hours = inp.hours.get(cell["service_point"], OpeningHours())
        keep |= np.array([not hours.is_open(ts.to_pydatetime()) for ts in part["local"]], dtype=bool)
    return sorted(int(i) for i in part.loc[keep, "response_id"])


def run_scan(session: Session, days: list[date], now: datetime | None = None) -> int:
    """Scan `days`, store a flag for each flagged cell (open flags are refreshed, decided ones kept)."""
    if not days:
        return 0
    now = now or utcnow()
    first, last = min(days), max(days)
    # responses submitted up to 31 days later too: a late one is out of order when its source delivered a
    # later-submitted one first (the days scanned are still only `days`)
    # history: READ_DAYS (the rise signal's reference ends 8 weeks before the day and covers half a year)
    frame = response_frame(session, first - timedelta(days=READ_DAYS), last + timedelta(days=LATE_WINDOW_DAYS))
    if frame.empty:
        return 0
    inp = scan_input(session, first, last)
    frame["late_suspect"] = late_out_of_order(frame)
    result = scan(frame, days, inp)
    flagged = result[result["flagged"]]
    count = 0
    frame_days = frame["local"].dt.date
    for _, cell in flagged.iterrows():
        sp, day = int(cell["service_point"]), cell["day"]
        day_rows = frame[(frame["service_point"] == sp) & (frame_days == day)]
        part = day_rows[day_rows["source"] == cell["source"]]
        minutes = (part["local"].dt.hour * 60 + part["local"].dt.minute).tolist()
        evidence = {
            "sources": [{k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in s.items()}
                        for s in cell["sources"]],
            "arrivals": arrival_profile(minutes),
            "pattern": _pattern(part),
            "month_responses": int(cell["month_responses"]),
            "month_dossiers": None if cell["month_dossiers"] is None else int(cell["month_dossiers"]),
            "delays": _delays(part),
        }
        flag = session.scalar(select(IntegrityFlag).where(IntegrityFlag.service_point_id == sp,
                                                          IntegrityFlag.day == day))
        if flag is not None and flag.status != OPEN:
            continue
        if flag is None:
            flag = IntegrityFlag(service_point_id=sp, day=day, created_at=now, status=OPEN)
            session.add(flag)
        src = str(cell["source"])
        flag.source = src
        flag.kiosk_id = int(src.split(":", 1)[1]) if src.startswith("kiosk:") else None
        flag.score = float(cell["score"])
        flag.signals = list(cell["signals"])
        flag.evidence = evidence
        flag.response_ids = _suspects(day_rows, cell, inp)
        flag.responses = int(cell["n"])
        count += 1
    session.flush()
    return count


def _delays(part: pd.DataFrame) -> dict[str, int]:
    """How long the source's responses of the day took from submission to reception (the late evidence)."""
    hours = (part["received"] - part["local"]).dt.total_seconds().to_numpy() / 3600.0
    return {"within_hour": int((hours < 1).sum()), "within_day": int(((hours >= 1) & (hours < 24)).sum()),
            "later": int((hours >= 24).sum()), "out_of_order": int(part["late_suspect"].sum()),
            "after_publication": int(part["after_publication"].sum())}


def _pattern(part: pd.DataFrame) -> list[tuple[str, int]]:
    """How the day's responses of the source answered: all best level / all at one other level / mostly best /
    other."""
    all_best = (part["answered"] >= 2) & (part["top"] == part["answered"])
    straight = int(all_best.sum())
    one_level = part["uniform"].astype(bool) & ~all_best
    share = part["top"] / part["answered"].where(part["answered"] > 0, 1)
    mostly = int(((share >= 0.5) & ~all_best & ~one_level).sum())
    same = int(one_level.sum())
    return [("all_best", straight), ("one_other_level", same), ("mostly_best", mostly),
            ("other", len(part) - straight - same - mostly)]


def flags(session: Session, status: str | None = None, limit: int = 200) -> list[IntegrityFlag]:
    """Flags newest day first (then highest score)."""
    stmt = select(IntegrityFlag).order_by(IntegrityFlag.day.desc(), IntegrityFlag.score.desc()).limit(limit)
    if status:
        stmt = stmt.where(IntegrityFlag.status == status)
    return list(session.scalars(stmt))


# ---------------------------------------------------------------------------------------- early warning
def _working_days(last: date, count: int) -> list[date]:
    out: list[date] = []
    d = last
    while len(out) < count:
        if d.weekday() < 5:
            out.append(d)
        d -= timedelta(days=1)
    return out[::-1]


def daily_scores(session: Session, first: date, last: date, agency_ids: list[int] | None = None,
                 version_ids: tuple[int, ...] | list[int] | None = None, *, by_version: bool = False) -> pd.DataFrame:
    """Per agency × local day (× questionnaire version with `by_version`): responses, Σ score and Σ score²
    (score = the response's share satisfied), of the versions `version_ids` (None: every questionnaire)."""
    frame = response_frame(session, first, last, agency_ids, counted_only=True,
                           version_ids=None if version_ids is None else tuple(version_ids))
    frame = frame[frame["answered"] > 0]
    keys = ["version", "agency_id", "day"] if by_version else ["agency_id", "day"]
    if frame.empty:
        return pd.DataFrame(columns=[*keys, "n", "total", "sumsq"])
    score = frame["sat"] / frame["answered"]
    return (frame.assign(day=frame["local"].dt.date, s=score, s2=score**2)
            .groupby(keys).agg(n=("s", "size"), total=("s", "sum"), sumsq=("s2", "sum"))
            .reset_index())


def agency_charts(session: Session, today: date, agency_ids: list[int] | None = None, *, n_min: int,
                  version_ids: tuple[int, ...] | None = None) -> dict[int, dict[str, Any]]:
    """The early-warning chart of each agency over the last CHART_DAYS working days before `today`, its points
    pooling days to at least `n_min` responses (remembered by the results cache until the data change).

    A page passes its questionnaire (`version_ids`, its selection's): the chart then pools exactly the responses
    whose figures the page and its protection decide on.  Pooled over every questionnaire (None), a month's
    points minus the page's own month gave another questionnaire's month back — hidden on that questionnaire's
    page (tests/integrity/test_warning_questionnaires.py)."""
    from survey.results.cache import cached

    key = ("early-warning", today, None if agency_ids is None else tuple(sorted(agency_ids)), n_min,
           None if version_ids is None else tuple(sorted(version_ids)))
    return cached(session, key, lambda: _agency_charts(session, today, agency_ids, n_min, version_ids))


def _span(today: date) -> tuple[list[date], list[date], int, int]:
    """The calendar days a chart reads (from the first day of the month of its baseline's first working day to
    yesterday: points pool whole months from their first day), its CHART_DAYS working days, and the indices of
    the baseline's and the chart's first day."""
    work = _working_days(today - timedelta(days=1), CHART_DAYS + BASELINE_DAYS)
    first = work[0].replace(day=1)
    days = [first + timedelta(days=i) for i in range((today - first).days)]
    return days, work[BASELINE_DAYS:], (work[0] - first).days, (work[BASELINE_DAYS] - first).days


def _agency_charts(session: Session, today: date, agency_ids: list[int] | None, n_min: int,
                   version_ids: tuple[int, ...] | None) -> dict[int, dict[str, Any]]:
    days = _span(today)[0]
    return _charts(daily_scores(session, days[0], days[-1], agency_ids, version_ids), "agency_id", today, n_min)


def _charts(data: pd.DataFrame, key: str, today: date, n_min: int,
            pooled: dict[int, list[Point]] | None = None) -> dict[int, dict[str, Any]]:
    """One early-warning chart per `key` value of per-day scores (n, total, sumsq): points of pooled days
    (`analysis.control.pooled_drop_chart`) ending in the last CHART_DAYS working days, calibrated on the points
    of the BASELINE_DAYS before them; `pooled`: each group's points when pooled across the organisation tree (the
    units, `_tree_points`).  Only points of at least n_min responses leave this function: no day's figure does
    (docs/integrity.md, early warning)."""
    days, chart_days, base_start, chart_start = _span(today)
    out: dict[int, dict[str, Any]] = {}
    for group_id, part in data.groupby(key):
        assert isinstance(group_id, (int, np.integer))  # pandas-stubs types a group key as any scalar
        idx = part.set_index("day").reindex(days).fillna(0)
        res = pooled_drop_chart(days, idx["n"].to_numpy(), idx["total"].to_numpy(), idx["sumsq"].to_numpy(), n_min,
                                base_start, chart_start,
                                points=None if pooled is None else pooled.get(int(group_id), []))
        if res is None:
            if idx["n"].to_numpy()[base_start:chart_start].sum() >= 30:  # a year's history, but no month of n_min
                out[int(group_id)] = {"days": chart_days, "points": [], "counts": [], "statistic": [], "limit": None,
                                      "baseline": None, "n_min": n_min, "signalling": False, "first_signal": None,
                                      "signal_known": None}
            continue  # else too little history for a baseline
        points = [{"first": days[p.first], "last": days[p.last], "known": days[p.known], "n": int(n), "z": float(z)}
                  for p, n, z in zip(res.points, res.counts, res.statistic, strict=True)]
        first = points[res.first_signal] if res.first_signal is not None else None
        out[int(group_id)] = {
            "days": chart_days, "points": points, "counts": [p["n"] for p in points],
            "statistic": [p["z"] for p in points], "limit": res.limit, "baseline": res.baseline.mean,
            "sd": res.baseline.sd, "lam": res.lam, "days_per_point": res.days_per_point, "n_min": n_min,
            "signalling": res.signalling, "first_signal": first["last"] if first else None,
            "signal_known": first["known"] if first else None,
        }
    return out


def charted_until(chart: dict[str, Any], last_month: date) -> dict[str, Any]:
    """The chart without its points after `last_month` (a month start): the months the linked protection of
    published figures does not let the page show for the node (survey/dashboard/linked_figures.py `so_far`).
    Points tile their months, so a month's points would give its hidden figure back; earlier points' values do
    not depend on later ones, so only the signal is recomputed (from the points kept)."""
    keep = [p for p in chart["points"] if p["first"].replace(day=1) <= last_month]
    if len(keep) == len(chart["points"]) or chart["limit"] is None:
        return chart
    above = [p for p in keep if p["z"] > chart["limit"]]
    return {**chart, "points": keep, "counts": [p["n"] for p in keep], "statistic": [p["z"] for p in keep],
            "signalling": bool(keep) and keep[-1]["z"] > chart["limit"],
            "first_signal": above[0]["last"] if above else None, "signal_known": above[0]["known"] if above else None}


def _unit_links(session: Session, root: int | None = None) -> tuple[dict[int, int | None], list[tuple[int, int]]]:
    """(unit → parent, (agency, unit) for every unit above each agency): the units with an agency below them,
    within the subtree of `root` when given (its parent then None), retired ones included as in
    `survey.org.tree.unit_subtree`."""
    parents: dict[int, int | None] = {int(u): p for u, p in session.execute(select(Unit.id, Unit.parent_id))}
    rows = []
    for agency_id, unit_id in session.execute(select(Agency.id, Agency.unit_id)):
        chain: list[int] = []
        u: int | None = unit_id
        while u is not None and u not in chain:
            chain.append(u)
            if u == root:
                break
            u = parents.get(u)
        if root is not None:
            if root not in chain:
                continue
            chain = chain[:chain.index(root) + 1]
        rows += [(int(agency_id), c) for c in chain]
    used = {u for _a, u in rows}
    return {u: (None if u == root else parents.get(u)) for u in used}, rows


def _tree_points(session: Session, data: pd.DataFrame, today: date, n_min: int,
                 root: int | None = None) -> dict[int, list[Point]]:
    """Every unit's points (within the subtree of `root`, when given), pooled across the organisation tree by
    `analysis.control.pool_tree` from the per-agency day counts `data` (agency_id, day, n): no unit's chart
    beside an agency's or another unit's gives a group under n_min away (tests/integrity/
    test_warning_tree_reader.py).  A unit's points depend on its subtree only, so the Integrity page's list and
    the unit page read the same ones."""
    days = _span(today)[0]
    parents, links = _unit_links(session, root)
    agencies = sorted({a for a, _u in links})
    units = sorted(parents)
    at = {("u", u): i for i, u in enumerate(units)} | {("a", a): len(units) + i for i, a in enumerate(agencies)}
    charted = set(agencies)
    direct = {a: u for a, u in session.execute(select(Agency.id, Agency.unit_id)) if a in charted}
    parent = [at[("u", p)] if p is not None and ("u", p) in at else -1 for p in (parents[u] for u in units)]
    parent += [at[("u", direct[a])] for a in agencies]
    counts = np.zeros((len(parent), len(days)))
    if not data.empty and agencies:
        grid = (data.groupby(["agency_id", "day"])["n"].sum().unstack("day", fill_value=0)
                .reindex(index=agencies, columns=days, fill_value=0))
        counts[len(units):] = grid.to_numpy(dtype=float)
    points = pool_tree(days, counts, parent, n_min)
    return {u: points[at[("u", u)]] for u in units}


def _by_unit(session: Session, data: pd.DataFrame) -> pd.DataFrame:
    """Per-agency day scores summed per administrative unit (and questionnaire version, when `data` has them):
    every unit counts the agencies of its subtree."""
    links = pd.DataFrame(_unit_links(session)[1], columns=["agency_id", "unit_id"])
    keys = (["version"] if "version" in data else []) + ["unit_id", "day"]
    if data.empty or links.empty:
        return pd.DataFrame(columns=[*keys, "n", "total", "sumsq"])
    return data.merge(links, on="agency_id").groupby(keys)[["n", "total", "sumsq"]].sum().reset_index()


def unit_chart(session: Session, today: date, unit_id: int, *, n_min: int,
               version_ids: tuple[int, ...] | None = None) -> dict[str, Any] | None:
    """The early-warning chart of one administrative unit (the Home Affairs unit page): the agencies of its
    subtree together, the same day sums and calibration as the Integrity page's list (`city_signals`), read for
    that subtree only, of the page's questionnaire (`version_ids`, as `agency_charts`; remembered by the
    results cache until the data change)."""
    from survey.results.cache import cached

    key = ("early-warning-unit", today, unit_id, n_min, None if version_ids is None else tuple(sorted(version_ids)))
    return cached(session, key, lambda: _unit_chart(session, today, unit_id, n_min, version_ids))


def _unit_chart(session: Session, today: date, unit_id: int, n_min: int,
                version_ids: tuple[int, ...] | None = None) -> dict[str, Any] | None:
    from survey.org.tree import unit_subtree

    agency_ids = list(session.scalars(select(Agency.id).where(Agency.unit_id.in_(unit_subtree(session, unit_id)))))
    if not agency_ids:
        return None
    days = _span(today)[0]
    data = daily_scores(session, days[0], days[-1], agency_ids, version_ids)
    summed = data.groupby("day")[["n", "total", "sumsq"]].sum().reset_index().assign(unit_id=unit_id)
    return _charts(summed, "unit_id", today, n_min, _tree_points(session, data, today, n_min, unit_id)).get(unit_id)


Charts = dict[int, dict[str, Any]]


#: which questionnaire version each node's page charts: (agency id → version, the units' version)
Charted = tuple[dict[int, int], int | None]


def _city_charts(session: Session, today: date, n_min: int,
                 charted: Charted | None = None) -> dict[int, tuple[Charts, Charts]]:
    """Every agency's and every unit's chart per questionnaire version (version → (agencies, units)), from one
    read of the year's responses: a page charts its own questionnaire's responses (`agency_charts`).  With
    `charted`, only the version each node's page charts (the others would be computed for nothing: a chart's
    calibration is most of the list's cost)."""
    days = _span(today)[0]
    data = daily_scores(session, days[0], days[-1], by_version=True)
    every = data  # a unit's points are pooled with all its agencies' of the version, charted or not
    units = _by_unit(session, data)
    if charted is not None:
        wanted = pd.DataFrame(list(charted[0].items()), columns=["agency_id", "version"])
        data = data.merge(wanted, on=["agency_id", "version"]) if len(wanted) else data.iloc[0:0]
        units = units[units["version"] == charted[1]]
    out: dict[int, tuple[Charts, Charts]] = {}
    for version in sorted(set(data["version"]) | set(units["version"])):
        mine = units[units["version"] == version].drop(columns="version")
        pooled = _tree_points(session, every[every["version"] == version], today, n_min) if len(mine) else {}
        out[int(version)] = (_charts(data[data["version"] == version].drop(columns="version"), "agency_id", today,
                                     n_min),
                             _charts(mine, "unit_id", today, n_min, pooled))
    return out


def _most_responses(by_version: dict[int, dict[str, Any]]) -> dict[str, Any] | None:
    return max(by_version.values(), key=lambda c: sum(c["counts"]), default=None)


def city_signals(session: Session, today: date, *, n_min: int,
                 shown: Callable[[str, Any, dict[int, dict[str, Any]]], dict[str, Any] | None] | None = None,
                 charted: Charted | None = None) -> list[dict[str, Any]]:
    """Agencies and administrative units (a unit: the agencies of its subtree together) whose early-warning
    chart signals now, newest signal first (remembered by the results cache until the data change).
    `shown(kind, agency or unit, charts by questionnaire version)`: the chart the node's default page draws —
    its questionnaire's, without the months the linked protection hides (survey/dashboard/integrity_views.py) —
    or None; the signal is decided on its points only, else the list would tell whether a hidden month (or
    another questionnaire's responses) signals.  Without `shown`: the chart of the version charting most
    responses, uncut.  `charted`: only those versions' charts are computed (`_city_charts`)."""
    from survey.results.cache import cached

    key = ("early-warning-city", today, n_min,
           None if charted is None else (tuple(sorted(charted[0].items())), charted[1]))
    per_version = cached(session, key, lambda: _city_charts(session, today, n_min, charted))
    nodes: dict[str, dict[int, dict[int, dict[str, Any]]]] = {"agency": defaultdict(dict), "unit": defaultdict(dict)}
    for version, (agencies, units) in per_version.items():
        for kind, charts in (("agency", agencies), ("unit", units)):
            for i, c in charts.items():
                nodes[kind][i][version] = c
    rows: list[dict[str, Any]] = []
    named: dict[str, dict[int, Any]] = {
        "agency": {a.id: a for a in session.scalars(select(Agency).where(Agency.id.in_(list(nodes["agency"]) or [-1])))
                   },
        "unit": {u.id: u for u in session.scalars(select(Unit).where(Unit.id.in_(list(nodes["unit"]) or [-1])))}}
    for kind in ("agency", "unit"):
        for i, by_version in nodes[kind].items():
            if i not in named[kind]:
                continue
            node = named[kind][i]
            drawn = shown(kind, node, by_version) if shown is not None else _most_responses(by_version)
            if drawn is not None and drawn["signalling"]:
                rows.append({"kind": kind, kind: node, **drawn})
    return sorted(rows, key=lambda r: r["first_signal"], reverse=True)


__all__ = ["CONFIRMED", "DISMISSED", "OPEN", "IntegrityFlag", "agency_charts", "charted_until", "city_signals",
           "daily_scores",
           "flags", "response_frame", "run_scan", "set_opening_hours", "unit_chart"]
