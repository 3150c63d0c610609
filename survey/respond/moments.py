"""`moment_tally`: each cell's Gram matrix of respondent vectors, for designs whose units are respondents.

A dashboard must not read answer rows (issue 5), yet the variance of a composite index (an element, the
overall index, PAPI scores) with respondents as the sampled units needs the cross-moments of items within
each stratum (methodology §3; `analysis.totals.UnitMoments`).  So every stored response adds u·uᵀ to its
cell's G, u = (satisfied, value, answered) per scored item of the version's index definition, in the
order of `analysis.totals.unit_gram` (one implementation of u, shared with the analysis package).

Storage: the upper triangle of G as raw little-endian int32 (integer counts: Σ value² ≤ 25·n fits), 8.8 KB
per cell for SIPAS (66 variables).  Not compressed here: PostgreSQL's TOAST compresses it on disk and
expands it in C, and a fixed width per version lets a page decode thousands of cells with one
`np.frombuffer` instead of a Python call per cell.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import Any

import numpy as np
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from analysis.totals import UNIT_VARS, unit_gram
from questionnaires.index_spec import IndexSpec
from survey.database import table_of
from survey.questionnaire_versions.service import questionnaire_for
from survey.respond.models import Answer, MomentTally, Response

MT = table_of(MomentTally)


@lru_cache(maxsize=64)
def _triu(p: int) -> tuple[np.ndarray, np.ndarray]:
    return np.triu_indices(p)


def pack(gram: np.ndarray) -> bytes:
    """P×P symmetric integer matrix → compressed upper triangle."""
    rows, cols = _triu(gram.shape[0])
    tri = np.rint(gram[rows, cols])
    if tri.size and (tri.max() > np.iinfo(np.int32).max or tri.min() < 0):
        raise OverflowError("moment cell exceeds int32: split the cell")
    return tri.astype("<i4").tobytes()


def triangle(blob: bytes) -> np.ndarray:
    """The stored upper triangle (int32), e.g. to sum several cells before expanding once."""
    return np.frombuffer(blob, dtype="<i4")


def triangles(blobs: list[bytes]) -> np.ndarray:
    """Many stored cells of one width at once: cells × entries int32 (one buffer, no per-cell decoding)."""
    if not blobs:
        return np.zeros((0, 0), dtype="<i4")
    return np.frombuffer(b"".join(blobs), dtype="<i4").reshape(len(blobs), -1)


def symmetric(tri: np.ndarray, p: int) -> np.ndarray:
    """Upper triangle → full symmetric P×P float64 matrix."""
    rows, cols = _triu(p)
    if tri.size != rows.size:
        raise ValueError(f"moment cell holds {tri.size} values, expected {rows.size} for {p} variables")
    out = np.zeros((p, p))
    out[rows, cols] = tri
    out[cols, rows] = tri
    return out


def unpack(blob: bytes, p: int) -> np.ndarray:
    """Compressed upper triangle → full symmetric P×P float64 matrix."""
    return symmetric(triangle(blob).astype(np.float64), p)


_specs: dict[int, tuple[object, IndexSpec]] = {}


def spec_of(q: Any) -> IndexSpec:
    """q.index_spec(), compiled once per parsed questionnaire (questionnaire_for caches those objects)."""
    hit = _specs.get(id(q))
    if hit is None or hit[0] is not q:
        if len(_specs) > 256:
            _specs.clear()
        hit = _specs[id(q)] = (q, q.index_spec())
    return hit[1]


def width(spec: IndexSpec) -> int:
    """Number of variables P of a version's Gram."""
    return len(UNIT_VARS) * len(spec.items)


def grams(spec: IndexSpec, group: np.ndarray, n_groups: int, answers: dict[str, np.ndarray]) -> np.ndarray:
    """n_groups × P × P Gram matrices of respondents (answers: item code → value per respondent, 0 = none)."""
    full = {code: answers.get(code, np.zeros(len(group), dtype=np.int64)) for code in spec.items}
    return unit_gram(group, n_groups, full, spec, None)


UNREAD = object()  # add_response: the cell is not read yet


def add_response(session: Session, keys: dict[str, object], spec: IndexSpec, values: dict[str, int],
                 response_id: int, cell: Any = UNREAD) -> None:
    """Add one respondent to its cell (the caller's transaction; the cell row is locked while updated).

    `values`: scored item code → answered level (0 or absent = not answered).  Concurrent writers of one
    cell already queue on the `response_tally` row the same transaction upserted first; FOR UPDATE makes
    the read-modify-write safe on its own as well.  `response_id` raises the cell's `last_response_id`
    (never lowers it), which lets a page re-read only the cells that changed.  `cell`: the row
    (respondents, gram, last_response_id) the caller already read FOR UPDATE in this transaction, None when
    that read found no cell; by default it is read here.
    """
    answers = {code: np.array([int(values.get(code, 0))], dtype=np.int64) for code in spec.items}
    g = grams(spec, _ONE_GROUP, 1, answers)[0]
    params = {f"k_{k}": v for k, v in keys.items()}
    conn = session.connection()
    if cell is UNREAD:
        cell = conn.execute(_CELL, params).first()
    if cell is None:
        inserted = conn.execute(_insert_cell(conn.dialect.name),
                                {**keys, "respondents": 1, "gram": pack(g), "last_response_id": response_id})
        if inserted.first() is not None:
            return
        # committed by another transaction after the caller's read began (its snapshot did not show it): read
        # it again, locked, in a statement of its own
        cell = conn.execute(_CELL, params).one()
    total = unpack(cell.gram, g.shape[0]) + g
    conn.execute(_UPDATE_CELL, {**params, "respondents": cell.respondents + 1, "gram": pack(total),
                                "last_response_id": max(int(cell.last_response_id or 0), response_id)})


_INSERT_CELL: dict[str, Any] = {}


def _insert_cell(dialect: str) -> Any:
    """INSERT … ON CONFLICT DO NOTHING of a new cell, built once per dialect."""
    found = _INSERT_CELL.get(dialect)
    if found is None:
        stmt = postgresql.insert(MT) if dialect == "postgresql" else sqlite.insert(MT)
        found = _INSERT_CELL[dialect] = stmt.on_conflict_do_nothing().returning(MT.c.respondents)
    return found


# Built once: statement construction cost more than the round trip (keys are the count-table cell's columns)
_ONE_GROUP = np.zeros(1, dtype=np.int64)
_KEYS = ("questionnaire_version_id", "service_point_id", "period", "channel")
_WHERE = [MT.c[k] == bindparam(f"k_{k}") for k in _KEYS]
_CELL = select(MT.c.respondents, MT.c.gram, MT.c.last_response_id).where(*_WHERE).with_for_update()
_UPDATE_CELL = update(MT).where(*_WHERE).values(respondents=bindparam("respondents"), gram=bindparam("gram"),
                                                last_response_id=bindparam("last_response_id"))


def rebuild(session: Session, version_ids: Iterable[int] | None = None) -> int:
    """Recompute `moment_tally` from the stored answers (after bulk loads, or to repair); returns cells."""
    session.execute(MT.delete() if version_ids is None
                    else MT.delete().where(MT.c.questionnaire_version_id.in_(list(version_ids))))
    if version_ids is None:
        version_ids = session.scalars(select(Response.questionnaire_version_id)
                                      .where(Response.review_status.is_(None)).distinct()).all()
    cells = 0
    for qv_id in version_ids:
        q, item_ids = questionnaire_for(session, qv_id)
        spec = spec_of(q)
        code_of = {item_ids[c]: c for c in spec.items if c in item_ids}
        resp = session.execute(select(Response.id, Response.service_point_id, Response.period, Response.channel)
                               .where(Response.questionnaire_version_id == qv_id,
                                      Response.review_status.is_(None))  # quarantined: counted nowhere
                               .order_by(Response.id)).all()
        if not resp:
            continue
        ids = np.array([r[0] for r in resp], dtype=np.int64)
        cell_keys = [(r[1], r[2], r[3]) for r in resp]
        uniq = sorted(set(cell_keys))
        index = {k: i for i, k in enumerate(uniq)}
        group = np.array([index[k] for k in cell_keys], dtype=np.int64)
        answers = {code: np.zeros(len(ids), dtype=np.int64) for code in spec.items}
        rows = session.execute(select(Answer.response_id, Answer.item_id, Answer.value)
                               .join(Response, Response.id == Answer.response_id)
                               .where(Response.questionnaire_version_id == qv_id,
                                      Response.review_status.is_(None),
                                      Answer.item_id.in_(list(code_of)))).all()
        if rows:
            # from a flat iterator: np.array on SQLAlchemy Rows probes each row as a sequence (6.5 s → 0.04 s
            # for 200,000 answers; a 20,000-response demo load went 15.2 → 9.8 s CPU)
            arr = np.fromiter((v for r in rows for v in r), dtype=np.int64, count=3 * len(rows)).reshape(-1, 3)
            pos = np.searchsorted(ids, arr[:, 0])
            for item_id, code in code_of.items():
                sel = arr[:, 1] == item_id
                answers[code][pos[sel]] = arr[sel, 2]
        g = grams(spec, group, len(uniq), answers)
        counts = np.bincount(group, minlength=len(uniq))
        last = np.zeros(len(uniq), dtype=np.int64)
        np.maximum.at(last, group, ids)
        session.execute(insert(MT), [
            {"questionnaire_version_id": qv_id, "service_point_id": sp, "period": period, "channel": channel,
             "respondents": int(counts[i]), "gram": pack(g[i]), "last_response_id": int(last[i])}
            for i, (sp, period, channel) in enumerate(uniq)])
        cells += len(uniq)
    return cells
