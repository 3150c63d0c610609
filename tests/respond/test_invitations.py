"""Invitation batches: random single-use tokens, only their hashes stored, audited, and printable sheets."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from survey.audit.models import AuditEvent
from survey.database import utcnow
from survey.extensions import db
from survey.respond import invitations as inv
from survey.respond.models import Invitation, InvitationBatch
from tests.factories import small_city


@pytest.fixture
def city(db_session):
    return small_city(db_session)


def test_batch_stores_only_hashes_of_random_tokens_and_is_audited(city):
    sp = city.service_points["STP-SP1"]
    created = inv.create_batch(db.session, sp, 50, 14)
    db.session.commit()
    tokens = created.tokens
    assert len(tokens) == len(set(tokens)) == 50
    for token in tokens:
        assert len(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))) * 8 >= 128
    stored = set(db.session.scalars(select(Invitation.token_hash).where(Invitation.batch_id == created.batch.id)))
    assert stored == {hashlib.sha256(t.encode()).hexdigest() for t in tokens}
    assert not any(t in h for t in tokens for h in stored)
    batch = db.session.get(InvitationBatch, created.batch.id)
    assert batch.size == 50 and batch.service_point_id == sp.id
    assert timedelta(days=14) - timedelta(minutes=1) < batch.expires_at - utcnow() <= timedelta(days=14)
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "invitations.create"))
    assert event.target_id == str(batch.id) and event.after["size"] == 50


def test_revoke_and_usage_counts(city):
    sp = city.service_points["STP-SP1"]
    first = inv.create_batch(db.session, sp, 4, 10)
    second = inv.create_batch(db.session, city.service_points["UBND-BT-SP1"], 2, 10)
    db.session.commit()
    used = db.session.scalars(select(Invitation).where(Invitation.batch_id == first.batch.id)).all()[:3]
    for invitation in used:
        assert inv.claim(db.session, invitation.id)
    assert inv.revoke_batch(db.session, second.batch) is True
    assert inv.revoke_batch(db.session, second.batch) is False
    db.session.commit()
    usage = {u.batch.id: u for u in inv.usage_counts(db.session)}
    assert (usage[first.batch.id].used, usage[first.batch.id].unused, usage[first.batch.id].status()) == (3, 1, "valid")
    assert (usage[second.batch.id].used, usage[second.batch.id].status()) == (0, "revoked")
    assert [u.batch.id for u in inv.usage_counts(db.session, sp.id)] == [first.batch.id]
    assert db.session.scalar(select(AuditEvent.target_id).where(AuditEvent.action == "invitations.revoke")) == \
        str(second.batch.id)
    assert inv.check_token(db.session, second.tokens[0]).status == inv.REVOKED


def test_token_states(city):
    created = inv.create_batch(db.session, city.service_points["STP-SP1"], 2, 1)
    db.session.commit()
    a, b = created.tokens
    assert inv.check_token(db.session, a).status == inv.VALID
    assert inv.check_token(db.session, a, now=created.batch.expires_at).status == inv.EXPIRED
    assert inv.check_token(db.session, "not-a-token").status == inv.UNKNOWN
    assert inv.check_token(db.session, "").status == inv.UNKNOWN
    assert inv.claim(db.session, inv.check_token(db.session, b).invitation.id)
    assert inv.check_token(db.session, b).status == inv.USED


@pytest.mark.parametrize(("count", "days"), [(0, 5), (5, 0), (inv.MAX_BATCH + 1, 5)])
def test_nonsense_batches_are_refused(city, count, days):
    with pytest.raises(ValueError):
        inv.create_batch(db.session, city.service_points["STP-SP1"], count, days)


def test_cli_writes_links_csv_and_printable_qr_sheets(app, runner, city, tmp_path):
    app.config["HAILONG_PUBLIC_URL"] = "https://khaosat.example.vn"
    result = runner.invoke(args=["invitations", "create", "--service-point", "STP-SP1", "--count", "14",
                                 "--expires", "30", "--output-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    batch = db.session.scalar(select(InvitationBatch))
    stem = f"invitations-STP-SP1-batch{batch.id}"
    with (tmp_path / f"{stem}.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 14
    tokens = [r["token"] for r in rows]
    assert len(set(tokens)) == 14
    assert all(r["link"] == f"https://khaosat.example.vn/r/{r['token']}" for r in rows)
    # only hashes in the database: no token appears in it, every token's hash does
    hashes = set(db.session.scalars(select(Invitation.token_hash)))
    assert hashes == {inv.hash_token(t) for t in tokens}
    # 12 cards a page → two A4 SVG pages, and one HTML holding both, with the service point's name
    pages = sorted(tmp_path.glob(f"{stem}-page*.svg"))
    assert len(pages) == 2
    first = pages[0].read_text(encoding="utf-8")
    assert first.count("<path d=") == 12 and "stroke-dasharray" in first
    assert " ".join(re.findall(r"<text[^>]*>([^<]*)</text>", first)).count("Bộ phận Một cửa Sở Tư pháp") == 12
    assert pages[1].read_text(encoding="utf-8").count("<path d=") == 2
    html = (tmp_path / f"{stem}.html").read_text(encoding="utf-8")
    assert html.count("<svg") == 2 and "@page{size:A4" in html
    assert "batch" in result.output and str(tmp_path) in result.output
    # the tokens work
    assert app.test_client().get(f"/r/{tokens[0]}").status_code == 200


def test_qr_codes_on_the_sheet_encode_the_links(app, runner, city, tmp_path):
    """Decode a sheet's first QR path back into modules and compare with segno's own matrix of the link."""
    import segno

    from survey.respond.link_qr import QUIET

    runner.invoke(args=["invitations", "create", "--service-point", "STP-SP1", "--count", "1", "--expires", "3",
                        "--output-dir", str(tmp_path)])
    with next(tmp_path.glob("*.csv")).open(encoding="utf-8") as fh:
        link = next(csv.DictReader(fh))["link"]
    svg = next(tmp_path.glob("*-page001.svg")).read_text(encoding="utf-8")
    path = re.search(r'<path d="([^"]+)"', svg).group(1)
    dark = set()
    for x, y, w in re.findall(r"M(\d+),(\d+)h(\d+)", path):
        dark.update((int(x) + i - QUIET, int(y) - QUIET) for i in range(int(w)))
    expected = {(x, y) for y, row in enumerate(segno.make(link, error="m").matrix) for x, v in enumerate(row) if v}
    assert dark == expected


def test_cli_refuses_unknown_service_point_and_lists_and_revokes(runner, city, tmp_path):
    bad = runner.invoke(args=["invitations", "create", "--service-point", "NOPE", "--count", "1", "--expires", "1",
                              "--output-dir", str(tmp_path)])
    assert bad.exit_code != 0 and "NOPE" in bad.output
    assert db.session.scalar(select(InvitationBatch)) is None
    runner.invoke(args=["invitations", "create", "--service-point", "STP-SP1", "--count", "3", "--expires", "7",
                        "--output-dir", str(tmp_path)])
    batch_id = db.session.scalar(select(InvitationBatch.id))
    listed = runner.invoke(args=["invitations", "list"])
    assert f"{batch_id}\tSTP-SP1\t0/3 answered\tvalid" in listed.output
    revoked = runner.invoke(args=["invitations", "revoke", str(batch_id)])
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    assert "revoked" in runner.invoke(args=["invitations", "list", "--service-point", "STP-SP1"]).output


def test_cli_poster(app, runner, city, tmp_path):
    result = runner.invoke(args=["invitations", "poster", "--service-point", "UBND-NK-SP1", "--output-dir",
                                 str(tmp_path)])
    assert result.exit_code == 0, result.output
    svg = (tmp_path / "poster-UBND-NK-SP1.svg").read_text(encoding="utf-8")
    words = " ".join(re.findall(r"<text[^>]*>([^<]*)</text>", svg))  # long names wrap over several lines
    assert city.service_points["UBND-NK-SP1"].name_vi in words
    assert f"{app.config['HAILONG_PUBLIC_URL']}/s/UBND-NK-SP1" in words


def test_tokens_survive_the_spreadsheet_safe_csv():
    """The CSV writer prefixes a cell starting with "-" with "'" (formula injection); a token must never
    start with "-", or the printed token would not be the stored one."""
    from survey.respond.invitations import new_token
    from survey.spreadsheets import csv_writer

    tokens = [new_token() for _ in range(5000)]  # ~78 would start with "-" if unconstrained
    assert not any(t.startswith("-") for t in tokens)
    buf = io.StringIO()
    w = csv_writer(buf)
    for t in tokens:
        w.writerow([t])
    assert buf.getvalue().split() == tokens
