"""Server-rendered SVG charts: readable without JavaScript, printable, and the same in HTML and PDF.

Every chart is a `Chart`: the SVG (with <title> and <desc>), a visible caption, and the data table that
says the same thing in words and numbers (screen readers, copy-paste, print).  Output is a pure function
of the input (no random ids, no clock), so tests can compare it and the PDF matches the page.

Marks carry class "mark" (one per plotted unit/period/category) so a reader — or a test — can count what
is drawn.  Colours are SVG presentation attributes, not CSS, so WeasyPrint renders them identically and the
strict CSP (no inline style) is respected.  Numbers use Babel with the page language (84,9% in vi).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypeGuard

import numpy as np
from flask_babel import gettext as _
from markupsafe import Markup, escape

from survey.i18n import fixed
from survey.results.comparison import FUNNEL_LEVELS as LEVELS
from survey.results.comparison import funnel_flags, funnel_limits
from survey.results.periods import period_name, period_start

INK = "#1a1a1a"
MUTED = "#555555"
GRID = "#d5d8dd"
ACCENT = "#0b5cad"
BAND = "#b9d3ee"
WARN = "#8a5a00"
ALARM = "#a4161a"
FONT = 'font-family="DejaVu Sans, Noto Sans, Arial, sans-serif"'


# --------------------------------------------------------------------------- formatting
def pct(value: float | None, lang: str, digits: int = 1) -> str:
    """0.8497 → '85,0%' (vi) / '85.0%' (en); missing → '—'."""
    if value is None or not math.isfinite(value):
        return "—"
    return fixed(value, digits, lang, as_percent=True)


def num(value: float | None, lang: str, digits: int = 0) -> str:
    """12345.6 → '12.346' (vi) / '12,346' (en); missing → '—'."""
    if value is None or not math.isfinite(value):
        return "—"
    return fixed(value, digits, lang)


def interval(low: float | None, high: float | None, lang: str) -> str:
    if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
        return "—"
    return f"{pct(low, lang)} – {pct(high, lang)}"


def short(label: str, limit: int = 34) -> str:
    """A label that fits the chart's label column; the full name is in the mark's tooltip and the table."""
    return label if len(label) <= limit else label[: limit - 1].rstrip() + "…"


def px(x: float) -> str:
    """Coordinates with 1 decimal: deterministic and compact."""
    return f"{x:.1f}"


def svg_text(x: float, y: float, s: str, *, anchor: str = "start", size: int = 12, fill: str = INK,
          cls: str = "", weight: str = "normal") -> str:
    c = f' class="{cls}"' if cls else ""
    w = ' font-weight="bold"' if weight == "bold" else ""
    return (f'<text x="{px(x)}" y="{px(y)}" text-anchor="{anchor}" font-size="{size}" fill="{fill}"{w}{c}>'
            f"{escape(s)}</text>")


def _nice_range(lo: float, hi: float, *, clip: tuple[float, float] | None = (0.0, 1.0)) -> tuple[float, float, float]:
    """Axis (start, end, tick step) covering [lo, hi] with round ticks (5 or 10 points for shares)."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        lo, hi = 0.0, 1.0
    if hi - lo < 1e-9:
        lo, hi = lo - 0.05, hi + 0.05
    span = hi - lo
    raw = span / 5
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.floor(lo / step) * step
    end = math.ceil(hi / step) * step
    if clip is not None:
        start, end = max(start, clip[0]), min(end, clip[1])
        if end <= start:
            start, end = clip
    return start, end, step


def _ticks(start: float, end: float, step: float) -> list[float]:
    n = round((end - start) / step)
    return [start + i * step for i in range(n + 1)]


# --------------------------------------------------------------------------- the chart object
@dataclass(frozen=True)
class Chart:
    """An SVG chart with its caption and its data-table alternative."""

    id: str
    title: str
    desc: str
    svg: Markup
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    marks: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)

    def table_html(self) -> Markup:
        head = "".join(f'<th scope="col">{escape(c)}</th>' for c in self.columns)
        body = "".join(
            "<tr>" + "".join(
                f'<th scope="row">{escape(v)}</th>' if i == 0 else f'<td class="num">{escape(v)}</td>'
                for i, v in enumerate(r)
            ) + "</tr>"
            for r in self.rows
        )
        return Markup(
            f'<table class="chart-data" id="{escape(self.id)}-data"><caption>{escape(self.title)}</caption>'
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        )

    def figure(self, *, table_open: bool = False, with_table: bool = True) -> Markup:
        """<figure>: SVG, visible caption, and the data table (in <details>, or open for print).

        `with_table=False` only where the same figures stand in a table right next to the chart (the
        report's agency pages), so the alternative is still there once."""
        notes = "".join(f'<p class="chart-note">{escape(n)}</p>' for n in self.notes)
        if not with_table:
            table = Markup("")
        elif table_open:
            table = self.table_html()
        else:
            label = _("Data table")
            table = Markup(f'<details class="chart-table"><summary>{escape(label)}</summary>'
                           f"{self.table_html()}</details>")
        return Markup(
            f'<figure class="chart" id="{escape(self.id)}" aria-labelledby="{escape(self.id)}-cap">'
            f"{self.svg}"
            f'<figcaption id="{escape(self.id)}-cap"><strong>{escape(self.title)}</strong> '
            f"<span>{escape(self.desc)}</span></figcaption>{notes}{table}</figure>"
        )


def svg_doc(chart_id: str, width: int, height: int, title: str, desc: str, body: list[str]) -> Markup:
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart-svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-labelledby="{chart_id}-t {chart_id}-d" {FONT}>'
        f'<title id="{chart_id}-t">{escape(title)}</title><desc id="{chart_id}-d">{escape(desc)}</desc>'
        + "".join(body) + "</svg>"
    )


def _x_axis(body: list[str], scale, start: float, end: float, step: float, y_top: float, y_bottom: float,
            lang: str, fmt=None) -> None:
    fmt = fmt or (lambda v: pct(v, lang, 0))
    for t in _ticks(start, end, step):
        x = scale(t)
        body.append(f'<line x1="{px(x)}" y1="{px(y_top)}" x2="{px(x)}" y2="{px(y_bottom)}" stroke="{GRID}"/>')
        body.append(svg_text(x, y_bottom + 14, fmt(t), anchor="middle", size=11, fill=MUTED, cls="tick"))


# --------------------------------------------------------------------------- forest plot
@dataclass(frozen=True)
class ForestRow:
    label: str
    estimate: float | None
    low: float | None
    high: float | None
    n: int
    suppressed: bool = False
    note: str = ""  # why a hidden row is hidden, when not too few responses (secondary suppression)


def _label_anchor(x: float, chars: int, right: float) -> str:
    """Centred over its line, unless half of it would run past the plot into the column heading on the right
    (a reference near the top of the axis): then it ends at the line.  ~6 px a character at 11 px."""
    return "end" if x + chars * 3.2 > right else "middle"


def forest_plot(chart_id: str, rows: Sequence[ForestRow], *, title: str, lang: str,
                reference: float | None = None, reference_label: str = "", of_elements: bool = False) -> Chart:
    """Estimates with 95% CIs, sorted best first; suppressed units listed below, without a point.
    `of_elements`: the rows are one unit's elements, so the description must not call them units."""
    shown: list[tuple[ForestRow, float]] = []  # each row with its (finite) estimate, best first
    for r in rows:
        estimate = r.estimate
        if not r.suppressed and _finite(estimate):
            shown.append((r, estimate))
    shown.sort(key=lambda pair: (-pair[1], pair[0].label))
    hidden = sorted((r for r in rows if r.suppressed or not _finite(r.estimate)), key=lambda r: r.label)
    width, left, right_text = 760, 230, 150
    plot_l, plot_r = left + 10, width - right_text - 10
    row_h, top = 24, 28
    height = top + row_h * (len(shown) + len(hidden)) + 36
    vals = [v for r, estimate in shown for v in (r.low, r.high, estimate) if _finite(v)]
    if reference is not None and math.isfinite(reference):
        vals.append(reference)
    start, end, step = _nice_range(min(vals, default=0.0), max(vals, default=1.0))

    def sx(v: float) -> float:
        return plot_l + (v - start) / (end - start) * (plot_r - plot_l)

    body: list[str] = []
    y_axis = top + row_h * len(shown)
    if shown:  # no axis of percentages over nothing: every unit suppressed shows no number at all
        _x_axis(body, sx, start, end, step, top - 8, y_axis, lang)
        body.append(svg_text(plot_r + 10, top - 12, _("Estimate (95% CI)"), size=11, fill=MUTED))
    if reference is not None and math.isfinite(reference):
        x = sx(reference)
        body.append(f'<line class="reference" x1="{px(x)}" y1="{px(top - 8)}" x2="{px(x)}" y2="{px(y_axis)}" '
                    f'stroke="{WARN}" stroke-dasharray="4 3"/>')
        if reference_label:
            label = f"{reference_label} {pct(reference, lang)}"
            body.append(svg_text(x, top - 14, label, anchor=_label_anchor(x, len(label), plot_r), size=11,
                                 fill=WARN, cls="reference-label"))
    for i, (r, estimate) in enumerate(shown):
        y = top + row_h * i + row_h / 2
        body.append(svg_text(left, y + 4, short(r.label), anchor="end"))
        if r.low is not None and r.high is not None and math.isfinite(r.low) and math.isfinite(r.high):
            # an interval reaching past the axis (a Taylor interval above 100%) is drawn to the edge with an
            # open end; the exact bounds are in the text column and the data table
            lo, hi = max(r.low, start), min(r.high, end)
            body.append(f'<line class="ci" x1="{px(sx(lo))}" y1="{px(y)}" x2="{px(sx(hi))}" y2="{px(y)}" '
                        f'stroke="{INK}" stroke-width="2"/>')
            for edge, cut in ((lo, r.low < start), (hi, r.high > end)):
                if cut:
                    body.append(f'<circle class="ci-cut" cx="{px(sx(edge))}" cy="{px(y)}" r="3" fill="#ffffff" '
                                f'stroke="{INK}"/>')
        body.append(f'<rect class="mark" x="{px(sx(estimate) - 4)}" y="{px(y - 4)}" width="8" height="8" '
                    f'fill="{ACCENT}"><title>{escape(r.label)}: {escape(pct(estimate, lang))}</title></rect>')
        body.append(svg_text(plot_r + 10, y + 4, f"{pct(estimate, lang)} ({interval(r.low, r.high, lang)})", size=11))
    for j, r in enumerate(hidden):
        y = top + row_h * (len(shown) + j) + row_h / 2 + 18
        body.append(svg_text(left, y + 4, short(r.label), anchor="end", fill=MUTED))
        body.append(svg_text(plot_l, y + 4, r.note or _("not enough responses (n = %(n)s)", n=num(r.n, lang)),
                          fill=MUTED, size=11, cls="suppressed"))
    if of_elements:
        desc = _("%(shown)s elements with their estimate and 95%% confidence interval, best first; "
                 "%(hidden)s elements with too few responses are listed without a point.",
                 shown=len(shown), hidden=len(hidden))
    else:
        desc = _("%(shown)s units with their estimate and 95%% confidence interval, best first; "
                 "%(hidden)s units with too few responses are listed without a point.",
                 shown=len(shown), hidden=len(hidden))
    cols = (_("Index") if of_elements else _("Unit"), _("Estimate"), _("95% CI"), "n")
    data = tuple((r.label, pct(estimate, lang), interval(r.low, r.high, lang), num(r.n, lang))
                 for r, estimate in shown) + \
        tuple((r.label, r.note or _("not enough responses (n = %(n)s)", n=num(r.n, lang)), "—", num(r.n, lang))
              for r in hidden)
    return Chart(chart_id, title, desc, svg_doc(chart_id, width, height, title, desc, body), cols, data, len(shown))


# --------------------------------------------------------------------------- funnel plot
def funnel_flag_label(flag: str) -> str:
    """analysis.funnel's flag (within, above_95, below_99.8, …) in words."""
    return {"within": _("within limits"), "above_95": _("above limit (95%)"), "below_95": _("below limit (95%)"),
            "above_99.8": _("above limit (99.8%)"), "below_99.8": _("below limit (99.8%)")}.get(flag, "—")


@dataclass(frozen=True)
class FunnelPoint:
    label: str
    estimate: float
    n_eff: float


def funnel_plot(chart_id: str, points: Sequence[FunnelPoint], theta0: float, *, title: str, lang: str) -> Chart:
    """Unit index against n_eff with 95% and 99.8% limits around θ₀ (analysis.funnel)."""
    pts = [p for p in points if math.isfinite(p.estimate) and math.isfinite(p.n_eff) and p.n_eff > 0]
    width, height = 760, 390
    pl, pr, pt, pb = 60, width - 20, 30, height - 50  # the legend sits above the plot: limit lines crossed it
    max_n = max((p.n_eff for p in pts), default=100.0) * 1.08
    grid = np.linspace(max(max_n / 200, 1.0), max_n, 80)
    limits = funnel_limits(theta0, grid)
    labs = [f"{lv * 100:g}" for lv in LEVELS]
    lows = [p.estimate for p in pts] + list(limits[f"lower_{labs[-1]}"].iloc[8:])
    highs = [p.estimate for p in pts] + list(limits[f"upper_{labs[-1]}"].iloc[8:])
    y0, y1, ystep = _nice_range(min([*lows, theta0]), max([*highs, theta0]))
    n_start, n_end, n_step = _nice_range(0, max_n, clip=None)
    n_start = 0.0

    def sx(n: float) -> float:
        return pl + (n - n_start) / (n_end - n_start) * (pr - pl)

    def sy(v: float) -> float:
        return pb - (v - y0) / (y1 - y0) * (pb - pt)

    body: list[str] = []
    for t in _ticks(y0, y1, ystep):
        body.append(f'<line x1="{pl}" y1="{px(sy(t))}" x2="{pr}" y2="{px(sy(t))}" stroke="{GRID}"/>')
        body.append(svg_text(pl - 6, sy(t) + 4, pct(t, lang, 0), anchor="end", size=11, fill=MUTED, cls="tick"))
    for t in _ticks(n_start, n_end, n_step):
        body.append(svg_text(sx(t), pb + 16, num(t, lang), anchor="middle", size=11, fill=MUTED, cls="tick"))
    body.append(svg_text((pl + pr) / 2, height - 8, _("Effective number of responses (n_eff)"), anchor="middle",
                      size=11, fill=MUTED))
    body.append(f'<line class="target" x1="{pl}" y1="{px(sy(theta0))}" x2="{pr}" y2="{px(sy(theta0))}" '
                f'stroke="{INK}" stroke-width="1.5"/>')
    for lab, colour, dash in zip(labs, (WARN, ALARM), ("5 3", "2 2"), strict=True):
        for side in ("lower", "upper"):
            ys = limits[f"{side}_{lab}"].to_numpy()
            coords = " ".join(f"{px(sx(n))},{px(sy(min(max(v, y0), y1)))}" for n, v in zip(grid, ys, strict=True))
            body.append(f'<polyline class="limit limit-{lab.replace(".", "_")}" points="{coords}" fill="none" '
                        f'stroke="{colour}" stroke-dasharray="{dash}"/>')
    flags = funnel_flags([p.estimate for p in pts], [p.n_eff for p in pts], theta0)
    for p, flag in zip(pts, flags["flag"], strict=True):
        colour = ALARM if flag.endswith("99.8") else WARN if flag != "within" else ACCENT
        body.append(f'<circle class="mark" cx="{px(sx(p.n_eff))}" cy="{px(sy(p.estimate))}" r="5" fill="{colour}">'
                    f"<title>{escape(p.label)}: {escape(pct(p.estimate, lang))}, n_eff {escape(num(p.n_eff, lang))}"
                    f"</title></circle>")
    body.append(svg_text(pr, pt - 12, _("Target %(value)s; lines: 95%% and 99.8%% limits", value=pct(theta0, lang)),
                      anchor="end", size=11, fill=MUTED, cls="legend"))
    desc = _("Each point is a unit: its index against its effective number of responses. Points outside the "
             "funnel differ from the overall value %(value)s by more than chance explains.", value=pct(theta0, lang))
    rows = []
    for i, p in enumerate(pts):
        rec = flags.iloc[i]
        rows.append((p.label, pct(p.estimate, lang), num(p.n_eff, lang, 1),
                     interval(rec[f"lower_{labs[0]}"], rec[f"upper_{labs[0]}"], lang),
                     interval(rec[f"lower_{labs[1]}"], rec[f"upper_{labs[1]}"], lang),
                     funnel_flag_label(rec["flag"])))
    cols = (_("Unit"), _("Estimate"), "n_eff", _("Limits (95%)"), _("Limits (99.8%)"), _("Position"))
    svg = svg_doc(chart_id, width, height, title, desc, body)
    return Chart(chart_id, title, desc, svg, cols, tuple(rows), len(pts))


# --------------------------------------------------------------------------- rank intervals
@dataclass(frozen=True)
class RankRow:
    label: str
    rank: int
    low: int
    high: int
    p_top: float


def rank_plot(chart_id: str, rows: Sequence[RankRow], *, title: str, lang: str, top_k: int,
              how: str = "") -> Chart:
    """Each ranked unit's rank with its 95% rank interval (1 = best); suppressed units are not passed."""
    rows = sorted(rows, key=lambda r: (r.rank, r.label))
    m = max((r.high for r in rows), default=1)
    width, left, right_text = 760, 230, 130
    plot_l, plot_r = left + 10, width - right_text - 10
    row_h, top = 24, 28
    height = top + row_h * len(rows) + 30

    def sx(rank: float) -> float:
        return plot_l + (rank - 1) / max(m - 1, 1) * (plot_r - plot_l)

    body: list[str] = []
    y_axis = top + row_h * len(rows)
    step = max(1, math.ceil(m / 10))
    for t in range(1, m + 1, step):
        body.append(f'<line x1="{px(sx(t))}" y1="{top - 8}" x2="{px(sx(t))}" y2="{px(y_axis)}" stroke="{GRID}"/>')
        body.append(svg_text(sx(t), y_axis + 14, num(t, lang), anchor="middle", size=11, fill=MUTED, cls="tick"))
    body.append(svg_text(plot_r + 10, top - 12, _("P(top %(k)s)", k=top_k), size=11, fill=MUTED))
    for i, r in enumerate(rows):
        y = top + row_h * i + row_h / 2
        body.append(svg_text(left, y + 4, short(r.label), anchor="end"))
        body.append(f'<line class="ci" x1="{px(sx(r.low))}" y1="{px(y)}" x2="{px(sx(r.high))}" y2="{px(y)}" '
                    f'stroke="{INK}" stroke-width="2"/>')
        body.append(f'<circle class="mark" cx="{px(sx(r.rank))}" cy="{px(y)}" r="5" fill="{ACCENT}">'
                    f"<title>{escape(r.label)}: {r.rank} ({r.low}–{r.high})</title></circle>")
        body.append(svg_text(plot_r + 10, y + 4, pct(r.p_top, lang), size=11))  # as the ranks table: 99,6%
    desc = _("Rank of each unit (1 = best) with its 95%% rank interval (%(how)s), and the probability "
             "of being in the top %(k)s. Wide intervals mean the order is uncertain.", k=top_k,
             how=how or _("bootstrap"))
    cols = (_("Unit"), _("Rank"), _("Rank interval (95%)"), _("P(top %(k)s)", k=top_k))
    data = tuple((r.label, num(r.rank, lang), f"{num(r.low, lang)}–{num(r.high, lang)}", pct(r.p_top, lang))
                 for r in rows)
    return Chart(chart_id, title, desc, svg_doc(chart_id, width, height, title, desc, body), cols, data, len(rows))


# --------------------------------------------------------------------------- trend
@dataclass(frozen=True)
class TrendPoint:
    label: str
    estimate: float | None
    low: float | None
    high: float | None
    n: int
    suppressed: bool = False
    note: str = ""  # why a hidden period is hidden, when not too few responses (secondary suppression)


def _finite(v: float | None) -> TypeGuard[float]:
    return v is not None and math.isfinite(v)


def _bounds(p: TrendPoint) -> tuple[float, float] | None:
    """A period's interval when both ends are finite numbers."""
    low, high = p.low, p.high
    return (low, high) if _finite(low) and _finite(high) else None


MAX_TREND_LABELS = 12  # period labels that fit under a 760-px trend chart without overlapping
#: the narrowest value axis of a trend (20 points): a tighter axis (83–88%) makes noise look like change
MIN_TREND_SPAN = 0.20


def _time_positions(points: Sequence[TrendPoint]) -> list[float]:
    """x positions in months since the first period when every label is a period (2021, 2022-Q3, 2022-07):
    2021, 2022, 2026 are then spaced by the years between them; else evenly spaced."""
    starts = [period_start(p.label) for p in points]
    if not points or any(d is None for d in starts):
        return [float(i) for i in range(len(points))]
    first = starts[0]
    return [float((d.year - first.year) * 12 + d.month - first.month) for d in starts]  # type: ignore[union-attr]


def _trend_range(vals: list[float]) -> tuple[float, float, float]:
    lo, hi = min(vals, default=0.0), max(vals, default=1.0)
    if hi - lo < MIN_TREND_SPAN:
        mid = (lo + hi) / 2
        lo, hi = mid - MIN_TREND_SPAN / 2, mid + MIN_TREND_SPAN / 2
        if lo < 0:
            lo, hi = 0.0, MIN_TREND_SPAN
        if hi > 1:
            lo, hi = 1.0 - MIN_TREND_SPAN, 1.0
    return _nice_range(lo, hi)


def trend_chart(chart_id: str, points: Sequence[TrendPoint], *, title: str, lang: str) -> Chart:
    """Estimate by period with its 95% CI as a band; suppressed periods leave a gap.  Periods sit on a time
    axis (a gap of years looks like one) and the value axis spans at least 20 points."""
    width, height = 760, 300
    pl, pr, pt, pb = 60, width - 20, 20, height - 40
    shown = [p for p in points if not p.suppressed and _finite(p.estimate)]
    vals = [v for p in shown for v in (p.low, p.high, p.estimate) if _finite(v)]
    y0, y1, ystep = _trend_range(vals)
    count = max(len(points), 1)
    pos = _time_positions(points)
    span = max(pos[-1] - pos[0], 1.0) if pos else 1.0
    step = span / max(count - 1, 1)  # half a typical gap of margin on each side

    def sx(i: int) -> float:
        return pl + (pos[i] - pos[0] + step / 2) / (span + step) * (pr - pl) if pos else (pl + pr) / 2

    def sy(v: float) -> float:
        return pb - (v - y0) / (y1 - y0) * (pb - pt)

    body: list[str] = []
    if shown:  # no axis of percentages over nothing
        for t in _ticks(y0, y1, ystep):
            body.append(f'<line x1="{pl}" y1="{px(sy(t))}" x2="{pr}" y2="{px(sy(t))}" stroke="{GRID}"/>')
            body.append(svg_text(pl - 6, sy(t) + 4, pct(t, lang, 0), anchor="end", size=11, fill=MUTED, cls="tick"))
    # 24 monthly labels do not fit side by side: label every k-th period (the data table lists them all)
    every = max(1, math.ceil(count / MAX_TREND_LABELS))
    last_x = -1e9
    for i, p in enumerate(points):
        if i % every == 0 and sx(i) - last_x >= 70:  # uneven time gaps: never two labels on top of each other
            body.append(svg_text(sx(i), pb + 16, period_name(p.label), anchor="middle", size=11, fill=MUTED,
                              cls="tick"))
            last_x = sx(i)
    # contiguous runs of periods with an interval get one band polygon and one line each
    runs: list[list[tuple[int, float]]] = []  # (period index, estimate)
    for i, p in enumerate(points):
        estimate = p.estimate
        if not p.suppressed and _finite(estimate):
            if runs and runs[-1][-1][0] == i - 1:
                runs[-1].append((i, estimate))
            else:
                runs.append([(i, estimate)])
    for run in runs:
        band = [(i, bounds) for i, _estimate in run if (bounds := _bounds(points[i])) is not None]
        if len(band) >= 2:
            upper = [f"{px(sx(i))},{px(sy(high))}" for i, (_low, high) in band]
            lower = [f"{px(sx(i))},{px(sy(low))}" for i, (low, _high) in reversed(band)]
            body.append(f'<polygon class="band" points="{" ".join(upper + lower)}" fill="{BAND}"/>')
        if len(run) >= 2:
            coords = " ".join(f"{px(sx(i))},{px(sy(estimate))}" for i, estimate in run)
            body.append(f'<polyline class="line" points="{coords}" fill="none" stroke="{ACCENT}" stroke-width="2"/>')
    for i, p in enumerate(points):
        name = period_name(p.label)
        estimate = p.estimate
        if not p.suppressed and _finite(estimate):  # one of `shown`
            if (bounds := _bounds(p)) is not None:
                body.append(f'<line class="ci" x1="{px(sx(i))}" y1="{px(sy(bounds[0]))}" x2="{px(sx(i))}" '
                            f'y2="{px(sy(bounds[1]))}" stroke="{ACCENT}"/>')
            body.append(f'<circle class="mark" cx="{px(sx(i))}" cy="{px(sy(estimate))}" r="4" fill="{ACCENT}">'
                        f"<title>{escape(name)}: {escape(pct(estimate, lang))}</title></circle>")
        else:
            # a small hollow mark on the axis, explained in words on hover and in the data table
            body.append(f'<circle class="suppressed" cx="{px(sx(i))}" cy="{px(pb - 4)}" r="3" fill="#ffffff" '
                        f'stroke="{MUTED}"><title>{escape(name)}: '
                        f'{escape(p.note or _("not enough responses (n = %(n)s)", n=num(p.n, lang)))}</title></circle>')
    desc = _("Estimate for each of %(count)s periods with its 95%% confidence interval as a shaded band; "
             "periods with too few responses are left blank.", count=len(points))
    cols = (_("Period"), _("Estimate"), _("95% CI"), "n")
    data = tuple((period_name(p.label), pct(p.estimate, lang) if p in shown else (
                      p.note or _("not enough responses (n = %(n)s)", n=num(p.n, lang))),
                  interval(p.low, p.high, lang) if p in shown else "—", num(p.n, lang)) for p in points)
    return Chart(chart_id, title, desc, svg_doc(chart_id, width, height, title, desc, body), cols, data, len(shown))


# --------------------------------------------------------------------------- distribution bars
@dataclass(frozen=True)
class Bar:
    label: str
    count: int


def bar_chart(chart_id: str, bars: Sequence[Bar], *, title: str, lang: str) -> Chart:
    """Horizontal bars of an answer distribution: share of answers per category, counts alongside."""
    total = sum(b.count for b in bars)
    width, left, right_text = 760, 230, 130
    plot_l, plot_r = left + 10, width - right_text - 10
    row_h, top = 26, 10
    height = top + row_h * len(bars) + 10
    body: list[str] = []
    for i, b in enumerate(bars):
        share = b.count / total if total else 0.0
        y = top + row_h * i
        body.append(svg_text(left, y + row_h / 2 + 4, short(b.label), anchor="end"))
        body.append(f'<rect class="mark" x="{plot_l}" y="{px(y + 4)}" width="{px(share * (plot_r - plot_l))}" '
                    f'height="{row_h - 8}" fill="{ACCENT}"><title>{escape(b.label)}: {escape(pct(share, lang))}'
                    f"</title></rect>")
        body.append(svg_text(plot_r + 10, y + row_h / 2 + 4, f"{pct(share, lang)} ({num(b.count, lang)})", size=11))
    desc = _("Share of the %(total)s answers in each category.", total=num(total, lang))
    cols = (_("Answer"), _("Share"), _("Answers"))
    data = tuple((b.label, pct(b.count / total if total else None, lang), num(b.count, lang)) for b in bars)
    return Chart(chart_id, title, desc, svg_doc(chart_id, width, height, title, desc, body), cols, data, len(bars))
