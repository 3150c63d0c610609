"""A URL parameter a staff page cannot use is refused, never ignored (survey/dashboard/params.py).

Every staff page and export that reads filters from the address (agency pages, comments, comment topics, the
Home Affairs comparison and its exports, the period report as HTML, XLSX and PDF; the administration pages'
prefilled selects, audit log and service volumes) answers a malformed or
unknown value with a 400 (404 for a code or id naming nothing the viewer may see) whose page says, in the
user's language, which parameter holds what and what it accepts — never a 200 with the default figures
(`?from=2022-13&to=zz` used to show every month without a word) and never a 5xx (`?period=0001-01` was a
500) — and changes nothing in the database.  An absent or empty parameter still means the default.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from flask_babel import force_locale, gettext
from markupsafe import escape

from survey.dashboard.params import MESSAGES
from tests.admin.adminkit import as_user
from tests.dashboard.helpers import forget_user
from tests.fuzz.kit import Rows, changed
from tests.results.factories import city_with_responses

LANGS = ("vi", "en")
#: (parameter, invalid value, refusal code, status): each is sent alone to every route reading the parameter
MONTHS = [("2022-13", "param_month"), ("zz", "param_month"), ("2022-00", "param_month"), ("99999-01", "param_month"),
          ("0000-01", "param_month"), ("2022-07-15", "param_month"), ("²⁰²²-07", "param_month")]
NUMBERS = ["abc", "-1", "0", "1e3", "9" * 30, "2147483648", "１"]
CHOICES = ["zz", "<b>x</b>", "MONTH"]
PERIODS = ["2026-Q9", "zz", "2026-13", "0001-01", "0000", "2026-Q0"]
CASES: dict[str, list[tuple[str, str, int]]] = {
    "from": [(v, c, 400) for v, c in MONTHS], "to": [(v, c, 400) for v, c in MONTHS],
    "questionnaire": [(v, "param_number", 400) for v in NUMBERS] + [("999999", "param_unknown", 404)],
    "channel": [(v, "param_choice", 400) for v in CHOICES], "trend": [(v, "param_choice", 400) for v in CHOICES],
    "format": [(v, "param_choice", 400) for v in ("pdf", "CSV", "json")],
    "table": [("nope", "param_choice", 404)],  # a table the page lacks: not found, naming those it has
    "sp": [("NOPE", "param_unknown", 404), ("UBND-BT-SP1", "param_unknown", 404)],
    "topic": [("nope", "param_unknown", 404)],
    "q": [("x" * 201, "param_too_long", 400)],
    "page": [(v, "param_number", 400) for v in NUMBERS],
    "period_kind": [(v, "param_choice", 400) for v in CHOICES],
    "period": [(v, "param_period", 400) for v in PERIODS],
    "level": [(v, "param_choice", 400) for v in CHOICES],
    "measure": [(v, "param_choice", 400) for v in CHOICES],
    "top_k": [(v, "param_number", 400) for v in [*NUMBERS, "1001"]],
    "view": [(v, "param_choice", 400) for v in CHOICES],
    # an id naming nothing: the specific refusal too, not the bare "not found" (attacker pass, 7 Dec 2026)
    "unit_id": [(v, "param_number", 400) for v in NUMBERS] + [("", "param_missing", 400),
                                                               ("999999", "param_unknown", 404)],
    "agency_id": [(v, "param_number", 400) for v in NUMBERS] + [("", "param_missing", 400),
                                                                 ("999999", "param_unknown", 404)],
    "status": [(v, "param_choice", 400) for v in CHOICES],
}
AGENCY = ["questionnaire", "from", "to", "channel", "trend", "format"]
COMPARE = ["questionnaire", "period_kind", "period", "channel", "level", "measure", "top_k"]
#: route → (parameters always sent, parameters tried); `{nk}`/`{ubnk}` are the unit and agency ids
ROUTES = {
    "/dashboard/": ({}, [*AGENCY, "table"]),
    "/dashboard/agency/UBND-NK": ({}, [*AGENCY, "sp", "table"]),
    "/dashboard/agency/UBND-NK?format=csv": ({"format": "csv"}, ["from", "table", "sp"]),
    "/dashboard/agency/UBND-NK/comments": ({}, ["from", "to", "sp", "topic", "q", "page", "format"]),
    "/dashboard/agency/UBND-NK/comments?format=xlsx": ({"format": "xlsx"}, ["from", "to", "q", "page"]),
    "/dashboard/topics/": ({}, ["period_kind", "period", "format", "table"]),
    "/dashboard/topics/?format=csv": ({"format": "csv"}, ["table", "period"]),
    "/homeaffairs/": ({}, COMPARE),
    "/homeaffairs/unit/{nk}": ({}, ["period", "level", "measure"]),
    "/homeaffairs/agency/{ubnk}": ({}, ["questionnaire", "top_k"]),
    "/homeaffairs/export.csv": ({"view": "unit", "unit_id": "{nk}"}, [*COMPARE, "view", "unit_id", "table"]),
    "/homeaffairs/export.xlsx": ({"view": "agency", "agency_id": "{ubnk}"}, ["period", "agency_id"]),
    "/homeaffairs/report/": ({}, COMPARE),
    "/homeaffairs/report/report.xlsx": ({}, ["period", "measure", "channel"]),
    "/homeaffairs/report/report.pdf": ({}, ["questionnaire", "period", "level"]),
    "/homeaffairs/integrity/": ({}, ["status"]),
}


@pytest.fixture
def city(app, db_session):
    app.config["HAILONG_BOOTSTRAP_B"] = 20  # the valid requests compare units: a few replicates are enough
    return city_with_responses(db_session, per_point=6, months=2).city  # dated from the suite's fixed clock


def _fragments(app: Any, lang: str, code: str, **known: Any) -> list[str]:
    """The refusal's words in `lang` as the page prints them (HTML-escaped), split where the test does not
    know a value (the choices the page offers, the limits of a number)."""
    hole = "\x00"
    with app.test_request_context(), force_locale(lang):
        msgid = MESSAGES[code]
        names = ("name", "value", "choices", "low", "high", "start", "end", "length", "limit")
        text = gettext(msgid, **{n: known.get(n, hole) for n in names})
    return [str(escape(part)) for part in text.split(hole) if part.strip()]


def _url(path: str, base: dict[str, str], city: Any, **more: str) -> str:
    ids = {"nk": city.units["NK"].id, "ubnk": city.agencies["UBND-NK"].id}
    args = {k: v.format(**ids) for k, v in {**base, **more}.items()}
    return path.split("?")[0].format(**ids) + ("?" + urlencode(args) if args else "")


def _refused(app: Any, client: Any, lang: str, url: str, name: str, value: str, code: str, status: int,
             without: str) -> None:
    """`url` answers `status` with the refusal `code` in `lang`, no file, and a link to `without`."""
    forget_user()
    resp = client.get(url)
    html = resp.get_data(as_text=True)
    assert resp.status_code == status, (url, lang, resp.status_code, html[:300])
    assert "Content-Disposition" not in resp.headers and resp.mimetype == "text/html", url
    shown = value if len(value) <= 40 else value[:40] + "…"
    for part in _fragments(app, lang, code, name=name, value=shown):
        assert part in html, (url, lang, part)
    assert f'href="{escape(without)}"' in html, url  # the way out: the same address without the parameter


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_invalid_parameters_are_refused_in_the_users_language(app, city, route):
    base, names = ROUTES[route]
    clients = {lang: as_user(app.test_client(), "noivu", lang) for lang in LANGS}
    rows = Rows()
    before = rows()
    forget_user()
    assert clients["vi"].get(_url(route, base, city)).status_code == 200  # the page itself works
    for name in names:
        without = _url(route, {k: v for k, v in base.items() if k != name}, city)
        for value, code, status in CASES[name]:
            for lang, client in clients.items():
                _refused(app, client, lang, _url(route, base, city, **{name: value}), name, value, code, status,
                         without)
    assert changed(before, rows()) == {}


#: administration pages: (path, parameter, value, refusal code, status)
ADMIN = [
    ("/admin/audit", "page", "abc", "param_number", 400), ("/admin/audit", "page", "0", "param_number", 400),
    ("/admin/volumes", "year", "1999", "param_number", 400),
    ("/admin/volumes", "year", "２０２４", "param_number", 400),
    ("/admin/volumes/grid", "year", "abc", "param_number", 400),
    ("/admin/volumes/grid", "agency", "abc", "param_number", 400),
    ("/admin/volumes/grid", "agency", "999999", "param_unknown", 404),
    ("/admin/units/new", "parent", "abc", "param_unknown", 404),
    ("/admin/units/new", "parent", "999999", "param_unknown", 404),
    ("/admin/agencies/new", "unit", "-1", "param_unknown", 404),
    ("/admin/service-points/new", "agency", "999999", "param_unknown", 404),
    ("/admin/kiosks/new", "service_point", "NOPE", "param_unknown", 404),
    ("/admin/invitations", "service_point", "<b>x</b>", "param_unknown", 404),
]


def test_administration_pages_refuse_what_they_cannot_prefill_or_filter(app, city):
    clients = {lang: as_user(app.test_client(), "admin", lang) for lang in LANGS}
    rows = Rows()
    before = rows()
    for path, name, value, code, status in ADMIN:
        for lang, client in clients.items():
            _refused(app, client, lang, f"{path}?{urlencode({name: value})}", name, value, code, status, path)
    for lang, client in clients.items():  # a filter of the audit log that is not a date: said on its field
        forget_user()
        resp = client.get("/admin/audit?date_from=2026-13-01")
        assert resp.status_code == 400
        with app.test_request_context(), force_locale(lang):
            from survey.forms import FlaskForm  # noqa: F401  (WTForms' messages are translated through it)

            assert str(escape(gettext("Not a valid date value."))) in resp.get_data(as_text=True)
    assert changed(before, rows()) == {}


@pytest.mark.parametrize("query", ["from=", "to=&from=", "channel=", "trend=", "questionnaire=", "format=", "sp=",
                                   "from=2026-11&to=2026-12", "from=2026-1", "trend=quarter", "channel=paper"])
def test_absent_empty_and_valid_values_still_show_the_page(app, city, query):
    client = as_user(app.test_client(), "noivu", "vi")
    forget_user()
    resp = client.get("/dashboard/agency/UBND-NK?" + query)
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]


def test_the_reported_address_says_what_is_wrong(app, city):
    """The case found in session 11: From month 13 and To "zz" showed every month's figures without a word."""
    client = as_user(app.test_client(), "noivu", "vi")
    forget_user()
    resp = client.get("/dashboard/agency/UBND-NK?from=2022-13&to=zz")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert "Địa chỉ trang yêu cầu from=“2022-13”, đây không phải là một tháng." in html
    assert 'href="/dashboard/agency/UBND-NK?to=zz"' in html  # fixing one value at a time
    assert 'class="ha-table"' not in html  # no figure
    forget_user()
    resp = client.get("/dashboard/agency/UBND-NK?from=2026-12&to=2026-11")
    assert resp.status_code == 400
    assert "từ 2026-12 đến 2026-11" in resp.get_data(as_text=True)


def test_a_foreign_service_point_stays_a_404_that_names_nothing(app, city):
    client = as_user(app.test_client(), "tuphap", "en")
    forget_user()
    resp = client.get("/dashboard/agency/STP?sp=UBND-BT-SP1")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 404
    assert "does not exist or is not yours to see" in html
    assert "Bình Thủy" not in html and "Binh Thuy" not in html
