"""HAILONG_DESIGN switches every interval and the rank method, and the pages say which design they used."""

from __future__ import annotations

import io

import pytest

from tests.dashboard.hakit import login, read_csv, use_language
from tests.results.factories import city_with_responses


@pytest.fixture
def data(db_session):
    return city_with_responses(db_session, per_point=36)


@pytest.mark.parametrize(("design", "design_text", "rank_text"), [
    ("counters", "service points are strata", "on the logit scale, units independent"),
    ("clusters", "random sample of counters (clusters)", "Rao–Wu bootstrap replicates"),
])
def test_compare_page_names_its_design_and_rank_method(app, client, data, design, design_text, rank_text):
    app.config["HAILONG_DESIGN"] = design
    login(client, "noivu")
    use_language(client, "en")
    html = client.get("/homeaffairs/?level=agency").get_data(as_text=True)
    assert design_text in html
    assert rank_text in html
    ranks = read_csv(client.get("/homeaffairs/export.csv?level=agency&table=ranks"))
    assert any(r["Rank"] for r in ranks)
    # files with intervals name the design on every row (a CSV travels without its page)
    for url in ("/homeaffairs/export.csv?level=agency&table=estimates",
                "/dashboard/agency/UBND-BT?format=csv&table=indices"):
        rows = read_csv(client.get(url))
        assert rows and all(design_text in r["Sampling design"] for r in rows), url
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(client.get("/homeaffairs/export.xlsx?level=agency").data))
    sheet = next(ws for ws in book.worksheets if "Sampling design" in [c.value for c in ws[1]])
    col = [c.value for c in sheet[1]].index("Sampling design")
    assert all(design_text in row[col] for row in sheet.iter_rows(min_row=2, values_only=True))


def test_the_design_changes_intervals_not_estimates(app, client, data):
    login(client, "noivu")
    use_language(client, "en")
    tables = {}
    for design in ("counters", "clusters"):
        app.config["HAILONG_DESIGN"] = design
        rows = read_csv(client.get("/homeaffairs/export.csv?level=agency&table=estimates"))
        tables[design] = {r[next(iter(r))]: r for r in rows}
    assert tables["counters"].keys() == tables["clusters"].keys()
    differ = 0
    for unit, row in tables["counters"].items():
        other = tables["clusters"][unit]
        assert row["Estimate"] == other["Estimate"]
        differ += row["95% CI low"] != other["95% CI low"]
    assert differ > 0
