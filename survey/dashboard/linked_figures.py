"""The agency pages' share of the protection decided for every page (survey/results/protection.py): an agency
or service point hidden on the Home Affairs pages to protect a small group is hidden here too.

WHY: the agency page publishes each agency (and, filtered, each service point) on its own; were it to show the
one the Home Affairs pages hide to protect a small commune, the district's row minus it would give the commune
back (docs/methodology-design.md, "Totals beside suppressed rows").  Kept apart from the page code so that the
page only asks "which measures of this node are protected" and hides them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import date
from typing import Any

import pandas as pd
from flask import current_app
from flask_babel import gettext as _

from survey.extensions import db
from survey.i18n import number
from survey.results.indices import Comparison, IndexResult
from survey.results.protection import protection, root_node
from survey.results.selection import Selection


def _n_min() -> int:
    return int(current_app.config["HAILONG_N_MIN"])


def protected_measures(sel: Selection, kind: str, code: str, measures: Iterable[str]) -> set[str]:
    """The measures whose figure of the node (`kind` "agency" or "service_point", its code) is hidden to protect
    a small group, for `sel`'s questionnaire, channel and months."""
    n_min = _n_min()
    return {m for m in dict.fromkeys(measures) if protection(db.session, sel, m, n_min).secondary(kind, code)}


def node_measures(sel: Selection, kind: str, code: str, res: IndexResult) -> set[str]:
    """protected_measures for every measure of an index result."""
    return protected_measures(sel, kind, code, res.table["measure"].astype(str)) if len(res.table) else set()


def hide(res: IndexResult, measures: set[str]) -> IndexResult:
    """A copy of `res` (it is shared through the results cache) with the measures' rows suppressed and marked
    `protects` — every period of a trend too: the periods together would give the hidden figure back."""
    if not measures:
        return res
    table = res.table.copy()
    mask = table["measure"].isin(measures)
    table["protects"] = mask
    table.loc[mask, "suppressed"] = True
    return replace(res, table=table)


def hide_comparison(cmp: Comparison, measures: set[str], mark: str | None = None) -> Comparison:
    """The node against the whole city: the node's estimate and the difference would give it away.  `mark`: a
    column set True on the rows hidden (`reference_hidden`: the city's figure is the one protected)."""
    if not measures:
        return cmp
    table = cmp.table.copy()
    mask = table["measure"].isin(measures)
    if mark:
        table[mark] = mask
    table.loc[mask, "suppressed"] = True
    return replace(cmp, table=table)


def reference_measures(sel: Selection, measures: Iterable[str]) -> set[str]:
    """The measures whose whole-city figure over `sel`'s months and channel is hidden (the tree root's protection):
    the agency page's comparison prints that figure beside the agency's, so two pages whose months differ by one
    (2022-Q4 and October–November) gave the city's small month away (attacker pass, 7 Dec 2026)."""
    node = root_node(db.session)
    if node is None:
        return set()
    n_min = _n_min()
    return {m for m in dict.fromkeys(measures) if protection(db.session, sel, m, n_min).of(*node)}


def reference_note() -> str:
    return _("hidden: the whole city's figure over these months would give a small group away")


def hide_periods(sel: Selection, kind: str, code: str, res: IndexResult) -> IndexResult:
    """A trend's points (rows of `res` by month, quarter or year within `sel`'s months) hidden where the
    protection of that period (the point's period within `sel`'s range) hides the node: each point is a figure
    of the node over that period, published on the page of that period too, so it follows that page's choice
    (survey/results/protection.py links periods: a quarter minus its shown months must not give a hidden one).
    One decision read per measure for the whole trend, not one per point."""
    from survey.results import protection as linked
    from survey.results.periods import period_start

    if not (linked.ENABLED and linked.LINKED) or not len(res.table) or "domain" not in res.table:
        return res  # LINKED off: the trend as before
    n_min = _n_min()
    table = res.table.copy()
    decisions: dict[str, Any] = {}
    hidden = []
    for measure, label in zip(table["measure"].astype(str), table["domain"].astype(str), strict=True):
        start = period_start(label)
        if start is None:
            hidden.append(False)
            continue
        if measure not in decisions:
            dec = linked.linked_decision(db.session, sel, measure, n_min)
            decisions[measure] = (dec, dec.org_ix.get((kind, code)))
        dec, row = decisions[measure]
        if row is None:
            hidden.append(False)
            continue
        end = _period_end(label, start)
        first = max(start, sel.period_from) if sel.period_from else start
        last = min(end, sel.period_to) if sel.period_to else end
        hidden.append(int(dec.hidden(first, last, sel.channels)[row]) == 2)
    if not any(hidden):
        return res
    mask = pd.Series(hidden, index=table.index)
    table["protects"] = mask | (table["protects"].astype(bool) if "protects" in table else False)
    table.loc[mask, "suppressed"] = True
    return replace(res, table=table)


def trend_protection(sel: Selection, kind: str, code: str, protected: set[str]) -> Callable[[IndexResult],
                                                                                          IndexResult]:
    """What hides a node's trend points: with periods linked, each point by its own period's decision (exact
    along time, so a hidden headline need not hide them all: they give it back only where the decision shows it
    anyway); without, every point of a protected measure (the periods together would give it back) and then
    each point's period."""
    from survey.results import protection as linked

    if linked.ENABLED and linked.LINKED:
        return lambda res: hide_periods(sel, kind, code, res)
    return lambda res: hide_periods(sel, kind, code, hide(res, protected))


def so_far(sel: Selection, kind: str, code: str) -> tuple[date, int] | None:
    """(last month, responses left out) when the node's "every month so far" (no To) is hidden but a shorter
    range from the same start is not: the page then shows the figures up to that month and says the newest
    responses are not included yet (docs/integrity.md); None when the whole range is shown or nothing is."""
    from survey.results import protection as linked
    from survey.results.distributions import response_count

    if not (linked.ENABLED and linked.LINKED) or sel.period_from is not None or sel.period_to is not None:
        return None
    n_min = _n_min()
    decisions = [linked.linked_decision(db.session, sel, m, n_min) for m in linked.measures_of(db.session, sel)]
    decisions = [d for d in decisions if (kind, code) in d.org_ix and d.first is not None]
    if not decisions:
        return None
    reach = min(d.reach(d.org_ix[(kind, code)], sel.channels) for d in decisions)
    start, months = decisions[0].first, decisions[0].months
    if start is None or not 0 < reach < months:
        return None
    m = start.month - 1 + reach - 1
    last = date(start.year + m // 12, m % 12 + 1, 1)
    after = date(last.year + last.month // 12, last.month % 12 + 1, 1)
    return last, response_count(db.session, replace(sel, period_from=after))


def newest_left_out(sel: Selection, kind: str, code: str) -> tuple[Selection, str | None]:
    """`sel` up to the month "so far" may reach for the node (`so_far`), and the sentence that says so."""
    from survey.results.distributions import response_count
    from survey.results.periods import period_name

    found = so_far(sel, kind, code)
    if found is None:
        return sel, None
    last, later = found
    shorter = replace(sel, period_to=last)
    if response_count(db.session, shorter) < _n_min():  # "so far" is small, not protecting: nothing to cut
        return sel, None
    return shorter, _(
        "Figures up to %(period)s: the newest %(n)s responses are not included yet, so that they do not give "
        "away a small group (they will be once there are enough of them).",
        period=period_name(f"{last.year}-{last.month:02d}"), n=number(later, 0))


def _period_end(label: str, start: Any) -> Any:
    """First day of the last month of the period a label names (2022-Q4 → 2022-12-01)."""
    from datetime import date

    if len(label) == 4:
        return date(start.year, 12, 1)
    if "Q" in label:
        return date(start.year, start.month + 2, 1)
    return start


def explain(tables: Iterable[Any]) -> None:
    """Rows hidden although they have n_min responses are hidden to protect a small group: they say so (the
    page and its CSV/XLSX read `_why`); rows with too few responses keep "not enough responses"."""
    n_min = _n_min()
    for table in tables:
        for row in table.rows:
            if row.get("_suppressed") and int(row.get("_n", 0)) >= n_min and not row.get("_why"):
                row["_why"] = _("hidden to protect a small group (n = %(n)s)", n=number(int(row["_n"]), 0))


def protects(sel: Selection, kind: str, code: str, measure: str) -> bool:
    """Is this node's figure of `measure` hidden to protect a small group (a row of a list of agencies)?"""
    return protection(db.session, sel, measure, _n_min()).secondary(kind, code)


#: an n_min no item reaches: every share of a distribution table hidden (the node's item shares are protected)
HIDE_ALL = 10**9
