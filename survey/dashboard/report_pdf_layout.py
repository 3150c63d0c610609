"""The period report's HTML laid out as an A4 PDF with ReportLab (issue 12 §3: ≤ 2 s even when nothing is stored).

The PDF is made from the very HTML the report page prints (dashboard/report/pdf.html, or a published period's
frozen body), so the page and the PDF cannot disagree: one data source, and this module only knows the small
set of elements the report uses — headings, paragraphs, lists, `table` (caption, header row, body rows; cells
with class "num" right-aligned, headers too, so each header stands over its numbers), `figure.chart` (its SVG
drawn by survey/dashboard/pdf_svg.py, its caption and its data table) and `section.report-page` (a new page).
Anything else is walked for its text.  Table cells are plain strings wrapped here (no per-cell paragraph
parsing) and the charts' labels are set without shaping: WeasyPrint took 6–17 s for the same document.

The page furniture comes from the document's <meta> tags: `hailong-running-head` (issuer · period, top of
every page) and `hailong-page-word` ("Page n / N" at the bottom); <title> becomes the PDF title.  Text is in
DejaVu Sans (or Noto Sans), embedded and subset: every Vietnamese letter and the method note's θ₀, √, Σ.
"""

from __future__ import annotations

import hashlib
import io
import re
import shutil
import subprocess
import threading
import unicodedata
from dataclasses import dataclass, field
from functools import cache
from html import unescape
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

VOID = frozenset({"meta", "br", "hr", "img", "input", "link", "col", "wbr", "source"})
SKIP = frozenset({"head", "script", "style", "title", "desc", "template", "button", "form", "details"})
BLOCKS = frozenset({"p", "h1", "h2", "h3", "ul", "ol", "table", "figure", "section", "div", "main", "li"})
#: (regular, bold): DejaVu Sans first (fonts-dejavu-core, installed for the PDF), it also has √ ≤ ≥ → ✓
FONT_FILES = (
    ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
    ("/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf", "/usr/share/fonts/truetype/noto/NotoSans-Bold.ttf"),
)
FONT, BOLD = "HaiLongSans", "HaiLongSans-Bold"
INK, MUTED, LINE, SOFT, ACCENT = "#1a1a1a", "#555555", "#c8ccd2", "#f3f5f8", "#0b5cad"
TABLE_SIZE, TEXT_SIZE = 7.5, 9.0
_render_lock = threading.Lock()  # one render at a time per process: ReportLab keeps some module state


# --------------------------------------------------------------------------- HTML → a small tree
@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    children: list[Node | str] = field(default_factory=list)

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def text(self) -> str:
        """The visible text, whitespace collapsed (tooltips and hidden parts left out)."""
        return " ".join("".join(texts(self)).split())

    def text_of_children(self) -> str:
        return " ".join("".join(c for c in self.children if isinstance(c, str)).split())

    def find(self, tag: str) -> Node | None:
        for c in self.children:
            if isinstance(c, Node):
                if c.tag == tag:
                    return c
                found = c.find(tag)
                if found is not None:
                    return found
        return None


def texts(node: Node) -> list[str]:
    """The visible text pieces under `node`, in order (tooltips, <head> and hidden parts left out)."""
    out: list[str] = []
    for c in node.children:
        if isinstance(c, str):
            out.append(c)
        elif c.tag not in SKIP:
            out.extend(texts(c))
    return out


#: our templates' HTML: tags, comments, doctype and text (attribute values are quoted and escaped by Jinja)
TAG = r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[^\s=/>]+(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s>]+))?)*)\s*(/?)>"
TOKEN = re.compile(r"<!--.*?-->|<![^>]*>|" + TAG + r"|[^<]+|<", re.S)
ATTR = re.compile(r"([^\s=/>]+)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s>]+)))?")


@dataclass
class Document:
    root: Node
    meta: dict[str, str]
    title: str


def parse(html: str) -> Document:
    """The HTML as a tree of `Node`s (a small tokenizer: html.parser took a fifth of the whole layout time).
    Text is NFC-normalised (a decomposed "ệ" would print its marks apart in a font without shaping)."""
    root = Node("#root", {})
    stack = [root]
    meta: dict[str, str] = {}
    title = ""
    for m in TOKEN.finditer(html):
        tag = m.group(2)
        if tag is None:
            token = m.group(0)
            if token.startswith("<!"):
                continue
            text = unescape(token) if "&" in token else token
            stack[-1].children.append(unicodedata.normalize("NFC", text))
            continue
        tag = tag.lower()
        if m.group(1):  # an end tag: close it (and any child left open)
            for i in range(len(stack) - 1, 0, -1):
                if stack[i].tag == tag:
                    if tag == "title" and not title:
                        title = stack[i].text_of_children()
                    del stack[i:]
                    break
            continue
        attrs = {}
        for a in ATTR.finditer(m.group(3)):
            value = a.group(2) if a.group(2) is not None else a.group(3) if a.group(3) is not None else a.group(4) or ""
            attrs[a.group(1).lower()] = unescape(value) if "&" in value else value
        node = Node(tag, attrs)
        stack[-1].children.append(node)
        if tag == "meta" and "name" in attrs:
            meta[attrs["name"]] = attrs.get("content", "")
        if tag not in VOID and not m.group(4):
            stack.append(node)
    return Document(root, meta, title)


# --------------------------------------------------------------------------- fonts
@cache
def font_files() -> tuple[str, str]:
    """(regular, bold) TTF files with Vietnamese letters: Debian's DejaVu Sans or Noto Sans, else fontconfig's."""
    for regular, bold in FONT_FILES:
        if Path(regular).is_file() and Path(bold).is_file():
            return regular, bold
    if shutil.which("fc-match"):
        def match(pattern: str) -> str:
            return subprocess.run(["fc-match", "-f", "%{file}", pattern], capture_output=True, text=True,
                                  timeout=30).stdout.strip()

        regular, bold = match("DejaVu Sans:lang=vi"), match("DejaVu Sans:bold:lang=vi")
        if regular.endswith(".ttf") and bold.endswith(".ttf"):
            return regular, bold
    raise RuntimeError("no TrueType font with Vietnamese letters: apt install fonts-dejavu-core")


@cache
def _register_fonts() -> None:
    from reportlab.lib.fonts import addMapping
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    regular, bold = font_files()
    pdfmetrics.registerFont(TTFont(FONT, regular))
    pdfmetrics.registerFont(TTFont(BOLD, bold))
    addMapping(FONT, 0, 0, FONT)
    addMapping(FONT, 1, 0, BOLD)
    addMapping(FONT, 0, 1, FONT)
    addMapping(FONT, 1, 1, BOLD)


@cache
def version() -> str:
    """What besides the HTML decides the PDF's bytes (the PDF store's key): this code, ReportLab, the font."""
    import reportlab

    h = hashlib.sha256(reportlab.Version.encode())
    for path in (Path(__file__), Path(__file__).with_name("pdf_svg.py"), *map(Path, font_files())):
        h.update(path.read_bytes() if path.suffix == ".py" else f"{path}:{path.stat().st_size}".encode())
    return h.hexdigest()


# --------------------------------------------------------------------------- layout
@cache
def width_of(text: str, font: str) -> float:
    """Width of `text` in a table cell (points); the same figures and words recur in every table."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    return float(stringWidth(text, font, TABLE_SIZE))


def wrap(text: str, font: str, room: float) -> str:
    """`text` broken into lines of at most `room` points (a table cell's content)."""
    if not text or width_of(text, font) <= room:
        return text
    lines: list[str] = []
    line = ""
    for word in text.split():
        candidate = f"{line} {word}" if line else word
        if line and width_of(candidate, font) > room:
            lines.append(line)
            line = word
        else:
            line = candidate
    lines.append(line)
    return "\n".join(lines)


class _Styles:
    def __init__(self) -> None:
        from reportlab.lib.colors import HexColor
        from reportlab.lib.styles import ParagraphStyle

        base = ParagraphStyle("body", fontName=FONT, fontSize=TEXT_SIZE, leading=TEXT_SIZE * 1.35,
                              textColor=HexColor(INK), spaceAfter=4)
        self.body = base
        self.lead = ParagraphStyle("lead", base, fontSize=10.5, leading=14, textColor=HexColor(MUTED))
        self.muted = ParagraphStyle("muted", base, textColor=HexColor(MUTED), fontSize=8.5, leading=11)
        self.h1 = ParagraphStyle("h1", base, fontName=BOLD, fontSize=17, leading=21, spaceAfter=6)
        self.h2 = ParagraphStyle("h2", base, fontName=BOLD, fontSize=13, leading=16, spaceBefore=4, spaceAfter=6)
        self.caption = ParagraphStyle("caption", base, fontName=BOLD, fontSize=9, leading=12, spaceBefore=6,
                                      spaceAfter=3, keepWithNext=1)  # a table's caption stays with its table
        self.bullet = ParagraphStyle("bullet", base, leftIndent=12, bulletIndent=2, bulletFontName=FONT)


def _inline(node: Node | str) -> str:
    """Paragraph markup of a block's content: text escaped, <strong>/<b> bold, muted <span> in a caption."""
    if isinstance(node, str):
        return escape(node)
    if node.tag in SKIP:
        return ""
    inner = "".join(_inline(c) for c in node.children)
    if node.tag in ("strong", "b", "th"):
        return f"<b>{inner}</b>"
    if node.tag in ("em", "i"):
        return f"<i>{inner}</i>"
    if node.tag == "br":
        return "<br/>"
    return inner


def _collapse(markup: str) -> str:
    return " ".join(markup.split())


class _Builder:
    def __init__(self, width: float, height: float) -> None:
        self.width, self.height = width, height
        self.st = _Styles()
        self.story: list[Any] = []

    # -- blocks
    def block(self, node: Node) -> None:
        tag, cls = node.tag, node.classes
        if tag in SKIP:
            return
        if tag == "section" and "report-page" in cls and self.story:
            from reportlab.platypus import PageBreak

            self.story.append(PageBreak())
        if tag == "figure" and "chart" in cls:
            self.figure(node)
        elif tag == "table":
            self.story.extend(self.table(node))
        elif tag in ("h1", "h2", "h3"):
            self.para(node, self.st.h1 if tag == "h1" else self.st.h2)
        elif tag == "p":
            self.para(node, self.st.lead if "lead" in cls else self.st.muted if "chart-note" in cls else self.st.body)
        elif tag in ("ul", "ol"):
            for li in node.children:
                if isinstance(li, Node) and li.tag == "li":
                    self.para(li, self.st.bullet, bullet="•")
        else:
            self.children(node)

    def children(self, node: Node) -> None:
        """Walk a container: block children in order; loose inline text gathered into paragraphs."""
        loose: list[Node | str] = []
        for c in node.children:
            if isinstance(c, Node) and (c.tag in BLOCKS or c.tag == "svg"):
                self.loose(loose)
                loose = []
                self.block(c)
            else:
                loose.append(c)
        self.loose(loose)

    def loose(self, parts: list[Node | str]) -> None:
        markup = _collapse("".join(_inline(p) for p in parts))
        if markup:
            from reportlab.platypus import Paragraph

            self.story.append(Paragraph(markup, self.st.body))

    def para(self, node: Node, style: Any, bullet: str | None = None) -> None:
        from reportlab.platypus import Paragraph

        markup = _collapse(_inline(node))
        if markup:
            self.story.append(Paragraph(markup, style, bulletText=bullet))

    def figure(self, node: Node) -> None:
        from reportlab.platypus import KeepTogether, Paragraph

        from survey.dashboard.pdf_svg import SvgChart

        head: list[Any] = []
        tables: list[Any] = []
        for c in node.children:
            if isinstance(c, str):
                continue
            if c.tag == "svg":
                head.append(SvgChart(c, self.width, self.height * 0.8, FONT, BOLD))
            elif c.tag == "figcaption":
                markup = _collapse(_inline(c))
                if markup:
                    head.append(Paragraph(markup, self.st.body))
            elif c.tag == "p":
                head.append(Paragraph(_collapse(_inline(c)), self.st.muted))
            elif c.tag == "table":
                tables.extend(self.table(c))
        self.story.append(KeepTogether(head))
        self.story.extend(tables)

    # -- tables: plain-string cells wrapped here (a Paragraph per cell costs ~10× more)
    def table(self, node: Node) -> list[Any]:
        from reportlab.lib.colors import HexColor
        from reportlab.platypus import Paragraph, Spacer, Table, TableStyle

        caption = node.find("caption")
        header: list[tuple[str, bool]] = []
        rows: list[list[tuple[str, bool]]] = []
        for section in node.children:
            if not isinstance(section, Node) or section.tag not in ("thead", "tbody", "tr", "tfoot"):
                continue
            for tr in ([section] if section.tag == "tr" else section.children):
                if not isinstance(tr, Node) or tr.tag != "tr":
                    continue
                cells = [(c.text(), "num" in c.classes) for c in tr.children if isinstance(c, Node)
                         and c.tag in ("th", "td")]
                if section.tag == "thead" and not header:
                    header = cells
                else:
                    rows.append(cells)
        ncol = max([len(header), *(len(r) for r in rows)], default=0)
        if ncol == 0:
            return []
        num = [bool(header[i][1]) if i < len(header) else False for i in range(ncol)]
        for r in rows:
            for i, (_text, is_num) in enumerate(r):
                num[i] = num[i] or is_num
        widths = self._widths(header, rows, ncol)
        pad = 3.0

        rooms = [w - 2 * pad for w in widths]
        data = []
        if header:
            data.append([wrap(header[i][0] if i < len(header) else "", BOLD, rooms[i]) for i in range(ncol)])
        for r in rows:
            if len(r) == 1 and ncol > 1:  # "No data for this selection." spans the table
                data.append([r[0][0]] + [""] * (ncol - 1))
            else:
                data.append([wrap(r[i][0] if i < len(r) else "", BOLD if i == 0 else FONT, rooms[i])
                             for i in range(ncol)])
        style: list[Any] = [
            ("FONT", (0, 0), (-1, -1), FONT, TABLE_SIZE, TABLE_SIZE * 1.25),
            ("FONT", (0, 0), (0, -1), BOLD, TABLE_SIZE, TABLE_SIZE * 1.25),
            ("TEXTCOLOR", (0, 0), (-1, -1), HexColor(INK)),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("LEFTPADDING", (0, 0), (-1, -1), pad), ("RIGHTPADDING", (0, 0), (-1, -1), pad),
            ("TOPPADDING", (0, 0), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
            ("LINEBELOW", (0, 0), (-1, -1), 0.5, HexColor(LINE)),
        ]
        for i in range(ncol):
            if num[i]:
                style.append(("ALIGN", (i, 0), (i, -1), "RIGHT"))
        if header:
            style += [("FONT", (0, 0), (-1, 0), BOLD, TABLE_SIZE, TABLE_SIZE * 1.25),
                      ("BACKGROUND", (0, 0), (-1, 0), HexColor(SOFT)), ("VALIGN", (0, 0), (-1, 0), "BOTTOM")]
        for j, r in enumerate(rows, start=1 if header else 0):
            if len(r) == 1 and ncol > 1:
                style.append(("SPAN", (0, j), (-1, j)))
        out: list[Any] = []
        if caption is not None and caption.text():
            out.append(Paragraph(escape(caption.text()), self.st.caption))
        out.append(Table(data, colWidths=widths, style=TableStyle(style), repeatRows=1 if header else 0,
                         hAlign="LEFT", splitByRow=1))
        out.append(Spacer(1, 6))
        return out

    def _widths(self, header: list[tuple[str, bool]], rows: list[list[tuple[str, bool]]], ncol: int) -> list[float]:
        """First column (names) gets what the others leave, at least a quarter; the others their widest
        value, or their header's longest word, whichever is wider (so a header wraps over its column)."""
        pad = 6.0
        need = [0.0] * ncol
        for i, (text, _n) in enumerate(header):
            if i:
                need[i] = max([need[i], *(width_of(w, BOLD) for w in text.split())])
        for r in rows:
            if len(r) == 1 and ncol > 1:
                continue
            for i, (text, _n) in enumerate(r[1:], start=1):
                need[i] = max(need[i], width_of(text, FONT))
        rest = [min(n + pad, self.width * 0.3) for n in need[1:]]
        first_full = max([width_of(r[0][0], BOLD) + pad for r in rows if r], default=0.0)
        first = max(self.width - sum(rest), self.width * 0.25) if ncol > 1 else self.width
        if ncol > 1 and sum(rest) + first > self.width:
            scale = (self.width - first) / sum(rest)
            rest = [w * scale for w in rest]
        if ncol > 1 and first > first_full and first_full > 0:  # short names: give the numbers the room
            spare = first - max(first_full, self.width * 0.25)
            first -= spare
            rest = [w + spare / len(rest) for w in rest]
        return [first, *rest]


def _numbered_canvas(head: str, page_word: str) -> Any:
    """A canvas that writes the running head and "Page n / N" once the number of pages is known."""
    from reportlab.lib.colors import HexColor
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen.canvas import Canvas

    class Numbered(Canvas):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._pages: list[dict[str, Any]] = []

        def showPage(self) -> None:
            self._pages.append(dict(self.__dict__))
            self._startPage()  # type: ignore[attr-defined]  # ReportLab's own page reset (not in the stubs)

        def save(self) -> None:
            total = len(self._pages)
            for i, state in enumerate(self._pages, start=1):
                self.__dict__.update(state)
                self.setFont(FONT, 8)
                self.setFillColor(HexColor(MUTED))
                w, h = A4
                if head:
                    self.drawString(12 * MM, h - 11 * MM, head)
                if page_word:
                    self.drawRightString(w - 12 * MM, 9 * MM, f"{page_word} {i} / {total}")
                super().showPage()
            super().save()

    return Numbered


MM = 72 / 25.4


def render(html: str) -> bytes:
    """The PDF of a report HTML document (see the module docstring for what it reads)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.platypus import SimpleDocTemplate

    _register_fonts()
    doc = parse(html)
    body = doc.root.find("body") or doc.root
    with _render_lock:
        out = io.BytesIO()
        template = SimpleDocTemplate(out, pagesize=A4, leftMargin=12 * MM, rightMargin=12 * MM, topMargin=16 * MM,
                                     bottomMargin=15 * MM, title=doc.title, author=doc.meta.get("author", ""),
                                     creator="HaiLong", invariant=1)
        builder = _Builder(template.width, template.height)
        builder.children(body)
        if not builder.story:
            from reportlab.platypus import Spacer

            builder.story.append(Spacer(1, 1))
        template.build(builder.story, canvasmaker=_numbered_canvas(doc.meta.get("hailong-running-head", ""),
                                                                   doc.meta.get("hailong-page-word", "")))
        return out.getvalue()
