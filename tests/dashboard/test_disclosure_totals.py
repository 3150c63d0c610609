"""A total line that IS a node of the tree follows the node's protection (attacker pass, 7 Dec 2026).

The Home Affairs total line over every listed unit is a node's own figure: the drill-down's agency (its service
points) or unit (its agencies), the whole city, a manager's unit.  It was shown whenever that node had n_min
responses, even where every other page hides the node to protect a small group — so the parent's row minus the
shown siblings minus the drill-down's total gave the small group away.  And the trend over such a node showed
each earlier period's point even where that period's protection hides the node (a quarter minus its shown months
gave a small month away).  Both databases (the app fixtures are parametrised)."""

from __future__ import annotations

import re
from datetime import date

import pytest

from tests.dashboard.hakit import login, use_language
from tests.dashboard.publishkit import N_MIN
from tests.dashboard.test_disclosure import _estimates, _get, csv_rows, derived, one_small  # noqa: F401


def _truth(db_session, data, first: date, last: date, **kw) -> float:
    from survey.results.indices import indices
    from survey.results.selection import Selection

    t = indices(db_session, Selection.of(data.qv_id, period_from=first, period_to=last, **kw), n_min=N_MIN).table
    return float(t[t["measure"] == "OVERALL"]["estimate"].iloc[0])


def _total_line(html: str) -> str:
    return " ".join(re.search(r'<p class="overall"[^>]*>(.*?)</p>', html, re.S).group(1).split())


def test_drill_down_total_of_a_hidden_agency_is_hidden(client, one_small, db_session):  # noqa: F811
    """Bình Thủy's committee (n = 12) is hidden on every page to protect the commune BT-TT (n = 3).  Its service
    point drill-down listed its one desk (hidden) and, as the total line, the committee's own figure; Bình Thủy's
    row on the district comparison minus the shown commune minus that total was BT-TT's index, exactly."""
    login(client, "noivu")
    use_language(client, "en")
    data = one_small
    committee = data.city.agencies["UBND-BT"].id
    assert _estimates(client, "period=2022-Q4&level=agency")["Binh Thuy People's Committee"][0] is False
    html = _get(client, f"/homeaffairs/agency/{committee}?period=2022-Q4").get_data(as_text=True)
    line = _total_line(html)
    assert "hidden to protect a small group (n = 12)" in line, line
    assert "overall-estimate" not in html
    # the reader's subtraction has nothing to work with: the district row is shown, the committee is not
    district = _estimates(client, "period=2022-Q4&level=district")["Binh Thuy District"]
    agencies = _estimates(client, f"period=2022-Q4&view=unit&unit_id={data.city.units['BT'].id}")
    assert district[0] and sum(1 for s, n, _e in agencies.values() if not s and n > 0) >= 2
    # the XLSX of the drill-down carries no figure of the committee either
    from io import BytesIO

    from openpyxl import load_workbook

    book = load_workbook(BytesIO(_get(client, f"/homeaffairs/export.xlsx?period=2022-Q4&view=agency"
                                              f"&agency_id={committee}").data))
    est = next(ws for ws in book.worksheets if ws.title.lower().startswith("estimates"))
    rows = list(est.iter_rows(values_only=True))
    assert all(r[rows[0].index("Estimate")] is None for r in rows[1:])


def test_drill_down_total_gave_the_small_commune_before(client, one_small, db_session, monkeypatch):  # noqa: F811
    """Self-test: without the node's protection on the total line, the reader recovers BT-TT exactly."""
    monkeypatch.setattr("survey.results.comparison.total_node", lambda *a, **k: None)
    login(client, "noivu")
    use_language(client, "en")
    data = one_small
    committee = data.city.agencies["UBND-BT"].id
    line = _total_line(_get(client, f"/homeaffairs/agency/{committee}?period=2022-Q4").get_data(as_text=True))
    shown = float(re.search(r"overall-estimate\">([\d.]+)%", _get(
        client, f"/homeaffairs/agency/{committee}?period=2022-Q4").get_data(as_text=True)).group(1)) / 100
    assert "n = 12" in line
    committee_exact = _truth(db_session, data, date(2022, 10, 1), date(2022, 12, 1), agency_ids=(committee,))
    assert shown == pytest.approx(committee_exact, abs=5e-4)
    district = _estimates(client, "period=2022-Q4&level=district")["Binh Thuy District"]
    agencies = _estimates(client, f"period=2022-Q4&view=unit&unit_id={data.city.units['BT'].id}")
    others = [(e, n) for s, n, e in agencies.values() if s and e is not None] + [(committee_exact, 12)]
    found = derived((district[2], district[1]), others)
    small = data.city.agencies["UBND-BT-TT"].id
    assert found == pytest.approx(_truth(db_session, data, date(2022, 10, 1), date(2022, 12, 1),
                                         agency_ids=(small,)), abs=1e-9)


def _month_trend(client) -> dict[str, dict[str, str]]:
    rows = csv_rows(_get(client, "/homeaffairs/export.csv?period=2022-12&level=agency&table=trend")
                    .get_data(as_text=True))
    return {next(iter(r.values())): r for r in rows}


def test_trend_over_the_city_hides_a_month_hidden_to_protect_another(client, one_small):  # noqa: F811
    """The city's 2022-Q4 (shown) is October (12 responses, all the Department of Justice's), November and
    December (3): October is hidden on every page of that month to protect December.  The monthly trend over
    the whole city (agencies compared in December: the total line is the city) showed October's point; the
    quarter minus October and November was December."""
    login(client, "noivu")
    use_language(client, "en")
    trend = _month_trend(client)
    october = next(r for label, r in trend.items() if "10" in label and "2022" in label)
    assert october["Estimate"] == "" and int(october["n"]) == 12, october
    assert "hidden to protect a small group (n = 12)" in " ".join(october.values())
    html = _get(client, "/homeaffairs/?period=2022-12&level=agency").get_data(as_text=True)
    assert "hidden to protect a small group (n = 12)" in html


def test_trend_over_the_city_gave_december_before(client, one_small, db_session, monkeypatch):  # noqa: F811
    """Self-test: without the node's protection on the trend, the quarter minus its shown months is December."""
    monkeypatch.setattr("survey.results.comparison._node_hidden", lambda *a, **k: False)
    login(client, "noivu")
    use_language(client, "en")
    months = [r for r in _month_trend(client).values() if r["Estimate"]]
    oct_nov = [(float(r["Estimate"]), int(r["n"])) for r in months if "2022" in next(iter(r.values()))
               and any(m in next(iter(r.values())) for m in ("10", "11"))]
    assert len(oct_nov) == 2
    quarter = csv_rows(_get(client, "/homeaffairs/export.csv?period=2022-Q4&level=agency&table=trend")
                       .get_data(as_text=True))[-1]
    found = derived((float(quarter["Estimate"]), int(quarter["n"])), oct_nov)
    stp = one_small.city.agencies["STP"].id
    assert found == pytest.approx(_truth(db_session, one_small, date(2022, 12, 1), date(2022, 12, 1),
                                         agency_ids=(stp,)), abs=1e-9)
