"""The Alembic migrations and the ORM models describe the same schema, on SQLite and on MariaDB."""

from __future__ import annotations

import multibuzz.db.models  # noqa: F401 - registers every table
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from multibuzz.db.base import Base
from multibuzz.db.migrate import current_heads
from sqlalchemy import Engine


def test_one_head_so_new_migrations_can_be_generated() -> None:
    assert len(current_heads()) == 1


def test_migrated_database_matches_the_models(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": False})
        diff = compare_metadata(context, Base.metadata)
    assert diff == [], diff
