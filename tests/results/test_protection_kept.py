"""The protection's answers per cell are kept per process (survey/results/cell_counts.py, `live_cells`): a live
request reads only the answer rows of the service points whose cells changed, and recomputes each measure's n of
the org nodes above them.  Every decision (status and month-range components of every node, period and channel)
must equal one built from empty caches and one built by the reference path (`cell_counts` over every answer row,
`protection.decide`), after new responses in the newest month, an older month and a month without data before."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest

from survey.results import Selection, cache, cell_counts, protection
from tests.results.factories import city_with_responses
from tests.results.test_month_pass import _answer

N_MIN = 5


@pytest.fixture
def data(request, db_session):
    cache.clear()
    request.addfinalizer(cache.clear)
    return city_with_responses(db_session, per_point=6, months=3, comments=False)


def _decisions(app, session, qv_id: int, quarter: date) -> dict[str, tuple]:
    """measure → the linked decision's arrays and axes, for the quarter in progress `quarter`."""
    out = {}
    with app.test_request_context("/"):
        for measure in protection.measures_of(session, Selection.of(qv_id)):
            dec = protection._decide_linked(session, (qv_id,), measure, N_MIN, quarter)
            out[measure] = (list(dec.org_ix), dec.first, dec.months, dec.spans, dec.status.copy(), dec.label.copy())
    return out


def _reference(app, session, qv_id: int, quarter: date) -> dict[str, tuple]:
    """The decision from every answer row (`cell_counts`), nothing kept."""
    from survey.results.node_counts import measure_items
    from survey.results.totals import instrument

    out = {}
    with app.test_request_context("/"):
        inst = instrument(session, Selection(questionnaire_version_ids=(qv_id,)))
        parent, above = protection._org_tree(session)
        spec_items = {int(i): c for i, c in inst.item_codes.items() if c in inst.spec.items}
        cells = cell_counts.cell_counts(session, (qv_id,), spec_items, above, list(parent))
        def decided(items: list[str]) -> protection.Linked:
            # carried forward: the cells the live decisions stored as hidden are hidden from the start here too
            forced = (protection.carried_mask(session, cells, (qv_id,), items, N_MIN, quarter)
                      if protection.CARRY_FORWARD else None)
            return protection.decide(cells, parent, items, N_MIN, quarter, forced=forced)

        for measure, items in measure_items(inst.spec.measures):
            dec = decided(items)
            if protection.ACROSS_MEASURES and len(items) > 1:  # a composite hidden where one of its items is
                dec = protection.across_measures(cells, dec, [decided([i]) for i in items],
                                                 *protection._measure_counts(cells, items, quarter), quarter)
            out[measure] = (list(dec.org_ix), dec.first, dec.months, dec.spans, dec.status.copy(), dec.label.copy())
    return out


def _assert_equal(a: dict[str, tuple], b: dict[str, tuple]) -> None:
    assert list(a) == list(b)
    for measure in a:
        for x, y in zip(a[measure], b[measure], strict=True):
            if isinstance(x, np.ndarray):
                np.testing.assert_array_equal(x, y, err_msg=measure)
            else:
                assert x == y, measure


def _full_reads(monkeypatch) -> list[date]:
    """Months whose answer rows are read in full (not only the changed service points')."""
    months: list[date] = []
    real = cell_counts._read_answers

    def spy(session, kept, version_ids, spec_items, month, only):
        if only is None:
            months.append(month)
        return real(session, kept, version_ids, spec_items, month, only)

    monkeypatch.setattr(cell_counts, "_read_answers", spy)
    return months


@pytest.mark.parametrize("carry", [False, True], ids=["afresh", "carried"])
@pytest.mark.parametrize("where", ["newest", "older", "new month"])
def test_a_live_decision_reads_only_the_changed_points_and_equals_a_fresh_build(app, db_session, data, where,
                                                                               monkeypatch, carry):
    newest = data.months[0].date().replace(day=1)
    # the quarter in progress: the newest month's (its months incomplete) and the next one (every month complete,
    # so "so far" changes too)
    quarters = [date(newest.year, 3 * ((newest.month - 1) // 3) + 1, 1)]
    quarters.append(date(quarters[0].year + (quarters[0].month + 2) // 12, (quarters[0].month + 2) % 12 + 1, 1))
    # carried forward (survey/results/carried.py), the quarters in progress share the stored month and quarter
    # cells, so a decision depends on which quarter's was made before: one quarter then
    monkeypatch.setattr(protection, "CARRY_FORWARD", carry)
    quarters = quarters[:1] if carry else quarters
    before = {q: _decisions(app, db_session, data.qv_id, q) for q in quarters}
    points = sorted(data.city.service_points.values(), key=lambda p: p.code)
    oldest = min(m.date().replace(day=1) for m in data.months)
    when = {"newest": data.months[0], "older": data.months[1],
            "new month": data.months[-1] - timedelta(days=40)}[where]
    # two live rounds: the watermark moves on
    for first_round, round_points in ((True, points[:2]), (False, points[2:5])):
        for sp in round_points:
            for _ in range(N_MIN):  # enough to move a node over n_min somewhere
                _answer(db_session, data, sp, when)
        full = _full_reads(monkeypatch)
        live = {q: _decisions(app, db_session, data.qv_id, q) for q in quarters}
        monkeypatch.undo()
        monkeypatch.setattr(protection, "CARRY_FORWARD", carry)
        month = when.date().replace(day=1) if hasattr(when, "date") else when.replace(day=1)
        if where == "new month" and first_round:
            assert month < oldest and full == [month], full  # a month never read before: read in full, once
        else:
            assert full == [], f"read in full: {full}"
        for q in quarters:
            _assert_equal(live[q], _reference(app, db_session, data.qv_id, q))
        kept = dict(cell_counts._kept)
        cache.clear()
        for q in quarters:
            _assert_equal(live[q], _decisions(app, db_session, data.qv_id, q))
        cell_counts.clear_kept()
        cell_counts._kept.update(kept)  # the next round continues from the live state
    assert any(not np.array_equal(before[q][m][4], live[q][m][4]) or before[q][m][2] != live[q][m][2]
               for q in quarters for m in live[q]) or where != "new month", "the new responses changed nothing"


def _random_cells(leaves: np.ndarray, tree: dict, months: list[date]):
    """CellCounts of a small tree: `leaves[point, month, channel, item]` answers summed up every hierarchy."""
    from survey.results.cell_counts import CellCounts, channel_parents, month_label, time_parents

    org = list(tree)
    parent_t = time_parents(months)
    time = list(parent_t)
    points = [k for k in org if k[0] == "service_point"]
    up = np.zeros((len(org), len(points)), dtype=np.int64)  # org node × service point: 1 where it counts
    for p_i, point in enumerate(points):
        node = point
        while node is not None:
            up[org.index(node), p_i] = 1
            node = tree[node]
    by_month = np.einsum("op,pmci->omci", up, leaves)
    when = np.zeros((len(months), len(time)), dtype=np.int64)  # month → its time nodes (itself, its quarter)
    for m_i, d in enumerate(months):
        when[m_i, time.index(month_label(d))] = when[m_i, time.index(parent_t[month_label(d)])] = 1
    per = np.einsum("omci,mt->otci", by_month, when)
    counts = np.concatenate([per.sum(axis=2, keepdims=True), per], axis=2)  # all channels first
    return CellCounts(org, time, list(channel_parents()), [f"q{i}" for i in range(leaves.shape[3])], counts,
                      parent_t, months)


@pytest.mark.parametrize("carry", [False, True], ids=["afresh", "carried"])
def test_deciding_again_only_the_changed_subtrees_equals_deciding_the_whole_tree(carry):
    """`protection.decide_again` (the subtrees of the changed nodes decided alone, the rest kept) gives exactly the
    decision over the whole tree after responses are added, on random trees and counts — and does so without
    falling back to the whole tree in a good share of the cases (else the test would prove nothing).  Carried
    forward: the old decision made with a few cells forced hidden, the new one with those and every cell the old
    one hid as secondary (what `_decide_kept` passes)."""
    from survey.results.protection import _decide_cells, _measure_counts, decide_again

    rng = np.random.default_rng(12)
    months = [date(2026, m, 1) for m in range(4, 13)]
    quarter = date(2026, 10, 1)
    again = whole = 0
    for case in range(90):
        tree: dict = {("city", "C"): None}
        for u in range(3):
            tree[("district", f"D{u}")] = ("city", "C")
            for a in range(int(rng.integers(1, 4))):
                tree[("agency", f"A{u}{a}")] = ("district", f"D{u}")
                for s in range(int(rng.integers(1, 4))):
                    tree[("service_point", f"S{u}{a}{s}")] = ("agency", f"A{u}{a}")
        n_points = sum(1 for k in tree if k[0] == "service_point")
        scale = [0.5, 3.0, 30.0][case % 3]
        leaves = rng.poisson(scale, (n_points, len(months), 4, 2)).astype(np.int64)
        cells = _random_cells(leaves, tree, months)
        items = ["q0", "q1"]
        n0, a0 = _measure_counts(cells, items, quarter)
        forced0 = None
        if carry:
            forced0 = np.zeros(n0.shape, dtype=bool)
            forced0.ravel()[rng.choice(n0.size, size=3, replace=False)] = True
        old = _decide_cells(cells, tree, n0, a0, N_MIN, quarter, forced0)
        forced = None if forced0 is None else forced0 | (old.status == 2)
        grown = leaves.copy()
        for _ in range(int(rng.integers(1, 4))):  # a few responses at a few service points, mostly the newest month
            p, m = int(rng.integers(n_points)), len(months) - 1 - int(rng.integers(0, 2))
            grown[p, m, int(rng.integers(4)), :] += rng.integers(0, 3, 2)
        new_cells = _random_cells(grown, tree, months)
        n1, a1 = _measure_counts(new_cells, items, quarter)
        rows = np.flatnonzero((n1 != n0).any(axis=(1, 2)) | (a1 != a0).any(axis=(1, 2)))
        expected = _decide_cells(new_cells, tree, n1, a1, N_MIN, quarter, forced)
        got = decide_again(new_cells, tree, n0, old, n1, a1, rows, N_MIN, quarter, forced)
        if got is None:
            whole += 1
            continue
        again += 1
        np.testing.assert_array_equal(got.status, expected.status, err_msg=f"case {case}")
        np.testing.assert_array_equal(got.label, expected.label, err_msg=f"case {case}")
        assert (got.spans, got.first, got.months) == (expected.spans, expected.first, expected.months)
    assert again >= (15 if carry else 20), (again, whole)
