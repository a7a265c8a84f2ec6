"""Use cases. Each takes a SQLAlchemy session plus injected clock/ids; no HTTP here."""
