"""QR codes as small SVG: the service-point poster and the printable sheets of receipt tokens.

Everything is drawn as plain SVG (one path per QR code, text in the page's own font) so a sheet prints the
same from any browser, needs no PDF toolchain, and stays a few kilobytes per page.  Card texts are in both
languages on purpose: the receipt is handed over before anyone knows which language the citizen prefers.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape
from pathlib import Path

import segno

from survey.i18n import local_datetime
from survey.spreadsheets import csv_writer

QUIET = 4  # modules of white border a scanner needs around a QR code


def qr_path(data: str) -> tuple[str, int]:
    """SVG path data of the dark modules (unit = one module, quiet zone included) and the side in modules."""
    qr = segno.make(data, error="m", micro=False)
    parts = []
    for y, row in enumerate(qr.matrix):
        x = 0
        while x < len(row):
            if row[x]:
                start = x
                while x < len(row) and row[x]:
                    x += 1
                parts.append(f"M{start + QUIET},{y + QUIET}h{x - start}v1h{start - x}z")
            else:
                x += 1
    return "".join(parts), len(qr.matrix) + 2 * QUIET


def qr_group(data: str, x: float, y: float, size: float) -> str:
    """A QR code drawn at (x, y) with side `size` in the user units of the enclosing SVG (white backed)."""
    path, side = qr_path(data)
    scale = size / side
    return (f'<g transform="translate({x:.3f} {y:.3f}) scale({scale:.5f})">'
            f'<rect width="{side}" height="{side}" fill="#fff"/><path d="{path}" fill="#000"/></g>')


def qr_svg(data: str, *, title: str = "QR") -> str:
    """A standalone square SVG of one QR code (for download or embedding)."""
    path, side = qr_path(data)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {side} {side}" role="img" '
            f'shape-rendering="crispEdges"><title>{escape(title)}</title>'
            f'<rect width="{side}" height="{side}" fill="#fff"/><path d="{path}" fill="#000"/></svg>')


def _text_lines(x: float, y: float, lines: Sequence[str], size: float, *, weight: str = "normal",
                anchor: str = "middle", gap: float = 1.25) -> str:
    out = []
    for i, line in enumerate(lines):
        out.append(f'<text x="{x:.2f}" y="{y + i * size * gap:.2f}" font-size="{size}" font-weight="{weight}" '
                   f'text-anchor="{anchor}">{escape(line)}</text>')
    return "".join(out)


# The Khmer lines of a poster printed from the Khmer page (issue 15; to be reviewed by a native speaker).
KHMER_POSTER = ("សូមវាយតម្លៃសេវាសាធារណៈរបស់យើង", "ស្កេនកូដដោយទូរស័ព្ទ — អនាមិក")


def poster_svg(url: str, service_point_name: str, *, khmer: bool = False) -> str:
    """An A4 poster: bilingual call to action (trilingual with `khmer`, for offices serving Khmer citizens),
    the service point's name, a large QR code and the link."""
    name_lines = textwrap.wrap(service_point_name, 34)[:3]
    body = [
        '<rect width="210" height="297" fill="#fff"/>',
        _text_lines(105, 30, ["Đánh giá sự hài lòng"], 12, weight="bold"),
        _text_lines(105, 42, ["Rate our public service"], 8),
        _text_lines(105, 63 if khmer else 58, name_lines, 7, weight="bold"),
        qr_group(url, 40, 82, 130),
        _text_lines(105, 228, ["Quét mã bằng điện thoại — ẩn danh"], 5.5),
        _text_lines(105, 237, ["Scan with your phone — anonymous"], 5),
        _text_lines(105, 256 if khmer else 252, [url], 4.2),
    ]
    if khmer:
        body += [_text_lines(105, 52.5, KHMER_POSTER[:1], 7), _text_lines(105, 246, KHMER_POSTER[1:], 5)]
    return _page(body, khmer)


def _page(body: Sequence[str], khmer: bool = False) -> str:
    fonts = '"HaiLong Khmer", Noto Sans, DejaVu Sans, Arial, sans-serif' if khmer else \
        "Noto Sans, DejaVu Sans, Arial, sans-serif"  # HaiLong Khmer: km.css, linked by the Khmer page
    return ('<svg xmlns="http://www.w3.org/2000/svg" width="210mm" height="297mm" viewBox="0 0 210 297" '
            f"font-family='{fonts}' fill=\"#000\">" + "".join(body) + "</svg>")


# ---------------------------------------------------------------- receipt token sheets

COLS, ROWS = 3, 4
CARD_W, CARD_H = 70.0, 297.0 / ROWS
PER_PAGE = COLS * ROWS


def short_link_lines(url: str) -> tuple[str, str]:
    """The link printed under a card's QR code, in two lines that fit a 70 mm card: the address up to the
    last "/", then the token (typed by a citizen whose phone cannot scan)."""
    head, _sep, token = url.rpartition("/")
    return head + "/", token


def _card(x: float, y: float, url: str, name_lines: Sequence[str], valid_until: str) -> str:
    cx = x + CARD_W / 2
    head, token = short_link_lines(url)
    return "".join([
        _text_lines(cx, y + 6, ["Đánh giá sự hài lòng / Rate our service"], 2.9, weight="bold"),
        _text_lines(cx, y + 10.5, name_lines, 2.8),
        qr_group(url, cx - 18, y + 16, 36),
        _text_lines(cx, y + 55.3, [head], 2.3),
        f'<text x="{cx:.2f}" y="{y + 58.6:.2f}" font-size="2.5" font-weight="bold" text-anchor="middle" '
        f'font-family="DejaVu Sans Mono, Consolas, monospace" class="card-link">{escape(token)}</text>',
        _text_lines(cx, y + 63, ["Quét mã QR — dùng một lần, ẩn danh", "Scan the QR code — single use, anonymous"],
                    2.5),
        _text_lines(cx, y + 70.5, [f"Hạn dùng / Valid until: {valid_until}"], 2.5, weight="bold"),
    ])


def _cut_lines() -> str:
    """Dashed lines between cards (and round the edge) to cut along."""
    lines = []
    for c in range(COLS + 1):
        lines.append(f'<line x1="{c * CARD_W}" y1="0" x2="{c * CARD_W}" y2="297"/>')
    for r in range(ROWS + 1):
        lines.append(f'<line x1="0" y1="{r * CARD_H:.2f}" x2="210" y2="{r * CARD_H:.2f}"/>')
    return '<g stroke="#777" stroke-width="0.2" stroke-dasharray="2 1.5">' + "".join(lines) + "</g>"


def sheet_pages(urls: Sequence[str], service_point_name: str, expires_at: datetime) -> list[str]:
    """A4 pages of 3 × 4 cut-out cards, each with a QR code, the service point's name and the expiry date."""
    name_lines = textwrap.wrap(service_point_name, 40)[:2]
    valid_until = local_datetime(expires_at, with_time=False)
    pages = []
    for start in range(0, len(urls), PER_PAGE):
        body = ['<rect width="210" height="297" fill="#fff"/>', _cut_lines()]
        for i, url in enumerate(urls[start:start + PER_PAGE]):
            row, col = divmod(i, COLS)
            body.append(_card(col * CARD_W, row * CARD_H, url, name_lines, valid_until))
        pages.append(_page(body))
    return pages


def sheet_html(pages: Sequence[str], title: str) -> str:
    """All pages in one file to print from a browser (A4, no margins, one sheet per page)."""
    style = ("@page{size:A4;margin:0}body{margin:0}svg{display:block;width:210mm;height:297mm;"
             "page-break-after:always;break-after:page}")
    return ("<!doctype html><html lang=\"vi\"><head><meta charset=\"utf-8\"><title>" + escape(title) +
            "</title><style>" + style + "</style></head><body>" + "".join(pages) + "</body></html>")


@dataclass(frozen=True)
class BatchFiles:
    csv: Path
    html: Path
    svgs: list[Path]


def write_batch_files(out_dir: Path, *, batch_id: int, service_point_code: str, service_point_name: str,
                      urls: Sequence[str], tokens: Sequence[str], expires_at: datetime) -> BatchFiles:
    """The CSV of links and the printable sheets (one SVG per page and one HTML with all pages)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"invitations-{service_point_code}-batch{batch_id}"
    csv_path = out_dir / f"{stem}.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv_writer(fh)
        writer.writerow(["batch", "service_point", "link", "token", "expires_at"])
        for url, token in zip(urls, tokens, strict=True):
            writer.writerow([batch_id, service_point_code, url, token, expires_at.isoformat()])
    pages = sheet_pages(urls, service_point_name, expires_at)
    svgs = []
    for n, page in enumerate(pages, start=1):
        path = out_dir / f"{stem}-page{n:03d}.svg"
        path.write_text('<?xml version="1.0" encoding="UTF-8"?>\n' + page, encoding="utf-8")
        svgs.append(path)
    html_path = out_dir / f"{stem}.html"
    html_path.write_text(sheet_html(pages, f"{service_point_name} — {stem}"), encoding="utf-8")
    return BatchFiles(csv_path, html_path, svgs)
