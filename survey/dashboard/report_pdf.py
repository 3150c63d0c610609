"""The period report as PDF: laid out by survey/dashboard/report_pdf_layout.py, kept on disk by content.

The layout takes under a second for a 40–80 page report (WeasyPrint took 6–17 s: benchmarks/README.md
"Period report PDF"), and a stored file is still cheaper.  The PDF is a pure function of the HTML and the
layout code's version, so it is stored under the SHA-256 of those in
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

KEEP = 64  # newest PDFs kept; a report is 0.2–0.5 MB
_building: dict[str, threading.Event] = {}
_lock = threading.Lock()


def _key(html: str) -> str:
    from survey.dashboard.report_pdf_layout import version

    h = hashlib.sha256(version().encode())
    h.update(html.encode("utf-8"))
    return h.hexdigest()


def _folder(app: Flask) -> Path | None:
    """Where PDFs are kept; none when the store is off, and none in tests unless a test names a folder
    (REPORT_PDF_DIR), so tests neither share nor litter the instance folder."""
    if not app.config.get("HAILONG_RESULTS_CACHE", True):
        return None
    if app.config.get("REPORT_PDF_DIR"):
        return Path(app.config["REPORT_PDF_DIR"])
    return None if app.testing else Path(app.config.get("HAILONG_INSTANCE") or INSTANCE_DIR) / "report-pdf"


def _render(html: str) -> bytes:
    from survey.dashboard.report_pdf_layout import render

    return render(html)


def pdf_bytes(html: str, app: Flask | None = None, *, key: str | None = None) -> bytes:
    """The PDF of the report document `html`: from the store, or rendered (and stored).  A render of the
    same document already running in this process is waited for rather than repeated.  `key`: the text the
    store keys the document by when it differs from `html` only in what may be served from an earlier render
    (the moment a published report's late count was taken, survey/dashboard/publish_views.py)."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    folder = _folder(app)
    if folder is None:
        return _render(html)
    key = _key(html if key is None else key)
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
        data = _render(html)
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


def prerender(html: str) -> threading.Thread:
    """Build the PDF in a background thread (the report page was opened: its PDF is likely next)."""
    return prerender_all([html])


def prerender_all(documents: Sequence[str], keys: Sequence[str | None] | None = None) -> threading.Thread:
    """Build each document's PDF in turn in one background thread: a just-published period's report
    in both languages is downloaded next, and one thread at a time leaves the other core to the readers.
    `keys`: each document's store key text (`pdf_bytes`), default the document."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    keys = list(keys) if keys is not None else [None] * len(documents)

    def run() -> None:
        for html, key in zip(documents, keys, strict=True):
            try:
                pdf_bytes(html, app, key=key)
            except Exception:  # the download then renders it itself
                log.exception("report PDF pre-render failed")

    thread = threading.Thread(target=run, name="hailong-report-pdf", daemon=True)
    thread.start()
    return thread
