"""The integrity scan fed from the database: flags stored with evidence; the early-warning chart."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
from sqlalchemy import select

from survey.results.integrity import agency_charts, city_signals, response_frame, run_scan
from survey.results.integrity_models import IntegrityFlag
from tests.factories import small_city
from tests.integrity.factories import TODAY, burst, finish, honest_days, workdays_before


def test_burst_is_stored_as_a_flag_with_its_suspect_responses(db_session) -> None:
    city = small_city(db_session)
    sp = city.service_points["STP-SP1"]
    other = city.service_points["UBND-NK-SP1"]
    sipas = city.questionnaires["sipas-2017"]
    rng = np.random.default_rng(1)
    days = workdays_before(TODAY, 40)
    honest_days(db_session, sp, sipas, days, 3, rng)
    honest_days(db_session, other, sipas, days, 3, rng)
    stuffed = burst(db_session, sp, sipas, days[-1], 20, rng)
    finish(db_session)

    frame = response_frame(db_session, days[0], days[-1])
    assert len(frame) > 200 and set(frame["source"]) == {"qr"}
    assert (frame["answered"] > 20).all()  # sipas scale items, counted by the GROUP BY

    assert run_scan(db_session, days[-5:]) == 1
    flag = db_session.scalar(select(IntegrityFlag))
    assert flag.service_point_id == sp.id and flag.day == days[-1] and flag.status == "open"
    assert "burst" in flag.signals
    assert set(stuffed) <= set(flag.response_ids)
    assert len(flag.response_ids) <= len(stuffed) + 3  # honest responses of the day mostly left alone
    assert sum(c for _, c in flag.evidence["arrivals"]) == flag.evidence["sources"][0]["n"]
    # a second scan refreshes, never duplicates
    assert run_scan(db_session, days[-5:]) == 1
    assert db_session.scalar(select(IntegrityFlag).where(IntegrityFlag.id != flag.id)) is None


def test_honest_database_raises_no_flag_and_no_chart_signal(db_session) -> None:
    city = small_city(db_session)
    sipas = city.questionnaires["sipas-2017"]
    rng = np.random.default_rng(2)
    days = workdays_before(TODAY, 200)
    sp = city.service_points["STP-SP1"]
    honest_days(db_session, sp, sipas, days, 2, rng)
    finish(db_session)
    assert run_scan(db_session, days[-30:]) == 0
    charts = agency_charts(db_session, TODAY, n_min=30)
    chart = charts[sp.agency_id]
    assert not chart["signalling"] and len(chart["days"]) == 60
    assert city_signals(db_session, TODAY, n_min=30) == []


def test_real_drop_makes_the_agency_chart_signal(db_session) -> None:
    city = small_city(db_session)
    sipas = city.questionnaires["sipas-2017"]
    rng = np.random.default_rng(3)
    days = workdays_before(TODAY, 180)
    sp = city.service_points["STP-SP1"]
    honest_days(db_session, sp, sipas, days[:150], 2, rng, p_sat=0.85)
    honest_days(db_session, sp, sipas, days[150:], 2, rng, p_sat=0.65)
    finish(db_session)
    chart = agency_charts(db_session, TODAY, n_min=30)[sp.agency_id]
    assert chart["signalling"]
    assert chart["first_signal"] >= days[150]
    signals = city_signals(db_session, TODAY, n_min=30)
    assert [s["agency"].code for s in signals if s["kind"] == "agency"] == ["STP"]
    # STP is a city department: the city's chart (all its agencies together) holds only STP's responses here
    assert [s["unit"].code for s in signals if s["kind"] == "unit"] == ["CT"]


def test_scan_command_flags_yesterdays_burst(app, runner, db_session) -> None:
    from datetime import UTC, datetime

    app.config["HAILONG_CLOCK"] = lambda: datetime(TODAY.year, TODAY.month, TODAY.day, 3, tzinfo=UTC)
    city = small_city(db_session)
    sp = city.service_points["STP-SP1"]
    sipas = city.questionnaires["sipas-2017"]
    rng = np.random.default_rng(9)
    days = workdays_before(TODAY, 25)
    honest_days(db_session, sp, sipas, days, 3, rng)
    burst(db_session, sp, sipas, days[-1], 20, rng)
    finish(db_session)
    result = runner.invoke(args=["integrity", "scan", "--days", "2"])
    assert result.exit_code == 0, result.output
    assert "1 flagged" in result.output
    bad = runner.invoke(args=["integrity", "scan", "--until", "yesterday"])
    assert bad.exit_code == 2 and "Traceback" not in bad.output


def test_hours_command_sets_and_checks_opening_hours(runner, db_session) -> None:
    from survey.org.models import ServicePoint

    small_city(db_session)
    ok = runner.invoke(args=["integrity", "hours", "STP-SP1", "Mon-Sat 07:00-11:30,13:00-20:00"])
    assert ok.exit_code == 0, ok.output
    db_session.expire_all()
    sp = db_session.scalar(select(ServicePoint).where(ServicePoint.code == "STP-SP1"))
    assert sp.opening_hours == "Mon-Sat 07:00-11:30,13:00-20:00"
    bad = runner.invoke(args=["integrity", "hours", "STP-SP1", "17:00-08:00"])
    assert bad.exit_code == 2 and "ends before it starts" in bad.output
    db_session.expire_all()
    assert db_session.scalar(select(ServicePoint.opening_hours).where(ServicePoint.code == "STP-SP1")) \
        == "Mon-Sat 07:00-11:30,13:00-20:00"
    assert runner.invoke(args=["integrity", "hours", "NOPE", ""]).exit_code == 2


def test_backdated_responses_are_flagged_with_their_reception_delays(db_session) -> None:
    """Responses received days after their claimed submission, while the same source had delivered later
    ones at once (no honest queue works so), raise the late signal; the flag lists them as suspects."""
    from tests.integrity.factories import add_response

    city = small_city(db_session)
    sp = city.service_points["STP-SP1"]
    sipas = city.questionnaires["sipas-2017"]
    rng = np.random.default_rng(5)
    days = workdays_before(TODAY, 40)
    honest_days(db_session, sp, sipas, days, 4, rng)
    target = days[-12]
    backdated = []
    for i in range(12):
        at = datetime(target.year, target.month, target.day, 9) + timedelta(minutes=7 * i)
        r = add_response(db_session, sp, sipas, at, False, rng)
        r.received_at = r.submitted_at + timedelta(days=14, hours=i)
        backdated.append(r.id)
    finish(db_session)

    assert run_scan(db_session, [target]) == 1
    flag = db_session.scalar(select(IntegrityFlag))
    assert "late" in flag.signals and set(backdated) <= set(flag.response_ids)
    assert flag.evidence["delays"]["later"] == 12 and flag.evidence["delays"]["out_of_order"] == 12
    assert flag.evidence["sources"][0]["late"] == 12
