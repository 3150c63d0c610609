"""The published PDF's count of late responses says as of when it was taken (Vietnam time, Vietnamese date
format): a printed report is read long after its download, while late responses keep arriving.

The app's clock is injected (never today's date): the download happens at 17:45 UTC on 30 June 2025, which is
00:45 on 1 July 2025 in Asia/Ho_Chi_Minh — the date a reader in Vietnam would write.  Before, the PDF said
"6 responses received after publication are kept but in no figure" with no date or time."""

from __future__ import annotations

from datetime import UTC, datetime

from survey.results import cache
from tests.dashboard.hakit import login, use_language
from tests.dashboard.test_publication_figures import LATE, _publish
from tests.dashboard.test_publication_figures import _late_responses as _late
from tests.integrity.test_published_pdf_late import _pdf, data  # noqa: F401  (data: the publication fixture)
from tests.results.factories import fix_clock

DOWNLOAD = datetime(2025, 6, 30, 17, 45, tzinfo=UTC)
SAYS = {
    "en": f"As of 00:45 on 01/07/2025 (Vietnam time), {LATE} responses received after publication",
    "vi": f"Tính đến 00:45 ngày 01/07/2025 (giờ Việt Nam), {LATE} phiếu nhận được sau khi công bố",
}


def _published_with_late_responses(app, client, db_session, data) -> None:  # noqa: F811
    """Signed in as Home Affairs (en), the quarter published, LATE responses after it, the clock at DOWNLOAD."""
    login(client, "noivu")
    use_language(client, "en")
    _publish(client)
    _late(db_session, data)
    cache.clear()
    fix_clock(app, DOWNLOAD)


def test_late_count_in_the_pdf_says_as_of_when_in_vietnam_time(app, client, db_session, data):  # noqa: F811
    _published_with_late_responses(app, client, db_session, data)
    for lang, words in SAYS.items():
        text = _pdf(client, lang)
        assert words in text, (lang, text[:600])
        assert "30/06/2025" not in text, lang  # the UTC date of the download is not the date in Vietnam


def test_the_same_count_is_served_from_the_store_with_the_moment_it_was_counted(app, client, db_session, data,  # noqa: F811
                                                                                tmp_path):
    """With the PDF store on, a later download of the same count is the stored file (no new render: seconds of
    CPU, issue 12 §3), which says the moment the count was first taken; a new late response is a new count,
    so a new file with the new moment."""
    app.config.update(REPORT_PDF_DIR=str(tmp_path / "pdf"), HAILONG_RESULTS_CACHE=True)
    _published_with_late_responses(app, client, db_session, data)
    first = _pdf(client, "en")
    fix_clock(app, datetime(2025, 7, 2, 9, 30, tzinfo=UTC))  # 16:30 on 02/07/2025 in Vietnam
    assert _pdf(client, "en") == first and SAYS["en"] in first
    assert len(list((tmp_path / "pdf").glob("*.pdf"))) == 1
    _late(db_session, data)  # six more: a new count
    cache.clear()
    later = _pdf(client, "en")
    assert f"As of 16:30 on 02/07/2025 (Vietnam time), {2 * LATE} responses received after publication" in later
