"""The period report as PDF: WeasyPrint, and the built files kept on disk by their content.

WeasyPrint lays out a 40–80 page report in several seconds on a 2-core server (pango shapes every table
cell and chart label; benchmarks/README.md "Period report PDF").  The PDF is a pure function of the HTML, the
stylesheets and the WeasyPrint version, so it is stored under the SHA-256 of those in
`<HAILONG_INSTANCE>/report-pdf/`: a second request for the same figures (any user, any worker process) is a
file read, and new responses that do not change the report's figures keep it valid.  Opening the report page
starts building its PDF in the background, so "Download PDF" after reading the page is usually instant;
publishing or revising a period does the same for the published report in Vietnamese and English.
HAILONG_RESULTS_CACHE=0 turns the store off (every request renders).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path

from flask import Flask, current_app

from survey.config import INSTANCE_DIR

log = logging.getLogger(__name__)

STATIC_CSS = Path(__file__).resolve().parent.parent / "static" / "css"
# app.css for the shared table look, dashboard.css for charts and the print rules, report-pdf.css for the
# PDF-only layout (fixed table layout: WeasyPrint then skips measuring every cell's preferred width)
CSS_FILES = ("app.css", "dashboard.css", "report-pdf.css")
KEEP = 64  # newest PDFs kept; a report is 0.2–0.5 MB
_building: dict[str, threading.Event] = {}
_lock = threading.Lock()


def stylesheets(extra: str = "") -> list[str]:
    """The CSS texts a report PDF is rendered with (files above, then `extra`, e.g. the running heads)."""
    return [(STATIC_CSS / name).read_text(encoding="utf-8") for name in CSS_FILES] + ([extra] if extra else [])


def _key(html: str, css: Sequence[str]) -> str:
    import weasyprint

    h = hashlib.sha256(weasyprint.__version__.encode())
    for part in (*css, html):
        h.update(len(part).to_bytes(8, "big"))
        h.update(part.encode("utf-8"))
    return h.hexdigest()


def _folder(app: Flask) -> Path | None:
    """Where PDFs are kept; none when the store is off, and none in tests unless a test names a folder
    (REPORT_PDF_DIR), so tests neither share nor litter the instance folder."""
    if not app.config.get("HAILONG_RESULTS_CACHE", True):
        return None
    if app.config.get("REPORT_PDF_DIR"):
        return Path(app.config["REPORT_PDF_DIR"])
    return None if app.testing else Path(app.config.get("HAILONG_INSTANCE") or INSTANCE_DIR) / "report-pdf"


def _render(html: str, css: Sequence[str], base_url: str) -> bytes:
    from weasyprint import CSS, HTML

    return bytes(HTML(string=html, base_url=base_url).write_pdf(stylesheets=[CSS(string=c) for c in css]))


def pdf_bytes(html: str, css: Sequence[str], base_url: str, app: Flask | None = None) -> bytes:
    """The PDF of `html` with the CSS texts `css`: from the store, or rendered (and stored).  A render of the
    same document already running in this process is waited for rather than repeated."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    folder = _folder(app)
    if folder is None:
        return _render(html, css, base_url)
    key = _key(html, css)
    path = folder / f"{key}.pdf"
    while True:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            pass
        else:
            with contextlib.suppress(OSError):  # a read-only folder still serves what it holds
                os.utime(path)  # recently used: kept by the pruning in _store
            return data
        with _lock:
            running = _building.get(key)
            if running is None:
                _building[key] = threading.Event()
                break
        running.wait(300)  # then read what the other thread stored (or render, if it failed)
    try:
        if path.exists():  # stored by a thread that finished between our read and our lock
            return path.read_bytes()
        data = _render(html, css, base_url)
        _store(folder, path, data)
        return data
    finally:
        with _lock:
            _building.pop(key).set()


def _store(folder: Path, path: Path, data: bytes) -> None:
    """Write atomically (readers in other processes never see half a file), then keep the newest KEEP."""
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = folder / f".{path.stem}.{os.getpid()}.{threading.get_ident()}"
        tmp.write_bytes(data)
        os.replace(tmp, path)
        files = sorted(folder.glob("*.pdf"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in files[KEEP:]:
            old.unlink(missing_ok=True)
    except OSError:  # a read-only or full disk makes the next request slower, never wrong
        log.exception("could not store the report PDF in %s", folder)


def prerenders() -> bool:
    """Whether opening the report page (or publishing a period) pre-renders its PDF: not in tests, nor
    with HAILONG_PREWARM=0 or the store off (there would be nowhere to keep it)."""
    return not current_app.testing and bool(current_app.config.get("HAILONG_PREWARM", True)) \
        and _folder(current_app) is not None


def prerender(html: str, css: Sequence[str], base_url: str) -> threading.Thread:
    """Build the PDF in a background thread (the report page was opened: its PDF is likely next)."""
    return prerender_all([(html, css)], base_url)


def prerender_all(documents: Sequence[tuple[str, Sequence[str]]], base_url: str) -> threading.Thread:
    """Build each (HTML, CSS texts) PDF in turn in one background thread: a just-published period's report
    in both languages is downloaded next, and one thread at a time leaves the other core to the readers."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]

    def run() -> None:
        for html, css in documents:
            try:
                pdf_bytes(html, css, base_url, app)
            except Exception:  # the download then renders it itself
                log.exception("report PDF pre-render failed")

    thread = threading.Thread(target=run, name="hailong-report-pdf", daemon=True)
    thread.start()
    return thread
