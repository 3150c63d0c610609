"""Decoded month cells kept on local disk, shared by the serving processes of one machine and across restarts.

Why: a process that has just started holds no month in memory, and its first SIPAS page read the whole
year of Gram cells from the database (80 MB at 1 M responses: 1.6–2.6 s).  Each month read in full is
therefore also written here (NumPy files, no pickle); a new process maps the files (`np.load(mmap_mode="r")`,
so the operating system's page cache holds one copy for every worker of the machine) instead of reading
the database.  Chosen over Redis by measurement and for simplicity: see docs/scaling.md "Cold start".

A file is used only when its fingerprint equals the database's for that month, read with one aggregate
over the month's cell rows (not their Gram blobs): number of cells, Σ respondents, Σ last_response_id and
Σ respondents × last_response_id, under the same tally revision and the same database (PostgreSQL database
OID or SQLite file identity, so a database dropped and created again, or a restored copy, never matches).
Cells only change by responses added (raising their respondents and, unless committed out of order, their
last id) or removed (a quarantine decision raises the revision): any such change alters the fingerprint.
Otherwise the month is read from the database as before and the file rewritten.

HAILONG_MONTH_CELLS_DIR (app config): the folder (default `<instance>/month-cells`); "off" disables it.
Off by default when TESTING.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from survey.respond.models import MomentTally

MT = MomentTally.__table__
REWRITE_AFTER = 60.0  # seconds: a month refreshed cell by cell is written again at most this often
FORMAT = 1

Fingerprint = tuple[int, int, int, int]


def directory() -> Path | None:
    """The folder for month files, or None when switched off (or outside an app)."""
    try:
        from flask import current_app

        raw = current_app.config.get("HAILONG_MONTH_CELLS_DIR")
        if raw is None:
            if current_app.testing:
                return None
            raw = os.path.join(current_app.instance_path, "month-cells")
    except RuntimeError:
        return None
    if str(raw).strip().lower() in ("", "off", "0", "none"):
        return None
    return Path(raw)


def database_identity(session: Session) -> str | None:
    """Which physical database this is (None: no stable identity, e.g. SQLite in memory — no files then)."""
    bind = session.get_bind().engine
    if bind.dialect.name == "postgresql":
        oid = session.scalar(text("SELECT oid FROM pg_database WHERE datname = current_database()"))
        return f"{bind.url.render_as_string(hide_password=True)}#{oid}"
    database = bind.url.database
    if bind.dialect.name == "sqlite" and database and database != ":memory:" and os.path.exists(database):
        st = os.stat(database)
        return f"sqlite:{os.path.realpath(database)}#{st.st_dev}:{st.st_ino}:{st.st_ctime_ns}"
    return None


def fingerprints(session: Session, versions: tuple[int, ...], months: list[date]) -> dict[date, Fingerprint]:
    """Per month: (cells, Σ respondents, Σ last_response_id, Σ respondents × last_response_id) of `versions`."""
    if not months:
        return {}
    last = func.coalesce(MT.c.last_response_id, 0)
    rows = session.execute(
        select(MT.c.period, func.count(), func.sum(MT.c.respondents), func.sum(last),
               func.sum(MT.c.respondents * last))
        .where(MT.c.questionnaire_version_id.in_(versions), MT.c.period.in_(months))
        .group_by(MT.c.period)).all()
    return {row[0]: (int(row[1]), int(row[2] or 0), int(row[3] or 0), int(row[4] or 0)) for row in rows}


def fingerprint_of(blocks: dict[int, Any]) -> Fingerprint:
    """The same fingerprint computed from decoded blocks."""
    cells = respondents = last = product = 0
    for b in blocks.values():
        cells += len(b.sp)
        respondents += int(b.respondents.sum())
        last += int(b.last.sum())
        product += int((b.respondents.astype(object) * b.last.astype(object)).sum()) if len(b.sp) else 0
    return cells, respondents, last, product


def _stem(folder: Path, identity: str, versions: tuple[int, ...], month: date) -> Path:
    key = json.dumps([identity, list(versions), month.isoformat()])
    return folder / hashlib.sha256(key.encode()).hexdigest()[:32]


def load(folder: Path, identity: str, versions: tuple[int, ...], month: date, revision: int,
         expected: Fingerprint | None) -> dict[int, Any] | None:
    """The month's blocks from disk when the file matches `expected` (else None); triangles memory-mapped."""
    from survey.results.month_cells import Block

    if expected is None:
        return None
    stem = _stem(folder, identity, versions, month)
    try:
        with np.load(f"{stem}.npz", allow_pickle=False) as meta:
            head = json.loads(str(meta["head"]))
            if (head.get("format") != FORMAT or head.get("revision") != revision or head.get("identity") != identity
                    or tuple(head.get("fingerprint", ())) != expected):
                return None
            blocks = {}
            for v in head["versions"]:
                tri = np.load(f"{stem}-{head['token']}-{v}.npy", mmap_mode="r", allow_pickle=False)
                blocks[int(v)] = Block(meta[f"sp{v}"].astype(np.int64), meta[f"ch{v}"].astype(object),
                                       meta[f"n{v}"].astype(np.int64), meta[f"last{v}"].astype(np.int64), tri)
    except (OSError, KeyError, ValueError):
        return None
    return blocks if fingerprint_of(blocks) == expected else None


def save(folder: Path, identity: str, versions: tuple[int, ...], month: date, revision: int,
         blocks: dict[int, Any], *, only_if_older: float | None = None) -> None:
    """Write the month (atomically: triangles under a fresh token, then the header replaced); never raises."""
    stem = _stem(folder, identity, versions, month)
    try:
        if only_if_older is not None and time.time() - os.path.getmtime(f"{stem}.npz") < only_if_older:
            return
    except OSError:
        pass
    token = secrets.token_hex(6)
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        arrays: dict[str, Any] = {}
        for v, b in blocks.items():
            tmp = f"{stem}-{token}-{v}.tmp.npy"
            np.save(tmp, np.ascontiguousarray(b.tri), allow_pickle=False)
            os.replace(tmp, f"{stem}-{token}-{v}.npy")
            arrays.update({f"sp{v}": b.sp, f"ch{v}": b.channel.astype("U8"), f"n{v}": b.respondents,
                           f"last{v}": b.last})
        head = {"format": FORMAT, "revision": revision, "identity": identity, "token": token,
                "versions": [int(v) for v in blocks], "fingerprint": list(fingerprint_of(blocks))}
        tmp = f"{stem}.{token}.tmp.npz"
        np.savez(tmp, head=np.array(json.dumps(head)), **arrays)
        os.replace(tmp, f"{stem}.npz")
        for old in folder.glob(f"{stem.name}-*.npy"):  # earlier tokens (mapped copies stay valid until unmapped)
            if f"-{token}-" not in old.name:
                old.unlink(missing_ok=True)
    except OSError:
        pass  # a cache that cannot be written is only slower
