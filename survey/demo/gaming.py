"""Documented stuffing patterns and real drops on top of the honest demo model (issue 16 §4).

Why: a detector is only as good as its measured detection and false-alarm rates, so the patterns people
are expected to use are written down here and injected into honest data:

- ``kiosk_burst``: an official taps the counter kiosk again and again between citizens — `size` responses
  every 20–45 s (the kiosk's minimum interval and a little), every item at the best level;
- ``poster_flood``: a relative fills the QR poster form `size` times within about 15 minutes (new
  browser each time), best level everywhere but now and then one level lower;
- ``token_batch``: staff answer a batch of `size` receipt tokens in a few minutes (QR/web channel), all
  best level;
- ``overrun``: `size` responses spread over the opening hours on a day (no burst), best level, at a
  service point whose month then has more responses than citizens served;
- ``moderate_spread``: a counter official enters `size` responses on the counter kiosk, spread over the
  opening hours (no burst), every item at the level just below the best (4 of 5, 2 of 3: not
  straight-lined, no jump of the best-level share), at a service point whose month stays below its entered
  volume (no overrun);
- real drops (for the control chart) are simulated in benchmarks/integrity_bench.py by lowering the
  probability of a satisfied answer.

Pure NumPy/pandas on the model's simulated arrays; `survey/demo/cli.py --inject-gaming` stores episodes
in a database, benchmarks/integrity_bench.py measures them in memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from analysis.integrity import UNIFORM_MIN_ITEMS
from questionnaires.model import Item, Scale
from survey.demo.model import INSTRUMENT_BY_CHANNEL, LOCAL_OFFSET, DemoModel, Simulated

PATTERNS = ("kiosk_burst", "poster_flood", "token_batch", "overrun", "moderate_spread")
KIOSK_PATTERNS = ("kiosk_burst", "moderate_spread")
OPEN_SPANS = ((7 * 60 + 30, 11 * 60 + 30), (13 * 60 + 30, 17 * 60))


@dataclass(frozen=True)
class Episode:
    """One injected episode: what, where, when and how many responses."""

    pattern: str
    service_point: str
    day: date
    size: int
    channel: str
    kiosk: str | None
    minutes: tuple[float, ...]  # local minute of day of each stuffed response
    top_fraction: float  # share of responses with every item at the best level
    below_best: bool = False  # every item of every response one level below the best (moderate_spread)


def _item_levels(model: DemoModel, instrument: str) -> tuple[int, list[int]]:
    items = model.scored_items(instrument)
    return len(items), [max(it.scale.values) for it in items if it.scale is not None]


def _scale_of(item: Item) -> Scale:
    """A scored scale item's scale (questionnaire validation guarantees one; the model types it optional)."""
    assert item.scale is not None, item.code
    return item.scale


def frame_from_simulated(model: DemoModel, sim: Simulated) -> pd.DataFrame:
    """One row per simulated response in the shape `analysis.integrity` reads."""
    n = sim.n
    answered = np.zeros(n, dtype=np.int64)
    top = np.zeros(n, dtype=np.int64)
    sat = np.zeros(n, dtype=np.int64)
    uniform = np.zeros(n, dtype=bool)
    vector = np.full(n, None, dtype=object)
    for ch, k in INSTRUMENT_BY_CHANNEL.items():
        del ch
        rows = sim.rows.get(k)
        if rows is None or len(rows) == 0:
            continue
        vals = sim.values[k]
        items = model.scored_items(k)
        scales = [_scale_of(it) for it in items]
        best = np.array([max(s.values) for s in scales])
        satisfied = np.zeros(vals.shape, dtype=bool)
        for j, s in enumerate(scales):
            satisfied[:, j] = np.isin(vals[:, j], sorted(s.satisfied))
        answered[rows] = (vals > 0).sum(axis=1)
        top[rows] = (vals == best[None, :]).sum(axis=1)
        sat[rows] = satisfied.sum(axis=1)
        given = vals > 0
        lo = np.where(given, vals, np.iinfo(vals.dtype).max).min(axis=1)
        hi = np.where(given, vals, 0).max(axis=1)
        uniform[rows] = (given.sum(axis=1) >= UNIFORM_MIN_ITEMS) & (lo == hi)
        vector[rows] = vector_keys(k, np.where(given, vals, 0))
    sps = model.service_points
    codes = np.array([sp.code for sp in sps])[sim.sp]
    kiosks = np.array([sp.kiosk or "" for sp in sps])[sim.sp]
    source = np.where(sim.channel == "kiosk", np.char.add("kiosk:", kiosks.astype(str)), sim.channel)
    local = pd.to_datetime([t + LOCAL_OFFSET for t in sim.submitted_at]).tz_localize(None)
    return pd.DataFrame({"service_point": codes, "source": source, "local": local, "answered": answered,
                         "top": top, "sat": sat, "uniform": uniform,
                         "vector": vector, "stuffed": False})


def vector_keys(instrument: str, values: np.ndarray) -> np.ndarray:
    """One key per response for its answer vector (`values`: [response, item], 0 where not answered)."""
    prefix = f"{instrument}:"
    return np.array([prefix + row.tobytes().hex() for row in np.ascontiguousarray(values, dtype=np.int16)],
                    dtype=object)


def _open_minute(rng: np.random.Generator, room: float = 0.0) -> float:
    """A random minute within opening hours leaving `room` minutes before the span closes."""
    spans = [(a, b - room) for a, b in OPEN_SPANS if b - room > a]
    lengths = np.array([b - a for a, b in spans])
    i = int(rng.choice(len(spans), p=lengths / lengths.sum()))
    return float(spans[i][0] + rng.random() * lengths[i])


def make_episode(pattern: str, model: DemoModel, sp_index: int, day: date, size: int,
                 rng: np.random.Generator) -> Episode:
    """Times and answer pattern of one episode (`day` should be a working day)."""
    sp = model.service_points[sp_index]
    if pattern in KIOSK_PATTERNS and sp.kiosk is None:
        raise ValueError(f"{sp.code} has no kiosk")
    if pattern == "kiosk_burst":
        gaps = rng.uniform(20, 45, size) / 60.0
        start = _open_minute(rng, float(gaps.sum()) + 1)
        minutes = start + np.cumsum(gaps)
        return Episode(pattern, sp.code, day, size, "kiosk", sp.kiosk, tuple(minutes.tolist()), 1.0)
    if pattern == "poster_flood":
        span = 15.0
        start = _open_minute(rng, span)
        minutes = np.sort(start + rng.random(size) * span)
        return Episode(pattern, sp.code, day, size, "qr", None, tuple(minutes.tolist()), 0.9)
    if pattern == "token_batch":
        span = 8.0
        start = _open_minute(rng, span)
        minutes = np.sort(start + rng.random(size) * span)
        return Episode(pattern, sp.code, day, size, "qr", None, tuple(minutes.tolist()), 1.0)
    if pattern == "overrun":
        minutes = np.sort([_open_minute(rng) for _ in range(size)])
        return Episode(pattern, sp.code, day, size, "qr", None, tuple(minutes), 1.0)
    if pattern == "moderate_spread":
        minutes = np.sort([_open_minute(rng) for _ in range(size)])
        return Episode(pattern, sp.code, day, size, "kiosk", sp.kiosk, tuple(minutes), 0.0, below_best=True)
    raise ValueError(f"unknown pattern {pattern!r}")


def episode_frame(model: DemoModel, episode: Episode, rng: np.random.Generator) -> pd.DataFrame:
    """The stuffed responses of `episode` as rows for `analysis.integrity`."""
    instrument = INSTRUMENT_BY_CHANNEL["kiosk" if episode.channel == "kiosk" else "qr"]
    n_items, best = _item_levels(model, instrument)
    top = np.where(rng.random(episode.size) < episode.top_fraction, n_items,
                   np.maximum(n_items - rng.integers(1, 3, episode.size), 0))
    if episode.below_best:
        top[:] = 0
    # the levels: best on `top` items (chosen at random), one level lower on the others
    lowered = rng.random((episode.size, n_items)).argsort(axis=1) >= top[:, None]
    values = (np.array(best)[None, :] - lowered).astype(np.int16)
    base = datetime(episode.day.year, episode.day.month, episode.day.day)
    local = [base + timedelta(minutes=m) for m in episode.minutes]
    source = f"kiosk:{episode.kiosk}" if episode.channel == "kiosk" else episode.channel
    return pd.DataFrame({"service_point": episode.service_point, "source": source, "local": pd.to_datetime(local),
                         "answered": n_items, "top": top, "sat": n_items,
                         "uniform": (n_items >= UNIFORM_MIN_ITEMS) & (episode.below_best | (top == n_items)),
                         "vector": vector_keys(instrument, values),
                         "stuffed": True})


def working_days(first: date, last: date) -> list[date]:
    out, d = [], first
    while d <= last:
        if d.weekday() < 5:
            out.append(d)
        d += timedelta(days=1)
    return out


# ---------------------------------------------------------------------------------------- into a database
def inject_into_database(session: Session, structure_name: str = "2022", seed: int = 2022, per_pattern: int = 2,
                         size: int = 20) -> list[Episode]:
    """Store `per_pattern` episodes of every pattern in the demo's last month (a loaded demo database).

    Stuffed responses are inserted like the demo's own (tallies rebuilt afterwards); for ``overrun`` the
    month's entered volume is lowered below what the month then holds.  Returns the episodes (also
    written to the audit log), so a person can check that the Integrity page lists them.
    """
    import uuid

    from sqlalchemy import func, insert, select

    from survey.audit import record
    from survey.database import table_of
    from survey.demo.cantho import structure as get_structure
    from survey.org.models import Kiosk, ServicePoint, ServiceVolume
    from survey.questionnaire_versions.service import latest_published, questionnaire_for
    from survey.respond.models import Answer, Response
    from survey.respond.store import rebuild_tallies

    st = get_structure(structure_name)
    model = DemoModel(st, seed)
    rng = np.random.default_rng([seed, 16])
    month = st.months[-1]
    nxt = date(month.year + (month.month == 12), month.month % 12 + 1, 1)
    days = working_days(month, nxt - timedelta(days=1))
    sps = {sp.code: sp for sp in session.scalars(select(ServicePoint))}
    kiosks = {k.code: k.id for k in session.scalars(select(Kiosk))}
    versions = {k: latest_published(session, k) for k in set(INSTRUMENT_BY_CHANNEL.values())}
    episodes: list[Episode] = []
    used: set[tuple[str, date]] = set()
    for pattern in PATTERNS:
        eligible = [i for i, sp in enumerate(model.service_points)
                    if (pattern not in KIOSK_PATTERNS or sp.kiosk) and sp.code in sps]
        for i in rng.choice(eligible, size=min(per_pattern, len(eligible)), replace=False).tolist():
            day = days[int(rng.integers(len(days)))]
            if (model.service_points[i].code, day) in used:
                continue
            used.add((model.service_points[i].code, day))
            episodes.append(make_episode(pattern, model, i, day, size, rng))
    for ep in episodes:
        instrument = INSTRUMENT_BY_CHANNEL["kiosk" if ep.channel == "kiosk" else "qr"]
        version = versions[instrument]
        assert version is not None, f"no published {instrument}: load the demo first"
        q, item_ids = questionnaire_for(session, version.id)
        scales = [(it.code, it.scale) for it in q.items() if it.type == "scale" and it.scale is not None]
        sp = sps[ep.service_point]
        rows = []
        for m in ep.minutes:
            local = datetime(ep.day.year, ep.day.month, ep.day.day) + timedelta(minutes=m)
            at = (local - LOCAL_OFFSET).replace(tzinfo=UTC)
            rows.append({"client_id": str(uuid.UUID(bytes=rng.bytes(16), version=4)),
                         "questionnaire_version_id": version.id, "agency_id": sp.agency_id,
                         "service_point_id": sp.id, "kiosk_id": kiosks.get(ep.kiosk) if ep.kiosk else None,
                         "invitation_id": None, "channel": ep.channel, "language": "vi", "submitted_at": at,
                         "received_at": at + timedelta(seconds=2), "period": date(ep.day.year, ep.day.month, 1)})
        table = table_of(Response)
        ids = [r[0] for r in session.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True),
                                             rows)]
        answers = []
        for rid in ids:
            best = rng.random() < ep.top_fraction
            for code, scale in scales:
                levels = sorted(scale.values)
                value = levels[-2] if ep.below_best else levels[-1] if best or rng.random() < 0.7 else levels[-2]
                answers.append({"response_id": rid, "item_id": item_ids[code], "value": value})
        session.execute(insert(table_of(Answer)), answers)
        if ep.pattern == "overrun":
            vol = session.scalar(select(ServiceVolume).where(ServiceVolume.service_point_id == sp.id,
                                                             ServiceVolume.period == month))
            lo = datetime(month.year, month.month, 1) - LOCAL_OFFSET
            hi = datetime(ep.day.year, ep.day.month, ep.day.day) + timedelta(days=1) - LOCAL_OFFSET
            honest = session.scalar(select(func.count()).select_from(Response).where(
                Response.service_point_id == sp.id, Response.submitted_at >= lo.replace(tzinfo=UTC),
                Response.submitted_at < hi.replace(tzinfo=UTC))) or 0
            if vol is None:
                session.add(ServiceVolume(service_point_id=sp.id, period=month, dossiers=max(honest - size // 2, 1)))
            else:
                vol.dossiers = max(int(honest) - size // 2, 1)
    rebuild_tallies(session)
    record(session, "demo.inject_gaming", "demo", f"cantho-{structure_name}",
           after={"episodes": [{"pattern": e.pattern, "service_point": e.service_point, "day": e.day.isoformat(),
                                "size": e.size} for e in episodes]})
    return episodes
