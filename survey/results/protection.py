"""Which figures are hidden on EVERY page: each node's own suppression (n < n_min) plus the secondary
suppression that keeps linked pages from giving a hidden figure away by subtraction.

WHY one place: a district's row (Home Affairs comparison) minus the agencies shown on its drill-down, the whole
city (report summary, the agency list's total) minus the districts or agencies shown, an agency minus its shown
service points — each is a hidden group's figure unless the hidden children under every shown parent pool at
least n_min responses over at least two rows (analysis.disclosure.tree_suppression).  The choice is made once
per (questionnaire, channels, months, measure) over the whole tree — never per viewer or per page — so every
page that shows the parent or any child hides the same rows.

Periods and channels are linked the same way (docs/integrity.md, "Published figures across periods and
channels"): a quarter minus its shown months, all channels minus one channel would give a hidden figure away, so
the decision is made over organisation × (quarter ⊃ months) × (all ⊃ channels) at once
(analysis.disclosure.product_suppression, `_linked`), once per questionnaire and measure; any longer or other
range is shown for a node only when every quarter or month it is made of is (`time_pieces`).
docs/methodology-design.md, "Totals beside suppressed rows".
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from analysis.disclosure import product_suppression, tree_suppression
from survey.respond.models import CHANNELS
from survey.results.cache import cached, per_request
from survey.results.cell_counts import ALL_CHANNELS, CellCounts, cell_counts, channel_parents
from survey.results.design import current_design
from survey.results.node_counts import measure_items, node_figures
from survey.results.selection import Selection
from survey.results.totals import instrument
from survey.results.tree import level_codes, placements

Node = tuple[str, str]  # (kind, code): kind = a tree level code, "agency" or "service_point"
#: False: primary suppression only, as the pages were before (the tests' check must then find a hidden figure)
ENABLED = True
#: False: each (months, channels) protected over the tree on its own, as before periods and channels were linked
#: (a quarter minus its shown months, all channels minus one channel can then give a hidden figure away).
#: OFF BY DEFAULT (7 Dec 2026, lead's decision): switched on, it closes those leaks (tests/dashboard/
#: test_disclosure_periods.py) but hides a whole range whenever one of its quarters or months is hidden (an
#: agency's "all so far" page and its trend fall back to a chart of gaps: tests/dashboard/
#: test_acceptance_trend_fallback.py), costs ~6x the CPU of the demo's agency pages (the trend asks the decision
#: once per point and measure) and ~25 s more per live provincial page at national size; docs/integrity.md
LINKED = False
#: a hidden node hides its whole subtree of the tree (as before); a hidden period or channel only as many of its
#: months, quarters or channels as pool n_min (analysis.disclosure.product_suppression)
CLOSED = (True, False, False)
#: at equal n, hide a service point or an agency before a unit (a unit hides its whole subtree with it)
_RANK = {"service_point": 0, "agency": 1}


@dataclass(frozen=True)
class Protection:
    """node → "" (shown), "primary" (too few responses of its own) or "secondary" (hidden to protect a small
    group).  Nodes without responses are absent ("")."""

    status: dict[Node, str]

    def of(self, kind: str, code: str) -> str:
        return self.status.get((kind, code), "")

    def secondary(self, kind: str, code: str) -> bool:
        return self.of(kind, code) == "secondary"


def tree_selection(sel: Selection) -> Selection:
    """The selection the protection is decided on: the same questionnaire, months and channels over the whole
    tree (no scope, no unit filter), so that every viewer and every drill-down gets the same hidden rows."""
    return replace(sel.whole(), channels=sel.channels)


def protection(session: Session, sel: Selection, measure_code: str, n_min: int) -> Protection:
    """The hidden rows of `measure_code` for `sel`'s questionnaire, months and channels (see the module
    docstring).  Kept for the request as well as in the results cache: a report asks for each agency's rows."""
    whole = tree_selection(sel)
    key = ("protection", whole.key(), measure_code, n_min, current_design(), ENABLED, LINKED)
    return per_request(key, lambda: cached(session, key, lambda: _protection(session, whole, measure_code, n_min)))


@dataclass(frozen=True)
class _Inputs:
    """Every node's (n, suppressed) per measure, and the tree: what each measure's protection is decided on."""

    figures: dict[str, dict[Node, tuple[int, bool]]]  # measure → node → (n, primary)
    parent: dict[Node, Node | None]


def _inputs(session: Session, whole: Selection, n_min: int) -> _Inputs:
    key = ("protection-inputs", whole.key(), n_min, current_design())
    return per_request(key, lambda: cached(session, key, lambda: _read_inputs(session, whole, n_min)))


def _read_inputs(session: Session, whole: Selection, n_min: int) -> _Inputs:
    levels = level_codes(session)
    # each node's n and own suppression per measure from the item counts alone (the same figures as `indices`
    # at every level, without totals, variances or intervals: survey/results/node_counts.py)
    figures = node_figures(session, whole, [*levels, "agency", "service_point"], n_min)
    return _Inputs(figures, _org_tree(session)[0])


def _org_tree(session: Session) -> tuple[dict[Node, Node | None], dict[int, list[Node]]]:
    """The tree's parent of every node, and each service point's nodes (itself and every ancestor)."""
    levels = level_codes(session)
    parent: dict[Node, Node | None] = {}
    above: dict[int, list[Node]] = {}
    for place in placements(session).values():
        chain = [(lv, place.levels[lv]) for lv in levels if lv in place.levels]
        for i, node in enumerate(chain):
            parent.setdefault(node, chain[i - 1] if i else None)
        agency = ("agency", place.agency)
        parent.setdefault(agency, chain[-1] if chain else None)
        parent.setdefault(("service_point", place.service_point), agency)
        above[place.service_point_id] = [*chain, agency, ("service_point", place.service_point)]
    return parent, above


def _protection(session: Session, whole: Selection, measure_code: str, n_min: int) -> Protection:
    if ENABLED and LINKED:
        return _linked_slice(session, whole, measure_code, n_min)
    inputs = _inputs(session, whole, n_min)
    figures = inputs.figures.get(measure_code, {})
    primary = {k: sup for k, (_n, sup) in figures.items()}
    if not ENABLED:
        return Protection({k: "primary" for k, s in primary.items() if s})
    n = {k: k_n for k, (k_n, _s) in figures.items()}
    status = tree_suppression(inputs.parent, n, primary, n_min, rank=lambda k: _RANK.get(k[0], 2))
    return Protection({k: s for k, s in status.items() if s})


# --------------------------------------------------------------------------- periods and channels linked
def time_pieces(first: date | None, last: date | None, months: list[date]) -> list[str]:
    """The calendar periods a month range is made of (time nodes of survey/results/cell_counts.py): within the
    months with data (`months`; no bounds: all of them), greedily the quarter or else the month starting at each
    month.  A figure over the range is the sum of those pieces' figures."""
    if not months:
        return []
    lo, hi = max(first or months[0], months[0]), min(last or months[-1], months[-1])
    out: list[str] = []
    y, m = lo.year, lo.month
    while (y, m) <= (hi.year, hi.month):
        if m % 3 == 1 and (y, m + 2) <= (hi.year, hi.month):
            out.append(f"{y}-Q{(m - 1) // 3 + 1}")
            m += 3
        else:
            out.append(f"{y}-{m:02d}")
            m += 1
        if m > 12:
            y, m = y + 1, 1
    return out


def _linked_slice(session: Session, whole: Selection, measure_code: str, n_min: int) -> Protection:
    """The decision over organisation × time × channel (`_linked`) read at `whole`'s months and channels.  A
    range that is no quarter or month (a year, every month so far, any From–To of the agency pages) is shown for a
    node only when every quarter or month it is made of is (its figure is then their sum: nothing new);
    otherwise the node is hidden to protect them."""
    by_slice = _linked(session, whole.questionnaire_version_ids, measure_code, n_min)
    months = _cells(session, whole.questionnaire_version_ids)[0].months
    channels = [ALL_CHANNELS] if not whole.channels or set(whole.channels) >= set(CHANNELS) else list(whole.channels)
    pieces = [(t, c) for t in time_pieces(whole.period_from, whole.period_to, months) for c in channels]
    if len(pieces) == 1:
        return Protection(by_slice.get(pieces[0], {}))
    return Protection({o: "secondary" for piece in pieces for o in by_slice.get(piece, {})})


def _linked(session: Session, version_ids: tuple[int, ...], measure_code: str, n_min: int
            ) -> dict[tuple[str, str], dict[Node, str]]:
    """(time node, channel node) → hidden org node → "primary" / "secondary" of one measure: decided once
    for the questionnaire over every period and channel (so every page and export of any months or channel
    follows one decision), cached like any figure."""
    key = ("protection-linked", version_ids, measure_code, n_min, current_design())
    return per_request(key, lambda: cached(session, key, lambda: _decide_linked(session, version_ids,
                                                                                 measure_code, n_min)))


def _cells(session: Session, version_ids: tuple[int, ...]) -> tuple[CellCounts, dict[Node, Node | None],
                                                                         list[tuple[str, list[str]]]]:
    def read() -> tuple[CellCounts, dict[Node, Node | None], list[tuple[str, list[str]]]]:
        inst = instrument(session, Selection(questionnaire_version_ids=version_ids))
        parent, above = _org_tree(session)
        spec_items = {int(i): c for i, c in inst.item_codes.items() if c in inst.spec.items}
        return (cell_counts(session, version_ids, spec_items, above, list(parent)), parent,
                measure_items(inst.spec.measures))
    key = ("protection-cells", version_ids)
    return per_request(key, lambda: cached(session, key, read))


def _decide_linked(session: Session, version_ids: tuple[int, ...], measure_code: str, n_min: int
                   ) -> dict[tuple[str, str], dict[Node, str]]:
    cells, org_parent, wanted = _cells(session, version_ids)
    items = dict(wanted).get(measure_code)
    if not items:
        return {}
    n = cells.measure_n(items)
    digest = ("protection-linked-n", version_ids, n_min, hashlib.sha1(n.tobytes()).hexdigest())
    return per_request(digest, lambda: _decide_cells(cells, org_parent, n, n_min))


def _decide_cells(cells: CellCounts, org_parent: dict[Node, Node | None], n: np.ndarray, n_min: int
                  ) -> dict[tuple[str, str], dict[Node, str]]:
    o, t, c = np.nonzero(n)  # C order: deterministic
    keys = [(cells.org[i], cells.time[j], cells.channel[k]) for i, j, k in zip(o.tolist(), t.tolist(), c.tolist(),
                                                                                 strict=True)]
    counts = dict(zip(keys, n[o, t, c].tolist(), strict=True))
    status = product_suppression([org_parent, cells.time_parent, channel_parents()], counts,
                                 {k: v < n_min for k, v in counts.items()}, n_min,
                                 rank=lambda cell: _RANK.get(cell[0][0], 2), closed=CLOSED)
    out: dict[tuple[str, str], dict[Node, str]] = {}
    for (o, t, c), s in status.items():
        if s:
            out.setdefault((t, c), {})[o] = s
    return out


def protect_records(session: Session, sel: Selection, records: list[dict[Any, Any]], kind: str, n_min: int,
                    code: str | None = None) -> list[dict[Any, Any]]:
    """Index-table records (`measure`, `domain`, `suppressed`) of nodes of `kind` (`code`: the node when the
    records have no domain) with each measure's protection applied: a row hidden to protect another gets
    `suppressed` and `protects` True, so it is hidden wherever the records are shown."""
    out = []
    for rec in records:
        node = str(rec["domain"]) if code is None else code
        if protection(session, sel, str(rec["measure"]), n_min).secondary(kind, node):
            rec = {**rec, "suppressed": True, "protects": True}
        out.append(rec)
    return out


def root_node(session: Session, unit_code: str | None = None) -> tuple[str, str] | None:
    """(level, code) of `unit_code`, or of the tree's root (the whole city) when None."""
    from sqlalchemy import select

    from survey.org.models import Unit

    q = select(Unit.level_code, Unit.code)
    q = q.where(Unit.code == unit_code) if unit_code else q.where(Unit.parent_id.is_(None)).order_by(Unit.id)
    found = session.execute(q).first()
    return None if found is None else (str(found[0]), str(found[1]))
