"""Acceptance finding: on each agency's page of the period report, the chart of that agency's elements was
described as "6 đơn vị với ước lượng…" (6 units) with a "Unit" column — the elements are not units. Both
the description and the data table's first column must speak of elements."""

from __future__ import annotations

import pytest

from survey.dashboard.charts import ForestRow, forest_plot
from tests.dashboard.hakit import login, use_language
from tests.results.factories import city_with_responses


def test_forest_of_elements_speaks_of_elements_and_a_forest_of_units_of_units():
    rows = [ForestRow("Tiếp cận dịch vụ", 0.9, 0.85, 0.94, 60), ForestRow("Thủ tục", 0.8, 0.7, 0.88, 60),
            ForestRow("Góp ý", None, None, None, 12, suppressed=True)]
    elements = forest_plot("e", rows, title="T", lang="en", of_elements=True)
    assert elements.desc.startswith("2 elements with their estimate")
    assert "1 elements with too few responses" in elements.desc and "units" not in elements.desc
    assert elements.columns[0] == "Index"
    units = forest_plot("u", rows, title="T", lang="en")
    assert units.desc.startswith("2 units with their estimate") and units.columns[0] == "Unit"


@pytest.fixture
def data(app, db_session):
    app.config.update(HAILONG_BOOTSTRAP_B=20)
    return city_with_responses(db_session, per_point=12, months=1, comments=False)


def test_period_report_agency_charts_describe_elements_in_vietnamese(client, data):
    login(client, "noivu")
    use_language(client, "vi")
    html = client.get("/homeaffairs/report/").get_data(as_text=True)
    assert "yếu tố với ước lượng và khoảng tin cậy 95%" in html
    assert "Các yếu tố của" in html
