"""A month kept in memory is refreshed cell by cell after new responses, and never serves stale figures.

Each test warms every cache, changes the data, and compares the cached path with a computation from an
empty cache (cache.clear()): figures must be identical, whatever the refresh had to do.
"""

from __future__ import annotations

import uuid

import numpy as np
import pytest
from flask import current_app
from sqlalchemy import update

from survey.org.models import ServicePoint
from survey.respond.models import MomentTally
from survey.respond.store import Submission, local_period, store_response
from survey.results import Selection, cache, compare_with_whole, indices
from survey.results import month_cells as mc
from tests.results.factories import CHANNELS, city_with_responses


@pytest.fixture
def data(db_session):
    cache.clear()
    yield city_with_responses(db_session, per_point=30, months=2, comments=False)
    cache.clear()


@pytest.fixture
def reads(monkeypatch):
    """Cells decoded from the database, per read (the refresh reads only changed cells)."""
    seen: list[int] = []
    original = mc._blocks

    def spy(rows):
        seen.append(len(rows))
        return original(rows)

    monkeypatch.setattr(mc, "_blocks", spy)
    return seen


def _figures(session, sel):
    """Every page-level computation that reads month cells: by agency, by month, by channel, unit vs city."""
    by_agency = indices(session, sel, domain="agency").table
    by_month = indices(session, sel, domain="month").table
    by_channel = indices(session, sel, domain="channel").table
    unit = compare_with_whole(session, sel, unit_column="agency", unit_value="STP").table
    return by_agency, by_month, by_channel, unit


def _assert_same(a, b):
    for x, y in zip(a, b, strict=True):
        assert list(x["measure"]) == list(y["measure"])
        for col in ("estimate", "se", "n", "df"):
            if col in x:
                np.testing.assert_allclose(x[col].astype(float), y[col].astype(float), rtol=1e-12, atol=0,
                                           equal_nan=True, err_msg=col)


def _store(session, data, sp_code, answers=None, channel="paper"):
    sp = data.city.service_points[sp_code]
    response, created = store_response(session, Submission(
        service_point_id=sp.id, questionnaire_version_id=data.qv_id,
        answers=answers or {"C.ATT": 1, "C.HANDLING": 2}, channel=channel, client_id=str(uuid.uuid4()),
        submitted_at=data.months[0]))
    assert created
    return response


def _fresh(session, sel):
    cache.clear()
    return _figures(session, sel)


def test_a_new_response_rereads_only_its_cell(db_session, data, reads):
    sel = Selection.of(data.qv_id)
    _figures(db_session, sel)
    reads.clear()
    _store(db_session, data, "STP-SP1")
    db_session.commit()
    cached = _figures(db_session, sel)
    # the refresh reads the changed cell; a range's kept sums read the point's cells (month_cells.month_delta)
    assert reads and max(reads) <= len(CHANNELS), "only the changed service point's cells are read again"
    _assert_same(cached, _fresh(db_session, sel))
    n_stp = cached[0].set_index(["domain", "measure"]).loc[("STP", "C.ATT"), "n"]
    assert n_stp == _fresh(db_session, sel)[0].set_index(["domain", "measure"]).loc[("STP", "C.ATT"), "n"]


def test_a_new_cell_is_added(db_session, data, reads):
    """A service point's first response of the month (a cell the cached month does not have)."""
    sel = Selection.of(data.qv_id)
    agency = data.city.agencies["STP"]
    sp = ServicePoint(code="STP-NEW", name_vi="Điểm mới", name_en="New point", agency_id=agency.id)
    db_session.add(sp)
    db_session.commit()
    data.city.service_points["STP-NEW"] = sp
    _figures(db_session, sel)
    reads.clear()
    for _ in range(3):
        _store(db_session, data, "STP-NEW", {"C.ATT": 3, "C.HANDLING": 3})
        db_session.commit()
        cached = _figures(db_session, sel)
        _assert_same(cached, _fresh(db_session, sel))
        _figures(db_session, sel)  # warm again: the next round is a refresh
    assert reads[0] == 1


def test_a_late_commit_with_a_lower_id_forces_a_full_read(db_session, data, reads):
    """Response ids are drawn before commit: a response committed after a higher id was already seen is
    below the refresh's threshold.  The respondent count then disagrees and the month is read in full."""
    sel = Selection.of(data.qv_id)
    _figures(db_session, sel)
    resp = _store(db_session, data, "UBND-BT-SP2", {"C.ATT": 1, "C.HANDLING": 1})
    period = local_period(data.months[0])
    # as if this response had committed late with a low id: its cell does not rise above the cached max
    db_session.execute(update(MomentTally).where(MomentTally.service_point_id == resp.service_point_id,
                                                 MomentTally.period == period,
                                                 MomentTally.channel == resp.channel)
                       .values(last_response_id=0))
    db_session.commit()
    reads.clear()
    cached = _figures(db_session, sel)
    assert reads[0] == 0 and max(reads) > len(CHANNELS), "empty refresh, then the whole month"
    _assert_same(cached, _fresh(db_session, sel))


def test_a_tiny_memory_budget_only_costs_reads(db_session, data, monkeypatch):
    monkeypatch.setattr(mc, "BUDGET", 1)
    sel = Selection.of(data.qv_id)
    _figures(db_session, sel)
    _store(db_session, data, "UBND-NK-SP2")
    db_session.commit()
    _assert_same(_figures(db_session, sel), _fresh(db_session, sel))


def _held_within(budget: int) -> int:
    held = mc.held_bytes()
    assert held <= budget, f"month cells report {held} bytes over a budget of {budget}"
    return held


def test_the_month_cells_stay_within_their_budget_and_figures_do_not_change(db_session, data, monkeypatch):
    """Every array a kept month holds is counted as it is added — the per-point sums a page computes after
    the month is stored too — so the reported bytes never exceed the budget, whatever the budget; dropping
    months only costs reads, never changes a figure."""
    from survey.results import totals

    # per-point sums are what the per-service-point path computes (volume weights; survey/results/month_pass.py
    # takes the unweighted counters design month by month without them)
    monkeypatch.setattr(totals, "ONE_PASS", False)
    sel = Selection.of(data.qv_id)
    reference = _figures(db_session, sel)  # the default budget: everything kept
    full = mc.held_bytes()
    points = sum(int(b.memo["points"][1].nbytes) for m in mc._months.values() for b in m.blocks.values()
                 if "points" in b.memo)
    assert points > 0, "the pages computed per-point sums, and they are counted"
    months = len(mc._months)
    for budget in (full, full - points // 2, full // months, full // (2 * months), 1):
        monkeypatch.setattr(mc, "BUDGET", budget)
        cache.clear()
        _assert_same(_figures(db_session, sel), reference)
        _held_within(budget)
        _figures(db_session, sel)  # hits and fills again, in another order of use
        _held_within(budget)
    assert mc.held_bytes() == 0, "a month larger than the whole budget is not kept"
    monkeypatch.setattr(mc, "BUDGET", full - points // 2)
    _figures(db_session, sel)
    _store(db_session, data, "STP-SP1")  # the refreshed month carries its sums over
    db_session.commit()
    after = _figures(db_session, sel)
    _held_within(full - points // 2)
    _assert_same(after, _fresh(db_session, sel))


def test_memory_mapped_triangles_are_not_counted_as_the_process_memory(db_session, data, monkeypatch, tmp_path):
    """Months read from month files map their triangles (pages shared by every worker through the page
    cache): the budget counts what the process holds privately, not the mapped file."""
    monkeypatch.setitem(current_app.config, "HAILONG_MONTH_CELLS_DIR", str(tmp_path / "cells"))
    sel = Selection.of(data.qv_id)
    from_db = _figures(db_session, sel)
    decoded = mc.held_bytes()
    triangles = sum(int(b.tri.nbytes) for m in mc._months.values() for b in m.blocks.values())
    cache.clear()
    mapped = _figures(db_session, sel)
    assert mc.STATS["month_cells", "disk"] > 0
    assert mc.held_bytes() == decoded - triangles
    _assert_same(mapped, from_db)


def test_the_results_cache_stays_within_its_memory_bound(db_session, data, monkeypatch):
    """Cached results are evicted by size as well as by count; evicted entries are simply recomputed."""
    sel = Selection.of(data.qv_id)
    _figures(db_session, sel)
    assert 0 < cache._bytes <= cache.MAX_BYTES
    monkeypatch.setattr(cache, "MAX_BYTES", 1)
    _store(db_session, data, "UBND-BT-SP3")
    db_session.commit()
    cached = _figures(db_session, sel)
    assert len(cache._entries) == 1, "only the newest entry fits"
    _assert_same(cached, _fresh(db_session, sel))


@pytest.mark.parametrize("n", [0, 1, 7, 300])
def test_sum_sorted_adds_every_row_of_a_key(n):
    rng = np.random.default_rng(n)
    keys = np.sort(rng.integers(0, max(n // 3, 1), size=n))
    rows = rng.integers(0, 2**31 - 1, size=(n, 5)).astype(np.int32)  # int64 sums: no int32 overflow
    points, sums = mc.sum_sorted(keys, rows)
    assert list(points) == sorted(set(keys.tolist()))
    for p, s in zip(points, sums, strict=True):
        assert s.tolist() == rows[keys == p].astype(np.int64).sum(axis=0).tolist()
