"""Tree file import with a dry run (nothing written until confirmed; every row error listed with line and
field) and export in both formats."""

from __future__ import annotations

import io
import re
from html import unescape

from sqlalchemy import select

from survey.org.models import Unit
from tests.admin.adminkit import as_admin, csrf_token, events, forget_user, get, text
from tests.factories import small_city

GOOD = ("type,code,parent,level,name_vi,name_en\n"
        "unit,NK-AH,NK,commune,Phường An Hòa,An Hoa Ward\n"
        "unit,NK-TA,NK,commune,Phường Tân An (mới),Tan An Ward\n")
BAD = ("type,code,parent,level,name_vi,name_en\n"
       "unit,NK-AH,NOPE,commune,Phường An Hòa,An Hoa Ward\n"
       "unit,bad code,NK,commune,,X\n")


def upload(client, content: str, filename: str = "tree.csv"):
    forget_user()
    token = csrf_token(text(client.get("/admin/tree/import")))
    forget_user()
    return client.post("/admin/tree/import", data={"csrf_token": token,
                                                   "file": (io.BytesIO(content.encode("utf-8")), filename)},
                       content_type="multipart/form-data")


def codes(session) -> set[str]:
    session.expire_all()
    return set(session.scalars(select(Unit.code)))


def test_dry_run_lists_changes_then_commit_imports_them(client, db_session):
    small_city(db_session)
    as_admin(client)
    before = codes(db_session)
    preview = upload(client, GOOD)
    html = text(preview)
    assert preview.status_code == 200
    assert "1 to create, 1 to update, 0 unchanged." in html
    assert "<code>unit:NK-AH</code>" in html and "<code>unit:NK-TA</code>" in html
    assert codes(db_session) == before and events(db_session) == []  # a dry run writes nothing
    # the confirmation carries the checked file's token (survey/admin/checked_upload.py), not the file
    hidden = dict(re.findall(r'id="(?:filename|upload|csrf_token)" name="(filename|upload|csrf_token)" '
                             r'type="hidden" value="([^"]*)"', html))
    assert set(hidden) == {"csrf_token", "filename", "upload"} and "NK-AH" not in hidden["upload"]
    forget_user()
    done = client.post("/admin/tree/import/commit", data=hidden)
    assert done.status_code == 302
    assert "NK-AH" in codes(db_session)
    assert db_session.scalar(select(Unit).where(Unit.code == "NK-TA")).name_vi == "Phường Tân An (mới)"
    (event,) = events(db_session, "org.import")
    assert event.actor == "admin" and event.after["created"] == ["unit:NK-AH"]
    assert "Tree imported: 1 created, 1 updated, 0 unchanged." in text(get(client, "/admin/tree"))
    forget_user()
    again = client.post("/admin/tree/import/commit", data=hidden)  # the checked file was used up
    assert again.status_code == 400 and "Upload the file again" in text(again)


def test_row_errors_are_listed_with_line_and_field_and_nothing_is_written(client, db_session):
    small_city(db_session)
    as_admin(client)
    resp = upload(client, BAD)
    html = text(resp)
    assert resp.status_code == 400
    assert "Problems found: 3. Nothing was imported." in html
    rows = re.findall(r"<tr><td class=\"num\">(\d+)</td><td><code>([^<]+)</code></td><td>([^<]+)</td></tr>",
                      unescape(html))
    by_line = {(int(line), field) for line, field, _msg in rows}
    assert (2, "parent") in by_line and (3, "code") in by_line and (3, "name_vi") in by_line
    assert "Import these changes" not in html
    assert "NK-AH" not in codes(db_session)


def test_unreadable_uploads_are_refused(client, db_session):
    small_city(db_session)
    as_admin(client)
    wrong_type = upload(client, GOOD, "tree.txt")
    assert wrong_type.status_code == 400 and "Unknown file type" in text(wrong_type)
    empty = upload(client, "", "tree.csv")
    assert empty.status_code == 400 and "the file is empty" in text(empty)
    forget_user()
    token = csrf_token(text(client.get("/admin/tree/import")))
    forget_user()
    raw = client.post("/admin/tree/import", data={"csrf_token": token,
                                                  "file": (io.BytesIO(b"type,code\nunit,H\xe0 N\xf4i\n"), "t.csv")},
                      content_type="multipart/form-data")
    assert raw.status_code == 400 and "not UTF-8" in text(raw)


def test_reimporting_the_export_changes_nothing(client, db_session):
    small_city(db_session)
    as_admin(client)
    for fmt in ("csv", "yaml"):
        resp = get(client, f"/admin/tree/export.{fmt}")
        assert resp.status_code == 200
        assert f'filename="hailong-tree.{fmt}"' in resp.headers["Content-Disposition"]
        body = resp.get_data(as_text=True)
        assert "NK-TA" in body and "Phường Tân An" in body
        preview = text(upload(client, body, f"tree.{fmt}"))
        assert "There is nothing to import" in preview or "0 to create, 0 to update" in preview
