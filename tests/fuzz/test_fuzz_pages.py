"""Fuzz the entry points added in the issue 15/16 session (issue 16 follow-up): the comment topics page's
parameters, the kiosk's spoken-question audio files (names, path traversal, Range and conditional headers)
and a service point's opening-hours field; since session 12 also the filters of the agency page, its comments
and the Home Affairs comparison.  Hostile input gets a 4xx whose page says why in the user's language, never
a 5xx, and changes nothing (the opening hours change only when the answer says saved); a filter value known
to be invalid is never answered with the page (it used to be ignored: survey/dashboard/params.py).

The data are dated from a fixed "now" (NOW, the app's HAILONG_CLOCK), never the real clock."""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta
from typing import Any

import pytest
from flask_babel import force_locale, gettext
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from analysis.integrity import OpeningHours
from survey.dashboard.params import MESSAGES
from survey.org.models import ServicePoint
from survey.respond.store import Submission, store_response
from tests.admin.adminkit import as_admin, as_user
from tests.dashboard.helpers import forget_user
from tests.factories import small_city
from tests.fuzz.kit import FUZZ, changed, csrf_from, fresh_limits, ints, seen, select_one, texts, url_part
from tests.results.factories import DEFAULT_NOW, city_with_responses

pytestmark = pytest.mark.fuzz

LANGS = ("vi", "en")
#: the suite's "now" (issue 13: no test reads the real clock): data are dated from it, period labels taken from it
NOW = DEFAULT_NOW


def _said(app: Any, lang: str, msgid: str) -> str:
    """`msgid` as the user reads it in `lang` (HTML-escaped as the page prints it)."""
    from markupsafe import escape

    with app.test_request_context(), force_locale(lang):
        return str(escape(gettext(msgid)))


CONTROL_CHARACTERS = ("The text you sent contains characters that cannot be stored (invisible control characters). "
                      "Please remove them and try again. Nothing was saved.")
REFUSALS = {400: [CONTROL_CHARACTERS, "The request could not be understood."], 404: ["This page does not exist."]}


def _explained(app: Any, lang: str, status: int, page: str, *more: str) -> bool:
    """The refusal page says why in the user's language (the request guard's or the error page's sentence,
    or a refused URL parameter's)."""
    return any(_said(app, lang, msgid) in page for msgid in [*REFUSALS.get(status, []), *more]) or \
        (status in (400, 404) and _parameter_refused(app, lang, page))


def _parameter_refused(app: Any, lang: str, page: str) -> bool:
    """Every fixed part of one of the URL-parameter refusals (survey/dashboard/params.py) in `lang`."""
    from markupsafe import escape

    hole = "\x00"
    names = ("name", "value", "choices", "low", "high", "start", "end", "length", "limit")
    with app.test_request_context(), force_locale(lang):
        texts_ = [gettext(msgid, **dict.fromkeys(names, hole)) for msgid in MESSAGES.values()]
    return any(all(str(escape(part)) in page for part in text.split(hole) if part.strip()) for text in texts_)


def _clients(app: Any, username: str) -> dict[str, Any]:
    """One signed-in client per page language (the choice is kept in the session, as a browser's is)."""
    out = {}
    for lang in LANGS:
        client = app.test_client()
        out[lang] = as_admin(client, lang) if username == "admin" else as_user(client, username, lang)
    return out


# ---------------------------------------------------------------- comment topics across agencies

@pytest.fixture
def commented_city(fuzz_app, db_session):
    fuzz_app.config["HAILONG_CLOCK"] = lambda: NOW
    city = small_city(db_session)
    qv = city.questionnaires["counter-quick"]
    now = NOW
    for i, (agency, text) in enumerate([("UBND-BT", "Phải đưa tiền cà phê cho cán bộ"), ("UBND-NK", "Chờ quá lâu"),
                                        ("STP", "Cán bộ nhiệt tình")] * 3):
        store_response(db_session, Submission(
            service_point_id=city.service_points[f"{agency}-SP1"].id, questionnaire_version_id=qv.id,
            answers={"C.ATT": 2, "C.HANDLING": 3, "COMMENT": text}, channel="paper",
            client_id=str(uuid.uuid4()), submitted_at=now - timedelta(days=3 + 40 * (i % 3))))
    db_session.commit()
    return city


@st.composite
def topic_queries(draw: st.DrawFn) -> str:
    """The page's own parameters with plausible and hostile values, repeated or unknown ones."""
    today = NOW.date()
    labels = [f"{today.year}", f"{today.year}-Q{(today.month - 1) // 3 + 1}", f"{today:%Y-%m}", "2026-Q9",
              "1900-01", "9999", "-1", "2026-Q0"]
    names = {"period_kind": ["quarter", "month", "year", "decade"], "period": labels,
             "format": ["csv", "xlsx", "pdf", "CSV"], "table": ["topic_shares", "topic_rises", "nope"],
             "lang": ["vi", "en", "km", "xx"]}
    parts = []
    for _ in range(draw(st.integers(0, 5))):
        name = draw(st.one_of(st.sampled_from(sorted(names)), texts))
        value = draw(st.one_of(st.sampled_from(names.get(name, [""])), texts, ints.map(str)))
        parts.append(f"{url_part(name)}={url_part(value)}")
    return "&".join(parts)


@pytest.mark.usefixtures("commented_city")
def test_comment_topics_page(fuzz_app, rows):
    clients = {**{f"noivu/{k}": v for k, v in _clients(fuzz_app, "noivu").items()},
               "viewer/vi": as_user(fuzz_app.test_client(), "tuphap", "vi")}

    @FUZZ
    @given(query=topic_queries(), who=st.sampled_from(sorted(clients)))
    def check(query: str, who: str) -> None:
        fresh_limits()
        before = rows()
        forget_user()
        resp = clients[who].get("/dashboard/topics/?" + query)  # url_part: any text as bytes, never unencodable
        seen("comment topics /dashboard/topics/", resp.status_code)
        assert resp.status_code < 500, resp.get_data(as_text=True)[:300]
        assert changed(before, rows()) == {}
        lang = who.partition("/")[2]
        if resp.status_code in (400, 404):  # control characters; a period, export format or table not offered
            assert _explained(fuzz_app, lang, resp.status_code, resp.get_data(as_text=True))
        else:
            assert resp.status_code == 200, resp.status_code
            kind = resp.mimetype
            assert kind in ("text/html", "text/csv",
                            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"), kind
            if who.startswith("viewer"):  # an agency viewer never sees another agency's counts
                assert "Bình Thủy" not in resp.get_data(as_text=True)

    check()


# ---------------------------------------------------------------- filters of the agency and comparison pages

#: per page: parameter → (values the page must accept, values it must refuse); anything else is only required
#: to be no 5xx, nothing changed, and explained when refused
FILTER_PAGES: dict[str, dict[str, tuple[list[str], list[str]]]] = {
    "/dashboard/agency/UBND-NK": {
        "questionnaire": (["{qv}", ""], ["abc", "-1", "0", "999999", "1e3", "9" * 30]),
        "from": (["2026-11", "2026-12", ""], ["2022-13", "zz", "2026-00", "0000-01", "2026-11-01", "²⁰²⁶-11"]),
        "to": (["2026-12", ""], ["2022-13", "zz", "-1", "99999-01"]),
        "channel": (["paper", "kiosk", ""], ["zz", "PAPER", "<b>x</b>"]),
        "trend": (["month", "quarter", "year", ""], ["week", "MONTH"]),
        "sp": (["UBND-NK-SP1", "UBND-NK-SP2", ""], ["NOPE", "STP-SP1", "UBND-BT-SP1"]),
        "format": (["csv", "xlsx"], ["pdf", "CSV", "json"]),
    },
    "/dashboard/agency/UBND-NK/comments": {
        "from": (["2026-11", ""], ["2026-13", "zz"]), "to": (["2026-12", ""], ["0000-01", "x"]),
        "sp": (["UBND-NK-SP1", ""], ["STP-SP1"]), "topic": ([""], ["nope"]),
        "q": (["cán bộ", "", "x" * 200], ["x" * 201, "y" * 3000]),
        "page": (["1", "2", "999"], ["0", "-1", "abc", "１"]),
        "format": (["csv", "xlsx"], ["pdf"]),
    },
    "/homeaffairs/": {
        "questionnaire": (["{qv}"], ["abc", "999999"]), "period_kind": (["quarter", "month", "year"], ["week"]),
        "period": (["2026-Q4", "2026-12", "2026"], ["2026-Q5", "0001-01", "2026-13", "zz"]),
        "channel": (["paper", ""], ["fax"]), "level": (["district", "agency"], ["planet", "DISTRICT"]),
        "measure": (["OVERALL"], ["NOPE", "<i>"]), "top_k": (["1", "5", "1000"], ["0", "1001", "abc", "-3"]),
    },
}


@pytest.fixture
def surveyed_city(fuzz_app, db_session):
    fuzz_app.config.update(HAILONG_CLOCK=lambda: NOW, HAILONG_BOOTSTRAP_B=20)  # a few replicates: many requests
    return city_with_responses(db_session, per_point=6, months=2)  # November and December 2026


@st.composite
def filter_queries(draw: st.DrawFn, page: str, qv: int) -> tuple[str, bool | None]:
    """(query, valid): `valid` True when every filter holds a value the page accepts, False when the value the
    page reads (the first) of some filter is one it must refuse, None when arbitrary text makes it unknown."""
    pool = FILTER_PAGES[page]
    parts: list[str] = []
    first: dict[str, tuple[str, str]] = {}  # filter → (how it was drawn, value) of its first occurrence
    arbitrary = False
    for _ in range(draw(st.integers(0, 4))):
        how = draw(st.sampled_from(["valid", "valid", "invalid", "any"]))
        name = draw(st.sampled_from(sorted(pool)))
        if how == "any":
            arbitrary = True
            name = draw(st.one_of(st.just(name), texts))
            value = draw(st.one_of(texts, ints.map(str)))
        else:
            value = draw(st.sampled_from(pool[name][0 if how == "valid" else 1])).format(qv=qv)
        first.setdefault(name, (how, value))
        parts.append(f"{url_part(name)}={url_part(value)}")
    query = "&".join(parts)
    if any(how == "invalid" for how, _v in first.values()):
        return query, False
    if arbitrary:
        return query, None
    months = {n: first[n][1] for n in ("from", "to") if n in first and first[n][1]}
    if len(months) == 2 and months["from"] > months["to"]:
        return query, False  # From after To
    return query, True


def test_filter_pages(fuzz_app, rows, surveyed_city):
    clients = _clients(fuzz_app, "noivu")
    qv = surveyed_city.qv_id
    pages = sorted(FILTER_PAGES)

    @FUZZ
    @given(data=st.data(), page=st.sampled_from(pages), lang=st.sampled_from(LANGS))
    def check(data: st.DataObject, page: str, lang: str) -> None:
        query, valid = data.draw(filter_queries(page, qv))
        fresh_limits()
        before = rows()
        forget_user()
        resp = clients[lang].get(f"{page}?{query}")
        seen(f"filters {page}", resp.status_code)
        body = resp.get_data()
        assert resp.status_code < 500, body[:300]
        assert changed(before, rows()) == {}
        if valid is False:  # never the page with a value it cannot use (it used to show the default figures)
            assert resp.status_code in (400, 404), (query, resp.status_code)
            assert "Content-Disposition" not in resp.headers
        if valid is True:  # a download of a selection without responses has no table to give: 404
            assert resp.status_code == 200 or (resp.status_code == 404 and "format=" in query), (query, body[:300])
        if resp.status_code >= 400:
            assert _explained(fuzz_app, lang, resp.status_code, body.decode()), (query, body[:300])

    check()


# ---------------------------------------------------------------- kiosk audio files

def test_kiosk_speech_files(fuzz_app, rows, tmp_path, db_session):
    small_city(db_session)
    folder = tmp_path / "speech"
    folder.mkdir()
    fuzz_app.config["HAILONG_SPEECH_DIR"] = str(folder)
    data = bytes(range(256)) * 7 + b"end"  # 1,795 bytes standing for an Ogg file
    name = hashlib.sha256(b"fuzz").hexdigest() + ".ogg"
    (folder / name).write_bytes(data)
    secret = b"SECRET-OUTSIDE-THE-SPEECH-FOLDER"
    (tmp_path / "secret.ogg").write_bytes(secret)
    (folder / ("0" * 64 + ".txt")).write_bytes(secret)
    etag = name.partition(".")[0]
    names = [name, name.replace(".ogg", ".wav"), name.upper(), name + "/", "../secret.ogg", "..%2Fsecret.ogg",
             "%2e%2e%2fsecret.ogg", "..%5csecret.ogg", "0" * 64 + ".txt", name[:-4], "." + name, name + "%00",
             "%252e%252e%252fsecret.ogg"]
    ranges = ["bytes=0-0", "bytes=0-", "bytes=-1", "bytes=-5000", "bytes=1794-", "bytes=1795-", "bytes=5-2",
              "bytes=0-1,4-5", "bytes=" + "9" * 30 + "-", "bytes=-0", "items=0-1", "bytes=0-" + "9" * 30,
              "bytes= 1 - 2", "bytes=1795-1795"]
    conditions = {"If-None-Match": [f'"{etag}"', "*", "W/\"x\"", '"' + "a" * 500 + '"'],
                  "If-Range": [f'"{etag}"', '"other"', "Tue, 01 Jan 2030 00:00:00 GMT", "garbage"],
                  "If-Modified-Since": ["Tue, 01 Jan 2030 00:00:00 GMT", "not a date", "Mon, 32 Foo 99999 25:61:61"]}
    headers = st.lists(st.sampled_from(["Range", *conditions]), unique=True, max_size=3).flatmap(
        lambda keys: st.fixed_dictionaries({k: st.one_of(st.sampled_from(ranges if k == "Range" else conditions[k]),
                                                         texts) for k in keys}))
    client = fuzz_app.test_client()

    @FUZZ
    @given(raw=st.one_of(st.just(name), st.sampled_from(names), texts.map(url_part)), hdrs=headers,
           lang=st.sampled_from(LANGS))
    def check(raw: str, hdrs: dict[str, str], lang: str) -> None:
        fresh_limits()
        before = rows()
        try:
            resp = client.get("/kiosk/speech/" + raw, headers={**hdrs, "Accept-Language": lang})
        except (UnicodeEncodeError, ValueError):  # a header the test client itself refuses to send
            return
        seen("kiosk audio /kiosk/speech/<name>", resp.status_code)
        body = resp.get_data()
        assert resp.status_code < 500, body[:300]
        assert secret not in body
        assert changed(before, rows()) == {}
        assert sorted(p.name for p in folder.iterdir()) == sorted([name, "0" * 64 + ".txt"])  # nothing made
        if resp.status_code == 200:
            assert body == data
        elif resp.status_code == 206:
            unit, _sp, span = resp.headers["Content-Range"].partition(" ")
            first, last = (int(x) for x in span.partition("/")[0].split("-"))
            assert unit == "bytes" and span.endswith("/1795") and body == data[first:last + 1]
        elif resp.status_code == 304:
            assert body == b""
        elif resp.status_code in (400, 404):
            assert _explained(fuzz_app, lang, resp.status_code, body.decode())
        else:  # a range outside the file: for a media player, not a person, so it says the length it has
            assert resp.status_code == 416 and "Range" in hdrs, resp.status_code
            assert resp.headers["Content-Range"] == "bytes */1795" and body == b""

    check()


# ---------------------------------------------------------------- a service point's opening hours

HOURS_REFUSED = "Opening hours look like \"Mon-Sat 07:30-11:30,13:30-17:00\": optional weekdays (Mon to Sun), then " \
                "time spans hh:mm-hh:mm separated by commas."


@st.composite
def opening_hours(draw: st.DrawFn) -> str:
    """Mostly something shaped like opening hours, with hostile pieces; sometimes anything."""
    pick = draw(st.integers(0, 4))
    if pick == 0:
        return draw(texts)
    if pick == 1:  # well formed, so examples also reach the saving path
        days = draw(st.sampled_from(["", "Mon-Fri ", "Mon-Sat ", "sat ", "Tue-Sun "]))
        return days + draw(st.sampled_from(["07:30-11:30,13:30-17:00", "08:00-12:00", "00:00-24:00", "13:00-20:00"]))
    day = st.one_of(st.sampled_from(["Mon", "Fri", "sat", "SUN", "Tue", "mon", "Xyz", ""]), texts)
    clock = st.one_of(st.sampled_from(["07:30", "11:30", "13:00", "17:00", "24:00", "24:59", "25:00", "7:5", "00:00",
                                       "٠٧:٣٠", "²:00", "-1:00", "07:60", "9" * 30 + ":00", ""]), texts)
    spans = draw(st.lists(st.tuples(clock, clock).map("-".join), min_size=1, max_size=4))
    text = ",".join(spans)
    if draw(st.booleans()):
        text = f"{draw(day)}-{draw(day)} {text}" if draw(st.booleans()) else f"{draw(day)} {text}"
    return draw(st.sampled_from(["", " ", "\t", "  "])) + text + draw(st.sampled_from(["", " ", "\n", " x"]))


def test_service_point_opening_hours(fuzz_app, rows, db_session):
    city = small_city(db_session)
    sp = city.service_points["STP-SP1"]
    sp_id = sp.id
    url = f"/admin/service-points/{sp_id}/edit"
    form = {"name_vi": sp.name_vi, "name_en": sp.name_en, "agency": str(sp.agency_id),
            "kiosk_instrument": "counter-quick", "link_instrument": "sipas-2017"}
    clients = _clients(fuzz_app, "admin")
    tokens = {lang: csrf_from(c.get(url).get_data(as_text=True)) for lang, c in clients.items()}

    @FUZZ
    @given(hours=opening_hours(), lang=st.sampled_from(LANGS))
    def check(hours: str, lang: str) -> None:
        fresh_limits()
        before = rows()
        stored_before = select_one(select(ServicePoint.opening_hours).where(ServicePoint.id == sp_id))
        forget_user()
        try:
            resp = clients[lang].post(url, data={**form, "opening_hours": hours, "csrf_token": tokens[lang]})
        except UnicodeEncodeError:
            return
        seen("opening hours /admin/service-points/<id>/edit", resp.status_code)
        html = resp.get_data(as_text=True)
        assert resp.status_code < 500, html[:300]
        stored = select_one(select(ServicePoint.opening_hours).where(ServicePoint.id == sp_id))
        diff = changed(before, rows())
        if resp.status_code == 302:  # saved: what the scan reads back is what was typed, or office hours
            assert set(diff) <= {"audit_event"}, diff
            assert stored == (" ".join(hours.split()) or None)  # spaces stored as single ASCII spaces
            assert OpeningHours.parse(stored) == OpeningHours.parse(hours)
            if stored == stored_before:
                assert diff == {}  # unchanged hours record nothing
        else:
            assert resp.status_code == 400, resp.status_code
            assert diff == {} and stored == stored_before
            if len(hours) <= 80:
                assert _explained(fuzz_app, lang, 400, html, HOURS_REFUSED)

    check()
