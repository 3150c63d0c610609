"""Answers per item in every cell of organisation × time × channel: what the protection of small groups over
periods and channels (survey/results/protection.py, analysis.disclosure.product_suppression) is decided on.

WHY: a figure is published for a node of the tree (city, unit, agency, service point) over a period (a quarter or
a month; longer ranges are sums of those) through a channel (all, or one).  Each cell's n of a measure is the
least answered count of the measure's items (analysis.estimate; survey/results/node_counts.py), and an item's
count is a plain sum over service points, months and channels — so one GROUP BY of the answer counts by
(service point, month, channel, item) gives every cell by summing along the three hierarchies.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from survey.respond.models import CHANNELS, AnswerTally

ALL_CHANNELS = "*"
Node = tuple[str, str]


def month_label(d: date) -> str:
    return f"{d.year}-{d.month:02d}"


def time_parents(months: list[date]) -> dict[str, str | None]:
    """month → quarter (labels as the pages' periods: 2022-11, 2022-Q4).  Years and "every month so far" are no
    nodes: a figure over them is shown only when every quarter (or month) it is made of is, so it adds nothing
    (survey/results/protection.py:time_pieces).  As nodes they would hide a large year or a whole year's quarter
    whenever the newest, unfinished period is small (every month so far minus last year is this year)."""
    parent: dict[str, str | None] = {}
    for d in months:
        quarter = f"{d.year}-Q{(d.month - 1) // 3 + 1}"
        parent[quarter] = None
        parent[month_label(d)] = quarter
    return parent


def channel_parents() -> dict[str, str | None]:
    return {ALL_CHANNELS: None, **{c: ALL_CHANNELS for c in CHANNELS}}


@dataclass(frozen=True)
class CellCounts:
    """counts[org, time, channel, item]: answers; the three axes' node labels, and the items' codes."""

    org: list[Node]
    time: list[str]
    channel: list[str]
    items: list[str]
    counts: np.ndarray
    time_parent: dict[str, str | None]
    months: list[date]  # the months with answers, oldest first


def cell_counts(session: Session, version_ids: tuple[int, ...], spec_items: dict[int, str],
                org_of_point: dict[int, list[Node]], org: list[Node]) -> CellCounts:
    """Answers per item in every (org node, time node, channel node) cell of these questionnaire versions.

    `spec_items`: item id → scored item code; `org_of_point`: service point id → the org nodes it counts in
    (its own node and every ancestor); `org`: every org node, in the order the decision uses."""
    t = AnswerTally.__table__.c
    rows = session.execute(
        select(t.service_point_id, t.period, t.channel, t.item_id, func.sum(t.count))
        .where(t.questionnaire_version_id.in_(version_ids), t.value > 0, t.item_id.in_(list(spec_items)))
        .group_by(t.service_point_id, t.period, t.channel, t.item_id)).all()
    months = sorted({r[1] for r in rows})
    time_parent = time_parents(months)
    time = list(time_parent)
    channel = list(channel_parents())
    items = sorted(set(spec_items.values()))
    o_ix = {k: i for i, k in enumerate(org)}
    t_ix = {k: i for i, k in enumerate(time)}
    c_ix = {k: i for i, k in enumerate(channel)}
    i_ix = {k: i for i, k in enumerate(items)}
    counts = np.zeros((len(org), len(time), len(channel), len(items)), dtype=np.int64)
    if not rows:
        return CellCounts(org, time, channel, items, counts, time_parent, months)
    # leaves (service point, month, channel, item), each added to every node above it along the three axes at
    # once: one scatter-add of rows × (org ancestors) × (month, quarter) × (channel, all channels)
    month_of = {d: t_ix[month_label(d)] for d in months}
    sp = np.array([r[0] for r in rows], dtype=np.int64)
    month = np.array([month_of[r[1]] for r in rows], dtype=np.int64)
    ch = np.array([c_ix.get(str(r[2]), -1) for r in rows], dtype=np.int64)
    item = np.array([i_ix[spec_items[int(r[3])]] for r in rows], dtype=np.int64)
    k = np.array([int(r[4]) for r in rows], dtype=np.int64)
    quarter = np.array([t_ix[p] if (p := time_parent[label]) is not None else -1 for label in time],
                       dtype=np.int64)[month]
    depth = max((len(v) for v in org_of_point.values()), default=0)
    points = sorted(set(sp.tolist()))
    up = np.full((len(points), max(depth, 1)), -1, dtype=np.int64)  # each point's org nodes, padded with -1
    for row, point in enumerate(points):
        nodes = [o_ix[n] for n in org_of_point.get(point, []) if n in o_ix]
        up[row, :len(nodes)] = nodes
    orgs = up[np.searchsorted(np.asarray(points, dtype=np.int64), sp)]  # rows × depth
    keep = ch >= 0
    all_ch = c_ix[ALL_CHANNELS]
    for o in orgs.T:
        ok = keep & (o >= 0)
        for when in (month, quarter):
            for c in (ch, np.full_like(ch, all_ch)):
                sel = ok & (when >= 0)
                np.add.at(counts, (o[sel], when[sel], c[sel], item[sel]), k[sel])
    return CellCounts(org, time, channel, items, counts, time_parent, months)
