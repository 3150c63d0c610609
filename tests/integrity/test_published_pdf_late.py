"""The published period's PDF counts the responses that arrived after its cut-off, as its page does (issue 16
§3): a printed report that states its cut-off but not how many responses it leaves out reads as complete."""

from __future__ import annotations

import pytest

from survey.results import cache
from tests.dashboard.hakit import login, use_language
from tests.dashboard.test_publication_figures import LATE, QUARTER, _publish, publication_city
from tests.dashboard.test_publication_figures import _late_responses as _late
from tests.integrity.readers import pdf_lines

SAYS = {
    "en": f"{LATE} responses received after publication are kept but in no figure",
    "vi": f"{LATE} phiếu nhận được sau khi công bố vẫn được lưu nhưng chưa được tính vào số liệu nào",
}


@pytest.fixture
def data(app, db_session):
    yield from publication_city(app, db_session)


def _pdf(client, lang: str) -> str:
    use_language(client, lang)
    resp = client.get(f"/homeaffairs/report/report.pdf?period={QUARTER}")
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    return " ".join(pdf_lines(resp.data).split())


def test_published_pdf_counts_late_responses_in_both_languages(client, db_session, data):
    login(client, "noivu")
    use_language(client, "en")
    _publish(client)
    for lang, words in SAYS.items():  # nothing late yet: nothing said
        assert words.split(" ", 1)[1] not in _pdf(client, lang), lang
    _late(db_session, data)
    cache.clear()
    for lang, words in SAYS.items():
        text = _pdf(client, lang)
        assert words in text, lang
        assert ("Data cut-off" if lang == "en" else "Thời điểm chốt số liệu") in text, lang
    _publish(client, reason="late paper forms counted")  # a revision counts them: none is late any more
    for lang, words in SAYS.items():
        assert words.split(" ", 1)[1] not in _pdf(client, lang), lang
