"""The period report PDF is kept by content (survey/dashboard/report_pdf.py): asking again for the same
figures serves the stored file, while anything the report prints changing gives a new PDF, never a stale one."""

from __future__ import annotations

import io
import time

import pytest
from pypdf import PdfReader

from tests.dashboard.hakit import login, use_language
from tests.dashboard.helpers import counted_pdf_store
from tests.results.factories import city_with_responses


@pytest.fixture
def renders(app, db_session, tmp_path, monkeypatch):
    """Count PDF renders (layouts); the store lives in a temporary folder."""
    calls = counted_pdf_store(app, tmp_path, monkeypatch)
    city_with_responses(db_session, per_point=45, comments=False)
    return calls


def _first_page(data: bytes) -> str:
    return " ".join(PdfReader(io.BytesIO(data)).pages[0].extract_text().split())


def test_the_same_report_is_rendered_once_and_a_changed_one_again(app, client, renders, tmp_path):
    login(client, "noivu")
    use_language(client, "vi")
    first = client.get("/homeaffairs/report/report.pdf")
    second = client.get("/homeaffairs/report/report.pdf")
    assert first.status_code == second.status_code == 200
    assert second.data == first.data and len(renders) == 1
    assert len(list((tmp_path / "report-pdf").glob("*.pdf"))) == 1

    app.config["HAILONG_REPORT_ISSUER"] = "Sở Nội vụ tỉnh Thử Nghiệm"  # what the cover prints changes
    third = client.get("/homeaffairs/report/report.pdf")
    assert len(renders) == 2
    assert "Sở Nội vụ tỉnh Thử Nghiệm ban hành ngày 02/03/2026." in _first_page(third.data)
    use_language(client, "en")  # another language is another document
    assert "Issued by Sở Nội vụ tỉnh Thử Nghiệm" in _first_page(client.get("/homeaffairs/report/report.pdf").data)
    assert len(renders) == 3


def test_with_the_results_cache_off_every_request_renders(app, client, renders):
    app.config["HAILONG_RESULTS_CACHE"] = False
    login(client, "noivu")
    for _ in range(2):
        assert client.get("/homeaffairs/report/report.pdf").status_code == 200
    assert len(renders) == 2


def test_opening_the_report_page_prepares_its_pdf(app, client, renders, tmp_path):
    """Outside tests the page starts the PDF in the background; the download then renders nothing itself."""
    app.testing = False  # pre-rendering is off under TESTING (every test would start a render)
    login(client, "noivu")
    assert client.get("/homeaffairs/report/").status_code == 200
    for _ in range(600):
        if len(renders) == 1:
            break
        time.sleep(0.5)
    assert len(renders) == 1  # the background render has started (the download waits for it, or reads it)
    resp = client.get("/homeaffairs/report/report.pdf")
    assert resp.status_code == 200 and resp.data.startswith(b"%PDF")
    assert len(renders) == 1
    assert len(list((tmp_path / "report-pdf").glob("*.pdf"))) == 1
