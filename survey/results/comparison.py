"""Home Affairs comparisons: units side by side, with intervals, ranks, funnel limits and change.

Every figure comes from the analysis package fed by `survey.results` (a GROUP BY over the count tables):
estimates and intervals from `analysis.estimate` + `analysis.result.result_table`, ranks from
`analysis.ranks.rank_units` on bootstrap replicates (`analysis.bootstrap`), change since the previous
period from `analysis.compare` with Holm adjustment (`analysis.multiple`).  Nothing here computes a
statistic itself; it chooses the selection, calls, and arranges the rows for pages and exports.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from analysis.compare import screen_changes
from analysis.disclosure import remainder_safe
from analysis.funnel import LEVELS as FUNNEL_LEVELS  # noqa: F401  (re-exported: pages draw funnels)
from analysis.funnel import funnel_flags, funnel_limits  # noqa: F401  (re-exported for the pages)
from analysis.multiple import holm
from analysis.ranks import rank_replicates, rank_units
from survey.org.models import Agency, Level, ServicePoint, Unit
from survey.respond.models import ResponseTally
from survey.results import month_pass
from survey.results.cache import cached
from survey.results.design import current_design
from survey.results.indices import indices
from survey.results.node_counts import kept_node_figures
from survey.results.periods import period_name
from survey.results.protection import Node, Protection, protection, root_node, tree_selection
from survey.results.selection import Selection
from survey.results.totals import Instrument, cluster_totals, period_label

#: ranks of fewer units say nothing (one unit alone is "1 (1–1)" with a 100% chance of the top)
MIN_RANKED = 3
PERIOD_RE = re.compile(r"^(\d{4})(?:-(Q[1-4]|\d{2}))?$")


# --------------------------------------------------------------------------- periods
@dataclass(frozen=True)
class Period:
    """A month (2025-07), quarter (2025-Q3) or year (2025): the unit of comparison and of change."""

    kind: str  # month | quarter | year
    start: date
    end: date  # first day of the last month (tallies are monthly)

    @property
    def name(self) -> str:
        """What people read: 'Quý IV/2022', 'Tháng 11/2022', 'Năm 2022' (page language)."""
        return period_name(self.label)

    def complete(self, today: date) -> bool:
        """True once the period's last month is over (`today` from survey.results.periods.now)."""
        last = self.end
        return (today.year, today.month) > (last.year, last.month)

    @property
    def label(self) -> str:
        return period_label(self.start, self.kind)

    @classmethod
    def parse(cls, text: str) -> Period:
        m = PERIOD_RE.match(text.strip())
        if not m:
            raise ValueError(f"not a period: {text!r}")
        year, part = int(m.group(1)), m.group(2)
        if part is None:
            return cls("year", date(year, 1, 1), date(year, 12, 1))
        if part.startswith("Q"):
            q = int(part[1])
            return cls("quarter", date(year, 3 * q - 2, 1), date(year, 3 * q, 1))
        month = int(part)
        if not 1 <= month <= 12:
            raise ValueError(f"not a period: {text!r}")
        return cls("month", date(year, month, 1), date(year, month, 1))

    def previous(self) -> Period:
        months = {"month": 1, "quarter": 3, "year": 12}[self.kind]
        y, m = self.start.year, self.start.month - months
        while m < 1:
            y, m = y - 1, m + 12
        start = date(y, m, 1)
        ey, em = y, m + months - 1
        while em > 12:
            ey, em = ey + 1, em - 12
        return Period(self.kind, start, date(ey, em, 1))


def periods_with_data(session: Session, version_id: int, kind: str = "quarter") -> list[Period]:
    """Periods of `kind` in which the questionnaire version has responses, newest first."""
    months = session.scalars(select(ResponseTally.period).where(
        ResponseTally.questionnaire_version_id == version_id).distinct()).all()
    labels = set()
    for d in months:
        labels.add(Period.parse(f"{d.year}-{d.month:02d}" if kind == "month" else
                                f"{d.year}-Q{(d.month - 1) // 3 + 1}" if kind == "quarter" else f"{d.year}").label)
    return sorted((Period.parse(lb) for lb in labels), key=lambda p: p.start, reverse=True)


# --------------------------------------------------------------------------- results
@dataclass
class Row:
    """One compared unit (a tree unit, an agency or a service point) with every figure the page shows."""

    code: str
    id: int | None
    label: str
    kind: str
    estimate: float = math.nan
    se: float = math.nan
    ci_low: float = math.nan
    ci_high: float = math.nan
    n: int = 0
    n_eff: float = 0.0
    method: str = ""
    suppressed: bool = True
    reason: str = ""
    wide_ci: bool = False
    rank: int | None = None
    rank_low: int | None = None
    rank_high: int | None = None
    p_top: float = math.nan
    p_q1: float = math.nan
    prev_estimate: float = math.nan
    change: float = math.nan
    change_low: float = math.nan
    change_high: float = math.nan
    change_p: float = math.nan
    change_p_holm: float = math.nan
    change_significant: bool = False
    drill: str | None = None  # endpoint kind for drill-down: "unit" | "agency" | None
    #: hidden although it has n_min responses: it would give a smaller hidden row away by subtraction from a
    #: total shown on this or a linked page (survey.results.protection)
    protects: bool = False


@dataclass
class Comparison:
    """Everything one Home Affairs page shows for one selection."""

    group: str
    group_label: str
    measure: str
    measure_label: str
    period: Period
    instrument: Instrument
    rows: list[Row]
    overall: Row
    top_k: int
    bootstrap_b: int
    seed: int
    n_min: int
    has_previous: bool
    ci_method: str = ""
    rank_method: str = ""  # analysis.ranks: "bootstrap (Rao–Wu)" or "normal (logit), independent units"
    design: str = ""  # survey/results/design.py: counters or clusters
    notes: list[str] = field(default_factory=list)
    shown_selection: Selection | None = None  # the units the total covers: reference line and trend
    #: what `overall` covers: "listed" — every listed unit (suppressed ones too: their remainder is safe,
    #: analysis.disclosure); "with_estimate" — only the units with an estimate (the remainder would give the
    #: suppressed units away)
    overall_scope: str = "listed"
    #: the units of `group` the trend covers when its selection is a union of listed units, not a node of the
    #: tree, and whether they are every listed unit (the total line then covers safely pooled hidden units too):
    #: an earlier period's point over them may not give one of them away (selection_trend)
    trend_units: TrendUnits | None = None
    #: the tree node the total line is when it covers every listed unit (the drill-down's unit or agency, the
    #: whole city, a manager's unit): its figure is that node's, so it follows the node's protection, and so do
    #: the trend's points over it (selection_trend's `node`)
    total_node: Node | None = None

    @property
    def ranked(self) -> list[Row]:
        return sorted((r for r in self.rows if r.rank is not None), key=lambda r: (r.rank, r.label))

    @property
    def suppressed(self) -> list[Row]:
        return sorted((r for r in self.rows if r.suppressed), key=lambda r: r.label)

    @property
    def left_out(self) -> int:
        """Suppressed units with responses that the total leaves out ("with_estimate"), else 0."""
        return sum(1 for r in self.rows if r.suppressed and r.n > 0) if self.overall_scope == "with_estimate" else 0

    @property
    def by_estimate(self) -> list[Row]:
        shown = [r for r in self.rows if not r.suppressed]
        return sorted(shown, key=lambda r: (-r.estimate, r.label)) + self.suppressed


def _f(x: Any) -> float:
    return math.nan if x is None or pd.isna(x) else float(x)


# --------------------------------------------------------------------------- trend of the whole selection
@dataclass(frozen=True)
class TrendUnits:
    group: str
    codes: tuple[str, ...]
    all_listed: bool


@dataclass(frozen=True)
class TrendRow:
    label: str
    estimate: float
    ci_low: float
    ci_high: float
    n: int
    suppressed: bool
    protects: bool = False  # hidden although it has n_min responses: see selection_trend's `units`


def selection_trend(session: Session, sel: Selection, measure_code: str, period: Period, n_min: int,
                    count: int = 8, units: TrendUnits | None = None, node: Node | None = None) -> list[TrendRow]:
    """The measure over the selection for the `count` periods up to `period` (same kind), oldest first.

    Each period is estimated exactly as a headline of that period is: survey.results.indices over the
    selection narrowed to the period (its own design: strata = the service points, n_h = their respondents in
    that period).  The period as a domain of one design over the whole span gave the latest quarter another
    interval than the headline beside it (n_h over eight quarters; docs/methodology-design.md, "One period,
    one interval").  Each period's result is cached like any headline.

    `units` (Comparison.trend_units): the selection is these units of one level, chosen in `period`, and no node
    of the tree.  An earlier period's comparison of that level shows its own rows; were one of these units
    hidden then (too few responses, or to protect a small group), the point minus the units shown would give it
    away (docs/methodology-design.md, "Totals beside suppressed rows").  Such a point is hidden and says why,
    unless the units are every listed unit and their hidden ones pool safely then (the rule compare_units
    applies to the total line).
    The last period's point is the comparison's total line: compare_units chose its units for that period.

    `node` (Comparison.total_node): the selection is this node of the tree; a point is its figure over that
    period, hidden where that period's protection hides the node (hidden to protect a small group: its parent
    minus its shown siblings, or its quarter minus its other months, would give that group away)."""
    first = period
    for _ in range(count - 1):
        first = first.previous()
    out = []
    p = first
    spans = [p]
    for _ in range(count - 1):
        spans.append(_next(spans[-1]))
    # every period's totals in one pass over the months (survey/results/month_pass.py); the protection of each
    # period needs no totals (survey/results/node_counts.py)
    month_pass.plan([(replace(sel, period_from=s.start, period_to=s.end), ()) for s in spans])
    for _ in range(count):
        res = indices(session, replace(sel, period_from=p.start, period_to=p.end), domain=(), n_min=n_min)
        found = res.table[res.table["measure"] == measure_code]
        if found.empty:
            out.append(TrendRow(p.label, math.nan, math.nan, math.nan, 0, True))
        else:
            rec = found.iloc[0]
            # the shown period's own point is the total line, whose units compare_units chose for that period
            hidden = units is not None and p != period and not bool(rec["suppressed"]) and _gives_a_unit_away(
                session, replace(sel, period_from=p.start, period_to=p.end), measure_code, n_min, units)
            hidden = hidden or (node is not None and not bool(rec["suppressed"]) and _node_hidden(
                session, replace(sel, period_from=p.start, period_to=p.end), measure_code, n_min, node))
            out.append(TrendRow(p.label, _f(rec["estimate"]), _f(rec["ci_low"]), _f(rec["ci_high"]), int(rec["n"]),
                                bool(rec["suppressed"]) or hidden, hidden))
        p = _next(p)
    while out and out[0].n == 0:  # no leading empty periods before the data start
        out.pop(0)
    return out


def _gives_a_unit_away(session: Session, sel: Selection, measure_code: str, n_min: int, units: TrendUnits) -> bool:
    """Does the protection of `sel`'s months (the decision every page of that period follows) hide one of the
    units, so that the point over them minus the ones shown is a hidden figure?"""
    decided = protection(session, sel, measure_code, n_min)
    hidden = [bool(decided.of(units.group, code)) for code in units.codes]
    if not any(hidden):
        return False
    if not units.all_listed:
        return True
    figures = kept_node_figures(session, tree_selection(sel), [units.group], n_min).get(measure_code, {})
    n = {code: k for (_kind, code), (k, _sup) in figures.items()}
    return not remainder_safe([n.get(code, 0) for code in units.codes], hidden, n_min)


def _node_hidden(session: Session, sel: Selection, measure_code: str, n_min: int, node: Node) -> bool:
    """Is the tree node hidden over `sel`'s months and channels (the decision every page of them follows)?"""
    return bool(protection(session, sel, measure_code, n_min).of(*node))


def total_node(session: Session, sel: Selection, group: str, scope_node: Node | None = None) -> Node | None:
    """The tree node whose figure a total over every unit of `group` listed in `sel` is: the agency of a
    service point drill-down, the unit of an agency drill-down, else (no unit filter) `scope_node` — a unit
    manager's own unit, whose subtree is the scope — or, for an unscoped viewer, the tree's root."""
    if sel.service_point_ids:
        return None
    if sel.agency_ids:
        if group != "service_point" or len(sel.agency_ids) != 1:
            return None
        code = session.scalar(select(Agency.code).where(Agency.id == sel.agency_ids[0]))
        return None if code is None else ("agency", str(code))
    if sel.unit_id is not None:
        found = session.execute(select(Unit.level_code, Unit.code).where(Unit.id == sel.unit_id)).first()
        return None if found is None else (str(found[0]), str(found[1]))
    if sel.visible_agency_ids is not None:
        return scope_node
    return root_node(session)


def _next(p: Period) -> Period:
    months = {"month": 1, "quarter": 3, "year": 12}[p.kind]
    y, m = p.start.year, p.start.month + months
    while m > 12:
        y, m = y + 1, m - 12
    return Period.parse(f"{y}" if p.kind == "year" else f"{y}-Q{(m - 1) // 3 + 1}" if p.kind == "quarter"
                        else f"{y}-{m:02d}")


# --------------------------------------------------------------------------- labels of domain codes
def _labels(session: Session, group: str, lang: str) -> dict[str, tuple[int, str, str | None]]:
    """code → (id, name, drill kind) for the group's domain codes."""
    if group == "agency":
        rows = session.execute(select(Agency.code, Agency.id, Agency.name_vi, Agency.name_en)).all()
        return {c: (i, en if lang == "en" else vi, "agency") for c, i, vi, en in rows}
    if group == "service_point":
        rows = session.execute(select(ServicePoint.code, ServicePoint.id, ServicePoint.name_vi,
                                      ServicePoint.name_en)).all()
        return {c: (i, en if lang == "en" else vi, None) for c, i, vi, en in rows}
    rows = session.execute(select(Unit.code, Unit.id, Unit.name_vi, Unit.name_en)).all()
    return {c: (i, en if lang == "en" else vi, "unit") for c, i, vi, en in rows}


@dataclass(frozen=True)
class DefaultChoice:
    """The period (and level) a page opens with when the viewer chose none, and why (shown on the page).

    reason: "complete" — the latest complete period in which most units of the viewer's scope reach n_min;
    "incomplete" — no complete period qualifies, the latest (unfinished) one that does;
    "latest" — no period qualifies: the latest period with responses in the scope; "chosen" — the viewer's.
    """

    period: Period | None
    level: str
    reason: str
    good: int = 0  # units of the level with at least n_min responses in the period
    units: int = 0  # units of the level with responses in the scope (any period)


def _unit_counts(session: Session, version_id: int, kind: str, channel: str, agency_ids: set[int] | None,
                 levels: list[str]) -> dict[str, dict[str, dict[str, int]]]:
    """level → period label → unit code → responses, inside the viewer's scope (one GROUP BY).

    Cached under the data version: every Home Affairs page asks for it, and in a national tree it sums
    10,000 service points × 12 months (benchmarks/national_bench.py), so the sums are done with pandas."""
    key = ("unit-counts", version_id, kind, channel, None if agency_ids is None else frozenset(agency_ids),
           tuple(levels))
    return cached(session, key, lambda: _count_units(session, version_id, kind, channel, agency_ids, levels))


def _count_units(session: Session, version_id: int, kind: str, channel: str, agency_ids: set[int] | None,
                 levels: list[str]) -> dict[str, dict[str, dict[str, int]]]:
    from survey.results.tree import placements

    places = placements(session)
    sp, month, n = _month_rows(session, version_id, channel)
    out: dict[str, dict[str, dict[str, int]]] = {lv: {} for lv in levels}
    rows = pd.DataFrame({"sp": sp, "month": month, "n": n})
    known = [sp for sp in rows["sp"].unique().tolist()
             if sp in places and (agency_ids is None or places[sp].agency_id in agency_ids)]
    rows = rows[rows["sp"].isin(known)]
    if rows.empty:
        return out
    labels = {m: _label_of(m, kind) for m in rows["month"].unique().tolist()}
    rows = rows.assign(label=rows["month"].map(labels))
    for level in levels:
        codes = {sp: places[sp].agency if level == "agency" else places[sp].levels.get(level, "") for sp in known}
        sums = rows.assign(code=rows["sp"].map(codes)).query("code != ''").groupby(["label", "code"])["n"].sum()
        for (label, code), n in zip(sums.index.tolist(), sums.tolist(), strict=True):
            out[level].setdefault(str(label), {})[str(code)] = int(n)
    return out


def _month_rows(session: Session, version_id: int, channel: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(service point, month, responses) of every month of the questionnaire version in `channel` (all: "").

    Each month's rows are kept in survey/results/closed_months.py under the month's version (responses per
    month, any channel: only ever added), the tally revision (removals) and the database, so a live request
    reads only the months that received responses instead of every tally row (~120 k nationally at 1 M)."""
    from survey.results import closed_months
    from survey.results.cache import per_request, tally_revision

    url = str(session.get_bind().engine.url)
    revision = tally_revision(session)  # BEFORE the data it guards (survey/results/cache.py)
    versions: dict[date, int] = per_request(("unit-count-months", url, version_id), lambda: {
        p: int(c or 0) for p, c in session.execute(
            select(ResponseTally.period, func.sum(ResponseTally.count))
            .where(ResponseTally.questionnaire_version_id == version_id).group_by(ResponseTally.period)).all()})

    def key(m: date) -> tuple[Any, ...]:
        return ("unit-counts-month", url, revision, version_id, channel, m, versions[m])

    pieces: dict[date, tuple[np.ndarray, np.ndarray]] = {}
    for m in versions:
        hit = closed_months.get(key(m))
        if hit is not None:
            pieces[m] = hit
    missing = sorted(set(versions) - set(pieces))
    if missing:
        q = select(ResponseTally.service_point_id, ResponseTally.period, func.sum(ResponseTally.count)).where(
            ResponseTally.questionnaire_version_id == version_id, ResponseTally.period.in_(missing))
        if channel:
            q = q.where(ResponseTally.channel == channel)
        read: dict[date, tuple[list[int], list[int]]] = {m: ([], []) for m in missing}
        for point, m, c in session.execute(q.group_by(ResponseTally.service_point_id, ResponseTally.period)):
            read[m][0].append(int(point))
            read[m][1].append(int(c or 0))
        for m, (points, counts) in read.items():
            pieces[m] = (np.asarray(points, dtype=np.int64), np.asarray(counts, dtype=np.int64))
            closed_months.put(key(m), pieces[m])
    months = sorted(pieces)
    return (np.concatenate([np.empty(0, dtype=np.int64), *(pieces[m][0] for m in months)]),
            np.asarray([m for m in months for _ in range(len(pieces[m][0]))], dtype=object),
            np.concatenate([np.empty(0, dtype=np.int64), *(pieces[m][1] for m in months)]))


def _label_of(month: date, kind: str) -> str:
    if kind == "month":
        return f"{month.year}-{month.month:02d}"
    if kind == "quarter":
        return f"{month.year}-Q{(month.month - 1) // 3 + 1}"
    return f"{month.year}"


def choose_default(session: Session, version_id: int, kind: str, channel: str, agency_ids: set[int] | None,
                   levels: list[str], n_min: int, today: date, period: Period | None = None) -> DefaultChoice:
    """Which period and level to open with: the latest COMPLETE period in which most units (more than half of
    the units of the level that have responses in the viewer's scope, and at least MIN_RANKED of them when
    there are that many) reach n_min, the levels tried in order; else the latest unfinished period that does;
    else the latest period with responses and the first level whose largest unit reaches n_min (then 1).
    A given `period` (the viewer's choice) only picks the level.  `today` comes from an injectable clock."""
    counts = _unit_counts(session, version_id, kind, channel, agency_ids, levels)
    labels = sorted({lb for per in counts.values() for lb in per}, key=lambda lb: Period.parse(lb).start,
                    reverse=True)
    if period is not None:
        labels = [period.label]

    def qualifies(level: str, label: str) -> tuple[bool, int, int]:
        units = {code for per in counts[level].values() for code in per}
        good = sum(1 for n in counts[level].get(label, {}).values() if n >= n_min)
        return bool(units) and 2 * good > len(units) and good >= min(MIN_RANKED, len(units)), good, len(units)

    if period is None:
        for reason, wanted in (("complete", True), ("incomplete", False)):
            for label in labels:
                p = Period.parse(label)
                if p.complete(today) != wanted:
                    continue
                for level in levels:
                    ok, good, units = qualifies(level, label)
                    if ok:
                        return DefaultChoice(p, level, reason, good, units)
    if not labels:
        return DefaultChoice(None, levels[0] if levels else "agency", "latest")
    label = labels[0]
    p = Period.parse(label)
    for level in levels:
        ok, good, units = qualifies(level, label)
        if ok:
            return DefaultChoice(p, level, "chosen" if period is not None else "latest", good, units)
    for least in (n_min, 1):
        for level in levels:
            if max(counts[level].get(label, {}).values(), default=0) >= least:
                _ok, good, units = qualifies(level, label)
                return DefaultChoice(p, level, "chosen" if period is not None else "latest", good, units)
    return DefaultChoice(p, levels[0] if levels else "agency", "chosen" if period is not None else "latest")


def level_choices(session: Session) -> list[Level]:
    """Tree levels below the root (the root is the whole city: nothing to compare it with)."""
    return list(session.scalars(select(Level).where(Level.rank > 0).order_by(Level.rank)))


# --------------------------------------------------------------------------- bootstrap (cached)
def bootstrap_replicates(session: Session, sel: Selection, inst: Instrument, measure: Any, group: str,
                         b: int, seed: int) -> tuple[list[str], np.ndarray, str]:
    """(domain labels, B × domains replicate estimates of `measure`, method) for the ranks, seeded:
    analysis.ranks.rank_replicates — the Rao–Wu bootstrap of service points within strata (design
    "clusters"), or normal draws from the Taylor law when service points are strata (design "counters").
    Cached per selection, group, measure, B, seed, design and data version (survey.results.cache): the
    same request always shows the same ranks."""
    design = current_design()

    def compute() -> tuple[list[str], np.ndarray, str]:
        totals = cluster_totals(session, sel, domain=group, inst=inst, design=design)
        cells = totals.collapse((group,)).cells[group]
        labels = ["(missing)" if pd.isna(v) else str(v) for v in cells]
        # rank only real units: agencies above the compared level (empty code) must not make the draws
        # "correlated units" or enter anyone's rank
        domains = np.array([lb not in ("", "(missing)") for lb in labels])
        reps, method = rank_replicates(totals, measure, (group,), replicates=b, seed=seed, domains=domains)
        return labels, reps, method

    return cached(session, ("ha-bootstrap", sel.key(), group, measure.code, b, seed, design), compute)


# --------------------------------------------------------------------------- the comparison
def compare_units(session: Session, sel: Selection, *, group: str, measure_code: str, period: Period, lang: str,
                  n_min: int, bootstrap_b: int, seed: int, top_k: int | None = None,
                  group_label: str = "", keep: Callable[[Row], bool] | None = None,
                  scope_node: Node | None = None) -> Comparison | None:
    """Estimates, intervals, ranks and change for every unit of `group` inside the selection (None when
    the selection has no answer at all).

    `sel` carries questionnaire, channel and scope; the period comes from `period` (the previous period
    of the same kind is used for the change).  Estimates and intervals are survey.results.indices (the same
    figures as the agency pages).  Domains with an empty code (agencies lying above the compared level,
    e.g. city departments in a district comparison) are not units of that level: left out, as are rows
    `keep` rejects (before ranking and the Holm family, so they change nobody's rank).  `scope_node`: the node
    a scoped viewer's whole scope is (a unit manager's unit; `total_node`).
    """
    sel = replace(sel, period_from=period.start, period_to=period.end)
    prev = period.previous()
    both = replace(sel, period_from=prev.start)
    # the comparison, the whole and the change read their months once, together (survey/results/month_pass.py);
    # the protection of both periods needs no totals, only each node's n (survey/results/node_counts.py)
    month_pass.plan([(sel, (group,)), (sel, ()), (both, (group, period.kind))])
    res = indices(session, sel, domain=group, n_min=n_min)
    whole_res = indices(session, sel, domain=(), n_min=n_min)
    whole_rows = whole_res.table[whole_res.table["measure"] == measure_code]
    if whole_rows.empty:
        return None
    inst = res.instrument
    measure = inst.spec.measure(measure_code)
    table = res.table[res.table["measure"] == measure_code]
    labels = _labels(session, group, lang)

    rows: list[Row] = []
    for _i, rec in table.iterrows():
        code = str(rec["domain"])
        if code in ("", "(missing)"):
            continue
        ident, name, drill = labels.get(code, (None, code, None))
        row = Row(code=code, id=ident, label=name, kind=group, **_figures(rec), drill=drill)
        if keep is None or keep(row):
            rows.append(row)
    # secondary suppression coordinated across pages (survey.results.protection): before ranks, funnel, change
    protected = protection(session, sel, measure_code, n_min)
    for row in rows:
        if protected.secondary(group, row.code):
            row.suppressed, row.protects = True, True

    # ranks: bootstrap replicates of the same domains; suppressed units never ranked, and no ranks at all
    # when fewer than MIN_RANKED units could be ranked
    k = top_k
    rank_method = ""
    notes: list[str] = []
    if sum(not r.suppressed for r in rows) < MIN_RANKED:
        notes.append("too_few_ranked")
    elif rows:
        rep_labels, reps, rank_method = bootstrap_replicates(session, sel, inst, measure, group, bootstrap_b,
                                                             seed)
        pos = {lb: j for j, lb in enumerate(rep_labels)}
        reps = reps[:, [pos[r.code] for r in rows]]
        sup = np.array([r.suppressed for r in rows])
        ests = np.array([math.nan if r.suppressed else r.estimate for r in rows])
        ranks = rank_units([r.code for r in rows], ests, reps, suppressed=sup, top_k=top_k)
        ptop = next(c for c in ranks.columns if c.startswith("p_top_"))
        k = int(ptop.removeprefix("p_top_"))
        by_code = {r.code: r for r in rows}
        for ranked in ranks.to_dict("records"):
            r = by_code[ranked["unit"]]
            if not ranked["suppressed"]:
                r.rank, r.rank_low, r.rank_high = (int(ranked["rank"]), int(ranked["rank_low"]),
                                                   int(ranked["rank_high"]))
                r.p_top, r.p_q1 = float(ranked[ptop]), float(ranked["p_q1"])

    # after the ranks: their replicates are drawn from the totals `res` was just built from (kept for the
    # request by survey.results.totals.cluster_totals)
    listed_all = len(rows) == sum(1 for code in table["domain"].astype(str) if code not in ("", "(missing)"))
    shown_sel = _selection_of_shown(session, sel, group, rows, listed_all)
    shown_rows = _whole_row(session, shown_sel, measure_code, n_min)
    overall_scope = "listed"
    # disclosure by differencing (analysis.disclosure): the total over the listed units minus the units with
    # an estimate must not give away the suppressed ones; else the total is over the units with an estimate
    # the total over the listed units may stand beside them when it is itself a published figure of the tree
    # (the drill-down's unit or agency, the whole city: `listed_all`) — a union of the listed units only is no
    # node of the tree, and beside the tree's nodes it would split a protected group
    hidden = any(r.suppressed and r.n > 0 for r in rows)
    covered = rows
    if not remainder_safe([r.n for r in rows], [r.suppressed for r in rows], n_min) or (hidden and not listed_all):
        with_estimate = [r for r in rows if not r.suppressed]
        if with_estimate:
            covered = with_estimate
            shown_sel = _selection_of_shown(session, sel, group, with_estimate)
            shown_rows = _whole_row(session, shown_sel, measure_code, n_min)
            overall_scope = "with_estimate"
    overall = Row(code="all", id=None, label="", kind="all",
                  **_figures(whole_rows.iloc[0] if shown_rows is None else shown_rows))
    # a total over every listed unit is a node's figure: hidden where the node is (a drill-down to a unit or
    # agency hidden to protect a small group showed it here, n and all — its parent minus its shown siblings
    # then gave the small group away)
    node = total_node(session, sel, group, scope_node) if listed_all and overall_scope == "listed" else None
    if node is not None and protected.of(*node) and not overall.suppressed:
        overall.suppressed, overall.protects = True, True

    prev_protected = protection(session, replace(sel, period_from=prev.start, period_to=prev.end), measure_code,
                                n_min)
    has_prev = _add_change(session, sel, inst, measure, group, period, rows, n_min, prev_protected)
    return Comparison(group=group, group_label=group_label or group, measure=measure.code,
                      measure_label=(measure.title_en if lang == "en" else measure.title_vi) or measure.code,
                      period=period, instrument=inst, rows=rows, overall=overall, top_k=k or 1,
                      bootstrap_b=bootstrap_b, seed=seed, n_min=n_min, has_previous=has_prev,
                      ci_method=res.ci, rank_method=rank_method, design=str(res.meta.get("design", "")),
                      notes=notes, shown_selection=shown_sel or sel, overall_scope=overall_scope,
                      total_node=node,
                      trend_units=None if shown_sel is None or shown_sel is sel
                      else TrendUnits(group, tuple(sorted(r.code for r in covered)),
                                      listed_all and overall_scope == "listed"))


def _whole_row(session: Session, sel: Selection | None, measure_code: str, n_min: int) -> pd.Series | None:
    """The measure's row over the whole of `sel` (None without a selection or an answer)."""
    if sel is None:
        return None
    res = indices(session, sel, domain=(), n_min=n_min)
    found = res.table[res.table["measure"] == measure_code]
    return None if found.empty else found.iloc[0]


def _selection_of_shown(session: Session, sel: Selection, group: str, rows: list[Row],
                        listed_all: bool = False) -> Selection | None:
    """The selection behind the reference line and trend "all units shown": exactly the listed units
    (agencies above the compared level, e.g. city departments in a district comparison, and units `keep`
    dropped are left out), so its n is the listed units' n.  None when nothing is listed.

    When every agency (service point) with answers is listed (`listed_all`), that is `sel` itself: the
    same answers, so the same figures, and its estimates are already computed.  So it is for a tree level when
    every agency in the scope lies in a unit of that level (the provinces of a national tree): a selection
    naming 3,400 agencies instead cost every query of the trend a list of 10,000 service points."""
    from survey.results.tree import placements

    if not rows:
        return None
    if listed_all and group in ("agency", "service_point"):
        return sel
    codes = {r.code for r in rows}
    places = placements(session).values()
    if listed_all and group != "service_point" and sel.unit_id is None and not sel.service_point_ids:
        vis = sel.visible_agency_ids
        if all(p.levels.get(group, "") for p in places if (vis is None or p.agency_id in vis)
               and (not sel.agency_ids or p.agency_id in sel.agency_ids)):
            return sel
    if group == "service_point":
        narrowed = replace(sel, service_point_ids=tuple(sorted(r.id for r in rows if r.id is not None)))
    else:
        ids = {p.agency_id for p in places
               if (p.agency if group == "agency" else p.levels.get(group, "")) in codes}
        if sel.agency_ids:
            ids &= set(sel.agency_ids)
        narrowed = replace(sel, agency_ids=tuple(sorted(ids)) or (-1,))
    return narrowed


def _figures(rec: pd.Series) -> dict[str, Any]:
    return {
        "estimate": _f(rec["estimate"]), "se": _f(rec["se"]), "ci_low": _f(rec["ci_low"]),
        "ci_high": _f(rec["ci_high"]), "n": int(rec["n"]), "n_eff": _f(rec["n_eff_design"]),
        "method": str(rec["method"]), "suppressed": bool(rec["suppressed"]), "reason": str(rec["reason"]),
        "wide_ci": bool(rec["wide_ci"]),
    }


def _add_change(session: Session, sel: Selection, inst: Instrument, measure: Any, group: str, period: Period,
                rows: list[Row], n_min: int, prev_protected: Protection) -> bool:
    """Change since the previous period per unit (analysis.compare.screen_changes, both periods in one
    design), Holm-adjusted across the units that have a test (analysis.multiple.holm).  A row hidden in
    either period (on its own or to protect another, `prev_protected`) shows no change: the change and the
    other period's figure would give it away."""
    prev = period.previous()
    both = replace(sel, period_from=prev.start, period_to=period.end)

    def compute() -> pd.DataFrame | None:
        totals = cluster_totals(session, both, domain=(group, period.kind), inst=inst)
        present = {str(v) for v in totals.cells[period.kind]} if len(totals.row_cluster) else set()
        if prev.label not in present or period.label not in present:
            return None
        return screen_changes(totals, [measure], group, period.kind, prev.label, period.label, n_min=n_min)

    diff = cached(session, ("ha-change", both.key(), group, period.kind, measure.code, n_min, current_design()),
                  compute)
    if diff is None:
        return False
    codes = {r.code for r in rows}
    diff = diff[diff["domain"].astype(str).isin(codes)].reset_index(drop=True)
    by_code = {r.code: r for r in rows}
    tested = ~diff["suppressed"].astype(bool) & diff["domain"].astype(str).map(
        lambda c: not by_code[c].suppressed and not prev_protected.of(group, c))
    p_holm = holm(diff["p_value"].where(tested).to_numpy(dtype=float))
    for i, rec in enumerate(diff.to_dict("records")):
        r = by_code[str(rec["domain"])]
        prev_hidden = bool(prev_protected.of(group, r.code))
        if int(rec["n_before"] or 0) >= n_min and not prev_hidden:
            r.prev_estimate = _f(rec["estimate_before"])
        if not rec["suppressed"] and not r.suppressed and not prev_hidden:
            r.change, r.change_low, r.change_high = _f(rec["change"]), _f(rec["ci_low"]), _f(rec["ci_high"])
            r.change_p, r.change_p_holm = _f(rec["p_value"]), _f(p_holm[i])
            r.change_significant = bool(r.change_p_holm < 0.05)
    return True
