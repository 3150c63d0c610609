"""The early-warning chart must not give a small group's answers away through its printed warning measure.

An independent reader takes only what a viewer of the agency page sees — the chart's data table (the
points' dates, n, share where printed, warning measure to two decimals) — and the chart's published
definition (docs/integrity.md: x = (μ0 − m)·√n/σ0, z = max(0, (1 − λ)·z_prev + λ·x)).  From two consecutive
printed values it gets x = (z − (1 − λ)·z_prev)/λ, fits μ0 and σ0 on the points whose share is printed, and
reads off the mean score of every point whose share is hidden.  Before points were pooled (one point per
working day), a day of one or two responses (n_min 3) came back to within 0.03 of its citizens' actual
answers; now every point holds at least n_min responses, so nothing smaller can be read."""

from __future__ import annotations

import re
from datetime import date, timedelta

import numpy as np
import pytest

from survey.results.integrity import agency_charts, daily_scores
from tests.dashboard.helpers import get, login
from tests.integrity.factories import TODAY, finish, workdays_before
from tests.integrity.test_warning_disclosure import _section, city  # noqa: F401  (the fixture)

ROW = re.compile(r'<tr><th scope="row">([^<]+)</th>((?:<td class="num">[^<]*</td>)+)</tr>')
CELL = re.compile(r'<td class="num">([^<]*)</td>')
DAY = re.compile(r"(\d\d)/(\d\d)/(\d{4})|(\d\d)/(\d\d)")


def _number(text: str) -> float | None:
    text = text.strip().replace(".", "").replace(",", ".").rstrip("%")
    try:
        return float(text)
    except ValueError:
        return None


def _days(label: str) -> list[date]:
    """The calendar days a row covers: 'dd/mm/yyyy' or 'dd/mm/yyyy – dd/mm/yyyy' (or 'dd/mm – dd/mm/yyyy')."""
    found = DAY.findall(label)
    year = int(next(m[2] for m in reversed(found) if m[2]))
    ends = [date(int(m[2]) or year, int(m[1] or m[4]), int(m[0] or m[3])) for m in found]
    first, last = ends[0], ends[-1]
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def read(part: str, lam: float, mu0: float, sigma0: float) -> list[tuple[list[date], int, float]]:
    """(days, n, mean score) of every row whose warning measure can be inverted (z > 0), for a reader who knows
    the usual level μ0 and the per-response SD σ0 (the worst case: an official who knows last year's figures)."""
    out = []
    prev = None
    for label, cells in ROW.findall(part):
        values = CELL.findall(cells)
        n, z = int(_number(values[0]) or 0), _number(values[-1])
        if n > 0 and z is not None and z > 0.005 and prev is not None:
            out.append((_days(label), n, mu0 - (z - (1 - lam) * prev) / lam * sigma0 / np.sqrt(n)))
        if z is not None and n > 0:
            prev = z
    return out


def _truth(db_session, agency_id: int, days: list[date]) -> float:
    data = daily_scores(db_session, days[0], days[-1], [agency_id])
    return float(data["total"].sum() / data["n"].sum())


def _baseline(db_session, agency_id: int, chart: dict) -> tuple[float, float]:
    """μ0 and σ0 the chart standardises by: from the chart when it says them, else (one point per working day)
    from the 250 working days before its first day, as that chart took them."""
    if "sd" in chart:
        return chart["baseline"], chart["sd"]
    data = daily_scores(db_session, workdays_before(chart["days"][0], 250)[0], chart["days"][0] - timedelta(days=1),
                        [agency_id])
    n, total, sumsq = data["n"].sum(), data["total"].sum(), data["sumsq"].sum()
    return float(total / n), float(np.sqrt(sumsq / n - (total / n) ** 2))


@pytest.mark.parametrize("n_min", [3, 30])
def test_the_warning_measure_gives_no_mean_of_fewer_than_n_min_responses(app, client, db_session, city,  # noqa: F811
                                                                           n_min) -> None:
    """The Department of Justice, about 2 responses a working day, dropping from 85% to 60% satisfied over the
    last 30 working days.  Before: the reader got dozens of days' means (one or two citizens' answers) to within
    0.03.  After: every point the reader can invert holds at least n_min responses, and the reader still gets
    those points' means right (a competent reader: the points are just not small)."""
    app.config["HAILONG_N_MIN"] = n_min
    finish(db_session)
    login(client, "tuphap")
    part = _section(get(client, "/dashboard/agency/STP").get_data(as_text=True))
    assert ROW.findall(part), "no data table"
    agency_id = city.agencies["STP"].id
    chart = agency_charts(db_session, TODAY, [agency_id], n_min=n_min)[agency_id]
    mu0, sigma0 = _baseline(db_session, agency_id, chart)
    read_back = [(n, abs(mean - _truth(db_session, agency_id, days)))
                 for days, n, mean in read(part, chart.get("lam", 0.1), mu0, sigma0)]
    small = [e for n, e in read_back if n < n_min and e < 0.03]
    assert not small, f"{len(small)} points of fewer than {n_min} responses read to within 0.03 of the truth"
    assert read_back and np.median([e for _n, e in read_back]) < 0.03  # the reader does read the points

