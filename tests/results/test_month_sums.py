"""The running totals over months (cache.month_sums) hold memory within the results budget: a total keeps its
months' payloads — needed only to update it by difference after a new response — while they fit in a quarter
of the budget, and a total larger than the budget is not kept.  A whole-country SIPAS month is 10,000 service
points × 3,570 Gram entries; twelve kept beside every total were gigabytes per process.  Figures never change:
a total without its payloads is added up again from the months."""

from __future__ import annotations

import numpy as np
import pytest

from survey.results import Selection, cache
from tests.results.factories import city_with_responses
from tests.results.test_month_cells import _assert_same, _figures, _fresh, _store


@pytest.fixture
def data(db_session, monkeypatch):
    from survey.results import totals

    # running totals over months are the per-service-point path's (volume weights, by-period item statistics);
    # survey/results/month_pass.py builds the unweighted counters design without them
    monkeypatch.setattr(totals, "ONE_PASS", False)
    cache.clear()
    yield city_with_responses(db_session, per_point=30, months=2, comments=False)
    cache.clear()


def _totals() -> list[dict]:
    return [v for k, v in cache._entries.items() if isinstance(k, tuple) and k and k[0] == "month-sums"]


def _parts_bytes(state: dict) -> int:
    return sum(cache._size(mat) for _, mat in state["parts"].values())


def test_payloads_kept_beside_a_total_stay_within_a_quarter_of_the_budget(db_session, data, monkeypatch):
    sel = Selection.of(data.qv_id)
    reference = _figures(db_session, sel)
    states = _totals()
    assert states and all(s["parts"] is not None for s in states), "a small city keeps its payloads"
    biggest = max(int(s["total"].nbytes) for s in states)
    assert max(_parts_bytes(s) for s in states) > biggest // 4, "int32 payloads: half of the float64 total"
    monkeypatch.setattr(cache, "MAX_BYTES", biggest)  # every total fits; the payloads of the biggest do not
    kept: list[dict] = []
    put = cache._put

    def spy(key, value, size=None):
        if isinstance(key, tuple) and key and key[0] == "month-sums":
            kept.append(value)
        put(key, value, size)

    monkeypatch.setattr(cache, "_put", spy)
    cache.clear()
    _assert_same(_figures(db_session, sel), reference)
    assert kept
    for state in kept:
        assert state["parts"] is None or _parts_bytes(state) <= cache.max_bytes() // 4
        assert int(state["total"].nbytes) <= cache.max_bytes()
    assert any(s["parts"] is None for s in kept), "the biggest total was kept without its payloads"
    _store(db_session, data, "STP-SP1")  # a total without payloads is added up again: the same figures
    db_session.commit()
    _assert_same(_figures(db_session, sel), _fresh(db_session, sel))


def test_a_total_larger_than_the_budget_is_not_kept(db_session, data, monkeypatch):
    sel = Selection.of(data.qv_id)
    reference = _figures(db_session, sel)
    smallest = min(int(s["total"].nbytes) for s in _totals())
    monkeypatch.setattr(cache, "MAX_BYTES", max(smallest - 1, 1))
    cache.clear()
    _assert_same(_figures(db_session, sel), reference)
    assert not _totals()
    assert np.isfinite(reference[0]["estimate"].astype(float)).any()
