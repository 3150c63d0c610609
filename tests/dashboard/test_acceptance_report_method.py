"""Acceptance finding: the period report's method note printed the raw setting — "Trọng số: none." — in the
Vietnamese report that Sở Nội vụ sends on; the weights must be named in the reader's language, as the agency
page already does."""

from __future__ import annotations

import re

import pytest

from tests.dashboard.hakit import login, use_language
from tests.results.factories import city_with_responses


@pytest.fixture
def data(app, db_session):
    app.config.update(HAILONG_BOOTSTRAP_B=20)
    return city_with_responses(db_session, per_point=12, months=1, comments=False)


def _weights_line(html: str) -> str:
    match = re.search(r"<li>((?:Trọng số|Weights): [^<]*)</li>", html)
    assert match, "the method note names the weights"
    return match.group(1)


@pytest.mark.parametrize(("lang", "expected"), [("vi", "Trọng số: không."), ("en", "Weights: none.")])
def test_method_note_names_the_weights_in_the_readers_language(client, data, lang, expected):
    login(client, "noivu")
    use_language(client, lang)
    resp = client.get("/homeaffairs/report/")
    assert resp.status_code == 200
    assert _weights_line(resp.get_data(as_text=True)) == expected
