"""Invitation pages: create a batch, download its CSV / sheet / PDF right after creation (only from the
creating session, only while kept), list usage counts, revoke with confirmation."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from survey.respond import invitations as inv
from survey.respond.models import Invitation, InvitationBatch
from tests.admin.adminkit import as_admin, events, get, post_form, text
from tests.factories import small_city


@pytest.fixture
def download_dir(app, tmp_path: Path) -> Path:
    app.config["HAILONG_DOWNLOAD_DIR"] = str(tmp_path)
    return tmp_path / "hailong-invitation-files"


def fetch(client, url: str):
    """GET a download and close it (send_file streams an open file)."""
    resp = get(client, url)
    resp.get_data()
    resp.close()
    return resp


def create(client, count: int = 5, days: int = 30, sp: str = "STP-SP1"):
    return post_form(client, "/admin/invitations", {"service_point": sp, "count": str(count),
                                                    "expires_days": str(days)})


def test_create_batch_then_download_the_csv_with_working_tokens(client, db_session, download_dir):
    small_city(db_session)
    as_admin(client)
    resp = create(client, count=5)
    assert resp.status_code == 302
    batch = db_session.scalar(select(InvitationBatch))
    assert resp.headers["Location"].endswith(f"/admin/invitations/{batch.id}/created")
    page = text(get(client, f"/admin/invitations/{batch.id}/created"))
    assert "Download the files now." in page and "(CSV)" in page
    download = fetch(client, f"/admin/invitations/{batch.id}/download/csv")
    assert download.status_code == 200 and download.headers["Cache-Control"] == "no-store"
    rows = list(csv.DictReader(io.StringIO(download.get_data(as_text=True))))
    assert len(rows) == 5 and {r["service_point"] for r in rows} == {"STP-SP1"}
    for row in rows:
        assert row["link"].endswith("/r/" + row["token"])
        assert inv.check_token(db_session, row["token"]).status == inv.VALID
    stored = set(db_session.scalars(select(Invitation.token_hash)))
    assert stored == {inv.hash_token(r["token"]) for r in rows}
    sheet = fetch(client, f"/admin/invitations/{batch.id}/download/html")
    assert sheet.status_code == 200 and sheet.get_data(as_text=True).count("<svg") >= 1
    (event,) = events(db_session, "invitations.create")
    assert event.actor == "admin" and event.after["size"] == 5
    assert batch.created_by_id is not None


def test_pdf_sheet_for_a_small_batch(client, db_session, download_dir):
    small_city(db_session)
    as_admin(client)
    create(client, count=2)
    batch = db_session.scalar(select(InvitationBatch))
    pdf = fetch(client, f"/admin/invitations/{batch.id}/download/pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")


def test_files_only_for_the_creating_session_and_deleted_on_request(app, client, db_session, download_dir):
    small_city(db_session)
    as_admin(client)
    create(client, count=3)
    batch = db_session.scalar(select(InvitationBatch))
    other = as_admin(app.test_client())  # the same admin in another browser
    refused = get(other, f"/admin/invitations/{batch.id}/download/csv")
    assert refused.status_code == 302
    assert "no longer available" in text(get(other, "/admin/invitations"))
    assert any(download_dir.iterdir())
    post_form(client, f"/admin/invitations/{batch.id}/created", {},
              to=f"/admin/invitations/{batch.id}/discard")
    assert not any(download_dir.iterdir())
    assert get(client, f"/admin/invitations/{batch.id}/download/csv").status_code == 302


def test_files_older_than_an_hour_are_purged(client, db_session, download_dir):
    import os
    import time

    small_city(db_session)
    as_admin(client)
    create(client, count=1)
    (folder,) = download_dir.iterdir()
    neighbour = download_dir.parent / "not-ours"  # beside our directory: never touched
    neighbour.mkdir()
    old = time.time() - inv_keep() - 60
    os.utime(folder, (old, old))
    os.utime(neighbour, (old, old))
    get(client, "/admin/invitations")
    assert not folder.exists() and neighbour.exists()


def inv_keep() -> int:
    from survey.admin.invitation_views import KEEP_SECONDS

    return KEEP_SECONDS


def test_invalid_requests_create_nothing(client, db_session, download_dir):
    city = small_city(db_session)
    as_admin(client)
    for count, days, message in [("0", "30", "Between 1 and 10000."), ("abc", "30", "Not a valid integer value."),
                                 ("5", "400", "Between 1 and 366.")]:
        resp = post_form(client, "/admin/invitations", {"service_point": "STP-SP1", "count": count,
                                                        "expires_days": days})
        assert resp.status_code == 400 and message in text(resp), (count, days)
    city.service_points["STP-SP1"].link_instrument = "no-such-questionnaire"
    db_session.commit()
    resp = create(client)
    assert resp.status_code == 400 and "has no published version" in text(resp)
    assert db_session.scalar(select(InvitationBatch)) is None


def test_list_counts_used_unused_expired_and_revoke(client, db_session, download_dir):
    city = small_city(db_session)
    sp = city.service_points["STP-SP1"]
    live = inv.create_batch(db_session, sp, 4, 30)
    old = inv.create_batch(db_session, sp, 3, 1, now=inv.utcnow() - timedelta(days=5))
    inv.claim(db_session, db_session.scalar(select(Invitation.id).where(Invitation.batch_id == live.batch.id)))
    db_session.commit()
    as_admin(client)
    html = text(get(client, "/admin/invitations"))

    def cells(batch_id: int) -> list[str]:
        row = re.search(rf'<tr id="batch-{batch_id}"[^>]*>(.*?)</tr>', html, re.S).group(1)
        return re.findall(r'<td class="num">([^<]*)</td>', row)

    assert cells(live.batch.id) == ["4", "1", "3", "0", "0"]  # receipts, used, unused, expired, revoked
    assert cells(old.batch.id) == ["3", "0", "0", "3", "0"]
    url = f"/admin/invitations/{live.batch.id}/revoke"
    assert post_form(client, url, {}).status_code == 400
    assert post_form(client, url, {"confirm": "y"}).status_code == 302
    db_session.expire_all()
    assert db_session.get(InvitationBatch, live.batch.id).revoked_at is not None
    html = text(get(client, "/admin/invitations"))
    assert cells(live.batch.id) == ["4", "1", "0", "0", "3"]
    assert [e.action for e in events(db_session, "invitations.revoke")] == ["invitations.revoke"]


def test_files_that_cannot_be_written_leave_no_tokens_and_say_so(client, db_session, download_dir, monkeypatch):
    small_city(db_session)
    as_admin(client)

    def disk_full(*_args, **_kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("survey.admin.invitation_views.write_batch_files", disk_full)
    resp = create(client, count=3)
    assert resp.status_code == 400
    assert "The files could not be written; no tokens were created." in text(resp)
    db_session.expire_all()
    assert db_session.scalar(select(InvitationBatch)) is None and db_session.scalar(select(Invitation)) is None


def test_a_service_point_closed_meanwhile_is_refused_on_its_field(client, db_session, download_dir, monkeypatch):
    """The page checks the service point, then the batch is made: closed in between, nothing is stored."""
    from survey.admin import invitation_views
    from survey.org import service as svc

    city = small_city(db_session)
    as_admin(client)
    published = invitation_views.latest_published

    def closed_meanwhile(session, instrument):
        svc.retire_service_point(session, city.service_points["STP-SP1"], audit=False)
        return published(session, instrument)

    monkeypatch.setattr(invitation_views, "latest_published", closed_meanwhile)
    resp = create(client, count=3)
    assert resp.status_code == 400
    assert '<p class="field-error" role="alert">This service point is not active.</p>' in text(resp)
    db_session.expire_all()
    assert db_session.scalar(select(InvitationBatch)) is None
