"""Month cells written to disk let a new process skip the database read, and never serve stale figures.

A "new process" is simulated by emptying every in-memory cache (cache.clear()); figures must equal a
computation with no files and no cache at all.
"""

from __future__ import annotations

import pytest
from flask import current_app

from survey.respond.models import TallyRevision
from survey.results import Selection, cache
from survey.results import month_cells as mc
from tests.results import test_month_cells as cells

_assert_same, _figures, _store = cells._assert_same, cells._figures, cells._store
data, reads = cells.data, cells.reads  # the same fixtures: a city with two months of responses, a read spy


@pytest.fixture
def files(tmp_path, monkeypatch):
    monkeypatch.setitem(current_app.config, "HAILONG_MONTH_CELLS_DIR", str(tmp_path / "cells"))
    return tmp_path / "cells"


def _no_files(session, sel, monkeypatch):
    """Figures from the database alone: no files, no cache."""
    with monkeypatch.context() as m:
        m.setitem(current_app.config, "HAILONG_MONTH_CELLS_DIR", "off")
        cache.clear()
        out = _figures(session, sel)
    cache.clear()
    return out


def test_a_restarted_process_reads_the_months_from_disk(db_session, data, reads, files, monkeypatch):
    sel = Selection.of(data.qv_id)
    first = _figures(db_session, sel)
    assert any(files.glob("*.npz")), "the months read were written"
    cache.clear()
    reads.clear()
    again = _figures(db_session, sel)
    assert reads == [], "no cell read from the database"
    assert mc.STATS["month_cells", "disk"] > 0
    _assert_same(first, again)
    _assert_same(again, _no_files(db_session, sel, monkeypatch))


def test_a_file_older_than_the_data_is_not_used(db_session, data, reads, files, monkeypatch):
    sel = Selection.of(data.qv_id)
    _figures(db_session, sel)
    cache.clear()  # the process stops; a response arrives before it starts again
    _store(db_session, data, "STP-SP1", {"C.ATT": 3, "C.HANDLING": 1})
    db_session.commit()
    reads.clear()
    after = _figures(db_session, sel)
    assert reads and max(reads) > 1, "the changed month is read again in full"
    _assert_same(after, _no_files(db_session, sel, monkeypatch))


def test_a_removal_with_the_same_cells_is_not_served_from_disk(db_session, data, reads, files, monkeypatch):
    """A quarantine decision raises the tally revision: files written under another revision are ignored."""
    sel = Selection.of(data.qv_id)
    _figures(db_session, sel)
    cache.clear()
    row = db_session.get(TallyRevision, 1)
    if row is None:
        db_session.add(TallyRevision(id=1, revision=1))
    else:
        row.revision += 1
    db_session.commit()
    reads.clear()
    _figures(db_session, sel)
    assert reads and max(reads) > 1, "read from the database again"
    _assert_same(_figures(db_session, sel), _no_files(db_session, sel, monkeypatch))


def test_a_damaged_file_only_costs_a_read(db_session, data, reads, files, monkeypatch):
    sel = Selection.of(data.qv_id)
    _figures(db_session, sel)
    for path in files.glob("*.npy"):
        path.write_bytes(b"not numpy")
    cache.clear()
    reads.clear()
    figures = _figures(db_session, sel)
    assert reads and max(reads) > 1
    _assert_same(figures, _no_files(db_session, sel, monkeypatch))
