"""Disclosure by differencing across periods and channels (docs/integrity.md; survey/results/protection.py,
analysis.disclosure.product_suppression): an agency page over a month range against the same page over a range
that leaves one month out, and a channel-filtered page against the unfiltered one.  Each check recovers the hidden
figure exactly (equal to `analysis` on its own responses) with the periods and channels not linked, and recovers
nothing with them linked (the default).  Fixture of tests/dashboard/test_disclosure.py (N_MIN = 10): the
Department of Justice has 12 responses in October 2022 and 3 in December."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from tests.dashboard.displaykit import add_responses
from tests.dashboard.hakit import login, use_language
from tests.dashboard.publishkit import N_MIN
from tests.dashboard.test_disclosure import OVERALL, _get, csv_rows, derived, one_small  # noqa: F401


def _overall(client, url: str) -> tuple[float | None, int, str]:
    """(estimate or None when hidden, n, note) of the overall index on an agency page's indices CSV."""
    rows = csv_rows(_get(client, f"{url}&format=csv&table=indices").get_data(as_text=True))
    row = next(r for r in rows if r["Index"] == OVERALL)
    return (float(row["Estimate"]) if row["Estimate"] else None), int(row["n"]), row.get("Note", "")


def _truth(db_session, data, agency: str, first: date, last: date, channels: tuple[str, ...] = ()) -> float:
    from survey.results.indices import indices
    from survey.results.selection import Selection

    t = indices(db_session, Selection.of(data.qv_id, agency_ids=(data.city.agencies[agency].id,), period_from=first,
                                         period_to=last, channels=channels), n_min=1).table
    return float(t[t["measure"] == "OVERALL"]["estimate"].iloc[0])


def _leak(whole: tuple[float | None, int, str], part: tuple[float | None, int, str]) -> float | None:
    """What a reader works out for the rest (whole minus part) when both are shown and the rest is under n_min."""
    if whole[0] is None or part[0] is None or not 0 < whole[1] - part[1] < N_MIN:
        return None
    return derived((whole[0], whole[1]), [(part[0], part[1])])


def _linked_off(monkeypatch) -> None:
    monkeypatch.setattr("survey.results.protection.LINKED", False)


def _linked_on(monkeypatch) -> None:
    """The linked rule, as by default (survey/results/protection.py: LINKED); set explicitly so that each test
    shows the leak with it off and none with it on whatever the default."""
    monkeypatch.setattr("survey.results.protection.LINKED", True)


RANGES = {"quarter": "/dashboard/agency/STP?from=2022-10&to=2022-12",
          "October-November": "/dashboard/agency/STP?from=2022-10&to=2022-11",
          "October": "/dashboard/agency/STP?from=2022-10&to=2022-10",
          "year": "/dashboard/agency/STP?from=2022-01&to=2022-12",
          "August-November": "/dashboard/agency/STP?from=2022-08&to=2022-11"}


def test_a_month_range_against_a_longer_one_gives_no_hidden_month(client, one_small, monkeypatch, db_session):  # noqa: F811
    """December alone (n = 3) is hidden.  Q4 against October–November (or October), and the year against
    August–November, would each give December: with periods linked October is hidden to protect it (the
    label says so) and no pair of shown ranges leaves fewer than n_min responses; before, Q4 minus
    October–November was December's index exactly."""
    _linked_on(monkeypatch)
    login(client, "noivu")
    use_language(client, "en")
    figures = {name: _overall(client, url) for name, url in RANGES.items()}
    for a, b in [("quarter", "October-November"), ("quarter", "October"), ("year", "August-November")]:
        assert _leak(figures[a], figures[b]) is None, (a, b, figures)
    assert figures["October"][0] is None and figures["October"][2] == "hidden to protect a small group (n = 12)"
    _linked_off(monkeypatch)
    figures = {name: _overall(client, url) for name, url in RANGES.items()}
    found = _leak(figures["quarter"], figures["October-November"])
    assert found == pytest.approx(_truth(db_session, one_small, "STP", date(2022, 12, 1), date(2022, 12, 1)),
                                  abs=1e-9)


def _add_qr(db_session, data, agency: str, count: int, when: datetime) -> None:
    """`count` responses at the agency's service point on `when`, received by QR code (stored as paper, which may
    be back-dated, then moved to the QR channel and the count tables rebuilt)."""
    from sqlalchemy import update

    from survey.respond.models import Response
    from survey.respond.store import rebuild_tallies

    add_responses(db_session, data.qv_id, data.sp(agency), count, when, good=0.3, seed=12)
    db_session.execute(update(Response).where(Response.service_point_id == data.sp(agency),
                                              Response.submitted_at > when - timedelta(hours=1),
                                              Response.submitted_at <= when).values(channel="qr"))
    db_session.commit()
    rebuild_tallies(db_session)
    db_session.commit()


def test_a_channel_against_all_channels_gives_no_hidden_channel(client, one_small, monkeypatch, db_session):  # noqa: F811
    """Ninh Kiều's Tân An committee: 12 paper responses and 3 by QR code in 2022-Q4.  Its page over all channels
    minus its page filtered to paper was the QR responses' index exactly (before); with channels linked the paper
    figure is hidden to protect them and says so."""
    _add_qr(db_session, one_small, "UBND-NK-TA", 3, datetime(2022, 11, 20, 3, tzinfo=UTC))
    _linked_on(monkeypatch)
    login(client, "noivu")
    use_language(client, "en")
    base = "/dashboard/agency/UBND-NK-TA?from=2022-10&to=2022-12"
    every, paper = _overall(client, base), _overall(client, base + "&channel=paper")
    assert every[1] == 15 and paper[1] == 12
    assert _leak(every, paper) is None, (every, paper)
    assert paper[0] is None and paper[2] == "hidden to protect a small group (n = 12)"
    _linked_off(monkeypatch)
    every, paper = _overall(client, base), _overall(client, base + "&channel=paper")
    assert _leak(every, paper) == pytest.approx(
        _truth(db_session, one_small, "UBND-NK-TA", date(2022, 10, 1), date(2022, 12, 1), ("qr",)), abs=1e-9)
