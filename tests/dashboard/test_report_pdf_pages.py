"""The period report PDF is an office document: issuing body and date on the cover, the issuer and period at
the top of every page and "Page n / N" at the bottom, and a file name naming questionnaire and period."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from pypdf import PdfReader

from tests.dashboard.hakit import login, use_language
from tests.results.factories import city_with_responses


@pytest.fixture
def data(app, db_session):
    app.config.update(HAILONG_BOOTSTRAP_B=40, HAILONG_CLOCK=lambda: datetime(2026, 3, 2, 3, 0, tzinfo=UTC))
    return city_with_responses(db_session, per_point=45, comments=False)


@pytest.mark.parametrize(("lang", "issued", "page"), [
    ("vi", "Sở Nội vụ Thành phố Cần Thơ ban hành ngày 02/03/2026.", "Trang"),
    ("en", "Issued by Department of Home Affairs, Can Tho City on 02/03/2026.", "Page"),
])
def test_pdf_names_issuer_date_and_numbers_its_pages(client, data, lang, issued, page):
    login(client, "noivu")
    use_language(client, lang)
    resp = client.get("/homeaffairs/report/report.pdf")
    assert resp.status_code == 200
    reader = PdfReader(io.BytesIO(resp.data))
    texts = [p.extract_text() for p in reader.pages]
    assert issued in " ".join(texts[0].split())
    n = len(reader.pages)
    for i, text in enumerate(texts, start=1):
        assert f"{page} {i} / {n}" in text, (i, text[-200:])
    disposition = resp.headers["Content-Disposition"]
    assert "counter-quick" in disposition and ("Qu%C3%BD" in disposition or "Quarter" in disposition)


def test_a_configured_issuer_is_printed(app, client, data):
    app.config["HAILONG_REPORT_ISSUER"] = "Sở Nội vụ tỉnh Thử Nghiệm"
    login(client, "noivu")
    use_language(client, "vi")
    text = PdfReader(io.BytesIO(client.get("/homeaffairs/report/report.pdf").data)).pages[0].extract_text()
    assert "Sở Nội vụ tỉnh Thử Nghiệm ban hành ngày 02/03/2026." in " ".join(text.split())
