"""The Alembic migrations build exactly the schema the models declare (on SQLite and PostgreSQL)."""

from __future__ import annotations

from survey.extensions import db
from survey.migrate import schema_differences


def test_migrated_schema_equals_the_models(app):
    assert db.engine is not None
    differences = schema_differences(db.engine)
    assert differences == [], "run tools/regen_migration.sh after changing models:\n" + "\n".join(map(str, differences))
