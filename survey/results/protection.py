"""Which figures are hidden on EVERY page: each node's own suppression (n < n_min) plus the secondary
suppression that keeps linked pages from giving a hidden figure away by subtraction.

WHY one place: a district's row (Home Affairs comparison) minus the agencies shown on its drill-down, the whole
city (report summary, the agency list's total) minus the districts or agencies shown, an agency minus its shown
service points — each is a hidden group's figure unless the hidden children under every shown parent pool at
least n_min responses over at least two rows (analysis.disclosure.tree_suppression).  The choice is made once
per (questionnaire, channels, months, measure) over the whole tree — never per viewer or per page — so every
page that shows the parent or any child hides the same rows.  docs/methodology-design.md, "Totals beside
suppressed rows".
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy.orm import Session

from analysis.disclosure import tree_suppression
from survey.results.cache import cached, per_request
from survey.results.design import current_design
from survey.results.node_counts import node_figures
from survey.results.selection import Selection
from survey.results.tree import level_codes, placements

Node = tuple[str, str]  # (kind, code): kind = a tree level code, "agency" or "service_point"
#: False: primary suppression only, as the pages were before (the tests' check must then find a hidden figure)
ENABLED = True
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
    key = ("protection", whole.key(), measure_code, n_min, current_design(), ENABLED)
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
    parent: dict[Node, Node | None] = {}
    for place in placements(session).values():
        chain = [(lv, place.levels[lv]) for lv in levels if lv in place.levels]
        for i, node in enumerate(chain):
            parent.setdefault(node, chain[i - 1] if i else None)
        agency = ("agency", place.agency)
        parent.setdefault(agency, chain[-1] if chain else None)
        parent.setdefault(("service_point", place.service_point), agency)
    return _Inputs(figures, parent)


def _protection(session: Session, whole: Selection, measure_code: str, n_min: int) -> Protection:
    inputs = _inputs(session, whole, n_min)
    figures = inputs.figures.get(measure_code, {})
    primary = {k: sup for k, (_n, sup) in figures.items()}
    if not ENABLED:
        return Protection({k: "primary" for k, s in primary.items() if s})
    n = {k: k_n for k, (k_n, _s) in figures.items()}
    status = tree_suppression(inputs.parent, n, primary, n_min, rank=lambda k: _RANK.get(k[0], 2))
    return Protection({k: s for k, s in status.items() if s})


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
