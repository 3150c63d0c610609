"""Audit log values read like the rest of the site: counts and proportions with the reader's separators
(12.000 and 0,8497 in Vietnamese; 12,000 and 0.8497 in English); identifiers (ids, seeds) as stored."""

from __future__ import annotations

import re

import pytest

from survey.audit import record
from tests.admin.adminkit import as_admin, get, text
from tests.factories import small_city


def _cells(html: str) -> dict[str, str]:
    row = re.search(r'<tr class="audit-event" data-action="demo.load">(.*?)</table>\s*</td>', html, re.S).group(1)
    return dict(re.findall(r'<th scope="row">([a-z_]+)</th><td>.*?</td><td>([^<]*)</td>', row))


@pytest.mark.parametrize(("lang", "count", "share"), [("vi", "12.000", "0,8497"), ("en", "12,000", "0.8497")])
def test_numbers_in_the_audit_log_use_the_readers_separators(client, db_session, lang, count, share):
    small_city(db_session)
    record(db_session, "demo.load", "demo", "CT",
           after={"responses": 12000, "share": 0.8497, "parent_id": 12345, "seed": 20240601, "ok": True})
    db_session.commit()
    as_admin(client, lang)
    cells = _cells(text(get(client, "/admin/audit")))
    assert cells["responses"] == count and cells["share"] == share
    assert cells["parent_id"] == "12345" and cells["seed"] == "20240601"
    assert cells["ok"] == ("có" if lang == "vi" else "yes")
