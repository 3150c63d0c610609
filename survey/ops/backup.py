"""`flask --app wsgi backup create|verify|restore|list`: database backups that are known to restore.

- PostgreSQL: `pg_dump --format=custom` (consistent snapshot while the site runs), restored with
  `pg_restore` into an empty database.  SQLite: the online backup API (`sqlite3.Connection.backup`), a
  consistent copy even while kiosks write.
- Each backup has a manifest beside it (`<name>.json`: SHA-256, database kind, schema revision and the row
  count of every table), so `verify` proves the file is intact and complete without restoring over
  anything: PostgreSQL dumps are listed by `pg_restore --list`, SQLite copies pass `PRAGMA
  integrity_check` and their row counts are compared with the manifest.
- Retention: `--prune` keeps the newest `HAILONG_BACKUP_KEEP` (default 14) backups.
Files are created 0600 in `HAILONG_BACKUP_DIR` (default `<instance>/backups`, 0700): they hold every answer.
The nightly timer (deploy/systemd/hailong-jobs.timer) runs `backup create --verify --prune`.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import create_engine, func, inspect, select, text
from sqlalchemy.engine import Engine, make_url

from survey.config import INSTANCE_DIR

DEFAULT_KEEP = 14
PREFIX = "hailong-"

backup_cli = AppGroup("backup", help="Database backups: create, verify, restore, list.")


class BackupError(RuntimeError):
    """A backup or restore step failed; the message says which and why."""


def backup_dir(app: Flask) -> Path:
    return Path(app.config.get("HAILONG_BACKUP_DIR")
                or Path(app.config.get("HAILONG_INSTANCE") or INSTANCE_DIR) / "backups")


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """SQLAlchemy URL → (libpq URL without password, environment with PGPASSWORD): no secret in argv."""
    u = make_url(url)
    env = dict(os.environ)
    if u.password:
        env["PGPASSWORD"] = str(u.password)
    plain = u.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def row_counts(engine: Engine) -> dict[str, int]:
    """Rows per table (every table of the schema, alembic_version included)."""
    out: dict[str, int] = {}
    with engine.connect() as conn:
        for name in sorted(inspect(conn).get_table_names()):
            out[name] = int(conn.execute(select(func.count()).select_from(text(f'"{name}"'))).scalar_one())
    return out


def _revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        try:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except Exception:
            return None


def create_backup(engine: Engine, target_dir: Path, now: datetime | None = None) -> Path:
    """Write a backup of `engine`'s database and its manifest into `target_dir`; returns the backup file."""
    now = now or datetime.now(UTC)
    target_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    kind = engine.dialect.name
    counts = row_counts(engine)  # before the copy: rows only grow, the manifest is a lower bound for SQLite
    if kind == "postgresql":
        path = target_dir / f"{PREFIX}{stamp}.dump"
        url, env = _libpq(engine.url.render_as_string(hide_password=False))
        old = os.umask(0o077)
        try:
            run = subprocess.run(["pg_dump", "--format=custom", "--no-owner", "--no-privileges", "--file", str(path),
                                  url], env=env, capture_output=True, text=True)
        finally:
            os.umask(old)
        if run.returncode != 0:
            path.unlink(missing_ok=True)
            raise BackupError(f"pg_dump failed: {run.stderr.strip()[:500]}")
    elif kind == "sqlite":
        path = target_dir / f"{PREFIX}{stamp}.sqlite"
        source = engine.url.database
        if not source or source == ":memory:":
            raise BackupError("an in-memory SQLite database cannot be backed up")
        path.touch(mode=0o600)
        with sqlite3.connect(source) as src, sqlite3.connect(path) as dst:
            src.backup(dst)
        counts = row_counts(create_engine(f"sqlite:///{path}"))  # the copy is one snapshot: count it exactly
    else:  # pragma: no cover
        raise BackupError(f"unsupported database {kind}")
    path.chmod(0o600)
    manifest = {"file": path.name, "database": kind, "created_at": now.isoformat(), "sha256": _sha256(path),
                "bytes": path.stat().st_size, "revision": _revision(engine), "rows": counts}
    manifest_path = path.with_suffix(path.suffix + ".json")
    manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True))
    manifest_path.chmod(0o600)
    return path


def read_manifest(path: Path) -> dict[str, Any]:
    manifest_path = path.with_suffix(path.suffix + ".json")
    if not manifest_path.exists():
        raise BackupError(f"{manifest_path.name} is missing: cannot tell whether {path.name} is complete")
    return dict(json.loads(manifest_path.read_text()))


def verify_backup(path: Path) -> dict[str, Any]:
    """Raise BackupError unless `path` is intact (checksum) and readable as a whole database; returns the manifest."""
    if not path.exists():
        raise BackupError(f"{path} does not exist")
    manifest = read_manifest(path)
    if _sha256(path) != manifest["sha256"]:
        raise BackupError(f"{path.name} is damaged: its checksum differs from the manifest")
    if manifest["database"] == "postgresql":
        run = subprocess.run(["pg_restore", "--list", str(path)], capture_output=True, text=True)
        if run.returncode != 0:
            raise BackupError(f"pg_restore cannot read {path.name}: {run.stderr.strip()[:300]}")
        missing = [t for t in manifest["rows"] if f"TABLE DATA public {t} " not in run.stdout]
        if missing:
            raise BackupError(f"{path.name} lacks the data of: {', '.join(missing)}")
    else:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            status = conn.execute("PRAGMA integrity_check").fetchone()[0]
        if status != "ok":
            raise BackupError(f"{path.name} fails SQLite's integrity check: {status}")
        counts = row_counts(create_engine(f"sqlite:///{path}"))
        if counts != manifest["rows"]:
            raise BackupError(f"{path.name} holds other row counts than its manifest")
    return manifest


def restore_backup(path: Path, target_url: str) -> dict[str, int]:
    """Restore `path` into the EMPTY database at `target_url` (never over data); returns its row counts."""
    manifest = verify_backup(path)
    target = create_engine(target_url)
    try:
        if target.dialect.name != manifest["database"]:
            raise BackupError(f"{path.name} is a {manifest['database']} backup; the target is {target.dialect.name}")
        if inspect(target).get_table_names():
            raise BackupError("the target database is not empty: restore into a new database, then switch "
                              "DATABASE_URL (nothing was changed)")
        if manifest["database"] == "postgresql":
            url, env = _libpq(target_url)
            run = subprocess.run(["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", "--dbname", url,
                                  str(path)], env=env, capture_output=True, text=True)
            if run.returncode != 0:
                raise BackupError(f"pg_restore failed: {run.stderr.strip()[:500]}")
        else:
            dest = target.url.database
            if not dest or dest == ":memory:":
                raise BackupError("restore needs a SQLite file as target")
            target.dispose()
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as src, sqlite3.connect(dest) as dst:
                src.backup(dst)
        counts = row_counts(target)
    finally:
        target.dispose()
    short = {t: (counts.get(t), n) for t, n in manifest["rows"].items() if counts.get(t, 0) < n}
    if short:
        raise BackupError(f"restored database has fewer rows than the backup's manifest: {short}")
    return counts


def backups(directory: Path) -> list[Path]:
    """Backup files in `directory`, oldest first (names carry a UTC timestamp)."""
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir()
                  if p.name.startswith(PREFIX) and p.suffix in (".dump", ".sqlite"))


def prune(directory: Path, keep: int) -> list[Path]:
    """Delete all but the newest `keep` backups (and their manifests); returns what was deleted."""
    keep = max(1, keep)
    gone = backups(directory)[:-keep]
    for p in gone:
        p.unlink(missing_ok=True)
        p.with_suffix(p.suffix + ".json").unlink(missing_ok=True)
    return gone


def _engine() -> Engine:
    from survey.extensions import db

    assert db.engine is not None
    return db.engine


def _fail(exc: Exception) -> None:
    click.echo(f"error: {exc}", err=True)
    sys.exit(1)


@backup_cli.command("create")
@click.option("--verify", "then_verify", is_flag=True, help="Verify the new backup at once.")
@click.option("--prune", "then_prune", is_flag=True, help="Then keep only the newest HAILONG_BACKUP_KEEP backups.")
@click.option("--keep", type=click.IntRange(min=1), default=None, help="How many to keep with --prune (default 14).")
def create_cmd(then_verify: bool, then_prune: bool, keep: int | None) -> None:
    """Back up the database into HAILONG_BACKUP_DIR."""
    directory = backup_dir(current_app)
    try:
        path = create_backup(_engine(), directory)
        manifest = verify_backup(path) if then_verify else read_manifest(path)
    except BackupError as exc:
        _fail(exc)
        return
    click.echo(f"backup {path} ({manifest['bytes']:,} bytes, {sum(manifest['rows'].values()):,} rows)"
               + (", verified" if then_verify else ""))
    if then_prune:
        n = keep or int(current_app.config.get("HAILONG_BACKUP_KEEP") or DEFAULT_KEEP)
        for p in prune(directory, n):
            click.echo(f"pruned {p.name}")


@backup_cli.command("verify")
@click.argument("path", type=click.Path(path_type=Path), required=False)
def verify_cmd(path: Path | None) -> None:
    """Check a backup (default: the newest) is intact and complete, without restoring it."""
    path = path or next(reversed(backups(backup_dir(current_app))), None)
    if path is None:
        _fail(BackupError(f"no backup in {backup_dir(current_app)}"))
        return
    try:
        manifest = verify_backup(path)
    except BackupError as exc:
        _fail(exc)
        return
    click.echo(f"{path.name}: intact, {sum(manifest['rows'].values()):,} rows in {len(manifest['rows'])} tables "
               f"(taken {manifest['created_at']})")


@backup_cli.command("restore")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--to", "target", required=True,
              help="URL of a NEW, empty database (e.g. postgresql://hailong@/hailong_restored); never the live one.")
def restore_cmd(path: Path, target: str) -> None:
    """Restore a backup into a new, empty database; then point DATABASE_URL at it and restart."""
    if target.startswith("postgresql://"):
        target = "postgresql+psycopg://" + target.removeprefix("postgresql://")
    try:
        counts = restore_backup(path, target)
    except BackupError as exc:
        _fail(exc)
        return
    click.echo(f"restored {path.name}: {sum(counts.values()):,} rows in {len(counts)} tables into "
               f"{make_url(target).render_as_string(hide_password=True)}")


@backup_cli.command("list")
def list_cmd() -> None:
    """The backups in HAILONG_BACKUP_DIR, oldest first."""
    for p in backups(backup_dir(current_app)):
        click.echo(f"{p.name}  {p.stat().st_size:,} bytes")

