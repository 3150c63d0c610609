"""Issue 11 §5: respondents cannot be re-identified from what staff see or what the server keeps —
comments redacted at store time, shown by day (month on a quiet day), moments to the second, private files."""

from __future__ import annotations

import csv
import io
import os
import stat
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from survey.respond.models import Comment, Response
from survey.respond.store import Submission, store_response
from tests.dashboard.hakit import login
from tests.factories import small_city

NOTICE_EN = ("Phone numbers, ID numbers and e-mail addresses are removed before your comment is stored. "
             "Please do not write your name.")
# 12 July 2022, 10:15:42.123456 in Vietnam (03:15 UTC): a fixed moment, no test depends on today
BUSY = datetime(2022, 7, 12, 3, 15, 42, 123456, tzinfo=UTC)
QUIET = datetime(2022, 7, 14, 2, 0, 7, 999999, tzinfo=UTC)


@pytest.fixture
def city(db_session):
    return small_city(db_session)


def _store(db_session, city, sp_code: str, at: datetime, comment: str | None = None) -> Response:
    answers: dict[str, object] = {"C.ATT": 2, "C.HANDLING": 3}
    if comment is not None:
        answers["COMMENT"] = comment
    response, _created = store_response(db_session, Submission(
        service_point_id=city.service_points[sp_code].id,
        questionnaire_version_id=city.questionnaires["counter-quick"].id, answers=answers, channel="paper",
        client_id=str(uuid.uuid4()), submitted_at=at))
    return response


def test_contact_and_id_numbers_are_redacted_before_storing(db_session, city):
    written = ("Gọi tôi 0901 234 567 hoặc +84 912.345.678, CCCD 092201001234, CMND 361234567, "
               "mail nguyen.van.a@gmail.com — phí 150.000.000 đồng, chờ 45 phút ngày 12/07/2022")
    response = _store(db_session, city, "STP-SP1", BUSY, written)
    stored = db_session.scalar(select(Comment.text).where(Comment.response_id == response.id))
    for secret in ("0901", "234 567", "912.345.678", "092201001234", "361234567", "gmail", "nguyen.van.a"):
        assert secret not in stored
    assert stored.count("[***]") == 5
    # ordinary numbers stay readable
    assert "150.000.000 đồng" in stored and "45 phút" in stored and "12/07/2022" in stored


def test_the_form_tells_the_citizen(client, db_session, city):
    city.service_points["STP-SP1"].link_instrument = "counter-quick"
    db_session.commit()
    client.get("/lang/en")
    html = client.get("/s/STP-SP1").get_data(as_text=True)
    assert NOTICE_EN in html
    from survey.respond.kiosk import ui_strings

    assert ui_strings()["comment_privacy"] == NOTICE_EN  # the kiosk shows the same sentence


def test_moments_are_stored_to_the_second(db_session, city):
    response = _store(db_session, city, "STP-SP1", BUSY, "ok")
    db_session.expire_all()
    again = db_session.get(Response, response.id)
    assert again.submitted_at == BUSY.replace(microsecond=0)
    assert again.received_at.microsecond == 0


def test_comments_show_the_day_or_the_month_never_the_minute(client, db_session, city):
    for i in range(5):  # a busy day at STP-SP1: five responses
        _store(db_session, city, "STP-SP1", BUSY + timedelta(minutes=i), "Rất tốt" if i == 0 else None)
    _store(db_session, city, "STP-SP1", QUIET, "Hơi chậm")  # the only response that day
    login(client, "admin")
    html = client.get("/dashboard/agency/STP/comments").get_data(as_text=True)
    meta = [line for line in html.splitlines() if "comment-meta" in line]
    assert len(meta) == 2
    assert "Tháng 07/2022" in meta[0] and "14/07/2022" not in meta[0]  # quiet day: month only
    assert "12/07/2022" in meta[1]  # busy day: the date
    assert "10:15" not in html and "09:00" not in html  # never the minute
    rows = list(csv.reader(io.StringIO(client.get("/dashboard/agency/STP/comments?format=csv")
                                       .get_data(as_text=True).lstrip("\ufeff"))))
    assert [r[0] for r in rows[1:]] == ["Tháng 07/2022", "12/07/2022"]
    wb = load_workbook(io.BytesIO(client.get("/dashboard/agency/STP/comments?format=xlsx").data))
    assert [r[0] for r in wb.active.iter_rows(min_row=2, values_only=True)] == ["Tháng 07/2022", "12/07/2022"]


def test_upload_stash_and_downloads_are_private_under_the_instance_folder(app, tmp_path, monkeypatch):
    import survey.config
    from survey.admin.invitation_views import download_root
    from survey.uploads import load_stash, stash_upload

    monkeypatch.setattr(survey.config, "INSTANCE_DIR", tmp_path / "instance")
    app.config.pop("HAILONG_DOWNLOAD_DIR", None)
    old = os.umask(0o022)  # the usual umask: world-readable unless we say otherwise
    try:
        with app.test_request_context():
            token = stash_upload(b"response_id,submitted_at\n")
            root = download_root()
    finally:
        os.umask(old)
    stash = tmp_path / "instance" / "downloads" / "hailong-admin-uploads"
    assert stat.S_IMODE(stash.stat().st_mode) == 0o700
    assert stat.S_IMODE((stash / token).stat().st_mode) == 0o600
    assert stat.S_IMODE(stash.parent.stat().st_mode) == 0o700
    assert root.parent == stash.parent and stat.S_IMODE(root.stat().st_mode) == 0o700
    with app.test_request_context():
        assert load_stash(token) == b"response_id,submitted_at\n"
    # HAILONG_DOWNLOAD_DIR still wins
    app.config["HAILONG_DOWNLOAD_DIR"] = str(tmp_path / "shared")
    with app.test_request_context():
        stash_upload(b"x")
    assert stat.S_IMODE((tmp_path / "shared" / "hailong-admin-uploads").stat().st_mode) == 0o700
