"""The published report page (and the live report page of a published period) says as of when its count of late
responses was taken, in the same words as the published PDF (one template macro, dashboard/report/_late.html):
the count keeps moving after the page is read, printed from the browser or quoted.

The app's clock is injected (never today's date): the page is read at 17:45 UTC on 30 June 2025, which is 00:45
on 1 July 2025 in Vietnam.  Before, the page said "6 responses received after publication are kept but in no
figure" with no date or time, while the PDF of the same moment said "As of 00:45 on 01/07/2025 …"."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.dashboard.hakit import use_language
from tests.dashboard.test_publication_figures import LATE, QUARTER
from tests.integrity.test_f_published_pdf_late_as_of import SAYS, _published_with_late_responses
from tests.integrity.test_published_pdf_late import _pdf, data  # noqa: F401  (data: the publication fixture)
from tests.results.factories import fix_clock


def _page(client, lang: str, live: bool = False) -> str:
    use_language(client, lang)
    resp = client.get(f"/homeaffairs/report/?period={QUARTER}" + ("&live=1" if live else ""))
    assert resp.status_code == 200
    return " ".join(resp.get_data(as_text=True).split())


def test_the_page_says_as_of_when_the_late_count_was_taken_as_its_pdf_does(app, client, db_session, data):  # noqa: F811
    _published_with_late_responses(app, client, db_session, data)  # as the PDF test: the clock at DOWNLOAD
    for lang, words in SAYS.items():
        for live in (False, True):  # the published document and the live figures of the same period
            page = _page(client, lang, live)
            assert words in page, (lang, live)
            assert "30/06/2025" not in page, (lang, live)  # the UTC date is not the date in Vietnam
        sentence = words.split(f"{LATE} ", 1)[0]  # the PDF of the same moment: the same words
        assert sentence in _pdf(client, lang), lang
    fix_clock(app, datetime(2025, 7, 2, 9, 30, tzinfo=UTC))  # a later read: the moment moves with the clock
    assert f"As of 16:30 on 02/07/2025 (Vietnam time), {LATE} responses" in _page(client, "en")
