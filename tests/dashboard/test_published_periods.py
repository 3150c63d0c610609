"""Published periods do not change silently (issue 16 §3): a late response leaves the published report (and the
live report) as it was, is counted separately, and enters the figures only with a revision that Home Affairs
issues with a reason.  tests/dashboard/test_publication_figures.py covers the pages and exports in detail."""

from __future__ import annotations

import io
import re
import uuid

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from survey.audit.models import AuditEvent
from survey.respond.store import Submission, local_period, store_response
from survey.results import cache
from survey.results.publication import PublishedPeriod
from tests.dashboard.hakit import login, use_language
from tests.dashboard.helpers import page_token
from tests.results.factories import city_with_responses


@pytest.fixture
def data(app, db_session):
    app.config.update(HAILONG_BOOTSTRAP_B=40)
    cache.clear()
    yield city_with_responses(db_session, per_point=20, comments=False)
    cache.clear()


def _quarter(stamp) -> str:
    p = local_period(stamp)
    return f"{p.year}-Q{(p.month - 1) // 3 + 1}"


def _summary(html: str) -> str:
    found = re.search(r'id="table-summary".*?</table>', html, re.S)
    assert found, "no summary table"
    return found.group(0)


def _pdf_text(resp) -> str:
    from pypdf import PdfReader

    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(resp.data)).pages)


def _flat_pdf(text: str) -> str:
    """PDF text without its page furniture ("Page n / N" lines move when a sentence is added) and line breaks."""
    return " ".join(re.sub(r"(?m)^.*Page \d+ / \d+$", " ", text).split())


def _publish(client, url_args: str, reason: str = ""):
    token = page_token(client, f"/homeaffairs/report/?{url_args}")
    return client.post(f"/homeaffairs/report/publish?{url_args}", data={"csrf_token": token, "reason": reason})


def _late_response(db_session, data, stamp):
    sp = data.city.service_points["STP-SP1"]
    store_response(db_session, Submission(service_point_id=sp.id, questionnaire_version_id=data.qv_id,
                                          answers={"C.ATT": 1, "C.HANDLING": 1}, channel="paper",
                                          client_id=str(uuid.uuid4()), submitted_at=stamp))


def test_a_published_report_stays_as_published_and_counts_late_responses_apart(client, db_session, data):
    stamp = data.months[1]
    args = f"period={_quarter(stamp)}"
    login(client, "noivu")
    use_language(client, "en")
    live_before = client.get(f"/homeaffairs/report/?{args}").get_data(as_text=True)
    assert "Publish this period" in live_before
    token = page_token(client, f"/homeaffairs/report/?{args}")
    assert client.post("/homeaffairs/report/publish", data={"csrf_token": token}).status_code == 400
    assert client.post(f"/homeaffairs/report/publish?{args}", data={}).status_code == 400  # no CSRF token
    assert _publish(client, args).status_code in (302, 303)
    published = client.get(f"/homeaffairs/report/?{args}").get_data(as_text=True)
    assert "Published report, revision 1" in published and "Data cut-off" in published
    assert _summary(published) == _summary(live_before)
    xlsx_published = client.get(f"/homeaffairs/report/report.xlsx?{args}").data
    pdf_published = _pdf_text(client.get(f"/homeaffairs/report/report.pdf?{args}"))
    assert "Published report, revision 1" in pdf_published
    event = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "period.publish")).one()
    assert event.after["period"] == _quarter(stamp) and event.after["revision"] == 1

    _late_response(db_session, data, stamp)  # a kiosk/paper response for the period, after publication
    after = client.get(f"/homeaffairs/report/?{args}").get_data(as_text=True)
    assert _summary(after) == _summary(published), "the published figures did not move"
    assert "1 responses received after publication" in after
    assert client.get(f"/homeaffairs/report/report.xlsx?{args}").data == xlsx_published
    # the PDF keeps the published document and now also counts the late response (as the page does)
    late = "1 responses received after publication are kept but in no figure (report, pages or exports); they " \
           "enter the figures only when Home Affairs issues a revision."
    pdf_after = _flat_pdf(_pdf_text(client.get(f"/homeaffairs/report/report.pdf?{args}")))
    assert late in pdf_after and late not in _flat_pdf(pdf_published)
    # the count says when it was taken (Vietnam time): the whole sentence is all that was added
    sentence = re.search(r"As of \d{2}:\d{2} on \d{2}/\d{2}/\d{4} \(Vietnam time\), " + re.escape(late), pdf_after)
    assert sentence, pdf_after
    assert _flat_pdf(pdf_after.replace(sentence.group(0), " ")) == _flat_pdf(pdf_published)
    compare = client.get(f"/homeaffairs/?level=agency&{args}").get_data(as_text=True)
    assert "was published (revision 1)" in compare
    assert "1 responses received after publication are kept but not in these figures" in compare
    agency_page = client.get("/dashboard/agency/STP").get_data(as_text=True)  # the late response's agency
    assert "was published (revision 1)" in agency_page
    assert "1 responses received after publication are kept but not in these figures" in agency_page
    other = client.get("/dashboard/agency/UBND-BT").get_data(as_text=True)
    assert "was published (revision 1)" in other and "received after publication are kept" not in other
    live = client.get(f"/homeaffairs/report/?{args}&live=1").get_data(as_text=True)
    assert _summary(live) == _summary(published), "the late response is in no figure before a revision"

    # a revision needs a reason; with one, the late response enters the report
    refused = _publish(client, args)
    assert refused.status_code in (302, 303)
    assert db_session.scalar(select(PublishedPeriod.revision).order_by(PublishedPeriod.revision.desc())) == 1
    _publish(client, args, reason="31 kiosk responses arrived late after a network outage")
    revised = client.get(f"/homeaffairs/report/?{args}").get_data(as_text=True)
    assert "revision 2" in revised and "network outage" in revised
    assert "received after publication are kept" not in revised
    assert "This revision counts 1 responses received after the previous publication" in revised
    assert _summary(revised) != _summary(published)
    assert _summary(revised) == _summary(client.get(f"/homeaffairs/report/?{args}&live=1").get_data(as_text=True))
    assert db_session.scalars(select(AuditEvent.action).where(AuditEvent.action == "period.revise")).all()
    wb = load_workbook(io.BytesIO(client.get(f"/homeaffairs/report/report.xlsx?{args}").data))
    assert wb.sheetnames  # the revision's own workbook


def test_only_home_affairs_publishes_and_managers_see_their_live_report(app, client, db_session, data):
    args = f"period={_quarter(data.months[1])}"
    login(client, "noivu")
    _publish(client, args)
    manager = app.test_client()
    login(manager, "ninhkieu")
    use_language(manager, "en")
    page = manager.get(f"/homeaffairs/report/?{args}").get_data(as_text=True)
    assert "Published report" in page  # told that the period is published …
    assert "Publish this period" not in page and "Issue a revision" not in page
    token = page_token(manager, f"/homeaffairs/report/?{args}")
    refused = manager.post(f"/homeaffairs/report/publish?{args}", data={"csrf_token": token, "reason": "x"})
    assert refused.status_code == 403
    assert db_session.scalar(select(PublishedPeriod.revision).order_by(PublishedPeriod.revision.desc())) == 1
