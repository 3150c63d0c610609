"""Published periods on what a person reads (issue 16 §3): after Home Affairs publishes a quarter and late
responses arrive for it, the figures PRINTED on the live pages — the Home Affairs comparison, the agency page,
the live period report — and on the published report (page and PDF) are those of the responses up to the data
cut-off, recomputed here by `analysis` from the answer rows; each states the cut-off and counts the late
responses apart.  A revision issued by Home Affairs brings them in, on every one of them.  (Exports:
tests/dashboard/test_publication_figures.py; the stored report: tests/dashboard/test_published_periods.py.)"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from survey.questionnaire_versions.service import questionnaire_for
from survey.respond.models import Response
from survey.results import cache
from tests.dashboard.hakit import login, reference, use_language
from tests.dashboard.test_publication_figures import LATE, QUARTER, _publish, publication_city
from tests.dashboard.test_publication_figures import _late_responses as _late
from tests.integrity.readers import page_lines, pdf_lines, shows_row
from tests.results.factories import respondent_frame

FROM, TO = "2025-04", "2025-06"  # QUARTER's months
AGENCY = "STP"


@pytest.fixture
def data(app, db_session):
    yield from publication_city(app, db_session)


def _pages(client) -> dict[str, str]:
    rep = f"period={QUARTER}"
    return {
        "comparison page": page_lines(client.get(f"/homeaffairs/?level=agency&{rep}").get_data(as_text=True)),
        "agency page": page_lines(client.get(f"/dashboard/agency/{AGENCY}?from={FROM}&to={TO}")
                                  .get_data(as_text=True)),
        "report page": page_lines(client.get(f"/homeaffairs/report/?{rep}").get_data(as_text=True)),
        "live report page": page_lines(client.get(f"/homeaffairs/report/?{rep}&live=1").get_data(as_text=True)),
        "report pdf": pdf_lines(client.get(f"/homeaffairs/report/report.pdf?{rep}").data),
    }


def _check(db_session, data, pages: dict[str, str]) -> None:
    """Every agency's Overall index and n on the comparison and both reports, and the agency's on its page,
    equal analysis on the answer rows of the counted responses (late ones are not counted)."""
    counted = set(db_session.scalars(select(Response.id).where(Response.questionnaire_version_id == data.qv_id,
                                                               Response.review_status.is_(None))))
    frame = respondent_frame(db_session, data.qv_id)
    frame = frame[frame["rid"].isin(counted)].reset_index(drop=True)
    _t, ref = reference(frame, questionnaire_for(db_session, data.qv_id)[0].index_spec(), ("agency",), QUARTER,
                        n_min=5)
    overall = ref[(ref["measure"] == "OVERALL") & ~ref["suppressed"].astype(bool)].set_index("domain")
    names = {a.code: a.name_en for a in data.city.agencies.values()}
    assert AGENCY in overall.index and len(overall) >= 3
    for code, rec in overall.iterrows():
        for where in ("comparison page", "report page", "live report page", "report pdf"):
            assert shows_row(pages[where], names[str(code)], rec["estimate"], int(rec["n"])), (where, code)
    mine = overall.loc[AGENCY]
    assert shows_row(pages["agency page"], "Overall satisfaction index", mine["estimate"], int(mine["n"]))


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_live_pages_and_the_report_print_the_published_figures_until_a_revision(client, db_session, data):
    login(client, "noivu")
    use_language(client, "en")
    _check(db_session, data, _pages(client))
    _publish(client)
    late = _late(db_session, data)
    assert all(db_session.get(Response, i).review_status == "late" for i in late)
    cache.clear()
    held = _pages(client)
    _check(db_session, data, held)  # the late responses (all at the lowest level) are in no printed figure
    for where in ("comparison page", "agency page"):
        assert "its figures are as published, from responses received up to" in _flat(held[where]), where
        assert f"{LATE} responses received after publication are kept but not in these figures" \
            in _flat(held[where]), where
    for where in ("report page", "report pdf"):  # the published document: its cut-off and what arrived since
        assert "Data cut-off: responses received up to" in _flat(held[where]) and "revision 1" in held[where], where
        assert f"{LATE} responses received after publication" in _flat(held[where]), where

    _publish(client, reason="six paper forms arrived after the quarter was reported")
    revised = _pages(client)
    assert all(db_session.get(Response, i).review_status is None for i in late)
    _check(db_session, data, revised)  # now with the late responses, on every page
    for where in ("comparison page", "agency page"):
        assert "was published (revision 2)" in _flat(revised[where]), where
        assert "received after publication are kept" not in _flat(revised[where]), where
    for where in ("report page", "report pdf"):
        assert "revision 2" in revised[where], where
        assert f"This revision counts {LATE} responses received after the previous publication" \
            in _flat(revised[where]), where
        assert "Reason for this revision: six paper forms arrived after the quarter was reported" \
            in _flat(revised[where]), where
