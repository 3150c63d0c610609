"""Acceptance finding: an agency's monthly trend (24 months, the default view) printed all 24 period labels
and 24 "n < n_min" notes on top of each other — an illegible smear under an empty chart. Labels must not
overlap, and a period with too few responses must say so in words, not in a formula."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET

from survey.dashboard.charts import TrendPoint, trend_chart

SVG = "{http://www.w3.org/2000/svg}"


def _months() -> list[TrendPoint]:
    labels = [f"{y}-{m:02d}" for y in (2021, 2022) for m in range(1, 13)]
    return [TrendPoint(label, None, None, None, 4, suppressed=True) if i < 12 else
            TrendPoint(label, 0.8, 0.7, 0.9, 40) for i, label in enumerate(labels)]


def test_monthly_trend_labels_do_not_overlap_and_gaps_are_explained_in_words():
    chart = trend_chart("t", _months(), title="Trend", lang="vi")
    root = ET.fromstring(str(chart.svg))
    ticks = [el for el in root.iter(f"{SVG}text") if el.get("class") == "tick" and "/" in (el.text or "")]
    xs = sorted(float(el.get("x")) for el in ticks)
    assert 2 <= len(xs) <= 12
    assert min(b - a for a, b in itertools.pairwise(xs)) >= 50  # a "Tháng 1/2021" label is about 65 px wide
    assert ticks[0].text == "Month 1/2021"  # period names, not machine labels (msgid: no request language here)
    svg = str(chart.svg)
    assert "n_min" not in svg
    gaps = [el for el in root.iter(f"{SVG}circle") if el.get("class") == "suppressed"]
    assert len(gaps) == 12
    assert gaps[0].find(f"{SVG}title").text == "Month 1/2021: not enough responses (n = 4)"
    assert len(chart.rows) == 24  # every month is still in the data table


def test_a_short_trend_keeps_every_label():
    pts = [TrendPoint(f"2022-Q{q}", 0.8, 0.7, 0.9, 40) for q in range(1, 5)]
    root = ET.fromstring(str(trend_chart("t", pts, title="Trend", lang="vi").svg))
    labels = [el.text for el in root.iter(f"{SVG}text") if el.get("class") == "tick" and "/" in (el.text or "")]
    assert labels == ["Quarter I/2022", "Quarter II/2022", "Quarter III/2022", "Quarter IV/2022"]
