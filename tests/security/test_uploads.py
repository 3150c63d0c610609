"""Issue 11 §6 (uploads): a few hundred bytes must not cost minutes or gigabytes — YAML aliases are refused
in tree files, XLSX/CSV uploads are capped in unpacked size and rows, each with a message in the user's
language, and nothing is stored."""

from __future__ import annotations

import io
import zipfile
from html import unescape

import pytest
from openpyxl import Workbook
from sqlalchemy import select

from survey.org.models import Unit
from survey.uploads import MAX_ROWS, MAX_UNZIPPED, TableError, read_table
from tests.admin.adminkit import as_admin, csrf_token, forget_user, text
from tests.admin.test_paper_import import upload as paper_upload
from tests.factories import small_city

# a "billion laughs": 9 levels of 10 aliases = 10^9 leaves from ~600 bytes
LAUGHS = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, 9))


def _tree_upload(client, content: bytes, filename: str):
    forget_user()
    token = csrf_token(text(client.get("/admin/tree/import")))
    forget_user()
    return client.post("/admin/tree/import", data={"csrf_token": token, "file": (io.BytesIO(content), filename)},
                       content_type="multipart/form-data")


def test_yaml_aliases_are_refused_at_once_and_nothing_is_imported(client, db_session):
    small_city(db_session)
    as_admin(client)
    before = set(db_session.scalars(select(Unit.code)))
    evil = ("levels:\n  - {code: x, rank: 9, name_vi: X, name_en: X}\n" + LAUGHS).encode()
    assert len(evil) < 1000
    resp = _tree_upload(client, evil, "tree.yaml")  # refused before anything is expanded
    assert resp.status_code == 400
    assert "anchors and aliases (& and *) are not allowed" in unescape(text(resp))
    db_session.expire_all()
    assert set(db_session.scalars(select(Unit.code))) == before
    # the form says why before anyone uploads
    forget_user()
    assert "YAML anchors and aliases (& and *) are refused" in unescape(text(client.get("/admin/tree/import")))


def test_yaml_aliases_are_refused_by_the_cli_too(runner, db_session, tmp_path):
    small_city(db_session)
    path = tmp_path / "tree.yaml"
    path.write_text("units:\n  - &u {code: NK-X, level: commune, parent: NK, name_vi: X, name_en: X}\n"
                    "  - *u\n", encoding="utf-8")
    result = runner.invoke(args=["org", "import", str(path)])
    assert result.exit_code == 1 and "anchors and aliases" in result.output


def _bomb_xlsx(rows: int) -> bytes:
    """A real workbook whose only sheet has `rows` rows of one number (compresses ~1,000:1)."""
    wb = Workbook()
    wb.active.append(["response_id"])
    buf = io.BytesIO()
    wb.save(buf)
    src = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    out = io.BytesIO()
    body = "".join(f'<row r="{r}"><c r="A{r}"><v>1</v></c></row>' for r in range(2, rows + 2))
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                text_ = data.decode()
                head, _sep, tail = text_.partition("<sheetData>")
                first, _sep2, rest = tail.partition("</sheetData>")
                head = head.replace('<dimension ref="A1:A1" />', f'<dimension ref="A1:A{rows + 1}" />')
                data = (head + "<sheetData>" + first + body + "</sheetData>" + rest).encode()
            dst.writestr(info, data, zipfile.ZIP_DEFLATED)
    return out.getvalue()


def test_row_caps_on_xlsx_and_csv():
    xlsx = _bomb_xlsx(MAX_ROWS + 1)
    assert len(xlsx) < 1_000_000
    with pytest.raises(TableError, match="more than"):
        read_table("paper.xlsx", xlsx)
    with pytest.raises(TableError, match="more than"):
        read_table("paper.csv", b"response_id\n" + b"1\n" * (MAX_ROWS + 1))
    assert len(read_table("paper.csv", b"response_id\n" + b"1\n" * MAX_ROWS).rows) == MAX_ROWS


def test_unpacked_size_cap_on_xlsx():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/sharedStrings.xml", b"\0" * (MAX_UNZIPPED + 1))
    assert len(out.getvalue()) < 200_000
    with pytest.raises(TableError, match="unpacks to more than 50 MB"):
        read_table("volumes.xlsx", out.getvalue())


def test_paper_upload_over_the_cap_is_a_clear_400_in_vietnamese(client, db_session):
    small_city(db_session)
    as_admin(client, lang="vi")
    resp = paper_upload(client, _bomb_xlsx(MAX_ROWS + 1), "paper.xlsx")
    assert resp.status_code == 400
    assert "Tệp có hơn 100.000 dòng" in text(resp)
    forget_user()
    assert "Tối đa 5 MB và 100.000 dòng" in text(client.get("/admin/paper"))


def test_tree_files_have_an_entry_cap():
    from survey.org.io import MAX_ENTRIES, OrgFileError, read_text

    header = "type,code,parent,level,name_vi,name_en\n"
    rows = "".join(f"unit,U{i},CT,commune,X{i},X{i}\n" for i in range(MAX_ENTRIES + 1))
    with pytest.raises(OrgFileError) as caught:
        read_text(header + rows, "tree.csv", "csv")
    assert "more than 50000 entries" in caught.value.errors[0].problem
    ok, _errors = read_text(header + "unit,U1,CT,commune,X,X\n", "tree.csv", "csv")
    assert len(ok) == 1
