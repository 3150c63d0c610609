"""Comment topics classified once per lexicon and kept on local disk, for every worker and across restarts.

Why (issue 14 §4, benchmarks/README.md "First page after a restart"): classifying a comment costs ≈ 2–3 ms of
CPU, and the agency page counts the topics of every comment of its period — ≈ 500 comments for a district
agency at 1 M responses, more than half of a restarted worker's first page.  Each process kept its
classifications in memory only (survey/results/topics.py, by text), so every restart and every new worker
classified the same comments again.  Here each classification a process makes is also written, and a new
process reads them back: a hash of the comment text → a bit mask over the lexicon's topic codes.  No comment
text is written (the texts are in the database already; a 128-bit hash of each is).

When a stored result is used: only under the same *classifier*: the files are kept per fingerprint of
everything `analysis.topics.classify` depends on — the lexicon file's and every learned-weights file's bytes
(the files `survey/results/topics.py:_stamp` watches), the source of `analysis/topics*.py` and the Python
version (its Unicode tables).  An edited lexicon or new code is another fingerprint: nothing stored before
is used, and the page counts as it did.  So the counts are exactly those of classifying again
(tests/results/test_topic_store.py compares both on both databases).

Where: the folder of the month files (HAILONG_MONTH_CELLS_DIR, survey/results/month_files.py: decoded
caches on local disk), `topics-<fingerprint>/`; off with it (and under TESTING unless set).  Each write is
a new small NumPy file (no pickle) made atomically; a process reads the files it has not read yet when a
page asks (one directory listing), and folds many files into one now and then.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from threading import Lock
from typing import Any

import numpy as np

from survey.results import month_files

FORMAT = 2
MERGE_ABOVE = 32  # files in a lexicon's folder before one reader folds them into one
_CODE = Path(__file__).resolve().parents[2] / "analysis"

_lock = Lock()
_prints: dict[int, tuple[Any, str]] = {}  # id(lexicon) → (the lexicon, kept alive; its fingerprint)
_known: dict[str, dict[bytes, int]] = {}  # fingerprint → text hash → topic mask
_read: dict[str, set[str]] = {}  # fingerprint → files read by this process
_pending: dict[str, dict[bytes, int]] = {}  # fingerprint → classified here, not written yet


def fingerprint(lexicon_file: Path, watched: list[Path]) -> str:
    """What classify() depends on: the lexicon, its weights files, the classifier's source, Python."""
    h = hashlib.sha256(f"{FORMAT}|{sys.version}".encode())
    for f in [lexicon_file, *watched, *sorted(_CODE.glob("topics*.py"))]:
        h.update(str(f.name).encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:32]


def register(lex: Any, lexicon_file: Path, watched: list[Path]) -> None:
    """Remember the fingerprint of a lexicon just loaded (survey/results/topics.py:_load); never raises."""
    try:
        fp = fingerprint(lexicon_file, watched)
    except OSError:
        return
    with _lock:
        _prints[id(lex)] = (lex, fp)


def _folder(fp: str) -> Path | None:
    base = month_files.directory()
    return None if base is None else base / f"topics-{fp}"


def _key(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


def _refresh(fp: str, folder: Path) -> dict[bytes, int]:
    """The stored classifications of `fp`, with any file not read yet by this process added."""
    known = _known.setdefault(fp, {})
    seen = _read.setdefault(fp, set())
    try:
        names = sorted(n for n in os.listdir(folder) if n.endswith(".npz") and ".tmp." not in n and n not in seen)
    except OSError:
        return known
    for name in names:
        try:
            with open(folder / name, "rb") as fh, np.load(fh, allow_pickle=False) as data:  # fh: closed if cut
                flat = data["h"].astype(np.uint8, copy=False).tobytes()  # n × 16 bytes (an S16 array drops NULs)
                keys = [flat[i: i + 16] for i in range(0, len(flat), 16)]
                known.update(zip(keys, data["m"].tolist(), strict=True))
        except OSError:
            continue  # merged away by another process meanwhile: its entries are in the merged file
        except (KeyError, ValueError, EOFError, zipfile.BadZipFile):
            pass  # broken (files appear whole, by rename): only slower, and not read again
        seen.add(name)
    if len(seen) > MERGE_ABOVE:
        _write(folder, known)
        for name in seen:
            (folder / name).unlink(missing_ok=True)
        seen.clear()  # the merged file is read (and skipped as known) on the next refresh
    return known


def _write(folder: Path, entries: dict[bytes, int]) -> str | None:
    """One new file with `entries` (atomically: written under a temporary name, then renamed); its name."""
    if not entries:
        return None
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        token = secrets.token_hex(8)
        tmp = folder / f"{token}.tmp.npz"
        keys = np.frombuffer(b"".join(entries), dtype=np.uint8).reshape(-1, 16)
        np.savez(tmp, h=keys, m=np.array(list(entries.values()), dtype=np.uint64))
        os.replace(tmp, folder / f"{token}.npz")
    except OSError:
        return None  # a cache that cannot be written is only slower
    return f"{token}.npz"


def classified(text: str, lex: Any, classify: Callable[[str, Any], frozenset[str]]) -> frozenset[str]:
    """classify(text, lex), from the store when this classifier has classified the text before."""
    with _lock:
        entry = _prints.get(id(lex))
    folder = None if entry is None else _folder(entry[1])
    if entry is None or folder is None:
        return classify(text, lex)
    fp, codes = entry[1], lex.codes
    if len(codes) > 64:  # a mask is a uint64
        return classify(text, lex)
    key = _key(text)
    with _lock:
        known = _known.get(fp)
        if known is None:
            known = _refresh(fp, folder)
        mask = known.get(key)
        if mask is None:
            mask = _pending.get(fp, {}).get(key)
    if mask is not None:
        return frozenset(c for i, c in enumerate(codes) if mask >> i & 1)
    topics = classify(text, lex)
    with _lock:
        _pending.setdefault(fp, {})[key] = sum(1 << i for i, c in enumerate(codes) if c in topics)
    return topics


def flush() -> None:
    """Write what this process classified since the last flush, and read what others wrote (a page calls
    this once after counting its comments)."""
    with _lock:
        pending = {fp: p for fp, p in _pending.items() if p}
        _pending.clear()
        for fp, entries in pending.items():
            folder = _folder(fp)
            if folder is None:
                continue
            name = _write(folder, entries)
            _known.setdefault(fp, {}).update(entries)
            if name is not None:
                _read.setdefault(fp, set()).add(name)
            _refresh(fp, folder)


def preload(lex: Any) -> int:
    """Read the stored classifications of `lex` now (the start-up warm-up); how many are known."""
    with _lock:
        entry = _prints.get(id(lex))
        folder = None if entry is None else _folder(entry[1])
        if entry is None or folder is None:
            return 0
        return len(_refresh(entry[1], folder))


def clear() -> None:
    """Forget what this process has read (tests)."""
    with _lock:
        _known.clear()
        _read.clear()
        _pending.clear()
