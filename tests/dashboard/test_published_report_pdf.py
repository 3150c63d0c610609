"""Publishing a period builds its report's PDF in both languages in the background (issue 12 §3), so the first
download of the published report is served from the PDF store (survey/dashboard/report_pdf.py) instead of
laying it out again."""

from __future__ import annotations

import io
import time

import pytest
from pypdf import PdfReader

from survey.respond.store import local_period
from survey.results import cache
from tests.dashboard.hakit import login, use_language
from tests.dashboard.helpers import counted_pdf_store, page_token
from tests.results.factories import city_with_responses


@pytest.fixture
def published(app, db_session, tmp_path, monkeypatch):
    """A city with responses, the PDF store in a temporary folder, PDF renders counted."""
    calls = counted_pdf_store(app, tmp_path, monkeypatch)  # before the data: it sets the clock
    cache.clear()
    data = city_with_responses(db_session, per_point=20, comments=False)
    p = local_period(data.months[1])
    yield f"period={p.year}-Q{(p.month - 1) // 3 + 1}", calls
    cache.clear()


def _publish(app, client, args: str, *, prerendering: bool) -> None:
    """Publish as Home Affairs; the page the form comes from is read under TESTING (it would pre-render the
    live report's PDF otherwise), the POST with pre-rendering as the test sets it."""
    token = page_token(client, f"/homeaffairs/report/?{args}")
    app.testing = not prerendering
    assert client.post(f"/homeaffairs/report/publish?{args}", data={"csrf_token": token}).status_code in (302, 303)


def _wait_for(calls: list[int], n: int) -> None:
    for _ in range(600):
        if len(calls) >= n:
            return
        time.sleep(0.5)


def _text(data: bytes) -> str:
    return " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages).split())


def test_publishing_prepares_the_published_pdf_in_both_languages(app, client, published, tmp_path):
    args, renders = published
    login(client, "noivu")
    use_language(client, "en")
    _publish(app, client, args, prerendering=True)  # pre-rendering is off under TESTING unless a test says so
    _wait_for(renders, 2)
    assert len(renders) == 2  # one per language, started by publishing alone
    for _ in range(600):  # the second render has started; wait until it is stored
        if len(list((tmp_path / "report-pdf").glob("*.pdf"))) == 2:
            break
        time.sleep(0.5)
    assert len(list((tmp_path / "report-pdf").glob("*.pdf"))) == 2
    english = client.get(f"/homeaffairs/report/report.pdf?{args}")
    use_language(client, "vi")
    vietnamese = client.get(f"/homeaffairs/report/report.pdf?{args}")
    assert english.status_code == vietnamese.status_code == 200
    assert "Published report, revision 1" in _text(english.data)
    assert "Báo cáo đã công bố, lần 1" in _text(vietnamese.data)
    assert len(renders) == 2  # both downloads were read from the store


@pytest.mark.parametrize("switch", ["testing", "HAILONG_PREWARM", "HAILONG_RESULTS_CACHE"])
def test_publishing_prepares_nothing_when_pre_rendering_is_off(app, client, published, tmp_path, switch):
    args, renders = published
    if switch != "testing":
        app.config[switch] = False
    login(client, "noivu")
    _publish(app, client, args, prerendering=switch != "testing")
    time.sleep(1)  # a background render would have started by now
    assert renders == []
    assert not (tmp_path / "report-pdf").exists() or not list((tmp_path / "report-pdf").glob("*.pdf"))
