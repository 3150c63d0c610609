"""moment_tally: every stored response adds its (satisfied, value, answered) outer product to its cell."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import select

from survey.respond import moments
from survey.respond.models import MomentTally
from survey.respond.store import Submission, rebuild_tallies, store_response
from tests.factories import small_city


def _cells(session):
    rows = session.execute(select(MomentTally.questionnaire_version_id, MomentTally.service_point_id,
                                  MomentTally.channel, MomentTally.respondents, MomentTally.gram)).all()
    return {(r[0], r[1], r[2]): (r[3], r[4]) for r in rows}


def test_maintained_moments_equal_a_hand_count_and_a_rebuild(db_session):
    city = small_city(db_session)
    qv = city.questionnaires["counter-quick"]
    sp1, sp2 = city.service_points["STP-SP1"].id, city.service_points["UBND-NK-SP1"].id
    answers = [(sp1, {"C.ATT": 3, "C.HANDLING": 2}), (sp1, {"C.ATT": 1, "C.HANDLING": 3}),
               (sp1, {"C.ATT": 3, "C.HANDLING": 1}), (sp2, {"C.ATT": 2, "C.HANDLING": 3})]
    for sp, a in answers:
        store_response(db_session, Submission(service_point_id=sp, questionnaire_version_id=qv.id, answers=a,
                                              channel="kiosk"))
    from survey.questionnaire_versions.service import questionnaire_for

    q, _ = questionnaire_for(db_session, qv.id)
    spec = q.index_spec()
    cells = _cells(db_session)
    assert cells[(qv.id, sp1, "kiosk")][0] == 3 and cells[(qv.id, sp2, "kiosk")][0] == 1
    p = moments.width(spec)
    g1 = moments.unpack(cells[(qv.id, sp1, "kiosk")][1], p)
    # by hand: u = (sat, value, answered) per scored item, item-major in the spec's order
    codes = list(spec.items)
    expect = np.zeros((p, p))
    for sp, a in answers:
        if sp != sp1:
            continue
        u = np.zeros(p)
        for i, code in enumerate(codes):
            v = a.get(code, 0)
            u[3 * i: 3 * i + 3] = (v in spec.items[code].satisfied, v, v > 0)
        expect += np.outer(u, u)
    np.testing.assert_array_equal(g1, expect)
    assert expect[codes.index("C.ATT") * 3 + 1, codes.index("C.ATT") * 3 + 1] == 9 + 1 + 9  # Σ value²
    rebuild_tallies(db_session)
    assert _cells(db_session) == cells


def test_pack_roundtrip_keeps_symmetric_integer_matrices():
    rng = np.random.default_rng(3)
    u = rng.integers(0, 6, size=(40, 9))
    g = (u.T @ u).astype(np.float64)
    np.testing.assert_array_equal(moments.unpack(moments.pack(g), 9), g)


def test_two_first_responses_of_a_new_cell_at_once_are_both_counted(db_session):
    """PostgreSQL: the second response of a new cell waits for the first (its count-table upsert) and reads the
    moment cell in the same statement, whose snapshot predates the first's commit: it must still add to the
    cell the first created, not fail on it or replace it."""
    import threading
    import time

    from sqlalchemy import text
    from sqlalchemy.orm import Session

    from tests.dashboard.publication_checks import tallies_equal_recount

    engine = db_session.get_bind()
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time")
    city = small_city(db_session)
    db_session.commit()
    qv, sp = city.questionnaires["counter-quick"], city.service_points["STP-SP1"].id

    def submission(level):
        return Submission(service_point_id=sp, questionnaire_version_id=qv.id, channel="kiosk",
                          answers={"C.ATT": level, "C.HANDLING": level})

    first, second = Session(bind=engine), Session(bind=engine)
    errors: list[BaseException] = []

    def store_second():
        try:
            store_response(second, submission(1))
        except BaseException as exc:  # reported below
            errors.append(exc)

    try:
        store_response(first, submission(3), commit=False)  # holds the new cell's rows until it commits
        thread = threading.Thread(target=store_second)
        thread.start()
        deadline = time.monotonic() + 20
        waiting = text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                       "AND wait_event_type = 'Lock'")
        while time.monotonic() < deadline and not db_session.scalar(waiting):
            db_session.rollback()  # pg_stat_activity is read once per transaction: look again in a new one
            time.sleep(0.05)
        first.commit()
        thread.join(timeout=30)
    finally:
        first.close()
        second.close()
    assert not errors
    db_session.rollback()
    assert _cells(db_session)[(qv.id, sp, "kiosk")][0] == 2
    tallies_equal_recount(db_session)
    cells = _cells(db_session)
    rebuild_tallies(db_session)
    assert _cells(db_session) == cells
