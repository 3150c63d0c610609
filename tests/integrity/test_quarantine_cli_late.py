"""`flask --app wsgi quarantine list --status late` (issue 16 §3): responses received after their period was
published are listed apart from held and excluded ones, and a release from the command line leaves them late."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from survey.respond import quarantine
from survey.respond.models import Response
from survey.respond.store import Submission, local_period, store_response
from survey.results import cache
from survey.results import publication as pub
from tests.dashboard.publication_checks import tallies_equal_recount
from tests.results.factories import city_with_responses


@pytest.fixture
def data(db_session):
    cache.clear()
    yield city_with_responses(db_session, per_point=4, months=2, comments=False)
    cache.clear()


def test_late_responses_are_listed_and_stay_late(runner, db_session, data):
    month = local_period(data.months[0])
    pub.publish(db_session, questionnaire_version_id=data.qv_id, label=f"{month:%Y-%m}", start=month, end=month,
                measure="OVERALL", build=lambda: {lang: ("<p></p>", b"", "<p></p>") for lang in ("vi", "en")},
                at=pub.cutoff(db_session), user_id=None, reason="")
    assert runner.invoke(args=["quarantine", "list", "--status", "late"]).output.strip() == "no late responses"
    sp = data.city.service_points["STP-SP1"]
    late = [store_response(db_session, Submission(
        service_point_id=sp.id, questionnaire_version_id=data.qv_id, answers={"C.ATT": 1, "C.HANDLING": 1},
        channel="kiosk", client_id=str(uuid.uuid4()), submitted_at=data.months[0] - timedelta(hours=h)))[0].id
        for h in (1, 2)]
    assert {db_session.get(Response, i).review_status for i in late} == {quarantine.LATE}

    listed = runner.invoke(args=["quarantine", "list", "--status", "late"])
    assert listed.exit_code == 0, listed.output
    assert "received after their period was published" in listed.output
    assert f"STP-SP1\t{month:%Y-%m}\t2\tids {min(late)}-{max(late)}" in listed.output
    assert runner.invoke(args=["quarantine", "list"]).output.strip() == "no held responses"  # not held

    done = runner.invoke(args=["quarantine", "release", *map(str, late), "--reason", "checked: citizens"])
    assert done.exit_code == 0 and "0 of 2" in done.output  # only a revision counts them
    db_session.expire_all()
    assert {db_session.get(Response, i).review_status for i in late} == {quarantine.LATE}
    tallies_equal_recount(db_session)
    refused = runner.invoke(args=["quarantine", "list", "--status", "counted"])
    assert refused.exit_code != 0 and "late" in refused.output  # the choices name late
