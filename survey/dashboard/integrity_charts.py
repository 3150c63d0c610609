"""Server-side SVG charts of the Integrity page and the agency page's early-warning chart (with data tables)."""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from datetime import date
from typing import Any

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from survey.dashboard.charts import ACCENT, ALARM, GRID, MUTED, Chart, num, px, svg_doc, svg_text


def arrivals_chart(chart_id: str, slots: Sequence[Sequence[int]], *, lang: str) -> Chart:
    """Responses per half hour over the day: a burst is one tall bar, office hours a low even spread."""
    width, height = 640, 220
    pl, pr, pt, pb = 44, width - 10, 14, height - 34
    counts = [int(c) for _, c in slots]
    top = max(max(counts, default=0), 1)
    step = max(1, math.ceil(top / 4))
    bar = (pr - pl) / max(len(slots), 1)

    def sy(v: float) -> float:
        return pb - v / (step * math.ceil(top / step)) * (pb - pt)

    body: list[str] = []
    for t in range(0, step * math.ceil(top / step) + 1, step):
        body.append(f'<line x1="{pl}" y1="{px(sy(t))}" x2="{pr}" y2="{px(sy(t))}" stroke="{GRID}"/>')
        body.append(svg_text(pl - 6, sy(t) + 4, num(t, lang), anchor="end", size=11, fill=MUTED, cls="tick"))
    for i, (start, c) in enumerate(slots):
        x = pl + i * bar
        if c:
            body.append(f'<rect x="{px(x + 1)}" y="{px(sy(c))}" width="{px(bar - 2)}" height="{px(pb - sy(c))}" '
                        f'fill="{ACCENT}"/>')
        if int(start) % 120 == 0:
            body.append(svg_text(x, pb + 16, f"{int(start) // 60:02d}:00", anchor="middle", size=11, fill=MUTED,
                              cls="tick"))
    title = _("Responses over the day")
    desc = _("Responses received in each half hour (local time).")
    rows = tuple((f"{int(s) // 60:02d}:{int(s) % 60:02d}", num(c, lang)) for s, c in slots if c)
    return Chart(chart_id, title, desc, svg_doc(chart_id, width, height, title, desc, body),
                 (_("From"), _("Responses")), rows, len(rows))


def control_chart(chart_id: str, days: Sequence[date], points: Sequence[dict[str, Any]], limit: float, *,
                  lang: str, n_min: int, tree: bool = False) -> Chart:
    """The early-warning statistic by point of pooled days against its limit (above the line = a real drop).

    Each point pools consecutive days of a month to at least n_min responses (survey/results/integrity.py,
    analysis.control.pool_days): a point per day let a reader invert two printed values into one quiet day's
    answers.  So the table lists points (their days, n and warning measure), never a day of fewer responses, and
    no share: the warning measure says how far satisfaction fell."""
    width, height = 700, 240
    pl, pr, pt, pb = 50, width - 12, 14, height - 34
    vals = [float(p["z"]) for p in points if math.isfinite(p["z"])]
    top = max(max(vals, default=0.0), limit) * 1.15 or 1.0
    n = max(len(days), 1)

    def sx(i: int) -> float:
        return pl + (i + 0.5) / n * (pr - pl)

    def sy(v: float) -> float:
        return pb - v / top * (pb - pt)

    def where(p: dict[str, Any]) -> int:  # a point stands at the working day its days end on (or before)
        return max(bisect_right(list(days), p["last"]) - 1, 0)

    body: list[str] = [f'<line x1="{pl}" y1="{px(sy(0))}" x2="{pr}" y2="{px(sy(0))}" stroke="{GRID}"/>',
                       f'<line class="limit" x1="{pl}" y1="{px(sy(limit))}" x2="{pr}" y2="{px(sy(limit))}" '
                       f'stroke="{ALARM}" stroke-dasharray="6 4"/>',
                       svg_text(pr, sy(limit) - 5, _("warning limit") + " " + num(limit, lang, 2), anchor="end",
                                size=11, fill=ALARM),
                       # what the line and the zero mean, in words (the measure itself has no everyday unit)
                       svg_text(pl + 4, pt + 10, _("Warning measure"), size=11, fill=MUTED),
                       svg_text(pl - 6, sy(0) + 4, num(0, lang), anchor="end", size=11, fill=MUTED, cls="tick"),
                       svg_text(pl + 4, sy(0) - 5, _("0 = usual level"), size=11, fill=MUTED)]
    pts = [f"{px(sx(where(p)))},{px(sy(p['z']))}" for p in points if math.isfinite(p["z"])]
    if len(pts) >= 2:
        body.append(f'<polyline points="{" ".join(pts)}" fill="none" stroke="{ACCENT}" stroke-width="2"/>')
    for p in points:
        if math.isfinite(p["z"]):
            colour, r = (ALARM, 3.5) if p["z"] > limit else (ACCENT, 2.5)
            body.append(f'<circle cx="{px(sx(where(p)))}" cy="{px(sy(p["z"]))}" r="{r}" fill="{colour}"/>')
    every = max(1, math.ceil(n / 6))
    for i, d in enumerate(days):
        if i % every == 0:
            body.append(svg_text(sx(i), pb + 16, f"{d.day:02d}/{d.month:02d}", anchor="middle", size=11, fill=MUTED,
                              cls="tick"))
    title = _("Early warning of a drop in satisfaction")
    desc = _("A weighted running measure of how far satisfaction fell below its usual level; "
             "crossing the dashed line signals a real drop (about one false alarm a year).")

    def span(p: dict[str, Any]) -> str:
        a, b = p["first"], p["last"]
        last = f"{b.day:02d}/{b.month:02d}/{b.year}"
        return last if a == b else f"{a.day:02d}/{a.month:02d}/{a.year} – {last}"

    rows = tuple((span(p), num(p["n"], lang), num(p["z"], lang, 2) if math.isfinite(p["z"]) else "–")
                 for p in points)
    notes = (_("How to read it: the warning measure is 0 while satisfaction is at its usual level and grows the "
               "further satisfaction falls below it. Above the warning limit (%(limit)s, the dashed line) the fall "
               "is more than day-to-day chance: look at what changed at the counters.", limit=num(limit, lang, 2)),
             _("Each point of a unit pools days of one month so that it ends where the points of the agencies and "
               "units below it end and holds at least %(n)s responses, so that no citizen's answers can be read "
               "from this chart beside theirs; a unit with several agencies shows a month's points once the month "
               "is over.", n=num(n_min, lang)) if tree else
             _("Each point pools consecutive days of one month until they hold at least %(n)s responses (the "
               "month's last point takes its remaining days), so that no citizen's answers can be read from the "
               "chart; a point appears once its days are complete.", n=num(n_min, lang)))
    return Chart(chart_id, title, desc, svg_doc(chart_id, width, height, title, desc, body),
                 (_("Days"), _("Responses"), _("Warning measure")), rows, len(rows), notes)


def hidden_chart_note(n: int, n_min: int, lang: str) -> str:
    """Why an agency's early-warning chart is not drawn: its figures are hidden on its page (too few responses,
    or hidden to protect a small group, survey/results/protection.py), and its days would give them back."""
    if n >= n_min:
        return _("The early-warning chart is hidden: this agency's figures are hidden to protect a small group "
                 "(n = %(n)s), and its day-by-day figures would give them away.", n=num(n, lang))
    return _("The early-warning chart is hidden: this agency has too few responses for its figures to be shown "
             "(n = %(n)s; at least %(n_min)s are needed), and its day-by-day figures would give them away.",
             n=num(n, lang), n_min=num(n_min, lang))


def too_few_points_note(n_min: int, lang: str) -> str:
    """Why there is no early-warning chart although there is a year of history: its points pool a month's days
    until they hold n_min responses, and no month of that year had so many."""
    return _("No early-warning chart: its points pool the days of a month until they hold at least %(n)s "
             "responses, and no month of the last year had that many.", n=num(n_min, lang))


#: cut a chart before the first month of its window that the linked protection hides for the node (attacker pass,
#: 8 Dec 2026).  OFF for now: a month in progress under n_min makes the decision hide a complete month of its
#: quarter, so the cut would take a small agency's last month off its chart for most of each quarter (13 tests of
#: tests/integrity/ lose the drop they check); the lead decides (docs/integrity.md, "A month hidden in the middle").
#: tests/integrity/test_warning_hidden_months.py: the leak (strict xfail), the cut switched on, and the reader.
CUT_HIDDEN_MONTHS = False


def shown_months(chart: dict[str, Any], sel: Any, kind: str, code: str) -> dict[str, Any]:
    """The chart up to the last month before any month whose figure the linked protection hides for the node:
    a month's points tile it, so they would give its hidden figure back (and the points after it depend on it).

    Two cuts: after the last month the node's "every month so far" may reach (its newer months), and — since
    8 Dec 2026 — before the first month in the window hidden on its own (a month hidden in the middle, e.g.
    October hidden to protect a small group elsewhere while the quarter and November are shown; before, its
    points were drawn: tests/integrity/test_warning_hidden_months.py).  Only a cut, never points dropped and the
    measure carried on: a later point's value depends on every earlier one (z = (1 − λ)·z_prev + λ·x), so it would
    carry the hidden month on; and a cut never makes a chart signal that did not (the Integrity list relies on
    it).  Unchanged when every month is shown.  `sel`: the page's selection (its questionnaire; periods,
    channels and service points dropped, as the chart covers them all)."""
    from dataclasses import replace

    from survey.dashboard.linked_figures import so_far
    from survey.results.integrity import charted_until

    if sel is None:
        return chart
    whole = replace(sel, period_from=None, period_to=None, channels=(), service_point_ids=())
    found = so_far(whole, kind, code)
    chart = chart if found is None else charted_until(chart, found[0])
    hidden = _first_hidden_month(whole, kind, code, chart) if CUT_HIDDEN_MONTHS else None
    if hidden is None:
        return chart
    before = date(hidden.year - (hidden.month == 1), (hidden.month - 2) % 12 + 1, 1)
    return charted_until(chart, before)


def _first_hidden_month(sel: Any, kind: str, code: str, chart: dict[str, Any]) -> date | None:
    """The first month with a point in the chart whose figure of the node (over every channel) the linked
    decision of any measure of `sel`'s questionnaire hides, or None."""
    from flask import current_app

    from survey.extensions import db
    from survey.results import protection as linked

    months = sorted({p["first"].replace(day=1) for p in chart["points"]})
    if not months or not (linked.ENABLED and linked.LINKED):
        return None
    n_min = int(current_app.config["HAILONG_N_MIN"])
    decisions = [linked.linked_decision(db.session, sel, m, n_min) for m in linked.measures_of(db.session, sel)]
    rows = [(d, d.org_ix[(kind, code)]) for d in decisions if (kind, code) in d.org_ix]
    for month in months:
        if any(int(d.hidden(month, month, ())[row]) for d, row in rows):
            return month
    return None


def unit_hidden_note(session: Session, comp: Any, unit_id: int) -> str | None:
    """Why a unit's early-warning chart is not drawn on its Home Affairs page, or None: the unit's own figure is
    hidden for the page's questionnaire, months and measure (`comp`, the page's comparison) — too few responses,
    or hidden to protect a small group (survey/results/protection.py) — and its days would give it back."""
    from survey.org.models import Unit
    from survey.results.protection import protection

    unit = session.get(Unit, unit_id)
    sel = getattr(comp, "shown_selection", None)
    if unit is None or sel is None:
        return None
    status = protection(session, sel, comp.measure, int(comp.n_min)).of(unit.level_code, unit.code)
    if status == "secondary":
        return _("The early-warning chart is hidden: this unit's figures are hidden to protect a small group, "
                 "and its day-by-day figures would give them away.")
    if status == "primary":
        return _("The early-warning chart is hidden: this unit has too few responses for its figures to be "
                 "shown, and its day-by-day figures would give them away.")
    return None
