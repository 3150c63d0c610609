"""Test data for results and dashboards: the small city of tests/factories.py with more service points, and
responses stored through store_response (so the count tables are maintained exactly as in production).

`respondent_frame` reads the stored responses back as respondent rows in the exchange format (contracts §3)
plus the design columns, so tests can compute the same figures with analysis' respondent-level path.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from survey.database import utcnow
from survey.org.models import ServicePoint, ServiceVolume
from survey.questionnaire_versions.service import questionnaire_for
from survey.respond.models import Answer, Response
from survey.respond.store import Submission, local_period, store_response
from survey.results.tree import placements
from tests.db_snapshots import built_once
from tests.factories import City, city_from_ids, city_ids, small_city

#: extra service points: (agency code, suffix) — gives strata of several clusters
EXTRA_POINTS = [("UBND-NK", "SP2"), ("UBND-BT", "SP2"), ("UBND-BT", "SP3"), ("STP", "SP2")]
CHANNELS = ("kiosk", "qr", "web", "paper")


#: a "now" for tests whose data must span two quarters: the factory's months (18 May, 17 Apr, 17 Mar 2025)
#: fall in 2025-Q2 and 2025-Q1 whatever today's date is.
TWO_QUARTERS_NOW = datetime(2025, 5, 20, 3, 0, tzinfo=UTC)

#: "now" for `city_with_responses` when the test set no clock: its responses are dated back from the app's clock,
#: and which quarter is in progress decides what the linked disclosure rule shows (survey/results/protection.py
#: current_quarter), so the suite's result must not depend on the day it runs
DEFAULT_NOW = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)


def fix_clock(app: Any, moment: datetime = TWO_QUARTERS_NOW) -> None:
    """Give the app (stored times, periods, what is complete) and this factory one injected "now"."""
    app.config["HAILONG_CLOCK"] = lambda: moment


@contextmanager
def clock_at(app: Any, moment: datetime = DEFAULT_NOW) -> Iterator[datetime]:
    """`fix_clock` for a while, then the app's clock as it was (a live server shared by modules that submit
    with the browser's real clock)."""
    saved = app.config.get("HAILONG_CLOCK")
    fix_clock(app, moment)
    try:
        yield moment
    finally:
        app.config["HAILONG_CLOCK"] = saved


@dataclass
class Data:
    city: City
    qv_id: int
    months: list[datetime]


def city_with_responses(session: Session, *, per_point: int = 45, seed: int = 7, instrument: str = "counter-quick",
                        months: int = 3, comments: bool = True) -> Data:
    """small_city + extra service points; `per_point` responses per service point spread over `months` months
    (older months through the paper channel, which may be back-dated), varying satisfaction per agency.

    Dated back from the app's clock; a test that set none gets DEFAULT_NOW for the rest of the test (set
    before the snapshot key is read, so copies are keyed by it).  Built once per test process, database state
    and clock, then copied (tests/db_snapshots.py)."""
    _default_clock()
    key = ("city_with_responses", per_point, seed, instrument, months, comments)
    return built_once(
        session, key, lambda: _build(session, per_point=per_point, seed=seed, instrument=instrument, months=months,
                                     comments=comments),
        lambda data: (city_ids(data.city), data.qv_id, tuple(data.months)),
        lambda s, ids: Data(city_from_ids(s, ids[0]), ids[1], list(ids[2])),
        span=timedelta(minutes=per_point))  # responses i minutes before each month's stamp


def _default_clock() -> None:
    """Set DEFAULT_NOW as the app's clock unless the test chose one (data and app must share one "now")."""
    from flask import current_app, has_app_context

    assert has_app_context(), "city_with_responses needs the app (its clock dates the responses)"
    if current_app.config.get("HAILONG_CLOCK") is None:
        current_app.config["HAILONG_CLOCK"] = lambda: DEFAULT_NOW


def _build(session: Session, *, per_point: int, seed: int, instrument: str, months: int, comments: bool) -> Data:
    city = small_city(session)
    for agency_code, suffix in EXTRA_POINTS:
        ag = city.agencies[agency_code]
        sp = ServicePoint(code=f"{agency_code}-{suffix}", name_vi=f"Điểm {agency_code} {suffix}",
                          name_en=f"Point {agency_code} {suffix}", agency_id=ag.id)
        session.add(sp)
        session.flush()
        city.service_points[sp.code] = sp
    session.commit()
    qv = city.questionnaires[instrument]
    q, _ = questionnaire_for(session, qv.id)
    rng = random.Random(seed)
    now = utcnow().replace(microsecond=0)
    stamps = [now - timedelta(days=2 + 31 * k) for k in range(months)]
    bias = {code: 0.45 + 0.12 * i for i, code in enumerate(sorted(city.agencies))}
    for sp_code, sp in sorted(city.service_points.items()):
        agency_code = next(a for a in city.agencies.values() if a.id == sp.agency_id).code
        for i in range(per_point):
            k = i % months
            answers: dict[str, object] = {}
            for item in q.items():
                if item.type == "scale":
                    if not item.required and rng.random() < 0.2:
                        continue
                    if item.offers_no_opinion and rng.random() < 0.08:
                        answers[item.code] = 0
                        continue
                    vals = item.values
                    good = rng.random() < bias[agency_code]
                    top = [v for v in vals if v in item.scale.satisfied]
                    bad = [v for v in vals if v not in item.scale.satisfied]
                    answers[item.code] = rng.choice(top if good or not bad else bad)
                elif item.type == "choice":
                    if item.multiple:
                        if rng.random() < 0.7:
                            answers[item.code] = rng.sample([o.value for o in item.options],
                                                            min(2, item.max_choices or 2))
                    else:
                        answers[item.code] = rng.choice([o.value for o in item.options])
                elif item.type == "text" and comments and rng.random() < 0.3:
                    answers[item.code] = f"Góp ý số {i} tại {sp_code}: cán bộ {'tốt' if i % 2 else 'chậm'}"
            channel = "paper" if k > 0 else CHANNELS[i % 3]
            store_response(session, Submission(
                service_point_id=sp.id, questionnaire_version_id=qv.id, answers=answers, channel=channel,
                client_id=str(uuid.UUID(int=rng.getrandbits(128))), submitted_at=stamps[k] - timedelta(minutes=i)),
                commit=False)
    session.commit()
    return Data(city, qv.id, stamps)


def add_volumes(session: Session, data: Data, seed: int = 3) -> None:
    """Service volumes for every service point × month with responses (varying, so weights matter)."""
    rng = random.Random(seed)
    for sp in data.city.service_points.values():
        for stamp in data.months:
            session.add(ServiceVolume(service_point_id=sp.id, period=local_period(stamp),
                                      dossiers=rng.randint(100, 2000)))
    session.commit()


def respondent_frame(session: Session, qv_id: int) -> pd.DataFrame:
    """One row per stored response: design columns, period labels and scored item values (NaN = unanswered or
    no opinion), read from the `response`/`answer` rows — the respondent-level path."""
    q, item_ids = questionnaire_for(session, qv_id)
    codes = {v: k for k, v in item_ids.items()}
    spec = q.index_spec()
    places = placements(session)
    resp = session.execute(select(Response.id, Response.service_point_id, Response.channel, Response.period)
                           .where(Response.questionnaire_version_id == qv_id)).all()
    ans = session.execute(select(Answer.response_id, Answer.item_id, Answer.value)
                          .join(Response, Response.id == Answer.response_id)
                          .where(Response.questionnaire_version_id == qv_id)).all()
    rows = {rid: {"rid": rid, "stratum": places[sp].stratum, "service_point": places[sp].service_point,
                  "agency": places[sp].agency, "district": places[sp].levels.get("district", ""),
                  "channel": ch, "month": f"{p.year}-{p.month:02d}",
                  "quarter": f"{p.year}-Q{(p.month - 1) // 3 + 1}", "period": p, "sp_id": sp}
            for rid, sp, ch, p in resp}
    for rid, iid, value in ans:
        code = codes[iid]
        if code in spec.items and value != 0:
            rows[rid][code] = float(value)
    frame = pd.DataFrame(list(rows.values()))
    for code in spec.items:
        if code not in frame:
            frame[code] = np.nan
    return frame


def reference_totals(frame: pd.DataFrame, spec, by: tuple[str, ...] = (), *, weights: str | None = None,
                     design: str | None = None):
    """analysis totals of respondent rows in the design the web app uses (survey/results/design.py): the
    independent path every page figure is checked against.  counters: service points are strata and the
    respondents the units (unit-level moments, so ranks draw from the normal law as the app's do);
    clusters: strata = units below the city, clusters = service points."""
    from analysis.totals import totals_from_responses
    from survey.results.design import DEFAULT_DESIGN

    if (design or DEFAULT_DESIGN) == "clusters":
        return totals_from_responses(frame, spec, by, weights=weights, strata="stratum", cluster="service_point")
    return totals_from_responses(frame, spec, by, weights=weights, strata="service_point", unit_level=True)
