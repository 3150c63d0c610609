"""`flask --app wsgi …` commands.  Each domain contributes a click group; this module only registers them."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup

from survey.extensions import db

# module path → attribute holding a click command/group; each domain adds one line
COMMANDS: list[tuple[str, str]] = [
    ("survey.cli", "db_cli"),
    ("survey.cli", "questionnaire_cli"),
    ("survey.org.cli", "org_cli"),
    ("survey.demo.cli", "demo_cli"),
    ("survey.respond.export", "responses_cli"),
    ("survey.respond.invitations", "invitations_cli"),
    ("survey.respond.kiosk_cli", "kiosks_cli"),
    ("survey.results.integrity_cli", "integrity_cli"),
    ("survey.respond.quarantine_cli", "quarantine_cli"),
    ("survey.ops.doctor", "doctor_cli"),
    ("survey.ops.backup", "backup_cli"),
]

db_cli = AppGroup("db", help="Database schema (Alembic migrations).")


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Create or upgrade the schema to the latest migration."""
    from survey.migrate import upgrade

    assert db.engine is not None
    upgrade(db.engine)
    click.echo("database schema is up to date")


questionnaire_cli = AppGroup("questionnaire", help="Validate and load questionnaire definition files.")


def _load_or_report(path: Path):  # type: ignore[no-untyped-def]
    from questionnaires.loader import QuestionnaireError, load_file

    try:
        return load_file(path)
    except QuestionnaireError as exc:
        for issue in exc.issues:
            click.echo(str(issue), err=True)
        sys.exit(1)


@questionnaire_cli.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
def questionnaire_validate(files: tuple[Path, ...]) -> None:
    """Check FILES against the schema and the semantic rules; report every problem with its path."""
    for path in files:
        q = _load_or_report(path)
        click.echo(f"{path}: OK ({q.id} v{q.version}, {len(q.items())} items)")


@questionnaire_cli.command("load")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--status", type=click.Choice(["draft", "published"]), default="published", show_default=True)
def questionnaire_load(files: tuple[Path, ...], status: str) -> None:
    """Store FILES as questionnaire versions (a version with responses cannot change: bump it)."""
    from survey.audit import record
    from survey.questionnaire_versions.service import VersionImmutableError, store_questionnaire

    questionnaires = [(_load_or_report(path), path) for path in files]
    session = db.session
    try:
        for q, path in questionnaires:
            outcome = store_questionnaire(session, q, status=status)
            if outcome.action != "unchanged":
                record(session, "questionnaire." + outcome.action, "questionnaire_version",
                       outcome.record.label, after={"checksum": outcome.record.checksum, "status": status})
            click.echo(f"{path}: {outcome.action} {outcome.record.label}")
        session.commit()
    except VersionImmutableError as exc:
        session.rollback()
        click.echo(f"{path}: {exc}", err=True)
        sys.exit(1)


def register(app: Flask) -> None:
    for module_name, attr in COMMANDS:
        app.cli.add_command(getattr(importlib.import_module(module_name), attr))
