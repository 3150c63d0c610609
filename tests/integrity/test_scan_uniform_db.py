"""The uniform and repeat signals fed from the database (SQLite and PostgreSQL): a counter official entering
"satisfied" (level 2 of 3, not the best) on every item of the kiosk questionnaire, or one fixed vector of mixed
levels, spread over the opening hours, is flagged; the flag's suspect responses — what a confirmation excludes —
are the day's one-level responses of that kiosk, or those with the day's most frequent vector, and confirming
excludes exactly them."""

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


def _stuffed_kiosk(db_session, seed: int, size: int, level: int | list[int]):
    """A kiosk at STP-SP1 with 40 working days of ~3 honest responses a day, then `size` responses at `level`
    spread over the last day's opening hours; tallies rebuilt.  (kiosk, questionnaire, days, stuffed ids)."""
    city = small_city(db_session)
    sp = city.service_points["STP-SP1"]
    counter = city.questionnaires["counter-quick"]
    kiosk = Kiosk(code=f"K-STP-{seed}", name="Quầy 1", service_point_id=sp.id)
    db_session.add(kiosk)
    db_session.flush()
    rng = np.random.default_rng(seed)
    days = workdays_before(TODAY, 40)
    for d in days:
        for _ in range(rng.poisson(3)):
            add_response(db_session, sp, counter, _office(d, rng), False, rng, kiosk=kiosk)
    stuffed = [add_response(db_session, sp, counter, _office(days[-1], rng), False, rng, kiosk=kiosk, level=level).id
               for _ in range(size)]
    finish(db_session)
    return kiosk, counter, days, stuffed


def test_one_level_answers_spread_over_the_day_are_flagged_and_confirmed_away(db_session) -> None:
    kiosk, counter, days, stuffed = _stuffed_kiosk(db_session, 21, 20, 2)
    target = days[-1]

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
    assert flag.signals == ["uniform", "repeat"], flag.signals  # no burst, no straight-lining, no jump, nothing else
    day_ids = set(frame.loc[frame["local"].dt.date == target, "response_id"])
    assert set(flag.response_ids) == expected & day_ids  # the day's one-level responses, no honest mixed one
    assert len(day_ids - set(flag.response_ids)) > 0
    [src] = flag.evidence["sources"]
    assert src["uniform"] == len(flag.response_ids) and src["straight"] == 0 and src["p_uniform"] < 1e-6
    assert src["top_vector"] >= 20 and src["p_repeat"] < 1e-6
    pattern = dict(flag.evidence["pattern"])
    assert pattern["one_other_level"] == len(flag.response_ids) and pattern["all_best"] == 0

    quarantine.confirm(db_session, flag.response_ids, "official entered them")
    status = dict(db_session.execute(select(Response.id, Response.review_status)
                                     .where(Response.id.in_(day_ids))).all())
    assert {rid for rid, s in status.items() if s == "excluded"} == set(flag.response_ids)
    assert all(status[rid] is None for rid in day_ids - set(flag.response_ids))


def _vectors(db_session, version) -> dict[int, tuple[int, ...]]:
    """Each response's scale answers in item order, read back from the answer rows (an independent recount)."""
    q, ids = questionnaire_for(db_session, version.id)
    order = {ids[it.code]: i for i, it in enumerate(q.items()) if it.type == "scale"}
    rows: dict[int, dict[int, int]] = defaultdict(dict)
    for rid, item, value in db_session.execute(select(Answer.response_id, Answer.item_id, Answer.value)):
        if item in order:
            rows[rid][order[item]] = value
    return {rid: tuple(v for _, v in sorted(r.items())) for rid, r in rows.items()}


def test_one_fixed_mixed_vector_is_flagged_as_repeated_and_only_its_responses_are_suspect(db_session) -> None:
    vector = [2, 2, 3, 2, 2, 2]
    kiosk, counter, days, stuffed = _stuffed_kiosk(db_session, 22, 15, vector)
    target = days[-1]

    vectors = _vectors(db_session, counter)
    assert {vectors[r] for r in stuffed} == {tuple(vector)}
    frame = response_frame(db_session, days[0], days[-1])
    # the database's vector key groups responses exactly as their answer rows do
    assert frame.groupby("vector")["response_id"].apply(lambda ids: len({vectors[i] for i in ids})).max() == 1
    assert frame["vector"].nunique() == len(set(vectors.values()))

    assert run_scan(db_session, days[-5:]) == 1
    flag = db_session.scalar(select(IntegrityFlag))
    assert flag.day == target and flag.kiosk_id == kiosk.id
    assert flag.signals == ["repeat"], flag.signals  # not uniform, not straight-lined
    day_ids = set(frame.loc[frame["local"].dt.date == target, "response_id"])
    assert set(flag.response_ids) == {r for r in day_ids if vectors[r] == tuple(vector)} >= set(stuffed)
    assert flag.evidence["sources"][0]["top_vector"] == len(flag.response_ids)
    quarantine.confirm(db_session, flag.response_ids, "one answer entered again and again")
    status = dict(db_session.execute(select(Response.id, Response.review_status)
                                     .where(Response.id.in_(day_ids))).all())
    assert {rid for rid, s in status.items() if s == "excluded"} == set(flag.response_ids)
