"""`flask --app wsgi …` commands.  Each domain contributes a click group; this module only registers them."""

from __future__ import annotations

import functools
import importlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy.exc import OperationalError, ProgrammingError

if TYPE_CHECKING:
    from questionnaires.model import Questionnaire

from survey.cli_support import command_writes
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
    ("survey.respond.speech", "speech_cli"),
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


def _load_or_report(path: Path) -> Questionnaire:
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
    from questionnaires.validate import coverage_line

    for path in files:
        q = _load_or_report(path)
        click.echo(f"{path}: OK ({q.id} v{q.version}, {len(q.items())} items)")
        click.echo(f"{path}: {coverage_line(q.definition)}")  # which languages the version covers (issue 15)


@questionnaire_cli.command("load")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--status", type=click.Choice(["draft", "published"]), default="published", show_default=True)
def questionnaire_load(files: tuple[Path, ...], status: str) -> None:
    """Store FILES as questionnaire versions (a version with responses cannot change: bump it)."""
    from survey.audit import record
    from survey.questionnaire_versions.service import VersionImmutableError, store_questionnaire

    questionnaires = [(_load_or_report(path), path) for path in files]
    current = Path()
    with command_writes(VersionImmutableError, report=lambda exc: [f"{current}: {exc}"]) as session:
        for q, current in questionnaires:
            outcome = store_questionnaire(session, q, status=status)
            if outcome.action != "unchanged":
                record(session, "questionnaire." + outcome.action, "questionnaire_version",
                       outcome.record.label, after={"checksum": outcome.record.checksum, "status": status})
            click.echo(f"{current}: {outcome.action} {outcome.record.label}")


NOT_MIGRATED = "The database has no tables yet: run `flask --app wsgi db upgrade` first."


def _missing_table(exc: BaseException) -> bool:
    """SQLite "no such table", PostgreSQL "relation … does not exist" (UndefinedTable)."""
    text = str(getattr(exc, "orig", exc)).lower()
    return "no such table" in text or ("relation" in text and "does not exist" in text)


def _guard_schema(cmd: click.Command) -> None:
    """Any command run on a never-migrated database says what to do instead of a SQLAlchemy traceback."""
    if isinstance(cmd, click.Group):
        for sub in cmd.commands.values():
            _guard_schema(sub)
        return
    original = cmd.callback
    if original is None or getattr(original, "_schema_guarded", False):
        return

    @functools.wraps(original)
    def guarded(*args: object, **kwargs: object) -> object:
        try:
            return original(*args, **kwargs)
        except (OperationalError, ProgrammingError) as exc:
            if _missing_table(exc):
                raise click.ClickException(NOT_MIGRATED) from None
            raise

    guarded._schema_guarded = True  # type: ignore[attr-defined]
    cmd.callback = guarded


def register(app: Flask) -> None:
    for module_name, attr in COMMANDS:
        command = getattr(importlib.import_module(module_name), attr)
        _guard_schema(command)
        app.cli.add_command(command)
