"""Alembic driven from Python: `flask --app wsgi db upgrade` and the test fixtures use the same path."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision` on this engine's database."""
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
        if revision == "head":  # PostgreSQL's stored function of the kiosk hot path (not expressible in the models)
            from survey.respond.ingest_sql import install

            install(conn)


def schema_differences(engine: Engine) -> list[object]:
    """What the models declare but the migrated database lacks (or vice versa); empty when in sync."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from survey import models  # noqa: F401
    from survey.database import Base

    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(ctx, Base.metadata))


