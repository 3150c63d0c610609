"""The rise signal fed from the database (SQLite and PostgreSQL): a counter official who enters 12 responses a day
on the kiosk for three weeks, every item "satisfied" or "very satisfied" drawn afresh (no one-level response, no
repeated vector), is flagged on most days by the rise signal; the scan reads the half-year reference that ends
8 weeks before each day; a flag's suspects are the day's responses with every answer satisfied, and confirming
excludes exactly them."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy import select

from analysis.integrity import RISE_BASELINE, RISE_GUARD
from survey.org.models import Kiosk
from survey.questionnaire_versions.service import questionnaire_for
from survey.respond import quarantine
from survey.respond.models import Answer, Response
from survey.results.integrity import run_scan
from survey.results.integrity_models import IntegrityFlag
from tests.factories import small_city
from tests.integrity.factories import TODAY, add_response, finish, workdays_before


def _office(day, rng: np.random.Generator) -> datetime:
    m = rng.uniform(0, 450)
    return datetime(day.year, day.month, day.day) + timedelta(minutes=float(450 + m if m < 240 else 570 + m))


def test_random_satisfied_answers_kept_up_for_weeks_are_flagged_by_rise(db_session) -> None:
    city = small_city(db_session)
    sp = city.service_points["STP-SP1"]
    counter = city.questionnaires["counter-quick"]
    kiosk = Kiosk(code="K-STP-RISE", name="Quầy 1", service_point_id=sp.id)
    db_session.add(kiosk)
    db_session.flush()
    q, ids = questionnaire_for(db_session, counter.id)
    scales = [it.scale for it in q.items() if it.type == "scale" and it.scale is not None]
    rng = np.random.default_rng(31)
    days = workdays_before(TODAY, 200)
    episode = days[-15:]
    stuffed: dict[object, set[int]] = defaultdict(set)
    for d in days:
        for _ in range(rng.poisson(2)):
            add_response(db_session, sp, counter, _office(d, rng), False, rng, kiosk=kiosk)
        if d in episode:
            for _ in range(12):
                levels = [int(rng.choice(sorted(s.satisfied))) for s in scales]
                stuffed[d].add(add_response(db_session, sp, counter, _office(d, rng), False, rng, kiosk=kiosk,
                                            level=levels).id)
    finish(db_session)

    assert run_scan(db_session, episode) >= 12
    flags = {f.day: f for f in db_session.scalars(select(IntegrityFlag))}
    assert set(flags) <= set(episode) and all("rise" in f.signals for f in flags.values())
    assert not any({"uniform", "straight", "burst", "hours"} & set(f.signals) for f in flags.values())

    # independent recount from the answer rows: responses with ≥ 3 scale answers, every one satisfied
    sat = {ids[it.code]: set(it.scale.satisfied) for it in q.items() if it.type == "scale" and it.scale is not None}
    answers: dict[int, list[bool]] = defaultdict(list)
    for rid, item, value in db_session.execute(select(Answer.response_id, Answer.item_id, Answer.value)):
        if item in sat and value > 0:
            answers[rid].append(value in sat[item])
    all_sat = {rid for rid, a in answers.items() if len(a) >= 3 and all(a)}
    day_of = {rid: (at.replace(tzinfo=None) + timedelta(hours=7)).date() for rid, at in
              db_session.execute(select(Response.id, Response.submitted_at))}
    day, flag = sorted(flags.items())[-1]
    day_ids = {r for r, d in day_of.items() if d == day}
    assert set(flag.response_ids) == all_sat & day_ids >= stuffed[day]
    [src] = flag.evidence["sources"]
    # the reference is the half year ending 8 weeks before the day (read although the scan covers 3 weeks)
    ref = {r for r, d in day_of.items()
           if day - timedelta(days=RISE_GUARD + RISE_BASELINE) < d <= day - timedelta(days=RISE_GUARD)}
    assert len(ref) > 150
    assert src["rise_share"] == len(ref & all_sat) / len(ref)
    assert src["allsat"] == len(flag.response_ids) and src["p_rise"] < 1e-3

    quarantine.confirm(db_session, flag.response_ids, "official entered them")
    status = dict(db_session.execute(select(Response.id, Response.review_status)
                                     .where(Response.id.in_(day_ids))).all())
    assert {rid for rid, s in status.items() if s == "excluded"} == set(flag.response_ids)
    assert all(status[rid] is None for rid in day_ids - set(flag.response_ids))
