"""The agency page's "Compared with the whole city" follows the whole city's protection (attacker pass, 7 Dec 2026).

The comparison row prints the city's figure over the page's months and channel beside the agency's.  The city
is a node like any other: over a range its shown periods do not give (survey/results/protection.py, `Linked`)
its figure is hidden on every Home Affairs page — yet the agency page printed it, so the city over 2022-Q4 minus
the city over October–November (two agency pages, any agency shown over both) gave the city's December: the
Department of Justice's 3 responses.  Both databases (the app fixtures are parametrised)."""

from __future__ import annotations

from datetime import date

import pytest

from tests.dashboard.hakit import login, use_language
from tests.dashboard.publishkit import N_MIN
from tests.dashboard.test_disclosure import OVERALL, _get, csv_rows, one_small  # noqa: F401

AGENCY = "UBND-NK-TA"  # 12 responses in November 2022, none in October or December: shown over both ranges


def _reference(client, to: str) -> dict[str, str]:
    rows = csv_rows(_get(client, f"/dashboard/agency/{AGENCY}?from=2022-10&to={to}&format=csv&table=comparison")
                    .get_data(as_text=True))
    return next(r for r in rows if r["Index"] == OVERALL)


def _city_n(client, period: str) -> int:
    """The city's n over a period, as the Home Affairs page prints it (beside a hidden figure too)."""
    rows = csv_rows(_get(client, f"/homeaffairs/export.csv?period={period}&level=agency&table=trend")
                    .get_data(as_text=True))
    return int(rows[-1]["n"])


def test_whole_city_over_a_range_it_hides_is_not_printed(client, one_small):  # noqa: F811
    login(client, "noivu")
    use_language(client, "en")
    quarter, oct_nov = _reference(client, "2022-12"), _reference(client, "2022-11")
    assert quarter["Whole city"] != ""  # the city's quarter is shown everywhere
    assert oct_nov["Whole city"] == "" and oct_nov["Difference (proportion)"] == "", oct_nov
    assert "the whole city's figure over these months would give a small group away" in " ".join(oct_nov.values())
    # the agency's own figure stays on the page (its headline); the comparison's row says why it is empty
    html = _get(client, f"/dashboard/agency/{AGENCY}?from=2022-10&to=2022-11").get_data(as_text=True)
    assert '<strong class="overall-estimate">' in html
    assert "the whole city&#39;s figure over these months would give a small group away" in html \
        or "the whole city's figure over these months would give a small group away" in html


def test_whole_city_over_two_ranges_gave_december_before(client, one_small, db_session, monkeypatch):  # noqa: F811
    """Self-test: without the city's protection on the comparison, two agency pages give December exactly."""
    from survey.results.indices import indices
    from survey.results.selection import Selection

    monkeypatch.setattr("survey.dashboard.linked_figures.reference_measures", lambda sel, measures: set())
    login(client, "noivu")
    use_language(client, "en")
    quarter, oct_nov = _reference(client, "2022-12"), _reference(client, "2022-11")
    n_q, n_oct, n_nov, n_dec = (_city_n(client, p) for p in ("2022-Q4", "2022-10", "2022-11", "2022-12"))
    assert n_q == n_oct + n_nov + n_dec and n_dec < N_MIN
    found = (float(quarter["Whole city"]) * n_q - float(oct_nov["Whole city"]) * (n_oct + n_nov)) / n_dec
    t = indices(db_session, Selection.of(one_small.qv_id, period_from=date(2022, 12, 1), period_to=date(2022, 12, 1)),
                n_min=N_MIN).table
    assert found == pytest.approx(float(t[t["measure"] == "OVERALL"]["estimate"].iloc[0]), abs=1e-9)
