"""A report chart's SVG (survey/dashboard/charts.py) drawn as PDF vector graphics, for the period report PDF.

charts.py writes a small, fixed subset of SVG: `line`, `rect`, `circle`, `polyline`, `polygon` and `text`
with presentation attributes (no CSS, no transforms, no paths).  Drawing exactly that subset straight onto
the ReportLab canvas keeps one source for the chart (the SVG the page shows) while its labels are set with
the PDF's embedded font without text shaping (pango shaping the ~540 chart labels of a report was two thirds
of WeasyPrint's drawing time; ReportLab's own shape objects cost three times this).  `<title>` and `<desc>`
are the page's tooltips and accessible names: not drawn, as WeasyPrint did not draw them.
"""

from __future__ import annotations

from typing import Any

from reportlab.lib.colors import Color, HexColor
from reportlab.platypus import Flowable

_colours: dict[str, Color | None] = {}


def colour(value: str | None) -> Color | None:
    """'#0b5cad' → a ReportLab colour; 'none', missing or unknown → None (nothing painted)."""
    if not value or value == "none" or not value.startswith("#"):
        return None
    if value not in _colours:
        _colours[value] = HexColor(value)
    return _colours[value]


def _f(attrs: dict[str, str], name: str, default: float = 0.0) -> float:
    try:
        return float(attrs.get(name, default))
    except ValueError:
        return default


def _points(text: str) -> list[float]:
    return [float(v) for v in text.replace(",", " ").split()]


class SvgChart(Flowable):
    """The chart `svg` (a parsed <svg> element: `.tag`, `.attrs`, `.children`, text as str children) scaled
    to `width` points, or less where it would be taller than `height` (a forest plot of 60 agencies); its
    text in the registered fonts `font` / `bold`."""

    def __init__(self, svg: Any, width: float, height: float, font: str, bold: str) -> None:
        super().__init__()
        view = _points(svg.attrs.get("viewbox", ""))
        self.w = view[2] if len(view) == 4 else _f(svg.attrs, "width", 760)
        self.h = view[3] if len(view) == 4 else _f(svg.attrs, "height", 300)
        self.s = min(width / self.w, height / self.h)
        self.width, self.height = self.w * self.s, self.h * self.s
        self.nodes = [n for n in svg.children if not isinstance(n, str)]
        self.font, self.bold = font, bold

    def wrap(self, _available_width: float, _available_height: float) -> tuple[float, float]:
        return self.width, self.height

    def draw(self) -> None:
        c, s, h = self.canv, self.s, self.h
        for node in self.nodes:
            a, tag = node.attrs, node.tag
            if tag == "text":
                text = "".join(t for t in node.children if isinstance(t, str))
                fill = colour(a.get("fill", "#000000"))
                if not text or fill is None:
                    continue
                c.setFillColor(fill)
                c.setFont(self.bold if a.get("font-weight") == "bold" else self.font, _f(a, "font-size", 12) * s)
                x, y = _f(a, "x") * s, (h - _f(a, "y")) * s
                anchor = a.get("text-anchor", "start")
                if anchor == "middle":
                    c.drawCentredString(x, y, text)
                elif anchor == "end":
                    c.drawRightString(x, y, text)
                else:
                    c.drawString(x, y, text)
                continue
            stroke, fill = colour(a.get("stroke")), colour(a.get("fill", "none" if tag in ("line", "polyline")
                                                                     else "#000000"))
            if stroke is None and fill is None:
                continue
            if stroke is not None:
                c.setStrokeColor(stroke)
                c.setLineWidth(_f(a, "stroke-width", 1.0) * s)
                dash = a.get("stroke-dasharray")
                c.setDash([v * s for v in _points(dash)] if dash else [])
            if fill is not None:
                c.setFillColor(fill)
            paint = {"stroke": int(stroke is not None), "fill": int(fill is not None)}
            if tag == "line":
                c.line(_f(a, "x1") * s, (h - _f(a, "y1")) * s, _f(a, "x2") * s, (h - _f(a, "y2")) * s)
            elif tag == "rect":
                rh = _f(a, "height")
                c.rect(_f(a, "x") * s, (h - _f(a, "y") - rh) * s, _f(a, "width") * s, rh * s, **paint)
            elif tag == "circle":
                c.circle(_f(a, "cx") * s, (h - _f(a, "cy")) * s, _f(a, "r") * s, **paint)
            elif tag in ("polyline", "polygon"):
                pts = _points(a.get("points", ""))
                if len(pts) < 4:
                    continue
                path = c.beginPath()
                path.moveTo(pts[0] * s, (h - pts[1]) * s)
                for i in range(2, len(pts) - 1, 2):
                    path.lineTo(pts[i] * s, (h - pts[i + 1]) * s)
                if tag == "polygon":
                    path.close()
                c.drawPath(path, **paint)
