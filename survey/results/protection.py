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
the decision is made over organisation × (year ⊃ quarter ⊃ months) × (all ⊃ channels) at once
(analysis.disclosure.product_suppression, `_linked`), once per questionnaire and measure; any other range (every
month so far, any From–To) is shown for a node only when the node's shown periods give it already: its two ends
are joined by shown periods (`Linked`), which is exact along time.
docs/methodology-design.md, "Totals beside suppressed rows".
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import date
from threading import Lock
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from analysis.disclosure import product_suppression_grid, tree_suppression
from survey.respond.models import CHANNELS
from survey.results import carried
from survey.results.cache import cached, per_request
from survey.results.cell_counts import ALL_CHANNELS, CellCounts, LiveCells, channel_parents, live_cells
from survey.results.design import current_design
from survey.results.node_counts import measure_items, node_figures
from survey.results.selection import Selection
from survey.results.totals import instrument
from survey.results.tree import Placement, level_codes, placements

Node = tuple[str, str]  # (kind, code): kind = a tree level code, "agency" or "service_point"
#: False: primary suppression only, as the pages were before (the tests' check must then find a hidden figure)
ENABLED = True
#: False: each (months, channels) protected over the tree on its own, as before periods and channels were linked
#: (a quarter minus its shown months, all channels minus one channel can then give a hidden figure away).  ON by
#: default since 7 Dec 2026 (docs/integrity.md): ranges are read from the shown periods' components (exact along
#: time), so a small month no longer hides an agency's year or "so far" headline.
LINKED = True
#: False: each measure decided on its own, as before 7 Dec 2026 (a composite beside all but one of its items then
#: gives that item away: `across_measures`)
ACROSS_MEASURES = True
#: False: each decision made afresh on the day's counts, as before 8 Dec 2026 (a few new responses can then move a
#: hide from one sibling to another beside a small group, and two days' pages give it away: survey/results/carried.py)
CARRY_FORWARD = True
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
    key = ("protection", whole.key(), measure_code, n_min, current_design(), ENABLED, LINKED, CARRY_FORWARD)
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


OrgTree = tuple[dict[Node, Node | None], dict[int, list[Node]]]
#: database URL → (the placements and level codes it was built from, the tree): a live request (new responses, same
#: tree) no longer rebuilds the ~17,000 national parents (benchmarks/README.md, "session 11, second wave")
_kept_tree: dict[str, tuple[object, object, OrgTree]] = {}
_kept_tree_lock = Lock()


def _org_tree(session: Session) -> OrgTree:
    """The tree's parent of every node, and each service point's nodes (itself and every ancestor).

    Kept per process with the very placements and level codes it was built from: survey/results/tree.py keeps
    those under the tree revision and returns the same objects until an organisation edit, so the same objects
    mean the same tree (held here, their ids cannot be reused).  Shared: callers must not modify it."""
    places, levels = placements(session), level_codes(session)
    url = str(session.get_bind().engine.url)
    with _kept_tree_lock:
        hit = _kept_tree.get(url)
    if hit is not None and hit[0] is places and hit[1] is levels:
        return hit[2]
    out = _build_org_tree(places, levels)
    with _kept_tree_lock:
        _kept_tree[url] = (places, levels, out)
    return out


def _build_org_tree(places: dict[int, Placement], levels: list[str]) -> OrgTree:
    parent: dict[Node, Node | None] = {}
    above: dict[int, list[Node]] = {}
    for place in places.values():
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
def _month_index(first: date, d: date) -> int:
    return (d.year - first.year) * 12 + d.month - first.month


#: the time node of every complete quarter together ("so far" without the quarter in progress)
SO_FAR = "*"


def _span(label: str, first: date, current_quarter: date) -> tuple[int, int]:
    """(first month, last month + 1) of a time node (2022-Q4, 2022-11, or SO_FAR) counted from `first`."""
    if label == SO_FAR:
        return 0, _month_index(first, current_quarter)
    year = int(label[:4])
    if "Q" in label:
        q = int(label[-1])
        lo, hi = date(year, 3 * q - 2, 1), date(year, 3 * q, 1)
    else:
        lo = hi = date(year, int(label[5:7]), 1)
    return _month_index(first, lo), _month_index(first, hi) + 1


def current_quarter() -> date:
    """First day of the quarter in progress (the app's clock, Vietnam's months)."""
    from survey.results.periods import month_start, now

    m = month_start(now())
    return date(m.year, 3 * ((m.month - 1) // 3) + 1, 1)


@dataclass(frozen=True)
class Linked:
    """One questionnaire and measure's decision over organisation × time × channel, as arrays.

    `status[o, t, c]`: 0 shown (or no responses), 1 primary, 2 secondary, for the time nodes (every complete
    quarter together — SO_FAR —, quarters, months).  `label[o, c, k]`: the component of month boundary k (k = 0:
    the start of the first month with data, k = K: the end of the last) in the graph whose edges are the node's
    shown periods and its months without an answer.  A range of months [a..b] of a node is a sum or difference
    of shown figures — so it adds nothing a reader does not have — exactly when its two ends are in one
    component (docs/integrity.md)."""

    org_ix: dict[Node, int]
    channel_ix: dict[str, int]
    first: date | None
    months: int
    spans: dict[tuple[int, int], list[int]]  # (first month, end) within the data → the time nodes spanning it
    status: np.ndarray
    label: np.ndarray

    def hidden(self, first: date | None, last: date | None, channels: tuple[str, ...]) -> np.ndarray:
        """Status (0 shown, 1 primary, 2 secondary) of every org node over months [first..last] and these
        channels (empty: all): a period's own status, else 2 where the range is not given by shown periods."""
        out = np.zeros(len(self.org_ix), dtype=np.int8)
        if self.first is None:
            return out
        chans = [ALL_CHANNELS] if not channels or set(channels) >= set(CHANNELS) else list(channels)
        a = max(0, _month_index(self.first, first)) if first else 0
        b = min(self.months, _month_index(self.first, last) + 1) if last else self.months
        if a >= b:
            return out
        nodes = self.spans.get((a, b), [])
        for ch in chans:
            c = self.channel_ix[ch]
            if nodes:
                out = np.maximum(out, self.status[:, nodes, c].max(axis=1))
            else:
                out = np.maximum(out, np.where(self.label[:, c, a] == self.label[:, c, b], 0, 2).astype(np.int8))
        return out

    def reach(self, row: int, channels: tuple[str, ...]) -> int:
        """How many months from the start a range of org node `row` may cover and still be shown: the furthest
        month boundary that shown periods join to the start (every month when "so far" is shown)."""
        if self.first is None:
            return 0
        chans = [ALL_CHANNELS] if not channels or set(channels) >= set(CHANNELS) else list(channels)
        joined = np.ones(self.months + 1, dtype=bool)
        for ch in chans:
            lab = self.label[row, self.channel_ix[ch]]
            joined &= lab == lab[0]
        return int(np.nonzero(joined)[0].max())


def _linked_slice(session: Session, whole: Selection, measure_code: str, n_min: int) -> Protection:
    """The decision over organisation × time × channel (`_linked`) read at `whole`'s months and channels."""
    dec = _linked(session, whole.questionnaire_version_ids, measure_code, n_min)
    st = dec.hidden(whole.period_from, whole.period_to, whole.channels)
    org = list(dec.org_ix)
    return Protection({org[i]: ("primary" if st[i] == 1 else "secondary") for i in np.nonzero(st)[0].tolist()})


def linked_decision(session: Session, sel: Selection, measure_code: str, n_min: int) -> Linked:
    """The linked decision of `sel`'s questionnaire (read once per page: the trend asks it for every point)."""
    return _linked(session, sel.questionnaire_version_ids, measure_code, n_min)


def measures_of(session: Session, sel: Selection) -> list[str]:
    """The measures of `sel`'s questionnaire (each has its own decision)."""
    return [m for m, _items in _cells(session, sel.questionnaire_version_ids)[2]]


def _linked(session: Session, version_ids: tuple[int, ...], measure_code: str, n_min: int) -> Linked:
    """Decided once for the questionnaire and measure over every period and channel (so every page and export of
    any months or channel follows one decision), cached like any figure; anew when a quarter ends."""
    quarter = current_quarter()
    key = ("protection-linked", version_ids, measure_code, n_min, current_design(), quarter, CARRY_FORWARD)
    return per_request(key, lambda: cached(session, key, lambda: _decide_linked(session, version_ids,
                                                                                 measure_code, n_min, quarter)))


def _cells(session: Session, version_ids: tuple[int, ...]) -> tuple[LiveCells, dict[Node, Node | None],
                                                                         list[tuple[str, list[str]]]]:
    """The questionnaire's answers per cell, kept per process and brought up to date once per request
    (cell_counts.live_cells: a live request reads only the service points whose cells changed)."""
    def read() -> tuple[LiveCells, dict[Node, Node | None], list[tuple[str, list[str]]]]:
        inst = instrument(session, Selection(questionnaire_version_ids=version_ids))
        parent, above = _org_tree(session)
        spec_items = {int(i): c for i, c in inst.item_codes.items() if c in inst.spec.items}
        return (live_cells(session, version_ids, spec_items, above, list(parent)), parent,
                measure_items(inst.spec.measures))
    return per_request(("protection-cells", version_ids), read)


def _decide_linked(session: Session, version_ids: tuple[int, ...], measure_code: str, n_min: int,
                   quarter: date) -> Linked:
    live, _org_parent, wanted = _cells(session, version_ids)
    items = dict(wanted).get(measure_code) or []
    own = _decide_items(session, version_ids, items, n_min, quarter)
    if not ACROSS_MEASURES or len(items) < 2:
        return own
    return across_measures(live.axes, own, [_decide_items(session, version_ids, [i], n_min, quarter) for i in items],
                           *live.measure(items, quarter)[:2], quarter)


def _decide_items(session: Session, version_ids: tuple[int, ...], items: list[str], n_min: int,
                  quarter: date) -> Linked:
    """The decision of the measure whose n is the least answered of `items` (made on counts alone, so every
    measure of the same items shares it)."""
    live, org_parent, _wanted = _cells(session, version_ids)
    n, answers, generation = live.measure(items, quarter)
    # carried forward, the hidden cells stored are the items' own (survey/results/carried.py): a decision is shared
    # only by measures of the same items, not by every item set of the same counts
    digest = ("protection-linked-n", version_ids, n_min, quarter, tuple(items) if CARRY_FORWARD else None,
              hashlib.sha1(n.tobytes() + answers.tobytes()).hexdigest())
    key = (str(session.get_bind().engine.url), version_ids, tuple(items), n_min, quarter)

    def decide_carried() -> Linked:
        """The decision starting from the cells stored as hidden (one query), storing the cells it adds."""
        if not CARRY_FORWARD:
            return _decide_kept(key, live, org_parent, n, answers, generation, n_min, quarter, None)
        stored_key = carried.decision_key(version_ids, items, n_min)
        stored = carried.read(session, stored_key)
        forced = _carried_mask(live.axes, stored, quarter, n.shape)
        dec = _decide_kept(key, live, org_parent, n, answers, generation, n_min, quarter,
                           forced if forced.any() else None)
        carried.add(session, stored_key, _carried_cells(live.axes, org_parent, dec.status, forced, quarter))
        return dec
    return per_request(digest, decide_carried)


def _time_labels(cells: Any, quarter: date) -> list[str]:
    """The stored label of each time node of a decision ("so far" is a different figure in each quarter)."""
    return [*cells.time, carried.so_far_label(quarter)]


#: the last stored set's mask per axes (a live request reads the same set: one count, no rows, no mask to build)
_masks_kept: dict[tuple[int, date, tuple[int, ...]], tuple[Any, carried.Cells, np.ndarray]] = {}
_masks_lock = Lock()


def _carried_mask(cells: Any, stored: carried.Cells, quarter: date, shape: tuple[int, ...]) -> np.ndarray:
    """The stored hidden cells on this decision's axes (shared: callers must not modify it)."""
    at = (id(stored), quarter, shape)
    with _masks_lock:
        hit = _masks_kept.get(at)
    if hit is not None and hit[0] is cells and hit[1] is stored:
        return hit[2]
    out = carried.mask(stored, {k: i for i, k in enumerate(cells.org)},
                       {lb: i for i, lb in enumerate(_time_labels(cells, quarter))},
                       {ch: i for i, ch in enumerate(cells.channel)}, shape)
    out.flags.writeable = False
    with _masks_lock:
        if len(_masks_kept) >= KEPT_DECISIONS:
            _masks_kept.pop(next(iter(_masks_kept)))
        _masks_kept[at] = (cells, stored, out)
    return out


def _carried_cells(cells: Any, org_parent: dict[Node, Node | None], status: np.ndarray, stored: np.ndarray,
                   quarter: date) -> list[tuple[str, str, str, str]]:
    """The cells `status` hides as secondary at the root of a hidden org subtree (the rest follows: a hidden node
    hides its subtree) that are not stored yet (`stored`: the mask of those that are) — usually none, so no
    write."""
    up = _org_rows(cells.org, org_parent).parent
    above = np.where((up >= 0).reshape(-1, 1, 1), status[np.maximum(up, 0)], 0)
    new = np.argwhere((status == 2) & (above == 0) & ~stored)
    time = _time_labels(cells, quarter)
    return [(time[t], cells.channel[c], *cells.org[o]) for o, t, c in new.tolist()]


def across_measures(cells: Any, own: Linked, items: list[Linked], n: np.ndarray, answers: np.ndarray,
                    quarter: date) -> Linked:
    """A composite's decision `own` with the composite also hidden (secondary) wherever one of its items'
    decisions hides the item.

    WHY: an element or index is an affine combination of its items' shares (questionnaires/index_compile.py), so
    a composite shown beside all but one of its items gives that item (element E4 and items E4.2, E4.3 give
    E4.1: docs/methodology-design.md, "Across measures").  Shown only where every item is shown, a composite is
    a function of shown figures and adds nothing; what a reader has then decomposes item by item, each item
    protected by its own decision over the tree, periods and channels.  Hiding more is monotone (every remainder
    stays safe).  Ranges follow: the components are recomputed on the combined codes, so a composite's range is
    shown only when shown periods of the composite — each with every item shown — join its ends, and then each
    item's range is joined by the same periods (a month without an answer of the composite has none of any
    item)."""
    hide = np.zeros(own.status.shape, dtype=bool)
    for it in items:
        hide |= it.status != 0
    code = np.where((own.status == 0) & (n > 0) & hide, np.int8(2), own.status).astype(own.status.dtype)
    if np.array_equal(code, own.status):
        return own
    label, spans = _labels(cells, n, answers, code, quarter)
    return replace(own, status=code, label=label, spans=spans)


@dataclass(frozen=True)
class _Decided:
    """A decision kept for the next live request: the axes, tree and counts (generation, n) it was made on."""

    axes: Any
    org_parent: dict[Node, Node | None]
    generation: int
    n: np.ndarray
    linked: Linked

    def nbytes(self) -> int:
        return int(self.n.nbytes + self.linked.status.nbytes + self.linked.label.nbytes)


_kept_decisions: dict[tuple[Any, ...], _Decided] = {}
_kept_decisions_lock = Lock()
#: decisions kept per process (one per questionnaire × set of items × n_min × quarter in progress), the least
#: recently used dropped first: a composite's decision needs each of its items' (`across_measures`: SIPAS's
#: overall index 22 + 1), so the count covers one questionnaire's composites; ≈ 18 MB each for a national tree
#: (the decision's codes and components, and the n it was made on), hence also the bound in bytes: 23 national
#: decisions held 390 MB at 1 M; under 256 MB the least recently used one was always the next asked, and every live
#: request decided all 23 over the whole tree (14.0 s of CPU against 4.0-5.2 s: benchmarks/README.md)
KEPT_DECISIONS = 32
KEPT_DECISIONS_BYTES = 512 * 2**20


def clear_kept() -> None:
    with _kept_decisions_lock:
        _kept_decisions.clear()
    with _masks_lock:
        _masks_kept.clear()
    carried.clear()


def _decide_kept(key: tuple[Any, ...], live: LiveCells, org_parent: dict[Node, Node | None], n: np.ndarray,
                 answers: np.ndarray, generation: int, n_min: int, quarter: date, forced: np.ndarray | None
                 ) -> Linked:
    """The decision of these counts, the `forced` cells hidden from the start (carried forward; with
    CARRY_FORWARD also every cell the kept decision hid, should its write have failed): from the decision kept for
    the same questionnaire and measure when only a few org nodes' counts changed since (`decide_again`), else over
    the whole tree.

    `decide_again` is exact here when every forced cell with responses was hidden by the kept decision: the kept
    decision is then also the decision of its own counts with these cells forced (it starts from its final state,
    every parent safe), and the forced cells are the same starting state in both runs."""
    from survey.results.cache import enabled

    with _kept_decisions_lock:
        prev = _kept_decisions.pop(key, None)  # put back below as the most recently used
    dec = None
    if prev is not None and prev.axes is live.axes and prev.org_parent is org_parent:
        if CARRY_FORWARD:
            before = prev.linked.status == 2
            forced = before if forced is None else forced | before
        rows = live.rows_since(prev.generation, generation)
        if rows is not None and (forced is None or not (forced & (prev.linked.status == 0) & (prev.n > 0)).any()):
            dec = decide_again(live.axes, org_parent, prev.n, prev.linked, n, answers, rows, n_min, quarter, forced)
    if dec is None:
        dec = _decide_cells(live.axes, org_parent, n, answers, n_min, quarter, forced)
    if enabled():
        with _kept_decisions_lock:
            _kept_decisions.pop(key, None)
            _kept_decisions[key] = _Decided(live.axes, org_parent, generation, n, dec)
            while len(_kept_decisions) > 1 and (
                    len(_kept_decisions) > KEPT_DECISIONS
                    or sum(d.nbytes() for d in _kept_decisions.values()) > KEPT_DECISIONS_BYTES):
                _kept_decisions.pop(next(iter(_kept_decisions)))
    return dec


@dataclass(frozen=True)
class _OrgRows:
    parent: np.ndarray  # org row → its parent's row, -1 for a root
    kids: list[list[int]]
    order: np.ndarray  # rows in depth-first order: a subtree is order[start[r]:end[r]]
    start: np.ndarray
    end: np.ndarray

    def subtree(self, row: int) -> np.ndarray:
        return np.sort(self.order[self.start[row]:self.end[row]])

    def above(self, row: int) -> list[int]:
        out = []
        p = int(self.parent[row])
        while p >= 0:
            out.append(p)
            p = int(self.parent[p])
        return out


_org_rows_kept: dict[int, tuple[list[Node], dict[Node, Node | None], _OrgRows]] = {}


def _org_rows(org: list[Node], org_parent: dict[Node, Node | None]) -> _OrgRows:
    hit = _org_rows_kept.get(id(org))
    if hit is not None and hit[0] is org and hit[1] is org_parent:
        return hit[2]
    ix = {k: i for i, k in enumerate(org)}
    parent = np.array([ix.get(p, -1) if (p := org_parent.get(k)) is not None else -1 for k in org], dtype=np.int64)
    kids: list[list[int]] = [[] for _ in org]
    for r, p in enumerate(parent.tolist()):
        if p >= 0:
            kids[p].append(r)
    order: list[int] = []
    start = np.zeros(len(org), dtype=np.int64)
    end = np.zeros(len(org), dtype=np.int64)
    for root in np.flatnonzero(parent < 0).tolist():
        stack: list[tuple[int, bool]] = [(root, False)]
        while stack:
            r, done = stack.pop()
            if done:
                end[r] = len(order)
                continue
            start[r] = len(order)
            order.append(r)
            stack.append((r, True))
            stack.extend((k, False) for k in reversed(kids[r]))
    out = _OrgRows(parent, kids, np.array(order, dtype=np.int64), start, end)
    _org_rows_kept.clear()  # one tree at a time (held: its id cannot be reused)
    _org_rows_kept[id(org)] = (org, org_parent, out)
    return out


def decide_again(cells: Any, org_parent: dict[Node, Node | None], old_n: np.ndarray, old: Linked, n: np.ndarray,
                 answers: np.ndarray, rows: np.ndarray, n_min: int, quarter: date, forced: np.ndarray | None = None
                 ) -> Linked | None:
    """The decision `_decide_cells(cells, org_parent, n, answers, …)` from `old` (made on `old_n`, the same axes)
    when the counts changed only in org `rows` and only grew — deciding again only the subtrees of a few nodes;
    None when that cannot be shown to give the same decision (then the caller decides over the whole tree).

    Why it is the same (analysis.disclosure.product_suppression): a subtree of the organisation touches the rest
    of the decision only through its root's cells — when one is hidden, its parent is checked again, and at an
    unsafe parent the root's cell is a candidate to hide.  Take a root x whose cells were all shown before and are
    shown again when its subtree is decided alone, whose changed cells had responses before (so each only grew: a
    shown cell was never the one chosen at its parent, and with more responses it is not chosen either), and whose
    changed ancestors' changed cells were shown, had responses and stay at or above n_min (so the ancestors'
    hidden cells and the checks under them are as before).  Then every check outside x's subtree sees what it saw
    before and makes the same choice, and the subtree's cells evolve as when decided alone (its root's parent
    left out: the shift of every depth by one constant keeps the order of the work list).  A changed node that
    breaks a condition moves the root up to its parent; at the tree's root the answer is None.  `forced` (cells
    hidden from the start, `_decide_kept`) must be hidden in `old` wherever they had responses: a subtree decided
    again starts from its own forced cells, as it does in the whole tree."""
    tree = _org_rows(cells.org, org_parent)
    rows = np.asarray(rows, dtype=np.int64)
    if not len(rows):
        return old
    new_r, old_r = n[rows], old_n[rows]
    if (new_r < old_r).any():
        return None  # only additions are decided this way (removals raise the tally revision anyway)
    diff = new_r != old_r
    old_code = old.status
    # a changed cell that must be decided inside a subtree: new (no responses before), hidden before, or small now
    bad_cell = diff & ((old_r == 0) | (old_code[rows] != 0) | (new_r < n_min))
    moved = rows[diff.any(axis=(1, 2))]
    bad = set(rows[bad_cell.any(axis=(1, 2))].tolist())
    clean = ~(old_code.reshape(len(old_code), -1) != 0).any(axis=1)
    code = old_code
    if len(moved):
        moved_set = set(moved.tolist())

        def climb(x: int) -> int | None:
            """The lowest root at or above x whose subtree may be decided alone (None: the tree's root)."""
            while True:
                if tree.parent[x] < 0:
                    return None
                if clean[x] and x not in bad and not bad.intersection(tree.above(x)):
                    return x
                x = int(tree.parent[x])

        roots: set[int] = set()
        for r in moved.tolist():
            if any(k in moved_set for k in tree.kids[r]):
                continue  # decided with the changed node below it
            x = climb(r)
            if x is None:
                return None
            roots.add(x)
        code = old_code.copy()
        done: set[int] = set()
        while roots - done:
            x = min(roots - done)
            if set(tree.above(x)) & roots:  # inside another root's subtree
                roots.discard(x)
                continue
            sub = tree.subtree(x)
            sub_code = _status(cells, org_parent, n, n_min, quarter, sub, None if forced is None else forced[sub])
            if sub_code[int(np.searchsorted(sub, x))].any():  # the root's cells hidden now: its parent's subtree
                roots.discard(x)
                up = climb(int(tree.parent[x]))
                if up is None:
                    return None
                roots.add(up)
                done = {d for d in done if up not in tree.above(d)}
                continue
            code[sub] = sub_code
            done.add(x)
        relabel = np.unique(np.concatenate([rows, *(tree.subtree(x) for x in done)]))
    else:
        relabel = rows
    label = old.label.copy()
    label[relabel] = _labels(cells, n[relabel], answers[relabel], code[relabel], quarter)[0]
    return Linked(old.org_ix, old.channel_ix, old.first, old.months, old.spans, code, label)


def decide(cells: CellCounts, org_parent: dict[Node, Node | None], items: list[str], n_min: int, quarter: date,
           forced: np.ndarray | None = None) -> Linked:
    """The linked decision of one measure (its items) on these counts, `quarter` being the one in progress
    (`forced`: cells hidden from the start, e.g. `carried_mask`)."""
    return _decide_cells(cells, org_parent, *_measure_counts(cells, items, quarter), n_min, quarter, forced)


def carried_mask(session: Session, cells: CellCounts, version_ids: tuple[int, ...], items: list[str], n_min: int,
                 quarter: date) -> np.ndarray:
    """The stored hidden cells of a decision (survey/results/carried.py) on `cells`' axes."""
    shape = (len(cells.org), len(cells.time) + 1, len(cells.channel))
    return _carried_mask(cells, carried.read(session, carried.decision_key(version_ids, items, n_min)), quarter,
                         shape)


def _measure_counts(cells: CellCounts, items: list[str], quarter: date) -> tuple[np.ndarray, np.ndarray]:
    """(n, answers) of the measure per [org, time, channel], time being `cells.time` and then SO_FAR."""
    cols = [cells.items.index(i) for i in items if i in cells.items]
    per_item = cells.counts[..., cols]
    done = [t for t, lb in enumerate(cells.time) if "Q" not in lb and date(int(lb[:4]), int(lb[5:]), 1) < quarter]
    per_item = np.concatenate([per_item, per_item[:, done].sum(axis=1, keepdims=True)], axis=1)
    n = per_item.min(axis=-1) if cols and len(cols) == len(items) else np.zeros(per_item.shape[:3], np.int64)
    return np.asarray(n, dtype=np.int64), np.asarray(per_item.sum(axis=-1), dtype=np.int64)


def _decide_cells(cells: Any, org_parent: dict[Node, Node | None], n: np.ndarray, answers: np.ndarray,
                  n_min: int, quarter: date, forced: np.ndarray | None = None) -> Linked:
    """`n`, `answers`: [org, time, channel] over `cells.time` and then SO_FAR (every complete quarter);
    `cells`: the axes (org, time, channel, time_parent, months) of a CellCounts; `forced`: cells hidden from the
    start (carried forward)."""
    code = _status(cells, org_parent, n, n_min, quarter, None, forced)
    label, spans = _labels(cells, n, answers, code, quarter)
    first = cells.months[0] if cells.months else None
    months = _month_index(first, cells.months[-1]) + 1 if first else 0
    o_ix = {k: i for i, k in enumerate(cells.org)}
    c_ix = {k: i for i, k in enumerate(cells.channel)}
    return Linked(o_ix, c_ix, first, months, spans, code, label)


def _status(cells: Any, org_parent: dict[Node, Node | None], n: np.ndarray, n_min: int, quarter: date,
            rows: np.ndarray | None, forced: np.ndarray | None = None) -> np.ndarray:
    """The product decision's code (0 shown, 1 primary, 2 secondary) of every cell of org `rows` (sorted; None:
    every node) decided on those rows alone — a subtree, its root's parent left out (`decide_again`)."""
    time = [*cells.time, SO_FAR]
    time_parent: dict[str, str | None] = {SO_FAR: None}
    for lb, p in cells.time_parent.items():
        complete = "Q" in lb and date(int(lb[:4]), 3 * int(lb[-1]), 1) < quarter
        time_parent[lb] = p if p is not None else (SO_FAR if complete else None)
    sub = n if rows is None else n[rows]
    org = cells.org if rows is None else [cells.org[i] for i in rows.tolist()]
    up = _org_rows(cells.org, org_parent).parent
    if rows is not None:  # the subtree alone: its root's parent left out
        at = np.searchsorted(rows, np.maximum(up[rows], 0))
        inside = (up[rows] >= 0) & (at < len(rows)) & (rows[np.minimum(at, len(rows) - 1)] == up[rows])
        up = np.where(inside, at, -1)
    t_ix = {lb: i for i, lb in enumerate(time)}
    c_ix = {ch: i for i, ch in enumerate(cells.channel)}
    channel_parent = channel_parents()
    rank = np.array([_RANK.get(k[0], 2) for k in org], dtype=np.int64).reshape(-1, 1, 1)
    so_far = np.array([lb == SO_FAR for lb in time]).reshape(1, -1, 1)
    return product_suppression_grid(
        [up, [-1 if (p := time_parent[lb]) is None else t_ix[p] for lb in time],
         [-1 if (p := channel_parent[ch]) is None else c_ix[p] for ch in cells.channel]],
        sub, n_min, rank=rank, closed=CLOSED, hide_first=[None, so_far, None], forced=forced)


def _labels(cells: Any, n: np.ndarray, answers: np.ndarray, code: np.ndarray, quarter: date
            ) -> tuple[np.ndarray, dict[tuple[int, int], list[int]]]:
    """Each org row's month-boundary components (`Linked.label`) and the time nodes spanning each range; rows are
    independent of one another (a subset of rows gives those rows' labels)."""
    time = [*cells.time, SO_FAR]
    t_ix = {k: i for i, k in enumerate(time)}
    first = cells.months[0] if cells.months else None
    months = _month_index(first, cells.months[-1]) + 1 if first else 0
    label = np.broadcast_to(np.arange(months + 1, dtype=np.int32), (n.shape[0], n.shape[2], months + 1)).copy()
    spans: dict[tuple[int, int], list[int]] = {}
    if first is not None:
        # edges: each shown period with responses, and each month without an answer of the measure's items
        edges: list[tuple[int, int, np.ndarray]] = []
        month_t = {_span(lb, first, quarter)[0]: t for lb, t in t_ix.items() if lb != SO_FAR and "Q" not in lb}
        for m in range(months):
            t_m = month_t.get(m)
            edges.append((m, m + 1, np.ones(n.shape[::2], dtype=bool) if t_m is None else answers[:, t_m, :] == 0))
        for lb, t in t_ix.items():
            lo, hi = _span(lb, first, quarter)
            lo, hi = max(lo, 0), min(hi, months)
            if lo < hi:
                spans.setdefault((lo, hi), []).append(t)
                edges.append((lo, hi, (code[:, t, :] == 0) & (n[:, t, :] > 0)))
        changed = True
        while changed:  # smallest boundary of each component, spread along the edges until nothing changes
            changed = False
            for u, v, on in edges:
                lo_label = np.minimum(label[:, :, u], label[:, :, v])
                for k in (u, v):
                    upd = on & (label[:, :, k] != lo_label)
                    if upd.any():
                        label[:, :, k] = np.where(upd, lo_label, label[:, :, k])
                        changed = True
    return label, spans


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
