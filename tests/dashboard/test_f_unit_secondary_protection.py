"""Secondary protection of a UNIT: a commune hidden to protect a small sibling is hidden on every page and file
that shows it.

Bình Thủy district, 2022-Q4: its district committee and its commune Bình Thủy have no response, its commune
BT-LH has 12 and BT-TT 3 (N_MIN = 10: too few).  The district's row on the district comparison (n = 15) minus
BT-LH's row on the commune comparison would be BT-TT's own figure; so BT-LH is hidden to protect it
(analysis/disclosure.py:tree_suppression via survey/results/protection.py), which leaves 15 responses of two
hidden rows.  That commune must then be hidden wherever it appears: the commune
comparison (page, CSV, XLSX, ranks, change), its own unit page and files, its district's drill-down, and its
people's committee's agency page.  A self-test turns the linked rule off and shows the district row minus the
shown communes then gives BT-TT's figure exactly (so the checks here can fail).  Both databases."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime

import pytest
from openpyxl import load_workbook

from tests.dashboard.hakit import login, use_language
from tests.dashboard.publishkit import N_MIN, TODAY, fill, publish_city
from tests.dashboard.test_disclosure import (
    _estimates,
    _get,
    _linked_off,
    _truth,
    assert_not_derivable,
    csv_rows,
    derived,
)

Q4 = datetime(2022, 11, 10, 3, tzinfo=UTC)
BT_COMMUNES = ("BT-LH", "BT-TT")  # Bình Thủy commune (BT-BT) has no agency, so no row
HIDDEN = "hidden to protect a small group (n = 12)"


@pytest.fixture
def small_commune(app, db_session):
    app.config.update(HAILONG_BOOTSTRAP_B=30, HAILONG_N_MIN=N_MIN, HAILONG_CLOCK=lambda: TODAY)
    data = publish_city(db_session)
    fill(db_session, data, data.city.agencies, 12, datetime(2022, 8, 10, 3, tzinfo=UTC), seed=3)  # 2022-Q3
    fill(db_session, data, [c for c in data.city.agencies if c not in ("UBND-BT", "UBND-BT-TT")], 12, Q4, seed=4)
    fill(db_session, data, ["UBND-BT-TT"], 3, Q4, seed=5)
    return data


def _names(data) -> dict[str, str]:
    return {code: data.city.units[code].name_en for code in BT_COMMUNES}


def _district_and_communes(client, data):
    district = _estimates(client, "period=2022-Q4&level=district")[data.city.units["BT"].name_en]
    communes = _estimates(client, "period=2022-Q4&level=commune")
    return district, {code: communes[name] for code, name in _names(data).items()}


def test_a_commune_hidden_to_protect_its_sibling_is_hidden_everywhere(client, db_session, small_commune):
    data = small_commune
    login(client, "noivu")
    use_language(client, "en")
    (shown, n, _est), communes = _district_and_communes(client, data)
    assert shown and n == 15, "the district's row is published (the case to protect)"
    assert communes["BT-TT"][:2] == (False, 3)
    assert_not_derivable("Bình Thủy district row − its communes", n, [(s, k) for s, k, _e in communes.values()])
    assert communes["BT-LH"][:2] == (False, 12), communes  # hidden: 12 + 3 >= N_MIN over two rows
    code = "BT-LH"
    unit, name = data.city.units[code], _names(data)[code]
    agency = data.city.agencies[f"UBND-{code}"]

    # the commune comparison: page, CSV (estimates, ranks, change), XLSX
    html = _get(client, "/homeaffairs/?period=2022-Q4&level=commune").get_data(as_text=True)
    row = next(tr for tr in re.findall(r"<tr[^>]*>.*?</tr>", html, re.S) if name in tr)
    assert 'class="suppressed"' in row and HIDDEN in row
    est = {next(iter(r.values())): r for r in csv_rows(
        _get(client, "/homeaffairs/export.csv?period=2022-Q4&level=commune&table=estimates").get_data(as_text=True))}
    assert est[name]["Estimate"] == est[name]["95% CI low"] == "" and est[name]["Note"] == HIDDEN
    for table, cols in (("ranks", ("Rank",)), ("change", ("This period", "Change (difference in proportion)"))):
        rows = csv_rows(_get(client, f"/homeaffairs/export.csv?period=2022-Q4&level=commune&table={table}")
                        .get_data(as_text=True))
        mine = [r for r in rows if next(iter(r.values())) == name]
        assert all(r[c] == "" for r in mine for c in cols), (table, mine)
    book = load_workbook(io.BytesIO(_get(client, "/homeaffairs/export.xlsx?period=2022-Q4&level=commune").data))
    sheet = next(list(ws.iter_rows(values_only=True)) for ws in book.worksheets
                 if ws.title.lower().startswith("estimates"))
    xrow = next(r for r in sheet[1:] if r[0] == name)
    assert xrow[sheet[0].index("Estimate")] is None

    # its own unit page and files: the commune's figure is not published through its agencies either
    page = _get(client, f"/homeaffairs/unit/{unit.id}?period=2022-Q4").get_data(as_text=True)
    assert HIDDEN in page
    own = csv_rows(_get(client, f"/homeaffairs/export.csv?period=2022-Q4&view=unit&unit_id={unit.id}"
                                "&table=estimates").get_data(as_text=True))
    assert own and all(r["Estimate"] == "" for r in own), own
    # the district's drill-down lists its people's committee hidden
    drill = _estimates(client, f"period=2022-Q4&view=unit&unit_id={data.city.units['BT'].id}")
    assert drill[agency.name_en][0] is False
    # the agency page of its people's committee hides the headline
    agency_page = _get(client, f"/dashboard/agency/{agency.code}?questionnaire={data.qv_id}&from=2022-10&to=2022-12"
                       ).get_data(as_text=True)
    assert "hidden to protect a small group" in agency_page


def test_without_the_linked_rule_the_district_row_gives_the_small_commune_away(client, db_session, small_commune,
                                                                               monkeypatch):
    """Self-test: each page protected on its own only, both siblings are shown and the district's row minus
    them is BT-TT's figure, exactly."""
    _linked_off(monkeypatch)
    data = small_commune
    login(client, "noivu")
    use_language(client, "en")
    (shown, n, est), communes = _district_and_communes(client, data)
    assert shown and est is not None
    rows = [(s, k) for s, k, _e in communes.values()]
    with pytest.raises(AssertionError, match="can be worked out"):
        assert_not_derivable("Bình Thủy district row − its communes", n, rows)
    truth = _truth(db_session, data, agency_ids=(data.city.agencies["UBND-BT-TT"].id,))
    assert derived((est, n), [(e, k) for s, k, e in communes.values() if s and e is not None]) == pytest.approx(
        truth, abs=1e-9)
