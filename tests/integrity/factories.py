"""Responses for integrity tests: honest background plus stuffed episodes, inserted directly, tallies rebuilt."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import numpy as np
from sqlalchemy.orm import Session

from survey.i18n import LOCAL_TZ
from survey.questionnaire_versions.service import questionnaire_for
from survey.respond.models import Answer, Response
from survey.respond.store import local_period, rebuild_tallies

TODAY = date(2024, 6, 14)  # a Friday: the injected clock of these tests


def workdays_before(day: date, count: int) -> list[date]:
    out, d = [], day - timedelta(days=1)
    while len(out) < count:
        if d.weekday() < 5:
            out.append(d)
        d -= timedelta(days=1)
    return out[::-1]


def add_response(session: Session, sp, version, local: datetime, top_all: bool, rng: np.random.Generator,
                 p_sat: float = 0.85, *, kiosk=None, level: int | list[int] | None = None) -> Response:
    """One response (on `kiosk` if given, else by QR): every scale item at the best level (`top_all`), at
    `level` (one level, or one per scale item in order), or an honest citizen's answers item by item."""
    fixed = iter(level) if isinstance(level, list) else None
    q, ids = questionnaire_for(session, version.id)
    utc = local.replace(tzinfo=LOCAL_TZ).astimezone(UTC)
    r = Response(client_id=str(uuid.UUID(bytes=rng.bytes(16), version=4)), questionnaire_version_id=version.id,
                 agency_id=sp.agency_id, service_point_id=sp.id, channel="qr" if kiosk is None else "kiosk",
                 kiosk_id=None if kiosk is None else kiosk.id, language="vi", submitted_at=utc,
                 received_at=utc, period=local_period(utc))
    session.add(r)
    session.flush()
    for it in q.items():
        if it.type != "scale" or it.scale is None:
            continue
        levels = sorted(it.scale.values)
        if top_all:
            v = levels[-1]
        elif fixed is not None:
            v = next(fixed)
        elif level is not None:
            v = int(level)
        elif rng.random() < p_sat:
            v = int(rng.choice(sorted(it.scale.satisfied), p=[2 / 3, 1 / 3] if len(it.scale.satisfied) == 2 else None))
        else:
            v = int(rng.choice([x for x in levels if x not in it.scale.satisfied]))
        session.add(Answer(response_id=r.id, item_id=ids[it.code], value=v))
    return r


def honest_days(session: Session, sp, version, days: list[date], per_day: float, rng: np.random.Generator,
                p_sat: float = 0.85) -> None:
    for d in days:
        for _ in range(rng.poisson(per_day)):
            m = rng.uniform(0, 450)
            minute = 450 + m if m < 240 else 810 + (m - 240)
            add_response(session, sp, version, datetime(d.year, d.month, d.day) + timedelta(minutes=float(minute)),
                         False, rng, p_sat)


def burst(session: Session, sp, version, day: date, size: int, rng: np.random.Generator,
          start_minute: float = 600.0) -> list[int]:
    base = datetime(day.year, day.month, day.day)
    return [add_response(session, sp, version, base + timedelta(minutes=start_minute + 0.5 * i), True, rng).id
            for i in range(size)]


def finish(session: Session) -> None:
    rebuild_tallies(session)
    session.commit()


def drops_at(session: Session, city, dropped: dict[str, bool], seed: int, per_day: float = 2) -> None:
    """180 working days before TODAY of 2 responses a day at each service point of `dropped` (code → whether
    it drops): 85% satisfied, then 60% over the last 30 days where it drops; tallies rebuilt."""
    sipas = city.questionnaires["sipas-2017"]
    rng = np.random.default_rng(seed)
    days = workdays_before(TODAY, 180)
    for code, drop in dropped.items():
        sp = city.service_points[code]
        honest_days(session, sp, sipas, days[:150], per_day, rng, p_sat=0.85)
        honest_days(session, sp, sipas, days[150:], per_day, rng, p_sat=0.6 if drop else 0.85)
    finish(session)
