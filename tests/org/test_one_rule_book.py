"""One rule book for the tree (issue 13 §3): the file importer says what the forms say, and service points
have the life-cycle field units and agencies have (`retired_at`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from survey.audit.models import AuditEvent
from survey.org import service as svc
from survey.org.models import ServicePoint
from tests.factories import small_city

HEADER = "type,code,parent,level,rank,kind,name_vi,name_en,kiosk_instrument\n"
LEVELS = ("level,city,,,0,,Thành phố,City,\nlevel,district,,,1,,Quận/Huyện,District,\n"
          "unit,CT,,city,,,Thành phố Cần Thơ,Can Tho City,\nagency,A,CT,,,department,Sở A,Dept A,\n")
LONG = "x" * (svc.NAME_MAX + 1)


def _refusal(check, *args) -> str:
    with pytest.raises(svc.OrgError) as caught:
        check(*args)
    return caught.value.message


@pytest.mark.parametrize(("row", "field", "form_says"), [
    (f"unit,NK,CT,district,,,{LONG},District,\n", "name_vi", lambda: _refusal(svc.check_name, LONG, "name_vi")),
    ("unit,,CT,district,,,Quận,District,\n", "code", lambda: _refusal(svc.check_code, "")),
    ("agency,B,CT,,,ministry,B,B,\n", "kind", lambda: _refusal(svc.check_kind, "ministry")),
    ("service_point,S,A,,,,S,S,Counter_Quick\n", "kiosk_instrument",
     lambda: _refusal(svc.check_instrument, "Counter_Quick", "kiosk_instrument")),
    ("level,town,,,²,,Thị xã,Town,\n", "rank", lambda: _refusal(svc.check_rank, "²")),
], ids=["long name", "missing code", "unknown kind", "bad questionnaire id", "rank not a whole number"])
def test_the_file_importer_says_what_the_form_says(runner, db_session, tmp_path: Path, row, field, form_says):
    path = tmp_path / "bad.csv"
    path.write_text(HEADER + LEVELS + row, encoding="utf-8")
    result = runner.invoke(args=["org", "import", str(path)])
    assert result.exit_code == 1
    assert f"bad.csv:6: {field}: {form_says()}" in result.output


def test_a_service_point_retires_and_reopens_through_retired_at(db_session):
    city = small_city(db_session)
    sp = city.service_points["STP-SP1"]
    assert sp.retired_at is None and sp.active
    svc.retire_service_point(db_session, sp)
    first = sp.retired_at
    assert first is not None and not sp.active
    assert sp not in db_session.scalars(select(ServicePoint).where(ServicePoint.active)).all()
    svc.retire_service_point(db_session, sp)  # retiring again keeps the date it closed
    assert sp.retired_at == first
    svc.update_service_point(db_session, sp, active=True)
    assert sp.retired_at is None
    assert sp in db_session.scalars(select(ServicePoint).where(ServicePoint.active.is_(True))).all()
    events = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "org.service_point.update")
                                .order_by(AuditEvent.id)).all()
    assert [e.after["retired_at"] is None for e in events] == [False, True]
