"""Responses by language (attacker pass, 8 Dec 2026): what the tables hide, and whether languages give anything.

(1) The agency page's and the Home Affairs comparison's "responses by language" tables hid a language's share
under n_min responses while printing its count and the total in the same row: the share is count / total, one
division away, so the hiding protected nothing and told readers a figure was protected.  These are counts of
responses, which every page prints beside every figure, hidden or not ("n = …"); no satisfaction figure exists by
language.  So the share is shown, like the comment topics' shares (survey/dashboard/comment_topics.py).

(2) That no satisfaction figure exists by language is checked, not assumed: every other table of the agency page
(CSV), the Home Affairs comparison (XLSX) and the period report (XLSX) is unchanged when a small group's responses
change language — so no difference of pages across languages, at any node, can describe a small group."""

from __future__ import annotations

import io
import re

import pytest
from openpyxl import load_workbook
from sqlalchemy import select, update

from survey.respond.models import Response
from survey.results import cache
from tests.dashboard.hakit import login, read_csv, use_language
from tests.results.factories import city_with_responses

NAMES = {"vi": "Vietnamese", "en": "English", "km": "Khmer"}


@pytest.fixture
def data(app, db_session):
    app.config.update(HAILONG_BOOTSTRAP_B=40)
    cache.clear()
    d = city_with_responses(db_session, per_point=20, comments=False)
    ids = db_session.scalars(select(Response.id).where(Response.agency_id == d.city.agencies["STP"].id)
                             .order_by(Response.id)).all()
    db_session.execute(update(Response).where(Response.id.in_(ids[::3])).values(language="km"))
    db_session.commit()
    yield d
    cache.clear()


def _quarter(session) -> str:
    period = session.scalar(select(Response.period).order_by(Response.period.desc()).limit(1))
    return f"{period.year}-Q{(period.month - 1) // 3 + 1}"


def _derivable_hidden(rows: list[dict[str, str]], total_col: str, count_col, share_col) -> list[str]:
    """The reader: every share cell left empty whose count and total the same row prints (so count / total is
    the hidden share, exactly); and every printed share that is not count / total."""
    found = []
    for row in rows:
        total = int(row[total_col])
        for code in NAMES:
            count, share = row[count_col(code)], row[share_col(code)]
            if total == 0:
                continue
            if share == "" and count != "":
                found.append(f"{row}: {code} hidden, = {int(count)}/{total}")
            elif share != "" and abs(float(share) - int(count) / total) > 1e-9:
                found.append(f"{row}: {code} share {share} is not {count}/{total}")
    return found


def test_no_language_share_is_hidden_beside_the_count_and_total_that_give_it(app, client, db_session, data):
    app.config["HAILONG_N_MIN"] = 10_000  # every group is small
    quarter = _quarter(db_session)
    login(client, "noivu")
    use_language(client, "en")
    ha = read_csv(client.get(f"/homeaffairs/export.csv?level=agency&period={quarter}&table=languages"))
    assert ha and any(int(r["Khmer"]) > 0 for r in ha)
    found = _derivable_hidden(ha, "Responses counted", lambda c: NAMES[c], lambda c: f"{NAMES[c]}, share")
    agency = read_csv(client.get("/dashboard/agency/STP?format=csv&table=languages"))
    by_lang = {r["Language"]: r for r in agency}
    total = sum(int(r["Responses"]) for r in agency)
    assert int(by_lang["Khmer"]["Responses"]) > 0
    flat = {"total": str(total)} | {f"{c}_n": by_lang[n]["Responses"] for c, n in NAMES.items()} \
        | {f"{c}_s": by_lang[n]["Share of responses"] for c, n in NAMES.items()}
    found += _derivable_hidden([flat], "total", lambda c: f"{c}_n", lambda c: f"{c}_s")
    assert found == [], "\n".join(found)
    # the page says it too: a share beside each count, however few the responses
    html = client.get("/dashboard/agency/STP").get_data(as_text=True)
    assert "%" in html.split('id="table-languages"')[1].split("</table>")[0]


def _figures(client, quarter: str) -> dict[str, object]:
    """Every table of the agency page (CSV) and every sheet of the comparison and report (XLSX) but the
    language tables themselves."""
    out: dict[str, object] = {}
    html = client.get("/dashboard/agency/STP").get_data(as_text=True)
    for table in re.findall(r'id="table-([\w-]+)"', html):
        if table != "languages":
            out[table] = client.get(f"/dashboard/agency/STP?format=csv&table={table}").get_data(as_text=True)
    for url in (f"/homeaffairs/export.xlsx?level=agency&period={quarter}",
                f"/homeaffairs/export.xlsx?level=commune&period={quarter}",
                f"/homeaffairs/report/report.xlsx?period={quarter}"):
        wb = load_workbook(io.BytesIO(client.get(url).data))
        for ws in wb.worksheets:
            if ws.title != "Languages":
                out[f"{url} {ws.title}"] = [row for row in ws.iter_rows(values_only=True)]
    return out


def test_no_figure_but_the_language_counts_depends_on_the_language_answered_in(app, client, db_session, data):
    app.config["HAILONG_N_MIN"] = 5
    quarter = _quarter(db_session)
    login(client, "noivu")
    use_language(client, "en")
    before = _figures(client, quarter)
    langs_before = client.get("/dashboard/agency/STP?format=csv&table=languages").get_data(as_text=True)
    # a small group — one service point's last 3 responses — now answered in English
    sp = data.city.service_points["UBND-NK-SP1"].id
    ids = db_session.scalars(select(Response.id).where(Response.service_point_id == sp)
                             .order_by(Response.id.desc()).limit(3)).all()
    db_session.execute(update(Response).where(Response.id.in_(ids)).values(language="en"))
    stp = db_session.scalars(select(Response.id).where(Response.agency_id == data.city.agencies["STP"].id)).all()
    db_session.execute(update(Response).where(Response.id.in_(stp)).values(language="vi"))
    db_session.commit()
    cache.clear()
    after = _figures(client, quarter)
    assert len(before) > 8 and after == before
    assert client.get("/dashboard/agency/STP?format=csv&table=languages").get_data(as_text=True) != langs_before
