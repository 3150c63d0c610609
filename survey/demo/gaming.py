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
- real drops (for the control chart) are simulated in benchmarks/integrity_bench.py by lowering the
  probability of a satisfied answer.

Pure NumPy/pandas on the model's simulated arrays; `survey/demo/cli.py --inject-gaming` stores episodes
in a database, benchmarks/integrity_bench.py measures them in memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd

from survey.demo.model import INSTRUMENT_BY_CHANNEL, LOCAL_OFFSET, DemoModel, Simulated

PATTERNS = ("kiosk_burst", "poster_flood", "token_batch", "overrun")
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
    top_fraction: float  # share of items at the best level


def _item_levels(model: DemoModel, instrument: str) -> tuple[int, list[int]]:
    items = model.scored_items(instrument)
    return len(items), [max(it.scale.values) for it in items if it.scale is not None]


def frame_from_simulated(model: DemoModel, sim: Simulated) -> pd.DataFrame:
    """One row per simulated response in the shape `analysis.integrity` reads."""
    n = sim.n
    answered = np.zeros(n, dtype=np.int64)
    top = np.zeros(n, dtype=np.int64)
    sat = np.zeros(n, dtype=np.int64)
    for ch, k in INSTRUMENT_BY_CHANNEL.items():
        del ch
        rows = sim.rows.get(k)
        if rows is None or len(rows) == 0:
            continue
        vals = sim.values[k]
        items = model.scored_items(k)
        best = np.array([max(it.scale.values) for it in items])
        satisfied = np.zeros(vals.shape, dtype=bool)
        for j, it in enumerate(items):
            satisfied[:, j] = np.isin(vals[:, j], sorted(it.scale.satisfied))
        answered[rows] = (vals > 0).sum(axis=1)
        top[rows] = (vals == best[None, :]).sum(axis=1)
        sat[rows] = satisfied.sum(axis=1)
    sps = model.service_points
    codes = np.array([sp.code for sp in sps])[sim.sp]
    kiosks = np.array([sp.kiosk or "" for sp in sps])[sim.sp]
    source = np.where(sim.channel == "kiosk", np.char.add("kiosk:", kiosks.astype(str)), sim.channel)
    local = pd.to_datetime([t + LOCAL_OFFSET for t in sim.submitted_at]).tz_localize(None)
    return pd.DataFrame({"service_point": codes, "source": source, "local": local, "answered": answered,
                         "top": top, "sat": sat, "stuffed": False})


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
    if pattern == "kiosk_burst":
        if sp.kiosk is None:
            raise ValueError(f"{sp.code} has no kiosk")
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
    raise ValueError(f"unknown pattern {pattern!r}")


def episode_frame(model: DemoModel, episode: Episode, rng: np.random.Generator) -> pd.DataFrame:
    """The stuffed responses of `episode` as rows for `analysis.integrity`."""
    instrument = INSTRUMENT_BY_CHANNEL["kiosk" if episode.channel == "kiosk" else "qr"]
    n_items, _ = _item_levels(model, instrument)
    top = np.where(rng.random(episode.size) < episode.top_fraction, n_items,
                   np.maximum(n_items - rng.integers(1, 3, episode.size), 0))
    base = datetime(episode.day.year, episode.day.month, episode.day.day)
    local = [base + timedelta(minutes=m) for m in episode.minutes]
    source = f"kiosk:{episode.kiosk}" if episode.channel == "kiosk" else episode.channel
    return pd.DataFrame({"service_point": episode.service_point, "source": source, "local": pd.to_datetime(local),
                         "answered": n_items, "top": top, "sat": n_items, "stuffed": True})


def working_days(first: date, last: date) -> list[date]:
    out, d = [], first
    while d <= last:
        if d.weekday() < 5:
            out.append(d)
        d += timedelta(days=1)
    return out
