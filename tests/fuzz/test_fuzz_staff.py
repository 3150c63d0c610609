"""Fuzz the staff entry points: kiosk enrolment, login, and the admin uploads (tree, paper, volumes)."""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from survey.extensions import db
from survey.org import kiosk_service
from survey.org.io import CSV_COLUMNS, KINDS
from survey.org.volumes_service import COLUMNS as VOLUME_COLUMNS
from survey.questionnaire_versions.service import latest_published
from tests.admin.adminkit import as_admin
from tests.dashboard.helpers import forget_user
from tests.factories import PASSWORD, small_city
from tests.fuzz.kit import FUZZ, changed, commit_fields, csrf_from, fresh_limits, ints, seen, texts
from tests.results.factories import DEFAULT_NOW, fix_clock

pytestmark = pytest.mark.fuzz


@pytest.fixture
def city(db_session):
    return small_city(db_session)


def _post(client: Any, url: str, **kw: Any) -> Any:
    forget_user()
    try:
        return client.post(url, **kw)
    except UnicodeEncodeError:  # a lone surrogate cannot even be put into a request by the test client
        return None


# ---------------------------------------------------------------- kiosk enrolment and login


def test_kiosk_enrolment(fuzz_app, client, rows, city):
    codes = [kiosk_service.register_kiosk(db.session, sp, f"Fuzz {sp}").code
             for sp in ("STP-SP1", "UBND-NK-SP1", "STP-SP1")]
    db.session.commit()
    token = csrf_from(client.get("/kiosk/enrol").get_data(as_text=True))

    @FUZZ
    @given(code=st.one_of(st.sampled_from(codes), st.sampled_from(codes).map(str.lower), texts),
           csrf_choice=st.integers(0, 19))
    def check(code: str, csrf_choice: int) -> None:
        fresh_limits()
        before = rows()
        data = {"code": code, **({"csrf_token": token} if csrf_choice != 7 else {})}
        resp = _post(client, "/kiosk/enrol", data=data)
        if resp is None:
            return
        seen("kiosk enrolment /kiosk/enrol", resp.status_code)
        assert resp.status_code < 500, resp.get_data(as_text=True)[:300]
        diff = changed(before, rows())
        # a redeemed code updates its kiosk row (no row added); an audit entry may record it
        assert set(diff) <= {"audit_event"}, diff
        if resp.status_code != 302:
            assert diff == {}, (resp.status_code, diff)

    check()


def test_login(fuzz_app, rows, city):
    @FUZZ
    @given(username=st.one_of(st.sampled_from(["admin", "noivu", "tuphap", " admin "]), texts),
           password=st.one_of(st.just(PASSWORD), texts), csrf_choice=st.integers(0, 19))
    def check(username: str, password: str, csrf_choice: int) -> None:
        fresh_limits()
        client = fuzz_app.test_client()
        forget_user()
        token = csrf_from(client.get("/auth/login").get_data(as_text=True))
        before = rows()
        data = {"username": username, "password": password, **({"csrf_token": token} if csrf_choice != 7 else {})}
        resp = _post(client, "/auth/login", data=data)
        if resp is None:
            return
        seen("login /auth/login", resp.status_code)
        assert resp.status_code < 500, resp.get_data(as_text=True)[:300]
        diff = changed(before, rows())
        assert set(diff) <= {"audit_event"}, diff  # a login adds no rows but perhaps an audit entry
        if resp.status_code != 302:
            assert diff == {}, (resp.status_code, diff)

    check()


# ---------------------------------------------------------------- admin uploads


def _csv(header: list[str], body: list[list[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(body)
    return out.getvalue()


def _xlsx(header: list[str], body: list[list[str]]) -> bytes | None:
    from openpyxl import Workbook
    from openpyxl.utils.exceptions import IllegalCharacterError

    wb = Workbook()
    ws = wb.active
    try:
        for row in [header, *body]:
            ws.append(row)
    except (IllegalCharacterError, ValueError):
        return None
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


@st.composite
def table_files(draw: st.DrawFn, header: list[str], cells: dict[str, list[str]], stem: str) -> tuple[bytes, str]:
    """A CSV (or XLSX) with the right header and rows of mostly plausible cells, a few hostile; or junk."""
    kind = draw(st.integers(0, 9))
    if kind == 7:
        return draw(st.binary(max_size=300)), draw(st.sampled_from([f"{stem}.csv", f"{stem}.xlsx", f"{stem}.txt"]))
    cols = list(header)
    if draw(st.integers(0, 9)) == 3:
        cols = draw(st.lists(st.one_of(st.sampled_from(header), texts), max_size=len(header) + 2))
    body = []
    for _ in range(draw(st.integers(1, 4)) if draw(st.integers(0, 9)) != 7 else 0):
        row = [draw(st.sampled_from(cells.get(c) or [""])) for c in cols]
        for _ in range(draw(st.integers(0, 2)) if cols else 0):  # a few hostile cells, often none
            row[draw(st.integers(0, len(cols) - 1))] = draw(st.one_of(texts, ints.map(str)))
        body.append(row)
    if kind == 5:
        data = _xlsx(cols, body)
        if data is not None:
            return data, f"{stem}.xlsx"
    text = _csv(cols, body)
    return text.encode("utf-8", "surrogatepass"), f"{stem}.csv"


def _upload_check(label: str, client: Any, rows: Any, page_url: str, post_url: str, commit_part: str,
                  files: st.SearchStrategy[tuple[bytes, str]], stored_status: Any) -> None:
    """Upload: the check page stores nothing; the confirmation stores only when it says it did."""
    token = csrf_from(client.get(page_url).get_data(as_text=True))

    @FUZZ
    @given(upload=files, confirm=st.booleans())
    def check(upload: tuple[bytes, str], confirm: bool) -> None:
        fresh_limits()
        raw, filename = upload
        before = rows()
        resp = _post(client, post_url, data={"csrf_token": token, "file": (io.BytesIO(raw), filename)},
                     content_type="multipart/form-data")
        if resp is None:
            return
        seen(f"{label} (check)", resp.status_code)
        assert resp.status_code < 500, resp.get_data(as_text=True)[:300]
        assert changed(before, rows()) == {}, resp.status_code  # checking a file never stores anything
        fields = commit_fields(resp.get_data(as_text=True), commit_part)
        if not fields:
            return
        fields.setdefault("csrf_token", token)
        if confirm:
            fields["confirm"] = "y"
        done = _post(client, post_url + commit_part, data=fields)
        if done is None:
            return
        seen(f"{label} (confirm)", done.status_code)
        assert done.status_code < 500, done.get_data(as_text=True)[:300]
        if not stored_status(done):
            assert changed(before, rows()) == {}, done.status_code

    check()


def test_tree_import(fuzz_app, client, rows, city):
    as_admin(client)
    units = list(city.units)
    cells = {"type": list(KINDS), "code": ["CT", "NK", "X1", "NEW-1", "STP-SP9"], "parent": ["", *units, "STP"],
             "level": ["city", "district", "commune"], "rank": ["1", "2", "3"], "kind": ["department", "people"],
             "name_vi": ["Phường Mới", ""], "name_en": ["New ward", ""], "status": ["", "active", "retired"],
             "valid_from": ["", "2024-01-01", "2024-13-45"], "kiosk_instrument": ["counter-quick", "nope"],
             "link_instrument": ["sipas-2017", ""], "official_on_duty": ["", "Nguyễn Văn A"]}
    yaml_docs = st.recursive(
        st.one_of(texts, ints, st.none()),
        lambda inner: st.one_of(st.lists(inner, max_size=3),
                                st.dictionaries(st.one_of(st.sampled_from([*CSV_COLUMNS, "units", "agencies",
                                                                           "service_points", "levels"]), texts),
                                                inner, max_size=4)),
        max_leaves=15)

    def yaml_file(doc: Any) -> tuple[bytes, str]:
        try:
            text = yaml.safe_dump(doc, allow_unicode=True)
        except (yaml.YAMLError, ValueError):
            text = str(doc)
        return text.encode("utf-8", "surrogatepass"), "tree.yaml"

    files = st.one_of(table_files(list(CSV_COLUMNS), cells, "tree"), yaml_docs.map(yaml_file),
                      st.integers(1, 3000).map(lambda n: (b"units:\n- " + b"[" * n, "deep.yaml")))
    _upload_check("tree import /admin/tree/import", client, rows, "/admin/tree/import", "/admin/tree/import",
                  "/commit", files, lambda r: r.status_code == 302 and "/admin/tree" in r.headers["Location"])


def test_paper_import(fuzz_app, client, rows, city):
    fix_clock(fuzz_app, DEFAULT_NOW)  # "today" in the files is the app's today, whatever the day the test runs
    as_admin(client)
    qv = latest_published(db.session, "sipas-2017")
    template = client.get(f"/admin/paper/template/{qv.id}.csv").get_data(as_text=True).lstrip("\ufeff")
    header = next(csv.reader(io.StringIO(template)))
    cells = {c: ["1", "2", "3", "4", "5", "0", ""] for c in header}
    cells.update({c: ["1", "0", ""] if c.endswith("#1") else ["", "0", "1"] for c in header if "#" in c})
    today = DEFAULT_NOW.date()
    cells.update({"response_id": [str(uuid.uuid4()) for _ in range(50)],
                  "submitted_at": [today.isoformat(), f"{today:%d/%m/%Y}", "x"],
                  "questionnaire": [qv.instrument], "questionnaire_version": [str(qv.version)],
                  "channel": ["paper"], "language": ["vi", "en", "fr"], "agency": ["", "STP", *city.agencies],
                  "service_point": ["STP-SP1", *city.service_points], "city": ["CT"], "district": ["NK", "BT", ""],
                  "commune": [""]})
    _upload_check("paper import /admin/paper", client, rows, "/admin/paper", "/admin/paper", "/commit",
                  table_files(header, cells, "paper"), lambda r: r.status_code == 200)


def test_volumes_import(fuzz_app, client, rows, city):
    as_admin(client)
    cells = {"service_point": list(city.service_points), "month": ["2025-01", "2025-13", "01/2025", "2030-12"],
             "dossiers": ["0", "12", "-3", "1.5", "9" * 30], "dissatisfied_or_complaints": ["", "0", "2", "99"]}
    _upload_check("volumes import /admin/volumes/import", client, rows, "/admin/volumes/import",
                  "/admin/volumes/import", "/commit", table_files(list(VOLUME_COLUMNS), cells, "volumes"),
                  lambda r: r.status_code == 302)
