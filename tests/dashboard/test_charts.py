"""SVG charts: accessible (title, desc, caption, data table), the right number of marks, Vietnamese numbers,
suppressed units listed without a point, deterministic output."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from analysis.funnel import funnel_flags
from survey.dashboard.charts import (
    Bar,
    ForestRow,
    FunnelPoint,
    RankRow,
    TrendPoint,
    bar_chart,
    forest_plot,
    funnel_plot,
    rank_plot,
    trend_chart,
)

SVG = "{http://www.w3.org/2000/svg}"


def _parse(chart):
    root = ET.fromstring(str(chart.svg))
    assert root.tag == f"{SVG}svg"
    return root


def _marks(root) -> list:
    return [el for el in root.iter() if "mark" in (el.get("class") or "").split()]


def _accessible(chart, root) -> None:
    assert root.find(f"{SVG}title").text == chart.title
    assert root.find(f"{SVG}desc").text == chart.desc
    assert root.get("role") == "img"
    html = str(chart.figure())
    assert "<figcaption" in html and chart.title in html and "<table" in html
    assert html.count("<tr>") == len(chart.rows) + 1  # header + one row per datum


ROWS = [ForestRow("Ninh Kiều", 0.849, 0.80, 0.89, 120), ForestRow("Cái Răng", 0.70, 0.61, 0.78, 80),
        ForestRow("Bình Thủy", 0.91, 0.86, 0.95, 200), ForestRow("Phong Điền", 0.5, 0.2, 0.8, 12, suppressed=True)]


def test_forest_plot_sorts_by_estimate_and_lists_suppressed_units_without_a_point():
    chart = forest_plot("f", ROWS, title="Overall", lang="vi", reference=0.8, reference_label="City")
    root = _parse(chart)
    _accessible(chart, root)
    assert len(_marks(root)) == chart.marks == 3
    assert [r[0] for r in chart.rows] == ["Bình Thủy", "Ninh Kiều", "Cái Răng", "Phong Điền"]
    assert chart.rows[1][1] == "84,9%"  # Vietnamese decimal comma
    assert "not enough responses (n = 12)" in chart.rows[3][1]
    # the suppressed unit has a label but no mark
    mark_titles = " ".join(m.find(f"{SVG}title").text for m in _marks(root))
    assert "Phong Điền" not in mark_titles and "Phong Điền" in str(chart.svg)


def test_forest_plot_in_english_uses_decimal_point():
    chart = forest_plot("f", ROWS, title="Overall", lang="en")
    assert chart.rows[1][1] == "84.9%"


def test_charts_are_deterministic():
    a = forest_plot("f", ROWS, title="T", lang="vi", reference=0.8)
    b = forest_plot("f", list(reversed(ROWS)), title="T", lang="vi", reference=0.8)
    assert str(a.svg) == str(b.svg)


def test_funnel_plot_marks_and_positions_follow_analysis_funnel():
    pts = [FunnelPoint("A", 0.85, 120), FunnelPoint("B", 0.60, 300), FunnelPoint("C", 0.90, 40)]
    chart = funnel_plot("g", pts, 0.8, title="Funnel", lang="vi")
    root = _parse(chart)
    _accessible(chart, root)
    assert len(_marks(root)) == 3
    flags = funnel_flags([p.estimate for p in pts], [p.n_eff for p in pts], 0.8)["flag"].tolist()
    assert flags[1] == "below_99.8"
    assert chart.rows[1][-1] == "below limit (99.8%)"
    limits = [el for el in root.iter(f"{SVG}polyline") if "limit" in el.get("class")]
    assert len(limits) == 4  # lower and upper at 95% and 99.8%
    # the legend stands above the plot: no limit line or point reaches its baseline (they crossed it)
    legend = next(el for el in root.iter(f"{SVG}text") if el.get("class") == "legend")
    tops = [float(xy.split(",")[1]) for el in limits for xy in el.get("points").split()]
    tops += [float(el.get("cy")) - float(el.get("r")) for el in _marks(root)]
    assert float(legend.get("y")) + 3 < min(tops)


def test_rank_plot_has_one_mark_per_ranked_unit():
    rows = [RankRow("A", 1, 1, 2, 0.8), RankRow("B", 2, 1, 3, 0.3), RankRow("C", 3, 2, 3, 0.0)]
    chart = rank_plot("r", rows, title="Ranks", lang="vi", top_k=1)
    root = _parse(chart)
    _accessible(chart, root)
    assert len(_marks(root)) == 3
    assert chart.rows[0] == ("A", "1", "1–2", "80,0%")  # as the ranks table rounds it


def test_trend_chart_leaves_a_gap_for_suppressed_periods():
    pts = [TrendPoint("2025-Q1", 0.8, 0.75, 0.85, 100), TrendPoint("2025-Q2", 0.82, 0.77, 0.86, 100),
           TrendPoint("2025-Q3", None, None, None, 5, suppressed=True), TrendPoint("2025-Q4", 0.7, 0.6, 0.8, 50)]
    chart = trend_chart("t", pts, title="Trend", lang="vi")
    root = _parse(chart)
    _accessible(chart, root)
    assert len(_marks(root)) == 3
    assert len(list(root.iter(f"{SVG}polygon"))) == 1  # band only over the contiguous Q1–Q2 run
    assert "not enough responses (n = 5)" in chart.rows[2][1]


@pytest.mark.parametrize("lang,share", [("vi", "50,0%"), ("en", "50.0%")])
def test_bar_chart_shares(lang, share):
    chart = bar_chart("b", [Bar("Hài lòng", 50), Bar("Bình thường", 30), Bar("Không hài lòng", 20)],
                      title="Dist", lang=lang)
    root = _parse(chart)
    _accessible(chart, root)
    assert len(_marks(root)) == 3
    assert chart.rows[0][1] == share


def test_long_names_are_shortened_in_the_chart_but_complete_in_its_table():
    name = "Trung tâm Phục vụ hành chính công thành phố Cần Thơ"
    chart = forest_plot("f", [ForestRow(name, 0.8, 0.7, 0.9, 100)], title="T", lang="vi")
    texts = [el.text for el in _parse(chart).iter(f"{SVG}text")]
    assert name not in texts and any(t and t.endswith("…") and name.startswith(t[:-1]) for t in texts)
    assert chart.rows[0][0] == name
