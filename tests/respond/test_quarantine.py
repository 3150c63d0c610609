"""Quarantine: held/excluded responses leave every count table exactly, come back exactly, and are audited.

Each figure is checked three ways: the maintained count tables, a recomputation from answer rows
(`rebuild_tallies`) and, for cached pages, a computation from an empty cache.
"""

from __future__ import annotations

import uuid

import numpy as np
import pytest
from sqlalchemy import select

from survey.audit.models import AuditEvent
from survey.respond import quarantine
from survey.respond.models import AnswerTally, MomentTally, Response, ResponseTally
from survey.respond.quarantine import HELD
from survey.respond.store import Submission, local_period, rebuild_tallies, store_response
from survey.results import Selection, cache, compare_with_whole, indices
from survey.results.coverage import reviewed_count
from survey.results.distributions import response_count
from tests.results.factories import city_with_responses


@pytest.fixture
def data(db_session):
    cache.clear()
    yield city_with_responses(db_session, per_point=18, months=2, comments=False)
    cache.clear()


def _tables(session):
    rt = {tuple(r[:4]): r[4] for r in session.execute(select(
        ResponseTally.questionnaire_version_id, ResponseTally.service_point_id, ResponseTally.period,
        ResponseTally.channel, ResponseTally.count))}
    at = {tuple(r[:6]): r[6] for r in session.execute(select(
        AnswerTally.questionnaire_version_id, AnswerTally.service_point_id, AnswerTally.period,
        AnswerTally.channel, AnswerTally.item_id, AnswerTally.value, AnswerTally.count))}
    mt = {tuple(r[:4]): (r[4], bytes(r[5])) for r in session.execute(select(
        MomentTally.questionnaire_version_id, MomentTally.service_point_id, MomentTally.period,
        MomentTally.channel, MomentTally.respondents, MomentTally.gram))}
    return rt, at, mt


def _assert_equal_to_rebuild(session):
    maintained = _tables(session)
    rebuild_tallies(session)
    session.commit()
    assert _tables(session) == maintained


def _some_ids(session, data):
    """Every response of one cell (the cell disappears) plus a few scattered others."""
    sp = data.city.service_points["STP-SP1"].id
    rows = session.execute(select(Response.id, Response.service_point_id, Response.period, Response.channel)
                           .order_by(Response.id)).all()
    first = next(r for r in rows if r.service_point_id == sp)
    whole_cell = [r.id for r in rows if (r.service_point_id, r.period, r.channel)
                  == (first.service_point_id, first.period, first.channel)]
    others = [r.id for r in rows[::17] if r.id not in whole_cell]
    return whole_cell, others


def _figures(session, sel):
    by_agency = indices(session, sel, domain="agency").table
    by_month = indices(session, sel, domain="month").table
    by_channel = indices(session, sel, domain="channel").table
    unit = compare_with_whole(session, sel, unit_column="agency", unit_value="UBND-NK").table
    return by_agency, by_month, by_channel, unit


def _assert_same(a, b):
    for x, y in zip(a, b, strict=True):
        assert list(x["measure"]) == list(y["measure"])
        for col in ("estimate", "se", "n", "df"):
            if col in x:
                np.testing.assert_allclose(x[col].astype(float), y[col].astype(float), rtol=1e-12, atol=0,
                                           equal_nan=True, err_msg=col)


def _fresh(session, sel):
    cache.clear()
    return _figures(session, sel)


def test_hold_exclude_release_keep_the_count_tables_equal_to_a_recount(db_session, data):
    original = _tables(db_session)
    whole_cell, others = _some_ids(db_session, data)
    assert quarantine.hold(db_session, whole_cell + others, "poster flood") == len(whole_cell + others)
    held = _tables(db_session)
    assert held != original
    assert sum(held[0].values()) == sum(original[0].values()) - len(whole_cell + others)
    _assert_equal_to_rebuild(db_session)
    # held → excluded changes no count; excluded ones stay out
    assert quarantine.exclude(db_session, others, "confirmed after review") == len(others)
    assert _tables(db_session) == held
    _assert_equal_to_rebuild(db_session)
    # part released: back in exactly
    assert quarantine.release(db_session, whole_cell, "dismissed: a real queue that morning") == len(whole_cell)
    _assert_equal_to_rebuild(db_session)
    assert quarantine.release(db_session, others, "decision reversed") == len(others)
    assert _tables(db_session) == original


def test_figures_follow_quarantine_and_cached_pages_never_serve_stale_figures(db_session, data):
    sel = Selection.of(data.qv_id)
    before = _figures(db_session, sel)  # warms the results cache and the month cells
    n_before = response_count(db_session, sel)
    whole_cell, others = _some_ids(db_session, data)
    quarantine.hold(db_session, whole_cell + others, "burst at one counter")
    after = _figures(db_session, sel)
    assert response_count(db_session, sel) == n_before - len(whole_cell + others)
    n_col = before[0].set_index(["domain", "measure"])["n"]
    assert (after[0].set_index(["domain", "measure"])["n"] != n_col).any(), "figures lost the held responses"
    _assert_same(after, _fresh(db_session, sel))
    rebuild_tallies(db_session)
    db_session.commit()
    _assert_same(after, _fresh(db_session, sel))

    # a removal and an addition in the same month leave its count unchanged: still no stale figures
    _figures(db_session, sel)
    target = db_session.get(Response, others[0])
    quarantine.release(db_session, [others[0]], "reviewed: genuine", commit=False)
    quarantine.hold(db_session, [others[1]], "second look", commit=False)
    store_response(db_session, Submission(
        service_point_id=data.city.service_points["UBND-BT-SP2"].id, questionnaire_version_id=data.qv_id,
        answers={"C.ATT": 1, "C.HANDLING": 1}, channel="paper", client_id=str(uuid.uuid4()),
        submitted_at=data.months[0]))
    assert target.review_status is None
    _assert_same(_figures(db_session, sel), _fresh(db_session, sel))

    quarantine.release(db_session, whole_cell + others, "all reviewed")
    rebuild_tallies(db_session)
    db_session.commit()
    _assert_same(_figures(db_session, sel), _fresh(db_session, sel))


def test_month_cells_reread_after_a_removal_with_an_unchanged_count(db_session, data):
    """Hold one response and store another in the same month: the month's count is what the cache holds,
    yet its figures must be those of an empty cache."""
    sel = Selection.of(data.qv_id)
    _figures(db_session, sel)
    rows = db_session.execute(select(Response.id, Response.period).order_by(Response.id)).all()
    period = rows[0].period
    victim = next(r.id for r in rows if r.period == period)
    quarantine.hold(db_session, [victim], "test", commit=False)
    store_response(db_session, Submission(
        service_point_id=data.city.service_points["UBND-BT-SP3"].id, questionnaire_version_id=data.qv_id,
        answers={"C.ATT": 3, "C.HANDLING": 3}, channel="paper", client_id=str(uuid.uuid4()),
        submitted_at=next(m for m in data.months if local_period(m) == period)))
    cached = _figures(db_session, sel)
    _assert_same(cached, _fresh(db_session, sel))
    # exclude a counted response straight away (no hold first), then release it: same guarantee each time
    other = next(r.id for r in rows if r.period == period and r.id != victim)
    for decide in (quarantine.exclude, quarantine.release):
        _figures(db_session, sel)
        decide(db_session, [other], "review")
        _assert_same(_figures(db_session, sel), _fresh(db_session, sel))
    _assert_equal_to_rebuild(db_session)


def test_a_response_stored_held_is_kept_but_not_counted_until_released(db_session, data):
    sel = Selection.of(data.qv_id)
    n = response_count(db_session, sel)
    tables = _tables(db_session)
    sp = data.city.service_points["STP-SP1"]
    response, created = store_response(db_session, Submission(
        service_point_id=sp.id, questionnaire_version_id=data.qv_id, answers={"C.ATT": 3, "C.HANDLING": 3},
        channel="qr", hold=True, hold_reason="over the poster's hourly ceiling"))
    assert created and response.review_status == "held"
    assert _tables(db_session) == tables
    assert response_count(db_session, sel) == n
    assert reviewed_count(db_session, sel, HELD) == 1 and reviewed_count(db_session, sel) == 0
    _assert_equal_to_rebuild(db_session)
    quarantine.release(db_session, [response.id], "reviewed: a genuine citizen")
    assert response_count(db_session, sel) == n + 1
    _assert_equal_to_rebuild(db_session)


def test_decisions_are_audited_with_their_reason_and_need_one(db_session, data):
    whole_cell, _ = _some_ids(db_session, data)
    tables = _tables(db_session)
    with pytest.raises(quarantine.QuarantineError):
        quarantine.confirm(db_session, whole_cell, "   ")
    with pytest.raises(quarantine.QuarantineError):
        quarantine.hold(db_session, [max(whole_cell) + 10_000], "no such response")
    assert _tables(db_session) == tables
    quarantine.confirm(db_session, whole_cell, "staff answered in bulk at 17:02")
    quarantine.reverse(db_session, whole_cell, "wrong counter")
    quarantine.dismiss(db_session, whole_cell, "checked: genuine")
    events = db_session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    assert [e.action for e in events][-3:] == ["review.confirm", "review.reverse", "review.dismiss"]
    assert events[-3].after["reason"] == "staff answered in bulk at 17:02"
    assert events[-3].after["count"] == len(whole_cell) and events[-1].after["status"] == "counted"
    assert _tables(db_session) == tables
    # nothing deleted: the responses and their answers are still there
    assert db_session.scalar(select(Response.review_status).where(Response.id == whole_cell[0])) is None


def test_excluded_count_by_selection_agency_and_period(db_session, data):
    whole_cell, others = _some_ids(db_session, data)
    quarantine.exclude(db_session, whole_cell, "confirmed")
    quarantine.hold(db_session, others, "awaiting review")
    stp = data.city.agencies["STP"].id
    stp_sp = data.city.service_points["STP-SP1"].id
    assert reviewed_count(db_session, Selection.of(data.qv_id)) == len(whole_cell)
    assert quarantine.excluded_count(db_session, agency_ids=[stp]) == len(whole_cell)
    assert reviewed_count(db_session, Selection.of(data.qv_id, agency_ids=[
        data.city.agencies["UBND-BT"].id])) == 0
    period = db_session.get(Response, whole_cell[0]).period
    assert quarantine.excluded_count(db_session, period_from=period, period_to=period) == len(whole_cell)
    assert quarantine.excluded_count(db_session, service_point_ids=[stp_sp]) == len(whole_cell)
    assert quarantine.held_count(db_session) == len(others)
    assert reviewed_count(db_session, Selection.of(data.qv_id, visible_agency_ids=[])) == 0


def test_the_command_line_lists_and_decides_with_a_reason(runner, db_session, data):
    sp = data.city.service_points["STP-SP1"]
    response, _ = store_response(db_session, Submission(
        service_point_id=sp.id, questionnaire_version_id=data.qv_id, answers={"C.ATT": 3, "C.HANDLING": 3},
        channel="qr", hold=True, hold_reason="QR poster: over the ceiling"))
    tables = _tables(db_session)
    listed = runner.invoke(args=["quarantine", "list"])
    assert listed.exit_code == 0 and "STP-SP1" in listed.output and "over the ceiling" in listed.output
    refused = runner.invoke(args=["quarantine", "release", "--service-point", "STP-SP1", "--status", "held"])
    assert refused.exit_code != 0 and "--reason" in refused.output
    assert runner.invoke(args=["quarantine", "release", "999999999", "--reason", "x"]).exit_code != 0
    done = runner.invoke(args=["quarantine", "release", "--service-point", "STP-SP1", "--status", "held",
                               "--reason", "checked: a genuine citizen"])
    assert done.exit_code == 0 and "1 of 1" in done.output
    db_session.expire_all()
    assert db_session.get(Response, response.id).review_status is None
    assert sum(_tables(db_session)[0].values()) == sum(tables[0].values()) + 1
    _assert_equal_to_rebuild(db_session)
    event = db_session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert event.action == "response.release" and event.actor == "cli"
