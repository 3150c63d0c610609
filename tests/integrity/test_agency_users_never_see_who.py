"""Agency users never see who flagged what (issue 16 §3): after Home Affairs confirms a flag at an agency on the
Integrity page, the agency's own viewer reads that its figures exclude reviewed responses — and nothing else:
not the reviewer (user name or name), not the reason, not the signals, not the flag; the Integrity page and
the audit log answer 403 to agency viewers and unit managers."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from sqlalchemy import select

from survey.auth.models import User
from survey.results.integrity import run_scan
from survey.results.integrity_models import IntegrityFlag
from tests.dashboard.hakit import use_language
from tests.dashboard.helpers import login, page_token
from tests.factories import small_city
from tests.integrity.factories import TODAY, burst, finish, honest_days, workdays_before
from tests.integrity.readers import page_lines, sheets

URL = "/homeaffairs/integrity/"
REVIEWER = "Trần Thị Kiểm Duyệt"
REASON = "camera shows the clerk answering between citizens (case KD-2291)"


@pytest.fixture()
def confirmed(app, db_session):
    app.config["HAILONG_CLOCK"] = lambda: datetime(TODAY.year, TODAY.month, TODAY.day, 3, tzinfo=UTC)
    city = small_city(db_session)
    sp, sipas = city.service_points["STP-SP1"], city.questionnaires["sipas-2017"]
    rng = np.random.default_rng(5)
    days = workdays_before(TODAY, 30)
    honest_days(db_session, sp, sipas, days, 3, rng)
    burst(db_session, sp, sipas, days[-1], 20, rng)
    finish(db_session)
    assert run_scan(db_session, days[-3:]) == 1
    db_session.scalars(select(User).where(User.username == "noivu")).one().display_name = REVIEWER
    db_session.commit()
    flag = db_session.scalar(select(IntegrityFlag))
    reviewer = app.test_client()  # Home Affairs' own browser
    login(reviewer, "noivu")
    token = page_token(reviewer, URL)
    assert reviewer.post(f"{URL}{flag.id}/decide", data={"csrf_token": token, "action": "confirm",
                                                        "reason": REASON}).status_code == 302
    return len(flag.response_ids)


LEAKS = ("noivu", REVIEWER, REASON, "KD-2291", "flag", "many responses within minutes", "best level",
         "Integrity", "reviewed by")


def _texts(client) -> dict[str, str]:
    """Everything the agency viewer can open about its agency: pages and every exported table."""
    out = {url: page_lines(client.get(url).get_data(as_text=True))
           for url in ("/dashboard/", "/dashboard/agency/STP", "/dashboard/agency/STP?sp=STP-SP1")}
    for title, rows in sheets(client.get("/dashboard/agency/STP?format=xlsx").data).items():
        out[f"xlsx {title}"] = "\n".join(" ".join(str(c) for c in r if c is not None) for r in rows)
    return out


@pytest.mark.parametrize("lang", ["en", "vi"])
def test_the_agency_viewer_reads_only_that_figures_exclude_reviewed_responses(client, confirmed, lang) -> None:
    n = confirmed
    login(client, "tuphap")
    use_language(client, lang)
    texts = _texts(client)
    said = {"en": f"{n} responses excluded after review", "vi": f"{n} câu trả lời đã bị loại sau khi xem xét"}[lang]
    assert said in " ".join(texts["/dashboard/agency/STP"].split())
    for where, text in texts.items():
        for leak in LEAKS:
            assert leak.lower() not in text.lower(), (where, leak)


@pytest.mark.parametrize("user", ["tuphap", "ninhkieu"])
def test_agency_viewers_and_unit_managers_cannot_open_the_integrity_page_or_the_audit_log(client, confirmed, user):
    login(client, user)
    for url in (URL, f"{URL}?status=confirmed", "/admin/audit", "/admin/audit?action=integrity.confirm"):
        assert client.get(url).status_code == 403, url
