"""Disclosure by differencing: no surface shows a total from which a suppressed figure can be worked out.

A reader who sees a total (estimate, n) beside the shown rows (estimate, n) forms the remainder
n_R = n_total − Σ n_shown and its figure (total·n_total − Σ estimate_i·n_i) / n_R.  The rule
(docs/methodology-design.md, "Totals beside suppressed rows"; analysis/disclosure.py): that remainder is empty,
or it pools at least n_min responses of at least two suppressed rows.  Checked on every surface that puts a
total next to suppressed rows: Home Affairs comparisons (units, agencies, drill-downs to agencies and to service
points) as pages, CSV and XLSX; the period report (XLSX, HTML); the agency page's headline beside its trend
(page and CSV).  Across linked pages: a parent's row (a district on the comparison, an agency on the agency
list) minus its drill-down; the report's summary minus its districts and city departments; the whole city (the
agency page's reference) minus the agency list.  A self-test turns the rule off and shows the check then finds
the suppressed figure, equal to the true one.  Both databases (the app fixtures are parametrised)."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from survey.org.models import ServicePoint
from tests.dashboard.displaykit import add_responses
from tests.dashboard.hakit import login, use_language
from tests.dashboard.helpers import forget_user, get
from tests.dashboard.publishkit import N_MIN, TODAY, fill, publish_city

Q4 = datetime(2022, 11, 10, 3, tzinfo=UTC)
OVERALL = "Overall satisfaction index"  # the overall index's English title (counter-quick)
SMALL = 3  # responses of the one suppressed unit / service point / month (N_MIN = 10)


@pytest.fixture
def one_small(app, db_session):
    """2022-Q4: every agency 12 responses, except the commune BT-TT (3); Ninh Kiều's committee has a second
    service point with 3; the Department of Justice has 12 in October and 3 in December.  So each comparison
    level, each drill-down and the Department's monthly trend has exactly ONE suppressed row."""
    app.config.update(HAILONG_BOOTSTRAP_B=30, HAILONG_N_MIN=N_MIN, HAILONG_CLOCK=lambda: TODAY)
    data = publish_city(db_session)
    fill(db_session, data, data.city.agencies, 12, datetime(2022, 8, 10, 3, tzinfo=UTC), seed=3)  # a trend
    fill(db_session, data, [c for c in data.city.agencies if c not in ("UBND-BT-TT", "STP")], 12, Q4, seed=4)
    fill(db_session, data, ["UBND-BT-TT"], SMALL, Q4, seed=5)
    nk = data.city.agencies["UBND-NK"]
    sp2 = ServicePoint(code="UBND-NK-SP2", name_vi="Quầy 2 Ninh Kiều", name_en="Ninh Kieu desk 2", agency_id=nk.id)
    db_session.add(sp2)
    db_session.commit()
    add_responses(db_session, data.qv_id, sp2.id, SMALL, Q4, good=0.3, seed=6)
    add_responses(db_session, data.qv_id, data.sp("STP"), 12, datetime(2022, 10, 12, 3, tzinfo=UTC), seed=7)
    add_responses(db_session, data.qv_id, data.sp("STP"), SMALL, datetime(2022, 12, 12, 3, tzinfo=UTC), good=0.2,
                  seed=8)
    return data


# --------------------------------------------------------------------------- the check
def remainder(total_n: int, rows: list[tuple[bool, int]]) -> tuple[int, int]:
    """(n of the remainder a reader can form, suppressed rows with responses) from (shown?, n) rows."""
    return total_n - sum(n for shown, n in rows if shown), sum(1 for shown, n in rows if not shown and n > 0)


def assert_not_derivable(where: str, total_n: int, rows: list[tuple[bool, int]]) -> None:
    n_r, hidden = remainder(total_n, rows)
    assert any(not shown and n > 0 for shown, n in rows), f"{where}: the scenario has no suppressed row"
    assert n_r <= 0 or (n_r >= N_MIN and hidden >= 2), (
        f"{where}: the total (n = {total_n}) minus the shown rows leaves {n_r} responses of {hidden} suppressed "
        f"row(s): their figure can be worked out")


def derived(total: tuple[float, int], shown: list[tuple[float, int]]) -> float:
    """What a reader computes for the remainder (exact for these data: every respondent answers every item)."""
    (t, n_t), n_s = total, sum(n for _e, n in shown)
    return (t * n_t - sum(e * n for e, n in shown)) / (n_t - n_s)


# --------------------------------------------------------------------------- reading the surfaces
def _get(client, url: str):
    resp = get(client, url)
    assert resp.status_code == 200, (url, resp.status_code)
    return resp


def _int(text: str) -> int:
    return int(re.sub(r"[^\d]", "", text))


def page_total_and_rows(html: str) -> tuple[int, list[tuple[bool, int]]]:
    """The Home Affairs page's total line (n) and its units table: (shown?, n) per row (English page)."""
    line = re.search(r'<p class="overall"[^>]*>(.*?)</p>', html, re.S).group(1)
    total_n = _int(re.findall(r"n = ([\d,]+)", line)[-1])
    body = html[html.index('<table class="units">'):]
    body = body[:body.index("</table>")]
    rows = []
    for tr in re.findall(r"<tr class=\"(suppressed)?\"[^>]*>(.*?)</tr>", body, re.S):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", tr[1], re.S)
        if tr[0]:
            rows.append((False, _int(re.search(r"n = ([\d,]+)", cells[0]).group(1))))
        else:
            rows.append((True, _int(cells[2])))
    return total_n, rows


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))


def export_total_and_rows(client, query: str) -> tuple[tuple[float, int] | None,
                                                       list[tuple[bool, int, float | None]]]:
    """From the CSV exports: the total (the trend's latest period: the same selection as the total line; None
    when the view exports no trend, i.e. no total) and the estimates table's rows (shown?, n, estimate)."""
    est = csv_rows(_get(client, f"/homeaffairs/export.csv?{query}&table=estimates").get_data(as_text=True))
    forget_user()
    resp = client.get(f"/homeaffairs/export.csv?{query}&table=trend")
    if resp.status_code == 404:
        return None, [(r["Estimate"] != "", int(r["n"]), None) for r in est]
    last = csv_rows(resp.get_data(as_text=True))[-1]
    rows = [(r["Estimate"] != "", int(r["n"]), float(r["Estimate"]) if r["Estimate"] else None) for r in est]
    return (float(last["Estimate"]), int(last["n"])), rows


PAGES = {
    "communes": "/homeaffairs/?period=2022-Q4&level=commune",
    "agencies": "/homeaffairs/?period=2022-Q4&level=agency",
}


def _pages(data) -> dict[str, tuple[str, str]]:
    """name → (page URL, export query) of every Home Affairs view with one suppressed row."""
    bt, nk = data.city.units["BT"].id, data.city.agencies["UBND-NK"].id
    out = {name: (url, url.split("?", 1)[1]) for name, url in PAGES.items()}
    out["agencies of Bình Thủy"] = (f"/homeaffairs/unit/{bt}?period=2022-Q4",
                                    f"period=2022-Q4&view=unit&unit_id={bt}")
    out["service points of Ninh Kiều"] = (f"/homeaffairs/agency/{nk}?period=2022-Q4",
                                          f"period=2022-Q4&view=agency&agency_id={nk}")
    return out


def _rule_off(monkeypatch) -> None:
    """The behaviour before the rule: every total over all listed rows, no period hidden beside a headline."""
    monkeypatch.setattr("survey.results.comparison.remainder_safe", lambda n, suppressed, n_min: True)
    _linked_off(monkeypatch)


def _linked_off(monkeypatch) -> None:
    """The behaviour before secondary suppression across pages: each page protected on its own only."""
    monkeypatch.setattr("survey.results.protection.ENABLED", False)
    monkeypatch.setattr("survey.dashboard.agency_data.hidden_beside_total",
                        lambda n, suppressed, n_min=None: list(suppressed))


# --------------------------------------------------------------------------- Home Affairs
def test_home_affairs_pages_and_exports_give_no_suppressed_figure(client, one_small):
    login(client, "noivu")
    use_language(client, "en")
    for name, (url, query) in _pages(one_small).items():
        html = _get(client, url).get_data(as_text=True)
        total_n, rows = page_total_and_rows(html)
        assert_not_derivable(f"{name} (page)", total_n, rows)
        # the label says what the total covers: the units with an estimate, or all (the hidden ones included)
        line = html[html.index('class="overall"'):][:600]
        assert "with an estimate" in line or ("listed together" in line and "included" in line), name
        total, est = export_total_and_rows(client, query)
        book = load_workbook(io.BytesIO(_get(client, f"/homeaffairs/export.xlsx?{query}").data))
        sheets = {ws.title: list(ws.iter_rows(values_only=True)) for ws in book.worksheets}
        trend = next((v for k, v in sheets.items() if k.lower().startswith("trend")), None)
        if total is None:  # drill-downs show no trend: their files hold no total
            assert trend is None, name
            continue
        assert_not_derivable(f"{name} (CSV: trend's latest period beside the estimates)", total[1],
                             [(s, n) for s, n, _e in est])
        assert total[1] == total_n, f"{name}: the trend's latest period covers other units than the total line"
        assert trend is not None, name
        estimates = next(v for k, v in sheets.items() if k.lower().startswith("estimates"))
        n_col, e_col = estimates[0].index("n"), estimates[0].index("Estimate")
        assert_not_derivable(f"{name} (XLSX)", int(trend[-1][trend[0].index("n")]),
                             [(r[e_col] is not None, int(r[n_col])) for r in estimates[1:]])


def test_the_check_finds_the_suppressed_figure_without_the_rule(client, one_small, monkeypatch, db_session):
    """Self-test: with every total over all listed rows (the old behaviour) the one suppressed commune's
    figure comes out of the export exactly — the check above fails on it."""
    from datetime import date

    from survey.results.indices import indices
    from survey.results.selection import Selection

    _rule_off(monkeypatch)
    login(client, "noivu")
    use_language(client, "en")
    url, query = _pages(one_small)["communes"]
    total_n, rows = page_total_and_rows(_get(client, url).get_data(as_text=True))
    with pytest.raises(AssertionError, match="can be worked out"):
        assert_not_derivable("communes", total_n, rows)
    total, est = export_total_and_rows(client, query)
    assert total is not None
    found = derived(total, [(e, n) for s, n, e in est if s and e is not None])
    truth = indices(db_session, Selection.of(one_small.qv_id, agency_ids=(one_small.city.agencies["UBND-BT-TT"].id,),
                                             period_from=date(2022, 10, 1), period_to=date(2022, 12, 1)),
                    n_min=N_MIN).table
    assert found == pytest.approx(float(truth[truth["measure"] == "OVERALL"]["estimate"].iloc[0]), abs=1e-9)


# --------------------------------------------------------------------------- period report
def _report_sheets(client) -> dict[str, list[tuple]]:
    book = load_workbook(io.BytesIO(_get(client, "/homeaffairs/report/report.xlsx?period=2022-Q4").data))
    return {ws.title: list(ws.iter_rows(values_only=True)) for ws in book.worksheets}


def _report_check(sheets: dict[str, list[tuple]]) -> None:
    summary = sheets["Summary"]
    overall = summary[1]  # the overall index first, then the elements
    agencies = next(v for k, v in sheets.items() if k.startswith("Agencies") and "Estimates" in k)
    n_col, e_col = agencies[0].index("n"), agencies[0].index("Estimate")
    assert_not_derivable("report: summary beside the agencies", int(overall[summary[0].index("n")]),
                         [(r[e_col] is not None, int(r[n_col])) for r in agencies[1:]])


def test_period_report_summary_gives_no_suppressed_agency(client, one_small, monkeypatch):
    login(client, "noivu")
    use_language(client, "en")
    _report_check(_report_sheets(client))
    html = _get(client, "/homeaffairs/report/?period=2022-Q4").get_data(as_text=True)
    # the summary is the whole city: the hidden commune is protected by a second hidden agency, which says why
    assert "hidden to protect a small group (n = 12)" in html
    pdf = PdfReader(io.BytesIO(_get(client, "/homeaffairs/report/report.pdf?period=2022-Q4").data))
    assert "hidden to protect a small group" in " ".join(" ".join((p.extract_text() or "").split()) for p in pdf.pages)
    _rule_off(monkeypatch)
    with pytest.raises(AssertionError, match="can be worked out"):
        _report_check(_report_sheets(client))


# --------------------------------------------------------------------------- agency page
def _agency_check(client) -> None:
    url = "/dashboard/agency/STP?from=2022-10&to=2022-12&trend=month"
    html = _get(client, url).get_data(as_text=True)
    line = re.search(r'<p class="overall" id="overall">(.*?)</p>', html, re.S).group(1)
    total_n = _int(re.findall(r"n = ([\d,]+)", line)[-1])
    rows = csv_rows(_get(client, url + "&format=csv&table=trend").get_data(as_text=True))
    assert_not_derivable("agency page: headline beside its trend (CSV)", total_n,
                         [(r["Estimate"] != "", int(r["n"])) for r in rows])


def test_agency_headline_gives_no_suppressed_period(client, one_small, monkeypatch):
    login(client, "noivu")
    use_language(client, "en")
    _agency_check(client)
    html = _get(client, "/dashboard/agency/STP?from=2022-10&to=2022-12&trend=month").get_data(as_text=True)
    # the second hidden month says why: October is hidden to protect December on every page (periods linked,
    # survey/results/protection.py), before the page's own rule beside its headline would have hidden it
    assert "hidden to protect a small group (n = 12)" in html
    _rule_off(monkeypatch)
    with pytest.raises(AssertionError, match="can be worked out"):
        _agency_check(client)


# --------------------------------------------------------------------------- across linked pages
def _truth(db_session, data, **kw) -> float:
    """The hidden row's own overall index (analysis through survey.results, nothing hidden)."""
    from datetime import date

    from survey.results.indices import indices
    from survey.results.selection import Selection

    t = indices(db_session, Selection.of(data.qv_id, period_from=date(2022, 10, 1), period_to=date(2022, 12, 1),
                                         **kw), n_min=N_MIN).table
    return float(t[t["measure"] == "OVERALL"]["estimate"].iloc[0])


def _estimates(client, query: str) -> dict[str, tuple[bool, int, float | None]]:
    """A comparison's estimates CSV: label → (shown?, n, estimate)."""
    rows = csv_rows(_get(client, f"/homeaffairs/export.csv?{query}&table=estimates").get_data(as_text=True))
    return {next(iter(r.values())): (r["Estimate"] != "", int(r["n"]), float(r["Estimate"]) if r["Estimate"] else None)
            for r in rows}


def _linked_pairs(data) -> dict[str, tuple[str, str, str]]:
    """name → (query of the page listing the parent, the parent's label there, query of its drill-down)."""
    bt, nk = data.city.units["BT"].id, data.city.agencies["UBND-NK"].id
    return {"Bình Thủy: district row − its agencies": (
                "period=2022-Q4&level=district", "Binh Thuy District", f"period=2022-Q4&view=unit&unit_id={bt}"),
            "Ninh Kiều committee: agency row − its service points": (
                "period=2022-Q4&level=agency", "Ninh Kieu People's Committee",
                f"period=2022-Q4&view=agency&agency_id={nk}")}


def _parent_minus_children(client, data) -> dict[str, tuple[tuple[float, int] | None,
                                                             list[tuple[bool, int, float | None]]]]:
    out = {}
    for name, (parent_q, label, child_q) in _linked_pairs(data).items():
        shown, n, est = _estimates(client, parent_q)[label]
        out[name] = ((est, n) if shown and est is not None else None, list(_estimates(client, child_q).values()))
    return out


def test_a_parent_row_minus_its_drill_down_gives_no_hidden_figure(client, one_small):
    """A district's row on the comparison minus the agencies its drill-down shows, an agency's row on the agency
    list minus its service points: what is left pools >= n_min responses of >= 2 hidden rows, and the rows
    hidden for that say so (page and files)."""
    login(client, "noivu")
    use_language(client, "en")
    for name, (parent, children) in _parent_minus_children(client, one_small).items():
        assert parent is not None, f"{name}: the parent is published (the case to protect)"
        assert_not_derivable(name, parent[1], [(s, n) for s, n, _e in children])
    bt = one_small.city.units["BT"].id
    html = _get(client, f"/homeaffairs/unit/{bt}?period=2022-Q4").get_data(as_text=True)
    assert "hidden to protect a small group (n = 12)" in html
    assert "not enough responses (n = 3)" in html
    est = csv_rows(_get(client, f"/homeaffairs/export.csv?period=2022-Q4&view=unit&unit_id={bt}&table=estimates")
                   .get_data(as_text=True))
    assert sorted(r["Note"] for r in est if not r["Estimate"]) == [
        "hidden to protect a small group (n = 12)", "not enough responses (n = 3)"]
    # the agency it protects is hidden on every Home Affairs page, not only below its district: no figure, no
    # rank, no change since 2022-Q3 (which with Q3's figure would give Q4's back)
    assert _estimates(client, "period=2022-Q4&level=agency")["Binh Thuy People's Committee"][0] is False
    ranks, change = _rank_and_change(client, "Binh Thuy People's Committee")
    assert ranks["Rank"] == ""
    assert change["This period"] == change["Change (difference in proportion)"] == ""
    assert change["Previous period"] != ""  # 2022-Q3: 12 responses, nothing to protect then


def _rank_and_change(client, label: str) -> tuple[dict[str, str], dict[str, str]]:
    """The agency comparison's ranks and change CSV rows of one agency (2022-Q4)."""
    out = []
    for table in ("ranks", "change"):
        rows = csv_rows(_get(client, f"/homeaffairs/export.csv?period=2022-Q4&level=agency&table={table}")
                        .get_data(as_text=True))
        out.append(next(r for r in rows if next(iter(r.values())) == label))
    return out[0], out[1]


def test_without_the_linked_rule_a_parent_row_gives_its_hidden_child_away(client, one_small, monkeypatch,
                                                                           db_session):
    """Self-test: each page protected on its own only (before), the parent row minus the drill-down is the
    hidden commune's / service point's figure, exactly."""
    _linked_off(monkeypatch)
    login(client, "noivu")
    use_language(client, "en")
    found = _parent_minus_children(client, one_small)
    truth = {"Bình Thủy: district row − its agencies":
             _truth(db_session, one_small, agency_ids=(one_small.city.agencies["UBND-BT-TT"].id,)),
             "Ninh Kiều committee: agency row − its service points":
             _truth(db_session, one_small, service_point_ids=(
                 db_session.query(ServicePoint).filter_by(code="UBND-NK-SP2").one().id,))}
    for name, (parent, children) in found.items():
        assert parent is not None
        with pytest.raises(AssertionError, match="can be worked out"):
            assert_not_derivable(name, parent[1], [(s, n) for s, n, _e in children])
        assert derived(parent, [(e, n) for s, n, e in children if s and e is not None]) == pytest.approx(
            truth[name], abs=1e-9), name
    ranks, change = _rank_and_change(client, "Binh Thuy People's Committee")
    assert ranks["Rank"] != "" and change["Change (difference in proportion)"] != ""


def _summary_and_districts(client) -> tuple[tuple[float, int], list[tuple[bool, int, float | None]]]:
    """The report's summary (overall index) and what lies under it: the districts and the city departments (the
    agencies under no district), as the report's XLSX shows them."""
    sheets = _report_sheets(client)
    summary = sheets["Summary"]
    head = summary[0]
    overall = next(r for r in summary[1:] if r[0] == OVERALL)
    total = (float(overall[head.index("Estimate")]), int(overall[head.index("n")]))
    parts = []
    for prefix, keep in (("District", None), ("Agencies", {"Department of Justice"})):
        rows = next(v for k, v in sheets.items() if k.startswith(prefix) and "Estimates" in k)
        e_col, n_col = rows[0].index("Estimate"), rows[0].index("n")
        parts += [(r[e_col] is not None, int(r[n_col]), r[e_col]) for r in rows[1:] if keep is None or r[0] in keep]
    return total, parts


def _assert_no_small_difference(where: str, total_n: int, parts: list[tuple[bool, int, float | None]]) -> None:
    """The total minus (or, when it covers less, the shown parts minus it) the shown parts: nothing, or a
    group of >= n_min responses from >= 2 hidden rows."""
    diff = abs(total_n - sum(n for s, n, _e in parts if s))
    hidden = sum(1 for s, n, _e in parts if not s and n > 0)
    assert diff == 0 or (diff >= N_MIN and hidden >= 2), (
        f"{where}: the total (n = {total_n}) and the shown parts differ by {diff} responses of {hidden} hidden "
        f"row(s): their figure can be worked out")


def test_report_summary_and_its_districts_give_no_hidden_figure(client, one_small, monkeypatch, db_session):
    """The summary minus the districts and city departments shown (or the reverse when the summary leaves a
    hidden agency out).  With the linked rule off (before) the difference is the hidden commune exactly."""
    login(client, "noivu")
    use_language(client, "en")
    total, parts = _summary_and_districts(client)
    _assert_no_small_difference("report: summary beside the districts and departments", total[1], parts)
    _linked_off(monkeypatch)
    total, parts = _summary_and_districts(client)
    with pytest.raises(AssertionError, match="can be worked out"):
        _assert_no_small_difference("report", total[1], parts)
    assert derived(total, [(e, n) for s, n, e in parts if s]) == pytest.approx(
        _truth(db_session, one_small, agency_ids=(one_small.city.agencies["UBND-BT-TT"].id,)), abs=1e-9)


def _city_and_agency_list(client) -> tuple[tuple[float, int], list[tuple[bool, int, float | None]]]:
    """The whole city's overall index as the agency page's reference (Q4 = October–December) and its n (the
    agency list's n, hidden rows included), beside the Home Affairs agency list."""
    rows = csv_rows(_get(client, "/dashboard/agency/UBND-NK?from=2022-10&to=2022-12&format=csv&table=comparison")
                    .get_data(as_text=True))
    city = float(next(r for r in rows if r["Index"] == OVERALL)["Whole city"])
    agencies = list(_estimates(client, "period=2022-Q4&level=agency").values())
    return (city, sum(n for _s, n, _e in agencies)), agencies


def test_whole_city_beside_the_agency_list_gives_no_hidden_figure(client, one_small, monkeypatch, db_session):
    login(client, "noivu")
    use_language(client, "en")
    total, rows = _city_and_agency_list(client)
    assert_not_derivable("whole city (agency page) beside the agency list", total[1], [(s, n) for s, n, _e in rows])
    _linked_off(monkeypatch)
    total, rows = _city_and_agency_list(client)
    with pytest.raises(AssertionError, match="can be worked out"):
        assert_not_derivable("whole city", total[1], [(s, n) for s, n, _e in rows])
    assert derived(total, [(e, n) for s, n, e in rows if s and e is not None]) == pytest.approx(
        _truth(db_session, one_small, agency_ids=(one_small.city.agencies["UBND-BT-TT"].id,)), abs=1e-9)


def _agency_page_figures(client) -> tuple[str, list[dict[str, str]], list[dict[str, str]]]:
    """Bình Thủy committee's agency page over 2022-Q4 (its headline line, indices and trend CSV) and its row on the
    agency list of /dashboard/ (CSV)."""
    url = "/dashboard/agency/UBND-BT?from=2022-10&to=2022-12&trend=month"
    html = _get(client, url).get_data(as_text=True)
    line = re.search(r'<p class="overall" id="overall">(.*?)</p>', html, re.S).group(1)
    figures = [r for t in ("indices", "trend", "comparison")
               for r in csv_rows(_get(client, f"{url}&format=csv&table={t}").get_data(as_text=True))]
    listed = csv_rows(_get(client, "/dashboard/?from=2022-10&to=2022-12&format=csv&table=agencies")
                      .get_data(as_text=True))
    return line, figures, [r for r in listed if r["Agency"] == "Binh Thuy People's Committee"]


def test_the_agency_page_hides_the_agency_that_protects_a_small_group(client, one_small, monkeypatch):
    """The agency the Home Affairs pages hide to protect the small commune is hidden on its own agency page and
    the agency list too (else its district's row minus it gives the commune back); before, both showed it."""
    login(client, "noivu")
    use_language(client, "en")
    line, figures, listed = _agency_page_figures(client)
    assert "hidden to protect a small group (n = 12)" in line
    estimates = [r.get("Estimate", r.get("Binh Thuy People's Committee", "")) for r in figures]
    assert figures and all(e == "" for e in estimates), figures
    assert listed and listed[0]["Overall index"] == ""
    _linked_off(monkeypatch)
    line, figures, listed = _agency_page_figures(client)
    assert "hidden to protect" not in line and re.search(r"\d%", line)
    assert listed[0]["Overall index"] != ""


def _filtered_and_unfiltered(client) -> tuple[tuple[float, int] | None, tuple[float | None, int]]:
    """Ninh Kiều committee's agency page over 2022-Q4: unfiltered (the agency), and filtered to its first
    service point — the overall index and n of each (None / estimate None when hidden)."""
    def overall(url: str) -> tuple[float | None, int]:
        rows = csv_rows(_get(client, f"{url}&format=csv&table=indices").get_data(as_text=True))
        row = next(r for r in rows if r["Index"] == OVERALL)
        return (float(row["Estimate"]) if row["Estimate"] else None), int(row["n"])

    base = "/dashboard/agency/UBND-NK?from=2022-10&to=2022-12&trend=month"
    whole = overall(base)
    return (None if whole[0] is None else (whole[0], whole[1])), overall(f"{base}&sp=UBND-NK-SP1")


def test_a_service_point_filter_against_the_unfiltered_page_gives_no_hidden_figure(client, one_small, monkeypatch,
                                                                                  db_session):
    """The agency page filtered to one service point against the same page unfiltered: the agency minus the
    shown desk would be the other desk (n = 3).  The desk is hidden to protect it; before, the difference was
    the hidden desk's figure exactly."""
    login(client, "noivu")
    use_language(client, "en")
    agency, desk = _filtered_and_unfiltered(client)
    assert agency is not None and desk[0] is None and desk[1] == 12
    html = _get(client, "/dashboard/agency/UBND-NK?from=2022-10&to=2022-12&sp=UBND-NK-SP1").get_data(as_text=True)
    assert "hidden to protect a small group (n = 12)" in html
    _linked_off(monkeypatch)
    agency, desk = _filtered_and_unfiltered(client)
    assert agency is not None and desk[0] is not None
    sp2 = db_session.query(ServicePoint).filter_by(code="UBND-NK-SP2").one().id
    assert derived(agency, [(desk[0], desk[1])]) == pytest.approx(
        _truth(db_session, one_small, service_point_ids=(sp2,)), abs=1e-9)


# --------------------------------------------------------------------------- answer counts beside hidden shares
#: agency pages (code, service point filter) whose item shares are hidden over 2022-Q4: the commune (n = 3), the
#: committee hidden to protect it (n = 12), Ninh Kiều's desk 1 hidden to protect desk 2, and desk 2 (n = 3)
HIDDEN_NODES = (("UBND-BT-TT", None), ("UBND-BT", None), ("UBND-NK", "UBND-NK-SP1"), ("UBND-NK", "UBND-NK-SP2"))


def _node_url(code: str, sp: str | None) -> str:
    return f"/dashboard/agency/{code}?from=2022-10&to=2022-12" + (f"&sp={sp}" if sp else "")


def _counts_on_page(html: str) -> list[tuple[str, str, int | None]]:
    """(item, answer, count or None when not shown) of the page's "Answers per item" table."""
    body = html[html.index('id="table-distribution"'):]
    body = body[body.index("<tbody"):body.index("</tbody>")]
    out = []
    for tr in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S):
        item = re.search(r"<th[^>]*>(.*?)</th>", tr, re.S).group(1).strip()
        cells = re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)
        out.append((item, cells[1].strip(), _int(cells[2]) if re.search(r"\d", cells[2]) else None))
    return out


def _answer_counts(client, url: str) -> dict[str, list[tuple[str, str, int | None]]]:
    """The answer counts of one agency page on every surface: page, CSV and XLSX (the whole book)."""
    page = _counts_on_page(_get(client, url).get_data(as_text=True))
    rows = csv_rows(_get(client, f"{url}&format=csv&table=distribution").get_data(as_text=True))
    from_csv = [(r["Code"], r["Answer"], int(r["Count"]) if r["Count"] else None) for r in rows]
    book = load_workbook(io.BytesIO(_get(client, f"{url}&format=xlsx").data))
    sheet = list(next(ws for ws in book.worksheets if ws.title.startswith("Answers")).iter_rows(values_only=True))
    head = sheet[0]
    from_xlsx = [(r[head.index("Code")], r[head.index("Answer")],
                  None if r[head.index("Count")] is None else int(r[head.index("Count")])) for r in sheet[1:]]
    return {"page": page, "CSV": from_csv, "XLSX": from_xlsx}


def _recover(counts: list[tuple[str, str, int | None]], satisfied: set[str], no_opinion: set[str]
             ) -> dict[str, float]:
    """What a reader computes from the counts: item → satisfied answers over the answers with an opinion (the
    item index's definition), for every item whose counts are all shown."""
    by_item: dict[str, list[tuple[str, int | None]]] = {}
    for item, label, count in counts:
        by_item.setdefault(item, []).append((label, count))
    out = {}
    for item, answers in by_item.items():
        if any(c is None for _l, c in answers):
            continue
        opinion = [(label, c) for label, c in answers if label not in no_opinion]
        total = sum(c for _l, c in opinion if c is not None)
        if total:
            out[item] = sum(c for label, c in opinion if label in satisfied and c is not None) / total
    return out


def _hidden_item_shares(client, db_session, data, code: str, sp: str | None) -> dict[str, float]:
    """item → its true share (analysis on the node's own responses) for the items whose share the page hides."""
    from datetime import date

    from survey.results.indices import indices
    from survey.results.selection import Selection

    rows = csv_rows(_get(client, f"{_node_url(code, sp)}&format=csv&table=items").get_data(as_text=True))
    hidden = {r["Code"] for r in rows if r["Share satisfied"] == ""}
    kw = ({"service_point_ids": (db_session.query(ServicePoint).filter_by(code=sp).one().id,)} if sp else
          {"agency_ids": (data.city.agencies[code].id,)})
    t = indices(db_session, Selection.of(data.qv_id, period_from=date(2022, 10, 1), period_to=date(2022, 12, 1),
                                         **kw), n_min=1).table
    return {str(m): float(e) for m, e in zip(t["measure"], t["estimate"], strict=True) if m in hidden}


def _levels(db_session, data) -> tuple[set[str], set[str]]:
    """The questionnaire's satisfied answers and its "no opinion" labels (English), as a reader knows them."""
    from survey.respond.models import NO_OPINION
    from survey.results import distributions
    from survey.results.selection import Selection

    lv = distributions(db_session, Selection.of(data.qv_id), "en").levels
    return (set(lv[lv["satisfied"].astype(bool)]["label"]), set(lv[lv["value"] == NO_OPINION]["label"]))


def _recovered(client, db_session, data) -> dict[str, tuple[dict[str, float], dict[str, float]]]:
    """(surface, node) → (the hidden item shares' truth, what the answer counts give for them)."""
    satisfied, no_opinion = _levels(db_session, data)
    out = {}
    for code, sp in HIDDEN_NODES:
        truth = _hidden_item_shares(client, db_session, data, code, sp)
        assert truth, f"{code} {sp}: the scenario has no hidden item share"
        for surface, counts in _answer_counts(client, _node_url(code, sp)).items():
            found = _recover(counts, satisfied, no_opinion)
            out[f"{surface} of {code} {sp or ''}"] = (truth, {k: v for k, v in found.items() if k in truth})
    return out


def test_answer_counts_give_no_hidden_share(client, one_small, monkeypatch, db_session):
    """Wherever an item's share is hidden (too few responses, or hidden to protect a small group), its answer
    counts are hidden too, on the page, in the CSV and in the XLSX, and the rows say why.  Before (the fix
    switched off), every hidden item share of every such page came out of its counts exactly."""
    login(client, "noivu")
    use_language(client, "en")
    for where, (_hidden, found) in _recovered(client, db_session, one_small).items():
        assert found == {}, f"{where}: the answer counts give hidden shares {found}"
    rows = csv_rows(_get(client, f"{_node_url('UBND-BT', None)}&format=csv&table=distribution")
                    .get_data(as_text=True))
    assert rows and {r["Note"] for r in rows} == {"hidden to protect a small group (n = 12)"}
    rows = csv_rows(_get(client, f"{_node_url('UBND-BT-TT', None)}&format=csv&table=distribution")
                    .get_data(as_text=True))
    assert rows and {r["Note"] for r in rows} == {"not enough responses (n = 3)"}
    monkeypatch.setattr("survey.dashboard.agency_data.ANSWERS_FOLLOW_ESTIMATES", False)
    for where, (truth, found) in _recovered(client, db_session, one_small).items():
        assert found.keys() == truth.keys(), where
        for item, share in truth.items():
            assert found[item] == pytest.approx(share, abs=1e-9), (where, item)


# --------------------------------------------------------------------------- Home Affairs trend, earlier periods
def _q4_point_and_communes(client) -> tuple[dict[str, str], list[tuple[bool, int, float | None]]]:
    """The 2023-Q1 commune comparison's trend point for 2022-Q4 (CSV) and the 2022-Q4 commune comparison."""
    trend = csv_rows(_get(client, "/homeaffairs/export.csv?period=2023-Q1&level=commune&table=trend")
                     .get_data(as_text=True))
    q4 = next(r for r in trend if r["Period"] == "Quarter IV/2022")
    return q4, list(_estimates(client, "period=2022-Q4&level=commune").values())


def test_home_affairs_trend_earlier_period_gives_no_hidden_unit(client, one_small, monkeypatch, db_session):
    """The 2023-Q1 commune comparison (nothing hidden then) draws its trend over every commune; its 2022-Q4 point
    stands beside the 2022-Q4 commune comparison, which hides one commune (n = 3).  The point is hidden and says
    why (CSV, XLSX, page); before (the check switched off), it minus the communes shown gave the hidden one's
    figure exactly."""
    fill(db_session, one_small, one_small.city.agencies, 12, datetime(2023, 1, 10, 3, tzinfo=UTC), seed=9)
    login(client, "noivu")
    use_language(client, "en")
    q4, rows = _q4_point_and_communes(client)
    assert any(not s and n > 0 for s, n, _e in rows), "the scenario has no hidden commune in 2022-Q4"
    assert q4["Estimate"] == "" and q4["Note"] == f"hidden to protect a small group (n = {q4['n']})"
    trend = csv_rows(_get(client, "/homeaffairs/export.csv?period=2023-Q1&level=commune&table=trend")
                     .get_data(as_text=True))
    assert next(r for r in trend if r["Period"] == "Quarter III/2022")["Estimate"] != ""  # nothing hidden then
    book = load_workbook(io.BytesIO(_get(client, "/homeaffairs/export.xlsx?period=2023-Q1&level=commune").data))
    trend = list(next(ws for ws in book.worksheets if ws.title.lower().startswith("trend")).iter_rows(values_only=True))
    point = next(r for r in trend if r[0] == "Quarter IV/2022")
    assert point[trend[0].index("Estimate")] is None
    html = _get(client, "/homeaffairs/?period=2023-Q1&level=commune").get_data(as_text=True)
    assert f"hidden to protect a small group (n = {q4['n']})" in html
    monkeypatch.setattr("survey.results.comparison._gives_a_unit_away", lambda *a, **k: False)
    q4, rows = _q4_point_and_communes(client)
    with pytest.raises(AssertionError, match="can be worked out"):
        assert_not_derivable("2023-Q1 trend's 2022-Q4 point", int(q4["n"]), [(s, n) for s, n, _e in rows])
    assert derived((float(q4["Estimate"]), int(q4["n"])), [(e, n) for s, n, e in rows if s and e is not None]) == \
        pytest.approx(_truth(db_session, one_small, agency_ids=(one_small.city.agencies["UBND-BT-TT"].id,)), abs=1e-9)
