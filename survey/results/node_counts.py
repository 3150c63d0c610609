"""Every tree node's published n and own suppression per measure, from the item counts alone.

WHY: the protection of small groups (survey/results/protection.py) is decided over the whole tree — the
country or city, every unit level, every agency and every service point — for a page's questionnaire, months
and channels.  It used `indices` at every level: full totals, Gram sums, variances and intervals for ≈ 17,000
nodes on a national tree (a 10,011-cell Ĝ at the service-point level alone), ≈ 55% of a national page's CPU,
although the decision reads only each node's n and whether it is suppressed.

Both depend only on the unweighted answered count N_i of each scored item in the node (analysis.estimate:
a measure's n is the minimum of N_i over the items of its ratios with a non-zero coefficient; it is answered
when every such N_i > 0; analysis.result: suppressed = not answered or n < n_min).  N_i is a sum over the
node's service points, so the counts of the service points (read off the Gram diagonals, one running total
over the months: design.moment_item_stats) give every node by a group sum.  A node is listed when it has a
row in the totals `indices` would build (some scored item answered); codes "" (no ancestor at that level) are
left out, as before.  tests/results/test_node_counts.py checks the figures equal those of `indices`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from survey.results.selection import Selection

Node = tuple[str, str]


def measure_items(measures: Any) -> list[tuple[str, list[str]]]:
    """(measure code, the items of its ratios with a non-zero coefficient) — analysis.estimate's `uses`."""
    out = []
    for m in measures:
        coef: dict[Any, float] = {}
        for key, c in m.terms:
            coef[key] = coef.get(key, 0.0) + c
        out.append((m.code, sorted({key.item for key, c in coef.items() if c != 0})))
    return out


def item_counts(session: Session, sel: Selection, inst: Any) -> pd.DataFrame:
    """service point id × scored item code: N (answers), int64; service points without an answer absent.

    Read off the months' Gram diagonals one month at a time (no month kept for the rest of the request: a
    national month is 0.2–0.4 GB decoded), each month's counts cached under its version (cache.month_payloads:
    a live request reads only the month that changed); summed as integers, so exactly."""
    from survey.results.cache import month_payloads
    from survey.results.design import item_plans
    from survey.results.totals import item_stat_rows, month_versions

    codes = {iid: code for iid, code in inst.item_codes.items() if code in inst.spec.items}
    plans = item_plans(session, sel, inst)
    if plans is None:  # a version counts other levels as satisfied: answer_tally, as long_totals does
        rows = item_stat_rows(session, sel, inst, by_period=False, by_channel=False)
        sp, item, n = (rows["service_point_id"].to_numpy(dtype=np.int64), rows["item_id"].to_numpy(),
                       rows["n"].to_numpy(dtype=np.int64))
    else:
        versions = month_versions(session, sel)
        key = ("node-item-counts", inst.record.id, replace(sel, period_from=None, period_to=None).key())
        parts = month_payloads(session, key, versions, lambda months: {
            m: _month_counts(session, sel, versions, m, plans, key) for m in months})
        chunks = [p for m in sorted(parts) for p in parts[m]]
        if not chunks:
            return _no_counts()
        sp = np.concatenate([c[0] for c in chunks])
        item = np.concatenate([c[1] for c in chunks])
        n = np.concatenate([c[2] for c in chunks])
    if not len(sp):
        return _no_counts()
    # service point × item code, summed (a pivot table's figures; NumPy: pandas' pivot_table took ~0.4 s of a
    # live national request)
    names = sorted(set(codes.values()))
    col_of = {iid: names.index(code) for iid, code in codes.items()}
    uniq, item_at = np.unique(item, return_inverse=True)
    col = np.array([col_of.get(int(i), -1) for i in uniq.tolist()], dtype=np.int64)[item_at]
    keep = (col >= 0) & (n > 0)
    if not keep.any():
        return _no_counts()
    points, row = np.unique(sp[keep], return_inverse=True)
    wide = np.zeros((len(points), len(names)), dtype=np.int64)
    np.add.at(wide, (row, col[keep]), n[keep])
    used = np.flatnonzero((wide > 0).any(axis=0))
    return pd.DataFrame(wide[:, used], index=pd.Index(points, name="service_point_id"),
                        columns=pd.Index([names[j] for j in used.tolist()], name="item"))


def _no_counts() -> pd.DataFrame:
    return pd.DataFrame(index=pd.Index([], name="service_point_id", dtype=np.int64), dtype=np.int64)


def _month_counts(session: Session, sel: Selection, versions: dict[Any, int], month: Any,
                  plans: dict[int, tuple[np.ndarray, np.ndarray]], key: Any
                  ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """One month's (service point ids, item ids, answers) per version, summed over its channels in `sel`.

    The counts of the month are also kept with the month's watermark (survey/results/closed_months.py): when
    the month changes (a live request: two new responses), only the service points whose cells changed are
    read again (month_cells.month_delta) and their rows replaced — the month is not decoded again."""
    from survey.results import closed_months
    from survey.results.month_cells import Watermark, month_cells, month_delta
    from survey.results.selection import allowed_service_points

    sps = allowed_service_points(session, sel)
    allowed = None if sps is None else np.asarray(sps, dtype=np.int64)
    vs = sel.questionnaire_version_ids
    open_key = ("node-counts-open", key, month, closed_months.data_key(session, {}))
    found = closed_months.take(open_key)
    dense: dict[int, tuple[dict[int, int], np.ndarray]] | None = None
    if found is not None:
        mark, dense = found
        if mark.count != versions.get(month, 0):
            delta = month_delta(session, vs, month, mark)
            if delta is None:
                dense = None
            else:
                _replace_points(dense, delta.points.tolist(), _dense(delta.blocks, allowed, sel.channels, plans))
                mark = delta.after
    if dense is None:
        blocks = month_cells(session, vs, versions, [month], remember=False).get(month, {})
        mark, dense = Watermark.of(blocks), _dense(blocks, allowed, sel.channels, plans)
        del blocks
    closed_months.put(open_key, (mark, dense), sum(int(m.nbytes) + 100 * len(r) for r, m in dense.values())
                      + 50 * len(mark.per_point))
    out = []
    for version, (rows, n) in sorted(dense.items()):
        ids = plans[version][1]
        points = np.fromiter(rows, dtype=np.int64, count=len(rows))
        live = n[: len(rows)]
        out.append((np.repeat(points, len(ids)), np.tile(ids, len(points)), live.reshape(-1).copy()))
    return out


def _dense(blocks: dict[int, Any], allowed: np.ndarray | None, channels: tuple[str, ...],
           plans: dict[int, tuple[np.ndarray, np.ndarray]]) -> dict[int, tuple[dict[int, int], np.ndarray]]:
    """version → (service point id → row, answers per row × scored item) of the blocks' cells in the selection."""
    from survey.results.design import selected_cells
    from survey.results.month_cells import sum_sorted

    out = {}
    for version, block in sorted(blocks.items()):
        picks, ids = plans[version]
        rows = np.flatnonzero(selected_cells(block, allowed, channels))
        if not len(rows):
            continue
        sp = block.sp[rows]
        order = np.argsort(sp, kind="stable")
        points, n = sum_sorted(sp[order], np.asarray(block.tri[rows[order]][:, picks[: len(ids)]], dtype=np.int64))
        out[version] = ({int(p): i for i, p in enumerate(points.tolist())}, np.asarray(n, dtype=np.int64))
    return out


def _replace_points(dense: dict[int, tuple[dict[int, int], np.ndarray]], changed: list[int],
                    fresh: dict[int, tuple[dict[int, int], np.ndarray]]) -> None:
    """`dense` (in place) with the rows of the `changed` service points as in `fresh` (their cells now)."""
    for version in set(dense) | set(fresh):
        rows, n = dense.get(version, ({}, np.zeros((0, fresh[version][1].shape[1]), dtype=np.int64)))
        new_rows, new_n = fresh.get(version, ({}, None))
        for p in changed:
            at = rows.get(p)
            if p not in new_rows:
                if at is not None:
                    n[at] = 0
                continue
            if at is None:
                at = rows[p] = len(rows)
                if at >= len(n):
                    grown = np.zeros((max(2 * len(n), 64), n.shape[1]), dtype=np.int64)
                    grown[: len(n)] = n
                    n = grown
            assert new_n is not None
            n[at] = new_n[new_rows[p]]
        dense[version] = (rows, n)


def node_figures(session: Session, sel: Selection, kinds: list[str], n_min: int
                 ) -> dict[str, dict[Node, tuple[int, bool]]]:
    """measure → (kind, code) → (n, suppressed) for every node of `kinds` (tree level codes, "agency",
    "service_point") with answers in `sel`: what `indices(sel, domain=kind, n_min=n_min)` lists as `n` and
    `suppressed` (module docstring), in the same order (kinds in turn, codes sorted, as its table)."""
    from survey.results.totals import instrument
    from survey.results.tree import placement_frame, placements

    inst = instrument(session, sel)
    counts = item_counts(session, sel, inst)
    figures: dict[str, dict[Node, tuple[int, bool]]] = {}
    if counts.empty:
        return figures
    places = placements(session)
    ids = [i for i in counts.index.tolist() if i in places]
    counts = counts.loc[ids]
    wanted = measure_items(inst.spec.measures)
    frame = placement_frame(places, ids, list(dict.fromkeys(kinds)))
    for kind in kinds:
        by_node = counts.groupby(frame[kind].to_numpy(), sort=True).sum()
        by_node = by_node[by_node.index != ""]
        n_items = by_node.to_numpy(dtype=np.int64)
        col = {code: j for j, code in enumerate(by_node.columns)}
        nodes = [(kind, str(code)) for code in by_node.index]
        for code, items in wanted:
            if items:
                per = np.stack([n_items[:, col[i]] if i in col else np.zeros(len(nodes), dtype=np.int64)
                                for i in items], axis=1)
                n = per.min(axis=1)
                answered = (per > 0).all(axis=1)
            else:
                n = np.zeros(len(nodes), dtype=np.int64)
                answered = np.ones(len(nodes), dtype=bool)
            suppressed = ~answered | (answered & (n < n_min))
            figures.setdefault(code, {}).update(zip(nodes, zip(n.tolist(), suppressed.tolist(), strict=True),
                                                    strict=True))
    return figures


def kept_node_figures(session: Session, sel: Selection, kinds: list[str], n_min: int
                      ) -> dict[str, dict[Node, tuple[int, bool]]]:
    """node_figures kept for the request and in the results cache (a trend asks for every earlier period on
    every request: uncached, a warm province page recomputed them from the item counts each time)."""
    from survey.results.cache import cached, per_request

    key = ("node-figures", sel.key(), tuple(kinds), n_min)
    return per_request(key, lambda: cached(session, key, lambda: node_figures(session, sel, kinds, n_min)))
