"""Any command on a database that was never migrated says to run `flask --app wsgi db upgrade` first, instead
of ending in a SQLAlchemy traceback ("no such table: unit")."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import OperationalError, ProgrammingError

from survey import create_app
from survey.cli import NOT_MIGRATED, _missing_table
from survey.extensions import db


@pytest.fixture
def empty_runner(tmp_path):
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'never-migrated.sqlite'}",
                      "SECRET_KEY": "test-secret", "RATELIMIT_STORAGE_URI": "memory://"})
    with app.app_context():  # as the `flask` command line does
        yield app.test_cli_runner()
    db.session.remove()


@pytest.mark.parametrize("args", [["demo"], ["org", "export"], ["responses", "export", "--output", "-"],
                                  ["kiosks", "list"], ["questionnaire", "load",
                                                       "questionnaires/instruments/counter-quick-v1.json"]])
def test_commands_on_a_never_migrated_database_say_what_to_do(empty_runner, args):
    result = empty_runner.invoke(args=args)
    assert result.exit_code != 0
    assert "flask --app wsgi db upgrade" in result.output, result.output
    assert "Traceback" not in result.output and "sqlalchemy" not in result.output.lower()
    assert NOT_MIGRATED in result.output


def test_after_db_upgrade_the_command_works(empty_runner):
    assert empty_runner.invoke(args=["db", "upgrade"]).exit_code == 0
    result = empty_runner.invoke(args=["org", "export"])
    assert result.exit_code == 0 and NOT_MIGRATED not in result.output


def test_postgresql_missing_relation_is_recognised_and_other_errors_are_not():
    pg = ProgrammingError("SELECT 1", {}, Exception('relation "unit" does not exist'))
    assert _missing_table(pg)
    assert _missing_table(OperationalError("SELECT 1", {}, Exception("no such table: unit")))
    assert not _missing_table(OperationalError("SELECT 1", {}, Exception("database is locked")))
