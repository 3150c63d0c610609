"""Backups that restore: the drill (demo → backup → restore into a new database → every figure identical),
damage detection, refusal to restore over data, retention."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, select, text

from survey import create_app
from survey.extensions import db
from survey.ops.backup import backups, create_backup, prune, verify_backup
from survey.respond.models import AnswerTally, MomentTally, ResponseTally
from survey.respond.store import rebuild_tallies
from tests.dashboard.helpers import signed_in
from tests.web_fixtures import PG_ADMIN_URL

NOIVU_PASSWORD = "demo-noivu-2022"  # survey/demo/users.py: the demo's Home Affairs account


def _figures(app, tmp_path: Path, tag: str) -> dict[str, bytes]:
    """Every published figure as bytes: the Home Affairs comparison (index, CIs, ranks) as CSV for each
    view, and the analysis export of all responses."""
    client = app.test_client()
    signed_in(client, "noivu", NOIVU_PASSWORD)
    out: dict[str, bytes] = {}
    for query in ("", "?level=agency&table=ranks", "?level=agency"):  # views the filters offer (none ignored)
        resp = client.get(f"/homeaffairs/export.csv{query}")
        assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
        out[f"homeaffairs{query}"] = resp.get_data()
    target = tmp_path / f"responses-{tag}.csv"
    result = app.test_cli_runner().invoke(args=["responses", "export", "--format", "csv", "--output", str(target)])
    assert result.exit_code == 0, result.output
    out["responses export"] = target.read_bytes()
    return out


def _tables(engine) -> dict[str, list[tuple]]:
    with engine.connect() as conn:
        names = sorted(inspect(conn).get_table_names())
        return {n: sorted(map(tuple, conn.execute(text(f'SELECT * FROM "{n}"')).all()), key=repr) for n in names}


def _tallies_equal_recount() -> bool:
    def snap() -> list:
        return [sorted(map(tuple, db.session.execute(select(t.__table__)).all()), key=repr)
                for t in (ResponseTally, AnswerTally, MomentTally)]

    live = snap()
    rebuild_tallies(db.session)
    recount = snap()
    db.session.rollback()
    return live == recount


@pytest.fixture
def fresh_target(database_url: str, tmp_path: Path):
    """URL of a new, empty database of the same kind (dropped afterwards)."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'restored.sqlite'}"
        return
    name = f"hailong_restore_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.mark.demo_db(responses=1500)  # `flask demo --responses 1500`, loaded once per run
def test_restore_drill_gives_byte_identical_figures(app, runner, database_url, fresh_target, tmp_path):
    app.config["HAILONG_BACKUP_DIR"] = str(tmp_path / "backups")
    before = _figures(app, tmp_path, "before")
    tables_before = _tables(db.engine)

    made = runner.invoke(args=["backup", "create", "--verify"])
    assert made.exit_code == 0, made.output
    assert "verified" in made.output
    (path,) = backups(tmp_path / "backups")
    assert path.stat().st_mode & 0o077 == 0  # the backup holds every answer: owner only
    checked = runner.invoke(args=["backup", "verify"])
    assert checked.exit_code == 0 and "intact" in checked.output

    restored = runner.invoke(args=["backup", "restore", str(path), "--to", fresh_target])
    assert restored.exit_code == 0, restored.output

    other = create_app({"TESTING": True, "DATABASE_URL": fresh_target, "SECRET_KEY": "test-secret",
                        "RATELIMIT_STORAGE_URI": "memory://"})
    try:
        with other.app_context():
            assert _tables(db.engine) == tables_before
            assert _tallies_equal_recount()
            after = _figures(other, tmp_path, "after")
    finally:
        db.configure(database_url)  # back to the fixture's database (closes the restored one's connections)
    assert after.keys() == before.keys()
    for name in before:
        assert after[name] == before[name], f"{name} differs after the restore"
    assert len(before["responses export"]) > 1000


def test_damaged_backup_fails_verification(app, runner, tmp_path):
    app.config["HAILONG_BACKUP_DIR"] = str(tmp_path / "b")
    assert runner.invoke(args=["backup", "create"]).exit_code == 0
    (path,) = backups(tmp_path / "b")
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    result = runner.invoke(args=["backup", "verify", str(path)])
    assert result.exit_code == 1 and "damaged" in result.output


def test_restore_never_writes_over_a_database_with_data(app, runner, database_url, tmp_path):
    app.config["HAILONG_BACKUP_DIR"] = str(tmp_path / "b")
    assert runner.invoke(args=["backup", "create"]).exit_code == 0
    (path,) = backups(tmp_path / "b")
    before = _tables(db.engine)
    result = runner.invoke(args=["backup", "restore", str(path), "--to", database_url])
    assert result.exit_code == 1 and "not empty" in result.output
    assert _tables(db.engine) == before


def test_prune_keeps_the_newest(app, tmp_path):
    start = datetime(2030, 1, 1, 1, 30, tzinfo=UTC)  # injected clock: names come from it
    for day in range(4):
        create_backup(db.engine, tmp_path / "b", now=start + timedelta(days=day))
    gone = prune(tmp_path / "b", keep=2)
    left = backups(tmp_path / "b")
    assert [p.name for p in gone] == ["hailong-20300101T013000Z" + left[0].suffix,
                                      "hailong-20300102T013000Z" + left[0].suffix]
    assert [p.name[:24] for p in left] == ["hailong-20300103T013000Z", "hailong-20300104T013000Z"]
    assert all(verify_backup(p)["rows"] for p in left)
    assert not any(p.with_suffix(p.suffix + ".json").exists() for p in gone)
