"""`flask --app wsgi org import FILE` / `org export`: the administrative tree as a YAML or CSV file.

Output is English, whatever the default locale: a command has no user whose language could be chosen, the
other commands print English, and docs/org-file-format.md quotes these messages.  The same problems are
shown translated on the admin import page, because survey/org/messages.py translates only while a web
request is handled; the FILE:LINE: FIELD: message structure is the same in both.
"""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from survey.cli_support import command_writes
from survey.extensions import db

org_cli = AppGroup("org", help="Import and export the administrative tree (docs/org-file-format.md).")


@org_cli.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["yaml", "csv"]), default=None,
              help="File format (default: from the extension .yaml/.yml/.csv).")
def org_import(file: Path, fmt: str | None) -> None:
    """Create or update levels, units, agencies, service points and kiosks from FILE.

    Every row is checked first; if any is invalid, every problem is listed (file:line: field: message)
    and nothing is imported.  Entities are matched by code, so importing the same file twice is a no-op.
    """
    from survey.org.io import OrgFileError
    from survey.org.io_import import import_file

    def problems(exc: BaseException) -> list[str]:
        assert isinstance(exc, OrgFileError)
        return [*exc.lines(), f"{file}: {len(exc.errors)} problem(s); nothing was imported"]

    with command_writes(OrgFileError, report=problems) as session:
        report = import_file(session, file, fmt)
    for line in report.lines():
        click.echo(line)


@org_cli.command("export")
@click.option("--format", "fmt", type=click.Choice(["yaml", "csv"]), default="yaml", show_default=True)
@click.option("--output", type=click.Path(path_type=Path, allow_dash=True), default=Path("-"), show_default=True,
              help="Write here; - (the default) is standard output, like every export command.")
def org_export(fmt: str, output: Path | None) -> None:
    """Write the whole tree (including retired entities) in a form `org import` reads back unchanged."""
    from survey.org.io_import import export_csv, export_yaml

    text = export_yaml(db.session) if fmt == "yaml" else export_csv(db.session)
    if output is None or str(output) == "-":
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}", err=True)
