"""Turning a Home Affairs `Comparison` into the tables and charts a page, an export and the report show.

One `Table` feeds the HTML table, the CSV and the XLSX sheet, so an export always holds exactly the
figures the page shows (raw numbers in files, Babel-formatted text on the page).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _

from survey.dashboard.charts import (
    Chart,
    ForestRow,
    FunnelPoint,
    RankRow,
    TrendPoint,
    forest_plot,
    funnel_flag_label,
    funnel_plot,
    num,
    pct,
    rank_plot,
    trend_chart,
)
from survey.dashboard.method_text import rank_sentence
from survey.i18n import points
from survey.results.comparison import MIN_RANKED, Comparison, DefaultChoice, TrendRow, funnel_flags
from survey.results.periods import period_name

PCT, NUM, INT, TEXT, PVAL = "pct", "num", "int", "text", "pval"
PP = "pp"  # a difference of two shares: percentage points on the page, a raw proportion in files


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    kind: str  # pct | num | int | text | pval | pp

    @property
    def header(self) -> str:
        """The export header: a difference column says its unit (files hold 0.053, not 5.3 points)."""
        if self.kind == PP:
            return _("%(column)s (difference in proportion)", column=self.label)
        return self.label


@dataclass(frozen=True)
class Table:
    """A table shown on a page and exported as CSV / an XLSX sheet (raw values, None = empty)."""

    id: str
    title: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[Any, ...], ...]

    def formatted(self, lang: str) -> list[list[str]]:
        out = []
        for row in self.rows:
            out.append([_format(v, c.kind, lang) for v, c in zip(row, self.columns, strict=True)])
        return out


def _format(v: Any, kind: str, lang: str) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "—"
    if kind == PCT:
        return pct(v, lang)
    if kind == PP:
        return points(v, 1, lang)
    if kind == NUM:
        return num(v, lang, 1)
    if kind == INT:
        return num(v, lang)
    if kind == PVAL:
        return num(v, lang, 3)
    return str(v)


def _v(x: float) -> float | None:
    return x if isinstance(x, int | float) and math.isfinite(x) else None


def not_enough(n: int, lang: str) -> str:
    return _("not enough responses (n = %(n)s)", n=num(n, lang))


def protecting(n: int, lang: str) -> str:
    """A row hidden although it has enough responses: shown, it would give a smaller hidden row away by
    subtraction from a total on this or a linked page (survey.results.protection)."""
    return _("hidden to protect a small group (n = %(n)s)", n=num(n, lang))


def hidden_note(r: Any, lang: str) -> str:
    """Why a hidden row (a comparison `Row`) is hidden."""
    return protecting(r.n, lang) if getattr(r, "protects", False) else not_enough(r.n, lang)


def estimates_table(comp: Comparison, lang: str) -> Table:
    cols = (Column("unit", comp.group_label, TEXT), Column("estimate", _("Estimate"), PCT),
            Column("ci_low", _("95% CI low"), PCT), Column("ci_high", _("95% CI high"), PCT),
            Column("n", "n", INT), Column("n_eff", "n_eff", NUM), Column("method", _("CI method"), TEXT),
            Column("note", _("Note"), TEXT))
    rows: list[tuple[Any, ...]] = []
    for r in comp.by_estimate:
        if r.suppressed:  # n_eff = p(1−p)/V would give the hidden estimate away: left empty too
            rows.append((r.label, None, None, None, r.n, None, "", hidden_note(r, lang)))
        else:
            note = _("wide interval") if r.wide_ci else (_("no interval: one service point") if "df_zero" in r.reason
                                                        else "")
            # n_eff = p(1−p)/V exceeds n for an index (several yes/no answers a response): shown at most n;
            # the funnel uses it as is (docs/methodology-design.md "n_eff of an index")
            rows.append((r.label, r.estimate, _v(r.ci_low), _v(r.ci_high), r.n, _v(min(r.n_eff, r.n)), r.method,
                         note))
    return Table("estimates", _("Estimates with confidence intervals (95%; n_eff: effective number of responses, "
                                "at most n)"), cols, tuple(rows))


def ranks_table(comp: Comparison, lang: str) -> Table:
    cols = (Column("unit", comp.group_label, TEXT), Column("rank", _("Rank"), INT),
            Column("rank_low", _("Rank interval low"), INT), Column("rank_high", _("Rank interval high"), INT),
            Column("p_top_k", _("P(top %(k)s)", k=comp.top_k), PCT),
            Column("p_top_quarter", _("P(top quarter)"), PCT))
    rows = [(r.label, r.rank, r.rank_low, r.rank_high, _v(r.p_top), _v(r.p_q1)) for r in comp.ranked]
    if "too_few_ranked" not in comp.notes:  # else no ranks at all: the page says why, the table stays empty
        rows += [(r.label, None, None, None, None, None) for r in comp.suppressed]
    return Table("ranks", _("Ranks with 95%% rank intervals (%(how)s)",
                            how=rank_sentence(comp.rank_method, comp.bootstrap_b, comp.seed)), cols, tuple(rows))


def change_table(comp: Comparison, lang: str) -> Table:
    cols = (Column("unit", comp.group_label, TEXT), Column("previous", _("Previous period"), PCT),
            Column("current", _("This period"), PCT), Column("change", _("Change"), PP),
            Column("change_low", _("95% CI low"), PP), Column("change_high", _("95% CI high"), PP),
            Column("p_value", _("p-value"), PVAL), Column("p_holm", _("p (Holm)"), PVAL),
            Column("significant", _("Significant"), TEXT))
    rows = []
    for r in comp.by_estimate:
        sig = "" if not math.isfinite(r.change_p_holm) else (_("yes") if r.change_significant else _("no"))
        rows.append((r.label, _v(r.prev_estimate), None if r.suppressed else r.estimate, _v(r.change),
                     _v(r.change_low), _v(r.change_high), _v(r.change_p), _v(r.change_p_holm), sig))
    return Table("change", _("Change since %(period)s (Holm-adjusted across units)",
                             period=comp.period.previous().name), cols, tuple(rows))


def funnel_table(comp: Comparison, lang: str) -> Table:
    shown = [r for r in comp.by_estimate if not r.suppressed and r.n_eff > 0]
    cols = (Column("unit", comp.group_label, TEXT), Column("estimate", _("Estimate"), PCT),
            Column("n_eff", "n_eff", NUM), Column("lower_95", _("Lower limit (95%)"), PCT),
            Column("upper_95", _("Upper limit (95%)"), PCT), Column("lower_99.8", _("Lower limit (99.8%)"), PCT),
            Column("upper_99.8", _("Upper limit (99.8%)"), PCT), Column("flag", _("Position"), TEXT))
    theta0 = comp.overall.estimate
    if not shown or comp.overall.suppressed or not math.isfinite(theta0):
        return Table("funnel", _("Funnel plot limits"), cols, ())
    flags = funnel_flags([r.estimate for r in shown], [r.n_eff for r in shown], theta0)
    rows = []
    for i, r in enumerate(shown):
        rec = flags.iloc[i]
        rows.append((r.label, r.estimate, r.n_eff, _v(rec["lower_95"]), _v(rec["upper_95"]),
                     _v(rec["lower_99.8"]), _v(rec["upper_99.8"]), funnel_flag_label(str(rec["flag"]))))
    return Table("funnel", _("Funnel plot limits around %(value)s", value=pct(theta0, lang)), cols, tuple(rows))


TABLES: dict[str, Callable[[Comparison, str], Table]] = {  # "trend" is added by the index page
    "estimates": estimates_table, "ranks": ranks_table, "change": change_table, "funnel": funnel_table,
}


def comparison_tables(comp: Comparison, lang: str) -> list[Table]:
    tables = [estimates_table(comp, lang), ranks_table(comp, lang)]
    if comp.has_previous:
        tables.append(change_table(comp, lang))
    tables.append(funnel_table(comp, lang))
    return tables


def overall_label(comp: Comparison) -> str:
    """What the total line covers, exactly (docs/methodology-design.md, "Totals beside suppressed rows")."""
    hidden = sum(1 for r in comp.rows if r.suppressed and r.n > 0)
    protects = any(r.protects for r in comp.rows)
    if comp.overall_scope == "with_estimate" and protects:
        return _("Units with an estimate together (%(k)s of %(all)s; the %(s)s hidden, for too few responses or "
                 "to protect a small group, are left out, so that their figures cannot be worked out from this "
                 "total)", k=sum(1 for r in comp.rows if not r.suppressed), all=len(comp.rows), s=comp.left_out)
    if comp.overall_scope == "with_estimate":
        return _("Units with an estimate together (%(k)s of %(all)s; the %(s)s with too few responses are left "
                 "out, so that their figures cannot be worked out from this total)",
                 k=sum(1 for r in comp.rows if not r.suppressed), all=len(comp.rows), s=comp.left_out)
    if hidden and protects:
        return _("All %(k)s units listed together (the %(s)s hidden, for too few responses or to protect a small "
                 "group, included)", k=len(comp.rows), s=hidden)
    if hidden:
        return _("All %(k)s units listed together (the %(s)s with too few responses for a figure of their own "
                 "included)", k=len(comp.rows), s=hidden)
    return _("All %(k)s units listed together", k=len(comp.rows))


def overall_short(comp: Comparison) -> str:
    """The total's name on a chart (reference line, trend)."""
    return _("Units with an estimate") if comp.overall_scope == "with_estimate" else _("All units listed")


def trend_title(comp: Comparison, measure_label: str | None = None) -> str:
    measure = measure_label or comp.measure_label
    if comp.overall_scope == "with_estimate":
        return _("%(measure)s over time, the units with an estimate in %(period)s", measure=measure,
                 period=comp.period.name)
    return _("%(measure)s over time, all units listed", measure=measure)


def trend_table(rows: list[TrendRow], comp: Comparison, lang: str) -> Table:
    cols = (Column("period", _("Period"), TEXT), Column("estimate", _("Estimate"), PCT),
            Column("ci_low", _("95% CI low"), PCT), Column("ci_high", _("95% CI high"), PCT),
            Column("n", "n", INT), Column("note", _("Note"), TEXT))
    data = tuple((period_name(r.label), None, None, None, r.n, hidden_note(r, lang)) if r.suppressed else
                 (period_name(r.label), r.estimate, _v(r.ci_low), _v(r.ci_high), r.n, "") for r in rows)
    return Table("trend", trend_title(comp), cols, data)


def trend_of(rows: list[TrendRow], comp: Comparison, lang: str, chart_id: str = "ha-trend") -> Chart:
    """The total's measure by period, with its CI band (suppressed periods left blank)."""
    return trend_chart(chart_id, [TrendPoint(r.label, None if r.suppressed else r.estimate, _v(r.ci_low),
                                             _v(r.ci_high), r.n, r.suppressed,
                                             hidden_note(r, lang) if r.protects else "") for r in rows],
                       title=trend_title(comp), lang=lang)


def comparison_charts(comp: Comparison, lang: str, prefix: str = "ha") -> list[Chart]:
    title_of = comp.measure_label
    forest = forest_plot(
        f"{prefix}-forest",
        [ForestRow(r.label, None if r.suppressed else r.estimate, _v(r.ci_low), _v(r.ci_high), r.n, r.suppressed,
                   hidden_note(r, lang) if r.protects else "") for r in comp.rows],
        title=_("%(measure)s by %(group)s, %(period)s", measure=title_of, group=comp.group_label,
                period=comp.period.name),
        lang=lang, reference=None if comp.overall.suppressed else _v(comp.overall.estimate),
        reference_label=overall_short(comp))
    charts = [forest]
    # a suppressed whole (n < n_min) may not appear even as a funnel's centre line
    if not comp.overall.suppressed and math.isfinite(comp.overall.estimate):
        charts.append(funnel_plot(
            f"{prefix}-funnel",
            [FunnelPoint(r.label, r.estimate, r.n_eff) for r in comp.rows if not r.suppressed],
            comp.overall.estimate, title=_("Funnel plot: %(measure)s", measure=title_of), lang=lang))
    if comp.ranked:
        charts.append(rank_plot(
            f"{prefix}-ranks",
            [RankRow(r.label, r.rank, r.rank_low, r.rank_high, r.p_top) for r in comp.ranked
             if r.rank is not None and r.rank_low is not None and r.rank_high is not None],  # all set together
            title=_("Ranks with 95%% rank intervals: %(measure)s", measure=title_of), lang=lang, top_k=comp.top_k,
            how=rank_sentence(comp.rank_method, comp.bootstrap_b, comp.seed)))
    return charts


def period_note(choice: DefaultChoice | None, n_min: int) -> str:
    """Which period the page shows and why, when the viewer did not choose it."""
    if choice is None or choice.period is None or choice.reason == "chosen":
        return ""
    args = {"period": choice.period.name, "good": choice.good, "total": choice.units, "n": n_min}
    if choice.reason == "complete":
        return _("%(period)s is shown: the latest complete period in which most units (%(good)s of %(total)s) "
                 "have at least %(n)s responses. Choose another period above.", **args)
    if choice.reason == "incomplete":
        return _("%(period)s is shown although it is not over yet: no complete period has at least %(n)s "
                 "responses for most units (%(good)s of %(total)s units reach it in this one).", **args)
    return _("%(period)s is shown: the latest period with responses. No period has at least %(n)s responses "
             "for most units.", **args)


def ranks_note(comp: Comparison) -> str:
    """Why a comparison shows no ranks: fewer than MIN_RANKED units could be ranked."""
    if "too_few_ranked" not in comp.notes:
        return ""
    return _("No ranks: fewer than %(k)s units have at least %(n)s responses, and a rank among so few says "
             "nothing.", k=MIN_RANKED, n=comp.n_min)
