"""Totals built in one pass over months (survey/results/month_pass.py) give the figures of the per-service-point
path (design.with_unit_moments): same estimates, standard errors, intervals and degrees of freedom to 1e-12,
for every domain a page uses, a unit's scope and a channel; a page's several totals read each month once, and
no month is kept for the rest of the request (a national month is 0.2–0.4 GB decoded)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from survey.results import Selection, cache, indices, month_cells, month_pass, node_counts
from survey.results import totals as totals_module
from survey.results.comparison import Period, compare_units, selection_trend
from tests.results.factories import city_with_responses

COLUMNS = ("estimate", "se", "ci_low", "ci_high", "df", "n")


@pytest.fixture
def data(db_session):
    cache.clear()
    yield city_with_responses(db_session, per_point=30, months=3, comments=False)
    cache.clear()


def _both_ways(monkeypatch, compute):
    """compute() with the one-pass path, then with the per-service-point path, each from empty caches."""
    out = []
    for one_pass in (True, False):
        monkeypatch.setattr(totals_module, "ONE_PASS", one_pass)
        cache.clear()
        out.append(compute())
    return out


def _assert_close(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert len(a) == len(b) and list(a["measure"]) == list(b["measure"])
    assert list(a["domain"].astype(str)) == list(b["domain"].astype(str)) if "domain" in a else True
    checked = 0
    for col in COLUMNS:
        if col in a:
            x, y = a[col].to_numpy(dtype=float), b[col].to_numpy(dtype=float)
            np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-15, equal_nan=True, err_msg=col)
            checked += int(np.isfinite(x).sum())
    assert checked, "no figure compared"


@pytest.mark.parametrize("domain", [(), ("agency",), ("district",), ("channel",), ("agency", "month"),
                                    ("agency", "quarter")])
def test_one_pass_equals_the_per_point_path(db_session, data, monkeypatch, domain):
    sel = Selection.of(data.qv_id)
    new, old = _both_ways(monkeypatch, lambda: indices(db_session, sel, domain=domain).table)
    _assert_close(new, old)
    assert (new["se"].astype(float) > 0).any(), "intervals computed, not only estimates"


def test_one_pass_equals_for_a_scope_and_a_channel(db_session, data, monkeypatch):
    agency = data.city.agencies["STP"].id
    for sel in (Selection.of(data.qv_id, agency_ids=(agency,)), Selection.of(data.qv_id, channels=("paper",)),
                Selection.of(data.qv_id, period_from=data.months[1].date().replace(day=1))):
        new, old = _both_ways(monkeypatch, lambda sel=sel: indices(db_session, sel, domain="agency").table)
        _assert_close(new, old)


def test_a_comparison_page_equals_and_builds_its_totals_together(app, db_session, data, monkeypatch):
    """The page's totals — units, whole and the change over two periods; then the trend's eight periods — are
    each built in one pass over their months (not one read of every month per totals), no month stays in the
    request once read, and every figure equals the per-point path's."""
    sel = Selection.of(data.qv_id)
    month = data.months[0]
    period = Period.parse(f"{month.year}-{month.month:02d}")
    passes: list[set] = []
    real_pass, real_cells = month_pass._one_pass, month_cells.month_cells

    def spy(session, inst, wanted):
        passes.append({(k[0][1], k[0][2], k[1]) for k in wanted})
        return real_pass(session, inst, wanted)

    def cells(session, versions, counts, months, **kw):
        assert kw.get("remember") is False
        return real_cells(session, versions, counts, months, **kw)

    monkeypatch.setattr(month_pass, "_one_pass", spy)
    monkeypatch.setattr(month_pass, "month_cells", cells)

    def page():
        with app.test_request_context("/"):
            comp = compare_units(db_session, sel, group="agency", measure_code="OVERALL", period=period,
                                 lang="en", n_min=5, bootstrap_b=50, seed=1)
            assert comp is not None and len(comp.rows) >= 3
            trend = selection_trend(db_session, comp.shown_selection or sel, "OVERALL", period, 5)
            from flask import request

            kept = list(request.environ.get("hailong.results.memo", {}).get(("month-cells",), {}))
            assert not (kept and totals_module.ONE_PASS), "no month kept for the rest of the request"
            return comp, trend

    (new, new_trend), (old, old_trend) = _both_ways(monkeypatch, page)
    prev = period.previous()
    together = {(period.start, period.end, ("agency",)), (period.start, period.end, ()),
                (prev.start, period.end, ("agency", "month"))}
    assert any(p >= together for p in passes), passes
    # the protection of both periods builds no totals (each node's n: survey/results/node_counts.py)
    assert not any(dom in (("service_point",), ("district",)) for p in passes for *_, dom in p), passes
    # the trend's eight periods: the latest was built with the comparison (its whole), the seven others together
    assert any(len(p) == 7 and all(dom == () for *_, dom in p) for p in passes), "the trend's periods together"
    for a, b in zip([new.overall, *new.rows], [old.overall, *old.rows], strict=True):
        assert a.code == b.code and a.n == b.n and a.rank == b.rank
        for name in ("estimate", "se", "ci_low", "ci_high", "change", "change_low", "change_high", "p_top"):
            np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=1e-12, atol=1e-15, equal_nan=True,
                                       err_msg=name)
    assert any(np.isfinite(r.change) for r in new.rows), "the change since the previous month is compared too"
    assert [t.label for t in new_trend] == [t.label for t in old_trend] and len(new_trend) >= 2
    for name in ("estimate", "ci_low", "ci_high"):
        np.testing.assert_allclose([getattr(t, name) for t in new_trend], [getattr(t, name) for t in old_trend],
                                   rtol=1e-12, atol=1e-15, equal_nan=True, err_msg=name)


def _answer(session, data, sp, when, channel="paper"):
    """One more response at `sp`: every scale item at its highest level."""
    from survey.questionnaire_versions.service import questionnaire_for
    from survey.respond.store import Submission, store_response

    q, _ = questionnaire_for(session, data.qv_id)
    answers = {item.code: max(item.values) for item in q.items() if item.type == "scale"}
    store_response(session, Submission(service_point_id=sp.id, questionnaire_version_id=data.qv_id,
                                       answers=answers, channel=channel, submitted_at=when))


def _page_figures(app, session, sel, period):
    with app.test_request_context("/"):
        comp = compare_units(session, sel, group="agency", measure_code="OVERALL", period=period,
                             lang="en", n_min=5, bootstrap_b=50, seed=1)
        trend = selection_trend(session, comp.shown_selection or sel, "OVERALL", period, 5)
    rows = [(r.code, r.n, r.rank, *(getattr(r, k) for k in ("estimate", "se", "ci_low", "ci_high", "change",
                                                            "change_low", "change_high", "p_top")))
            for r in [comp.overall, *comp.rows]]
    return rows, [(t.label, t.n, t.estimate, t.ci_low, t.ci_high) for t in trend]


def _assert_same(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert x[:3] == y[:3] if len(x) > 5 else x[:2] == y[:2]
        start = 3 if len(x) > 5 else 2
        np.testing.assert_allclose(np.array(x[start:], dtype=float), np.array(y[start:], dtype=float),
                                   rtol=1e-12, atol=1e-15, equal_nan=True)


@pytest.mark.parametrize("kind", ["month", "quarter"])
@pytest.mark.parametrize("where", ["newest", "older"])
def test_a_live_page_keeps_its_unchanged_months_and_equals_a_fresh_build(app, db_session, data, where, kind,
                                                                        monkeypatch):
    """Live: new responses between two requests.  The second request takes the totals whose months did not
    change from survey/results/closed_months.py and builds the others again; every figure of the comparison
    (estimates, SEs, intervals, ranks, change) and of the trend equals a build from empty caches (1e-12) — for a
    response in the newest month and in the one before (the change over both months is built again, the
    trend's other months are kept; for the older one also the newest month's comparison and whole)."""
    from survey.results import closed_months

    sel = Selection.of(data.qv_id)
    month = data.months[0]
    label = f"{month.year}-{month.month:02d}" if kind == "month" else f"{month.year}-Q{(month.month - 1) // 3 + 1}"
    period = Period.parse(label)
    cache.clear()
    before = _page_figures(app, db_session, sel, period)
    points = sorted(data.city.service_points.values(), key=lambda p: p.code)
    when = data.months[0] if where == "newest" else data.months[1]
    for sp in points[:3]:
        _answer(db_session, data, sp, when)
    reused_months, bases = [], []
    real_get = closed_months.get

    def get(key):
        found = real_get(key)
        if found is not None and key[0] == "base":  # a range's or a period-split totals' closed months
            bases.append(tuple(m for m, _v in key[-1][3]))
        elif found is not None and key[2][3]:  # the totals of months with data, not of an empty period
            reused_months.append(tuple(m for m, _v in key[2][3]))
        return found

    monkeypatch.setattr(closed_months, "get", get)
    live = _page_figures(app, db_session, sel, period)
    monkeypatch.setattr(closed_months, "get", real_get)
    reused = len(reused_months)
    changed = when.date().replace(day=1)
    assert all(changed not in months for months in reused_months + bases), "a changed month reused"
    cache.clear()
    fresh = _page_figures(app, db_session, sel, period)
    for a, b in zip(live, fresh, strict=True):
        _assert_same(a, b)
    assert live != before, "the new responses changed the page"
    if kind == "month":  # (the fixture's three months lie in one quarter: every quarter with data changes)
        assert reused >= (2 if where == "newest" else 3), "the unchanged months' totals were not built again"
    if where == "newest":  # the change's earlier period (and a quarter's first two months) read from the kept sums
        assert bases, "the closed months were read again"


@pytest.mark.parametrize("kind", ["month", "quarter"])
def test_a_live_page_reads_only_the_changed_cells_of_the_newest_month(app, db_session, data, kind, monkeypatch):
    """Live, twice: new responses in the newest month.  The month pass does not read that month again: it takes
    its kept sums over the range and replaces the rows of the service points whose cells changed (their cells
    only: month_cells.month_delta); every figure of the comparison and the trend equals a build from empty
    caches (1e-12), after the first round and after the second (the watermark moved on)."""
    month = data.months[0]
    label = f"{month.year}-{month.month:02d}" if kind == "month" else f"{month.year}-Q{(month.month - 1) // 3 + 1}"
    period = Period.parse(label)
    sel = Selection.of(data.qv_id)
    newest = month.date().replace(day=1)
    cache.clear()
    _page_figures(app, db_session, sel, period)
    # only ranges ending in the newest month keep sums: a trend's older periods would evict the current range's
    ends = {max(key[4][0]) for key, _ in closed_months_entries() if key[0] == "open"}
    assert ends == {newest}, ends
    points = sorted(data.city.service_points.values(), key=lambda p: p.code)
    real_cells, real_delta = month_pass.month_cells, month_pass.month_delta
    from dataclasses import replace

    from survey.results.protection import tree_selection

    tree_sel = tree_selection(replace(sel, period_from=period.start, period_to=period.end))  # the page's protection
    levels = ["agency", "service_point"]
    with app.test_request_context("/"):
        node_counts.node_figures(db_session, tree_sel, levels, 5)
    for round_points in (points[:2], points[2:5]):
        for sp in round_points:
            _answer(db_session, data, sp, month)
        read: list = []
        deltas: list = []

        def cells(session, versions, counts, months, read=read, **kw):
            read.extend(months)
            return real_cells(session, versions, counts, months, **kw)

        def delta(session, versions, m, since, deltas=deltas):
            found = real_delta(session, versions, m, since)
            deltas.append(None if found is None else sorted(found.points.tolist()))
            return found

        monkeypatch.setattr(month_pass, "month_cells", cells)
        monkeypatch.setattr(month_cells, "month_cells", cells)  # the protection's item counts (node_counts)
        monkeypatch.setattr(month_pass, "month_delta", delta)
        live = _page_figures(app, db_session, sel, period)
        with app.test_request_context("/"):
            live_nodes = node_counts.node_figures(db_session, tree_sel, levels, 5)
        monkeypatch.setattr(month_pass, "month_cells", real_cells)
        monkeypatch.setattr(month_cells, "month_cells", real_cells)
        monkeypatch.setattr(month_pass, "month_delta", real_delta)
        assert newest not in read, "the newest month was read again in full"
        assert deltas and all(d == sorted(p.id for p in round_points) for d in deltas), deltas
        kept = closed_months_entries()
        cache.clear()
        fresh = _page_figures(app, db_session, sel, period)
        for a, b in zip(live, fresh, strict=True):
            _assert_same(a, b)
        with app.test_request_context("/"):
            assert live_nodes == node_counts.node_figures(db_session, tree_sel, levels, 5)
        restore_closed_months(kept)  # the next round continues from the live state, not from the fresh build


def closed_months_entries():
    from survey.results import closed_months

    return list(closed_months._entries.items())


def restore_closed_months(entries):
    from survey.results import closed_months

    closed_months.clear()
    for key, (value, size) in entries:
        closed_months.put(key, value, size)
