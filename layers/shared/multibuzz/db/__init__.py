"""Database access: SQLAlchemy 2 models, engine factory, Alembic migrations."""
