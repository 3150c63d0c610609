"""The uniform signal fed from the database (SQLite and PostgreSQL): a counter official entering "satisfied"
(level 2 of 3, not the best) on every item of the kiosk questionnaire, spread over the opening hours, is
flagged; the flag's suspect responses — what a confirmation excludes — are the day's one-level responses of
that kiosk, and confirming excludes exactly them."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy import select

from survey.org.models import Kiosk
from survey.questionnaire_versions.service import questionnaire_for
from survey.respond import quarantine
from survey.respond.models import Answer, Response
from survey.results.integrity import response_frame, run_scan
from survey.results.integrity_models import IntegrityFlag
from tests.factories import small_city
from tests.integrity.factories import TODAY, add_response, finish, workdays_before


def _office(day, rng: np.random.Generator) -> datetime:
    m = rng.uniform(0, 450)
    return datetime(day.year, day.month, day.day) + timedelta(minutes=float(450 + m if m < 240 else 570 + m))


def test_one_level_answers_spread_over_the_day_are_flagged_and_confirmed_away(db_session) -> None:
    city = small_city(db_session)
    sp = city.service_points["STP-SP1"]
    counter = city.questionnaires["counter-quick"]
    kiosk = Kiosk(code="K-STP-UNI", name="Quầy 1", service_point_id=sp.id)
    db_session.add(kiosk)
    db_session.flush()
    rng = np.random.default_rng(21)
    days = workdays_before(TODAY, 40)
    for d in days:
        for _ in range(rng.poisson(3)):
            add_response(db_session, sp, counter, _office(d, rng), False, rng, kiosk=kiosk)
    target = days[-1]
    stuffed = [add_response(db_session, sp, counter, _office(target, rng), False, rng, kiosk=kiosk, level=2).id
               for _ in range(20)]
    finish(db_session)

    frame = response_frame(db_session, days[0], days[-1])
    # an independent recount of "every answered scale item at one level" from the answer rows
    q, ids = questionnaire_for(db_session, counter.id)
    scale_ids = {ids[it.code] for it in q.items() if it.type == "scale"}
    values: dict[int, list[int]] = defaultdict(list)
    for rid, item, value in db_session.execute(select(Answer.response_id, Answer.item_id, Answer.value)):
        if item in scale_ids and value > 0:
            values[rid].append(value)
    expected = {rid for rid, v in values.items() if len(v) >= 3 and len(set(v)) == 1}
    assert set(frame.loc[frame["uniform"], "response_id"]) == expected
    assert set(stuffed) <= expected and 0 < len(expected - set(stuffed)) < 20  # honest ones happen, rarely

    assert run_scan(db_session, days[-5:]) == 1
    flag = db_session.scalar(select(IntegrityFlag))
    assert flag.day == target and flag.source == f"kiosk:{kiosk.id}" and flag.kiosk_id == kiosk.id
    assert flag.signals == ["uniform"], flag.signals  # no burst, no straight-lining, no jump, nothing else
    day_ids = set(frame.loc[frame["local"].dt.date == target, "response_id"])
    assert set(flag.response_ids) == expected & day_ids  # the day's one-level responses, no honest mixed one
    assert len(day_ids - set(flag.response_ids)) > 0
    [src] = flag.evidence["sources"]
    assert src["uniform"] == len(flag.response_ids) and src["straight"] == 0 and src["p_uniform"] < 1e-6
    pattern = dict(flag.evidence["pattern"])
    assert pattern["one_other_level"] == len(flag.response_ids) and pattern["all_best"] == 0

    quarantine.confirm(db_session, flag.response_ids, "official entered them")
    status = dict(db_session.execute(select(Response.id, Response.review_status)
                                     .where(Response.id.in_(day_ids))).all())
    assert {rid for rid, s in status.items() if s == "excluded"} == set(flag.response_ids)
    assert all(status[rid] is None for rid in day_ids - set(flag.response_ids))
